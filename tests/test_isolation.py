"""One account can never see or change another account's objects by putting their id in a URL."""
import datetime
import re
import string

import pytest

from sendtex import audience
from sendtex.crypto import EncryptedFileWriter
from sendtex.mail.transport import send_system_mail
from sendtex.models.accounts import Invitation, User
from sendtex.models.base import utcnow
from sendtex.models.contacts import Contact, Field, MailingList, Segment
from sendtex.models.imports import Import
from sendtex.models.jobs import Job
from sendtex.models.mail import OutboxMessage
from sendtex.models.privacy import AccountExport
from sendtex.tokens import sign
from sendtex.models.campaigns import Campaign, Layout, SendingDomain
from sendtex.models.subscribe import SignupForm
from sendtex.models.api import ApiKey
from sendtex.uploads import exports_dir, uploads_dir
from tests.conftest import login, make_account, make_user, post

# Every URL that names an object of an account: (method, URL template, needs an owner).
# Later issues extend this table with each new URL that takes an account-owned id.
URLS = [
    ("POST", "/team/invitations/{invitation}/revoke", True),
    ("POST", "/team/members/{user}/role", True),
    ("POST", "/team/members/{user}/remove", True),
    ("GET", "/outbox/{outbox}", False),
    ("GET", "/account/exports/{account_export}/<token>", True),
    ("GET", "/fields/{field}", False),
    ("GET", "/fields/{field}/edit", False),
    ("POST", "/fields/{field}", False),
    ("POST", "/fields/{field}/move", False),
    ("GET", "/fields/{field}/delete", False),
    ("POST", "/fields/{field}/delete", False),
    ("GET", "/fields/jobs/{field_job}", False),
    ("GET", "/segments/{segment}", False),
    ("POST", "/segments/{segment}", False),
    ("POST", "/segments/{segment}/delete", False),
    ("GET", "/segments/{segment}/export.csv", False),
    ("GET", "/lists/{list}/export.csv", False),
    ("GET", "/lists/{list}", False),
    ("GET", "/lists/{list}/edit", False),
    ("POST", "/lists/{list}/edit", False),
    ("GET", "/lists/{list}/delete", False),
    ("POST", "/lists/{list}/delete", False),
    ("GET", "/contacts/{contact}", False),
    ("GET", "/contacts/{contact}/row", False),
    ("GET", "/contacts/{contact}/edit", False),
    ("POST", "/contacts/{contact}/edit", False),
    ("GET", "/contacts/{contact}/delete", False),
    ("POST", "/contacts/{contact}/delete", False),
    ("GET", "/contacts/jobs/{bulk_job}", False),
    ("POST", "/contacts/jobs/{bulk_job}/cancel", False),
    ("GET", "/imports/{finished_import}", False),
    ("GET", "/imports/{finished_import}/progress", False),
    ("GET", "/imports/{finished_import}/rejections.csv", False),
    ("POST", "/imports/{finished_import}/cancel", False),
    ("GET", "/imports/{draft_import}", False),
    ("POST", "/imports/{draft_import}/start", False),
    ("GET", "/domains/{domain}", False),
    ("POST", "/domains/{domain}/check", False),
    ("POST", "/domains/{domain}/key", False),
    ("GET", "/domains/{domain}/delete", False),
    ("POST", "/domains/{domain}/delete", False),
    ("GET", "/campaigns/{campaign}", False),
    ("POST", "/campaigns/{campaign}", False),
    ("POST", "/campaigns/{campaign}/draft", False),
    ("GET", "/campaigns/{campaign}/preview", False),
    ("GET", "/campaigns/{campaign}/message", False),
    ("POST", "/campaigns/{campaign}/message", False),
    ("POST", "/campaigns/{campaign}/duplicate", False),
    ("POST", "/campaigns/{campaign}/delete", False),
    ("GET", "/campaigns/{campaign}/test", False),
    ("POST", "/campaigns/{campaign}/test", False),
    ("GET", "/campaigns/{campaign}/schedule", False),
    ("POST", "/campaigns/{campaign}/schedule", False),
    ("POST", "/campaigns/{scheduled_campaign}/unschedule", False),
    ("GET", "/campaigns/{campaign}/send", False),
    ("POST", "/campaigns/{campaign}/send", False),
    ("POST", "/campaigns/{sending_campaign}/pause", False),
    ("POST", "/campaigns/{paused_campaign}/resume", False),
    ("POST", "/campaigns/{sending_campaign}/cancel", False),
    ("GET", "/campaigns/{sending_campaign}/progress", False),
    ("GET", "/campaigns/{sending_campaign}/report", False),
    ("GET", "/campaigns/{sending_campaign}/report.csv", False),
    ("GET", "/layouts/{layout}", False),
    ("POST", "/layouts/{layout}", False),
    ("POST", "/layouts/{layout}/delete", False),
    ("POST", "/account/api-keys/{api_key}/revoke", True),
    ("GET", "/signup-forms/{signup_form}", False),
    ("POST", "/signup-forms/{signup_form}", False),
    ("POST", "/signup-forms/{signup_form}/delete", False),
]

