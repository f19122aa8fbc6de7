"""Self-service deletion and export of a whole account: complete, irreversible, nothing left on disk."""
import io
import json
import re
import zipfile

import pytest

from sendtex import accountdata, sending
from sendtex.db import db
from sendtex.models import MODELS
from sendtex.models.accounts import Account
from sendtex.models.base import DataPolicy, utcnow
from sendtex.models.campaigns import Campaign, Delivery, SendingDomain
from sendtex.models.contacts import Contact, MailingList, Suppression
from sendtex.models.privacy import AccountExport, DeletionRecord
from sendtex.bounces.rules import record_refusal
from sendtex.models.api import ApiKey
from sendtex.models.subscribe import SignupForm
from sendtex.tasks.privacy import expire_exports
from sendtex.tasks.stats import aggregate
from tests.conftest import PASSWORD, login, make_account, make_user, post
from tests.test_fields import create_field
from tests.test_imports import new_import, start

# Distinctive values of the deleted account: none may remain in any file of the instance afterwards.
MARKERS = {
    "imported_email": "quintessa.imported@deleted-shop.example",
    "imported_name": "Quintessa-Firstname-9917",
    "encrypted_value": "Passport-Xylophone-9917",
    "ui_email": "ui.person.9917@deleted-shop.example",
    "list_name": "Velociraptor fans 9917",
    "campaign_subject": "Subject-Marmalade-9917",
    "owner_email": "owner.9917@deleted-shop.example",
    "signup_email": "signed.up.9917@deleted-shop.example",
    "api_email": "from.the.api.9917@deleted-shop.example",
    "consent_text": "Consent-Text-9917",
}


def every_row_referencing(account_id):
    """(table, row id) of every row with an account_id column equal to the account's id."""
    found = []
    for model in MODELS:
        if "account" in model._meta.fields and model._meta.fields["account"].rel_model is Account:
            found += [(model._meta.table_name, row.id) for row in model.select().where(model.account == account_id)]
    return found


def instance_bytes(instance):
    """Every file of the instance folder, by relative path."""
    return {str(path.relative_to(instance)): path.read_bytes() for path in instance.rglob("*") if path.is_file()}


def snapshot(account_id):
    """All rows of an account, table by table, to compare before and after another account's deletion."""
    return {model._meta.table_name: sorted(map(repr, accountdata.export_rows(model, account_id)))
            for model in accountdata.account_models()}