MODELS = {"invitation": Invitation, "user": User, "outbox": OutboxMessage, "account_export": AccountExport}
MODELS.update(field=Field, field_job=Job)
MODELS.update(segment=Segment, list=MailingList)
MODELS.update(contact=Contact, bulk_job=Job)
MODELS.update(finished_import=Import, draft_import=Import)
MODELS.update(domain=SendingDomain)
MODELS.update(campaign=Campaign, scheduled_campaign=Campaign, sending_campaign=Campaign, paused_campaign=Campaign,
              layout=Layout)
MODELS.update(signup_form=SignupForm)
MODELS.update(api_key=ApiKey)
FORM_DATA = {"/team/members/{user}/role": {"role": "owner"},
             "/imports/{draft_import}/start": {"column-0": "email", "mode": "update"}}
FORM_DATA.update({"/fields/{field}": {"label": "Renamed"}, "/fields/{field}/move": {"direction": "up"}})
FORM_DATA.update({"/segments/{segment}": {"name": "Renamed", "match": "all"}})
FORM_DATA.update({"/lists/{list}/edit": {"name": "Renamed", "opt_in": "single", "visibility": "public"},
                  "/contacts/{contact}/edit": {"first_name": "Renamed"}})
FORM_DATA.update({"/campaigns/{campaign}": {"name": "Renamed"}, "/campaigns/{campaign}/draft": {"html": "<p>Typed</p>"},
                  "/campaigns/{campaign}/message": {"email": "reader@alpha.example"},
                  "/campaigns/{campaign}/test": {"addresses": "me@example.com"},
                  "/campaigns/{campaign}/schedule": {"date": "2999-01-01", "time": "09:00", "timezone": "UTC"},
                  "/layouts/{layout}": {"name": "Renamed", "html": "<div>{{ content }}</div>"}})
FORM_DATA.update({"/signup-forms/{signup_form}": {"name": "Renamed", "consent_text": "I agree."}})


def objects_of(app, account, label):
    """One object of each kind in the account."""
    with app.app_context():
        send_system_mail(f"news@{label}.example", f"News of {label}", f"Private text of {label}.", account_id=account.id)
    return {
        "invitation": Invitation.create(account=account, email=f"invitee@{label}.example", role="member"),
        "user": make_user(account, email=f"member@{label}.example", role="member", name=f"Member of {label}"),
        "outbox": OutboxMessage.get(OutboxMessage.account == account.id),
        "account_export": account_export(app, account, label),
        "field": Field.create(account=account, key="colour", label=f"Colour of {label}"),
        "field_job": Job.create(account=account, kind="field_encryption", status="done",
                                params={"field_id": 0, "key": "colour", "label": f"Colour of {label}", "encrypted": True}),
        "segment": Segment.create(account=account, name=f"Segment of {label}", conditions=[]),
        "list": MailingList.create(account=account, name=f"List of {label}"),
        "contact": Contact.create(account=account, email=f"someone@{label}.example", email_digest=f"digest-{label}"),
        "bulk_job": Job.create(account=account, kind="bulk_contacts", params={"action": "blocklist", "contact_ids": []}),
        "finished_import": Import.create(account=account, original_name=f"{label}.csv", upload_name="gone.upload",
                                         status="done", header=["email"]),
        "draft_import": draft_import(app, account, label),
        "domain": SendingDomain.create(account=account, domain=f"{label}.example"),
        "signup_form": SignupForm.create(account=account, name=f"Form of {label}", consent_text=f"Consent of {label}"),
        "api_key": ApiKey.issue(account.id, f"Key of {label}", ["read"])[0],
        **campaign_objects(app, account, label),
    }


def campaign_objects(app, account, label):
    """Campaigns ready to send (draft, scheduled, sending, paused) to one reader, and a layout."""
    SendingDomain.create(account=account, domain=f"campaigns.{label}.example", verified_at=utcnow())
    readers = MailingList.create(account=account, name=f"Readers of {label}")
    with app.app_context():
        audience.create_contact(audience.FieldSet(account.id), {"email": f"reader@{label}.example"}, [readers.id])
    ready = dict(name=f"Campaign of {label}", subject=f"News of {label}", html=f"<p>News of {label}</p>",
                 from_email=f"news@campaigns.{label}.example", list_ids=[readers.id])
    later = utcnow() + datetime.timedelta(days=1)
    return {
        "campaign": Campaign.create(account=account, **ready),
        "scheduled_campaign": Campaign.create(account=account, status="scheduled", scheduled_at=later, **ready),
        "sending_campaign": Campaign.create(account=account, status="sending", lease_until=later, **ready),
        "paused_campaign": Campaign.create(account=account, status="paused", **ready),
        "layout": Layout.create(account=account, name=f"Layout of {label}", html="<div>{{ content }}</div>"),
    }