@pytest.fixture
def full_account(app, client):
    """An account built through its features: fields (one encrypted), an import, a contact made in the UI,
    a campaign sent (into the outbox), an open and a click, a finished export."""
    owner = make_user(make_account("Doomed Shop", daily_quota=1000), email=MARKERS["owner_email"])
    login(client, owner)
    assert create_field(client, {"key": "passport", "label": "Passport", "type": "text", "encrypted": "y"}).status_code == 303
    news = MailingList.create(account=owner.account_id, name=MARKERS["list_name"])
    job = new_import(client, f"email,first_name,passport\n{MARKERS['imported_email']},{MARKERS['imported_name']},"
                             f"{MARKERS['encrypted_value']}\nsecond@deleted-shop.example,Second,P2\n")
    start(client, job, mapping={"0": "email", "1": "first_name", "2": "passport"}, lists=[news.id])
    response = post(client, "/contacts/new", {"email": MARKERS["ui_email"], "first_name": "Uiperson",
                                              "_membership": "subscribed"})
    assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        SendingDomain.create(account=owner.account_id, domain="deleted-shop.example", verified_at=utcnow())
        campaign = Campaign.create(account=owner.account_id, name="Spring", subject=MARKERS["campaign_subject"],
                                   from_name="Shop", from_email="news@deleted-shop.example", list_ids=[news.id],
                                   html='<p>Hi {{ contact.first_name }} <a href="https://shop.example/x">x</a></p>')
        sending.start(campaign)
        assert Campaign.get_by_id(campaign.id).sent == 2
    reader, body = app.test_client(), _outbox_html(app, owner.account_id)
    assert reader.get(re.search(r"/t/o/[A-Za-z0-9_-]+", body).group(0)).status_code == 200
    assert reader.get(re.search(r"/t/c/[A-Za-z0-9_-]+", body).group(0)).status_code == 302
    # A signup with its proof of consent, an API key used through the API, statistics, a bounce.
    signup_form = SignupForm.create(account=owner.account_id, name="Join", consent_text="Consent-Text-9917",
                                    list_ids=[news.id])
    MailingList.update(visibility="public", opt_in="single").where(MailingList.id == news.id).execute()
    signup = app.test_client().post(f"/subscribe/{signup_form.public_id}", data={"email": MARKERS["signup_email"]},
                                    environ_base={"REMOTE_ADDR": "198.51.100.9"}, headers={"User-Agent": "Mozilla/5.0"})
    assert signup.status_code == 200
    _key, secret = ApiKey.issue(owner.account_id, "Shop sync", ["read", "write"])
    api = app.test_client().post("/api/v1/contacts", json={"fields": {"email": MARKERS["api_email"]}},
                                 headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 201, api.get_data(as_text=True)
    with app.app_context():
        aggregate()
        record_refusal(Delivery.select().where(Delivery.campaign == campaign.id).first().id,
                       "550 5.1.1 user unknown")
    Suppression.add(owner.account_id, "d" * 32)  # a subscriber who erased themselves
    assert post(client, "/account/exports", {}).status_code == 303
    assert AccountExport.get(AccountExport.account == owner.account_id).status == "done"
    return owner


def _outbox_html(app, account_id):
    from sendtex.mail.transport import read_from_outbox
    from sendtex.models.mail import OutboxMessage

    with app.app_context():
        entry = OutboxMessage.select().where((OutboxMessage.account == account_id)
                                             & (OutboxMessage.kind == "campaign")).first()
        return read_from_outbox(entry).get_body(("html",)).get_content()


def test_every_model_declares_how_it_is_deleted_and_exported():
    for model in MODELS:
        policy = model.__dict__.get("data_policy")
        assert isinstance(policy, DataPolicy), f"{model.__name__} declares no data_policy"
        if policy.delete_via is None:
            assert policy.reason, f"{model.__name__} keeps its rows without saying why"
            assert "account" not in model._meta.fields, f"{model.__name__} has an account but is not account data"
            continue
        if policy.delete_via == "id":
            assert model is Account
            continue
        key = model._meta.fields[policy.delete_via]
        assert key.on_delete == "CASCADE", f"{model.__name__}.{key.name} must cascade"
        parent = key.rel_model
        assert parent is Account or parent.data_policy.delete_via is not None, model
        assert set(policy.hidden) <= set(model._meta.fields), f"{model.__name__} hides unknown columns"


def test_deletion_is_complete_and_leaves_nothing_on_disk(app, client, full_account, tmp_path):
    account_id = full_account.account_id
    bystander = make_user(make_account("Bystander"))
    MailingList.create(account=bystander.account_id, name="Kept list")
    Contact.create(account=bystander.account_id, email="kept@bystander.example", email_digest="x" * 32)
    before = snapshot(bystander.account_id)
    counts = accountdata.counts(account_id)
    assert counts["contact"] == 5 and counts["delivery"] == 2 and counts["event"] >= 2 and counts["account_export"] == 1
    assert counts["consent_proof"] and counts["api_key"] and counts["campaign_stats"] and counts["bounce"]
    assert counts["suppression"] == 1

    page = client.get("/account/delete").get_data(as_text=True)
    assert "Delete Doomed Shop for good" in page and "<strong>5</strong> contacts" in page
    assert '<a href="/account/exports">Download all data</a>' in page  # a real link: the translation is markup

    response = post(client, "/account/delete", {"password": PASSWORD, "account_name": "Doomed Shop"})
    assert response.status_code == 303 and response.headers["Location"] == "/account/deleted"

    assert every_row_referencing(account_id) == []
    assert all(n == 0 for n in accountdata.counts(account_id).values())
    record = DeletionRecord.get()
    assert record.account_id is None and record.finished_at is not None and record.counts["contact"] == 5
    assert str(account_id) not in record.counts_json.replace('"', " ").split()
    assert snapshot(bystander.account_id) == before
    db.close()
    files = instance_bytes(tmp_path / "instance")
    assert "sendtex.db" in files
    for name, data in files.items():
        for marker in MARKERS.values():
            assert marker.encode() not in data, f"{marker} left in {name}"
            assert marker.lower().encode() not in data, f"{marker} left in {name}"
    assert not list((tmp_path / "instance" / "exports").iterdir())


def test_wrong_password_or_name_deletes_nothing(app, client, full_account):
    counts = accountdata.counts(full_account.account_id)
    for data, message in [({"password": "not it", "account_name": "Doomed Shop"}, "This is not your password."),
                          ({"password": PASSWORD, "account_name": "Doomed shop"}, "This is not the account"),
                          ({"password": PASSWORD, "account_name": ""}, "This field is required.")]:
        response = post(client, "/account/delete", data, htmx=True)
        assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert accountdata.counts(full_account.account_id) == counts
    assert Account.get_by_id(full_account.account_id).deletion_requested_at is None


def test_sessions_end_and_login_is_refused_after_deletion(app, client, full_account):
    other_session = app.test_client()
    login(other_session, full_account)
    post(client, "/account/delete", {"password": PASSWORD, "account_name": "Doomed Shop"})
    assert other_session.get("/app").status_code == 302
    response = post(app.test_client(), "/login", {"email": MARKERS["owner_email"], "password": PASSWORD})
    assert response.status_code == 422 and "not right" in response.get_data(as_text=True)


def test_members_cannot_delete_or_export(app, client, owner):
    member = make_user(account=owner.account, email="member@acme.example", role="member")
    login(client, member)
    assert client.get("/account/delete").status_code == 403
    assert post(client, "/account/delete", {"password": PASSWORD, "account_name": "Acme"}).status_code == 403
    assert post(client, "/account/exports", {}).status_code == 403
    assert Account.get_by_id(owner.account_id).deletion_requested_at is None


def test_deletion_while_sending_stops_the_campaign_first(app, client, owner):
    login(client, owner)
    campaign = Campaign.create(account=owner.account_id, name="Running", status="sending")
    post(client, "/account/delete", {"password": PASSWORD, "account_name": "Acme"})
    assert Campaign.get_or_none(Campaign.id == campaign.id) is None
    assert DeletionRecord.get().finished_at is not None


def test_export_holds_everything_and_round_trips(app, client, full_account):
    export = AccountExport.get(AccountExport.account == full_account.account_id)
    page = client.get("/account/exports").get_data(as_text=True)
    link = re.search(r'href="(/account/exports/\d+/[^"]+)"', page).group(1)
    expected = accountdata.counts(full_account.account_id)  # downloading adds an audit entry
    response = client.get(link)
    assert response.status_code == 200 and response.headers["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.get_data()))
    manifest = json.loads(archive.read("manifest.json"))
    for model in accountdata.account_models():
        name = model._meta.table_name
        if model.data_policy.export:
            rows = json.loads(archive.read(f"{name}.json"))
            assert len(rows) == manifest["tables"][name] == expected[name], name
            assert not set(model.data_policy.hidden) & set(rows[0] if rows else {}), name
    values = {row["fields"]["email"]: row["fields"] for row in json.loads(archive.read("contact_values.json"))}
    assert values[MARKERS["imported_email"]]["passport"] == MARKERS["encrypted_value"]
    users = json.loads(archive.read("user.json"))
    assert users[0]["email"] == MARKERS["owner_email"] and "password_hash" not in users[0]
    # Every moment says it is UTC, as the manifest's does.
    assert users[0]["created_at"].endswith("+00:00") and manifest["created_at"].endswith("+00:00")
    list_csv = next(name for name in archive.namelist() if name.startswith("lists/"))
    assert MARKERS["imported_name"] in archive.read(list_csv).decode("utf-8-sig")
    assert export.size > 0 and MARKERS["encrypted_value"].encode() not in _export_file(app, export)


def _export_file(app, export):
    with app.app_context():
        from sendtex.uploads import exports_dir

        return (exports_dir() / AccountExport.get_by_id(export.id).file_name).read_bytes()


def test_export_link_is_for_its_requester_only_and_expires(app, client, full_account):
    export = AccountExport.get(AccountExport.account == full_account.account_id)
    link = re.search(r'href="(/account/exports/\d+/[^"]+)"', client.get("/account/exports").get_data(as_text=True)).group(1)
    co_owner = make_user(account=full_account.account, email="co-owner@deleted-shop.example")
    other = app.test_client()
    login(other, co_owner)
    assert other.get(link).status_code == 404  # same account, another user
    assert client.get(link[:-3] + "xyz").status_code == 404  # altered token
    stranger = app.test_client()
    login(stranger, make_user(make_account("Elsewhere")))
    assert stranger.get(link).status_code == 404
    AccountExport.update(expires_at=utcnow()).where(AccountExport.id == export.id).execute()
    with app.app_context():
        assert expire_exports.call_local() == 1
    expired = client.get(link)
    assert expired.status_code == 404 and "This export has expired" in expired.get_data(as_text=True)
    assert "expired" in client.get("/account/exports").get_data(as_text=True)


def test_tasks_that_wake_up_for_a_deleted_account_do_nothing(app, client, full_account):
    """Queued or scheduled work of the account (ids only in the queue) finds nothing once it is deleted."""
    from sendtex.models.imports import Import
    from sendtex.models.mail import OutboxMessage
    from sendtex.models.subscribe import Signup
    from sendtex.tasks.imports import run_import
    from sendtex.tasks.preferences import mail_preference_link
    from sendtex.tasks.privacy import build_export, delete_account
    from sendtex.tasks.sending import send_campaign
    from sendtex.tasks.stats import detach_tracking_events
    from sendtex.tasks.subscribe import mail_signup_confirmation

    account_id = full_account.account_id
    woken = [(send_campaign, Campaign.get(Campaign.account == account_id).id, 0),
             (run_import, Import.get(Import.account == account_id).id),
             (build_export, AccountExport.get(AccountExport.account == account_id).id),
             (mail_signup_confirmation, Signup.select().join(Contact).where(Contact.account == account_id).get().id),
             (mail_preference_link, Contact.get(Contact.account == account_id).id, "en"),
             (detach_tracking_events, account_id)]
    outbox_before = OutboxMessage.select().where(OutboxMessage.account.is_null()).count()
    post(client, "/account/delete", {"password": PASSWORD, "account_name": "Doomed Shop"})
    with app.app_context():
        for task, *args in woken:
            task.call_local(*args)
        delete_account.call_local(DeletionRecord.get().id)
        aggregate()
    assert every_row_referencing(account_id) == []
    assert OutboxMessage.select().where(OutboxMessage.account.is_null()).count() == outbox_before