def account_export(app, account, label):
    """A finished data export of the account, asked for by its first user."""
    with app.app_context():
        with EncryptedFileWriter(exports_dir() / f"{label}.zip.enc", app.config["FIELD_KEYS"]) as writer:
            writer.write(f"export of {label}".encode())
    return AccountExport.create(account=account, user=account.users.order_by(User.id).first(), status="done",
                                file_name=f"{label}.zip.enc", expires_at=utcnow() + datetime.timedelta(days=7))


def draft_import(app, account, label):
    """An uploaded file waiting for its column mapping."""
    with app.app_context():
        name = f"{label}.upload"
        with EncryptedFileWriter(uploads_dir() / name, app.config["FIELD_KEYS"]) as writer:
            writer.write(f"email\nsomeone@{label}.example\n".encode())
    return Import.create(account=account, original_name=f"{label}.csv", upload_name=name, status="draft",
                         header=["email"])


def snapshot(model, object_id):
    """The stored row as a dict, or None if it is gone."""
    return model.select().where(model.id == object_id).dicts().get_or_none()


def kind_of(template):
    (kind,) = [name for _, name, _, _ in string.Formatter().parse(template) if name]
    return kind


def request(client, method, template, object_id):
    url = template.format(**{kind_of(template): object_id})
    if "<token>" in url:  # the export's signed download link, as the exports page gives it to its requester
        export = AccountExport.get_or_none(AccountExport.id == object_id) if object_id < 2**63 else None
        with client.application.test_request_context():
            url = url.replace("<token>", sign("account-export", [object_id, export.user_id if export else 0]))
    if method == "GET":
        return client.get(url)
    return post(client, url, FORM_DATA.get(template, {}))


@pytest.mark.parametrize("method, template, needs_owner", URLS, ids=[f"{m} {t}" for m, t, _ in URLS])
def test_other_accounts_objects_are_not_found(app, client, method, template, needs_owner):
    account_a, account_b = make_account("Alpha"), make_account("Beta")
    user_a = make_user(account_a, role="owner" if needs_owner else "member")
    if not needs_owner:
        make_user(account_a, role="owner")
    make_user(account_b, role="owner")
    own, theirs = objects_of(app, account_a, "alpha"), objects_of(app, account_b, "beta")
    login(client, user_a)

    kind = kind_of(template)
    model, target = MODELS[kind], theirs[kind]
    before = snapshot(model, target.id)
    response = request(client, method, template, target.id)
    assert response.status_code == 404, response.get_data(as_text=True)
    body = response.get_data(as_text=True)
    assert "This page does not exist, or you have no access to it." in body
    assert "beta" not in body.lower()
    assert snapshot(model, target.id) == before

    # The same request on the account's own object works, so the table cannot pass by accident.
    response = request(client, method, template, own[kind].id)
    assert response.status_code in (200, 303), response.get_data(as_text=True)
    assert snapshot(model, target.id) == before


@pytest.mark.parametrize("object_id", [0, 10**6, 2**63 - 1, 2**63, 10**20])
def test_ids_that_do_not_exist_are_not_found(owner_client, object_id):
    for method, template, _ in URLS:
        response = request(owner_client, method, template, object_id)
        assert response.status_code == 404, (template, object_id)
        assert "This page does not exist, or you have no access to it." in response.get_data(as_text=True)


def test_table_covers_every_url_with_an_object_id(app):
    """A new route that takes a numeric id must be added to URLS above."""
    covered = {(method, re.sub(r"\{\w+\}", "<id>", template)) for method, template, _ in URLS}
    with_ids = {(method, re.sub(r"<int:\w+>", "<id>", rule.rule))
                for rule in app.url_map.iter_rules() if "<int:" in rule.rule
                # The API answers JSON to key holders: tests/test_api.py checks every id-taking operation.
                and not rule.rule.startswith("/api/")
                # Rows of the operator, not of an account: staff pages are 404 to everyone but staff (tested in
                # tests/test_staff.py and each staff page's tests); vacancies are public (tests/test_careers.py).
                and not rule.rule.startswith(("/staff/", "/careers/"))
                for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert with_ids and with_ids <= covered, f"add these to URLS: {sorted(with_ids - covered)}"
