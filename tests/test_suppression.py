"""Suppressions: once a subscriber erased themselves, the account cannot add their address again by any
route (form, import, API); only the subscriber signing up again, and confirming, lifts it."""
import html

import pytest

from sendtex import audience
from sendtex.models.api import SCOPES, ApiKey
from sendtex.models.contacts import Contact, MailingList, Suppression
from sendtex.models.imports import Import, ImportRejection
from sendtex.preferences.subscriber import Subscriber, fresh_link
from tests.conftest import make_account, post
from tests.test_imports import new_import, start
from tests.test_signup import confirmation_path, make_form, mails, sign_up

REFUSED = "asked to have their data erased"


@pytest.fixture
def news(app, owner):
    """The owner's list, which ann@example.com was on until she erased herself."""
    news = MailingList.create(account=owner.account, name="News", visibility="public", opt_in="double")
    with app.app_context():
        fields = audience.FieldSet(owner.account_id)
        ann = audience.create_contact(fields, {"email": "ann@example.com", "first_name": "Ann"}, [news.id])
        audience.create_contact(fields, {"email": "bob@example.com", "first_name": "Bob"}, [news.id])
        Subscriber(ann.uid).erase()
    return news


@pytest.fixture
def api(app, client, owner):
    secret = ApiKey.issue(owner.account_id, "Shop", SCOPES)[1]
    return lambda method, url, **kwargs: client.open("/api/v1" + url, method=method, json=kwargs.get("json"),
                                                     headers={"Authorization": f"Bearer {secret}"})


def page(response):
    return html.unescape(response.get_data(as_text=True))


def test_erasure_leaves_only_the_keyed_digest(app, owner, news):
    [row] = Suppression.select()
    with app.app_context():
        assert row.email_digest == audience.email_digest(owner.account_id, "ann@example.com")
    assert (row.account_id, row.reason) == (owner.account_id, "erased")
    assert not Contact.select().where(Contact.email == "ann@example.com").exists()


def test_the_contact_form_refuses_the_address_whatever_its_case(owner_client, news):
    response = post(owner_client, "/contacts/new", {"email": "ANN@Example.com", "first_name": "Ann",
                                                    "_lists": [str(news.id)], "_membership": "subscribed"})
    assert response.status_code == 422 and REFUSED in page(response)
    bob = Contact.get(Contact.email == "bob@example.com")
    response = post(owner_client, f"/contacts/{bob.id}/edit", {"email": "ann@example.com", "first_name": "Bob"})
    assert response.status_code == 422 and REFUSED in page(response)
    assert Contact.get_by_id(bob.id).email == "bob@example.com"


def test_an_import_refuses_that_row_and_adds_the_others(owner_client, news):
    job = new_import(owner_client, "email,first_name\nann@example.com,Ann\ncarla@example.com,Carla\n")
    start(owner_client, job, lists=[news.id])
    job = Import.get_by_id(job.id)
    assert (job.status, job.inserted, job.skipped) == ("done", 1, 1)
    [rejection] = ImportRejection.select()
    assert (rejection.line, rejection.column) == (2, "email") and REFUSED in rejection.reason
    assert not Contact.select().where(Contact.email == "ann@example.com").exists()


def test_the_api_refuses_it_in_every_write(api, news):
    for url in ("/contacts", "/contacts/upsert"):
        response = api("POST", url, json={"fields": {"email": "ann@example.com"}})
        assert response.status_code == 409 and REFUSED in response.json["error"]["details"][0]["message"]
    response = api("POST", "/contacts/bulk", json={"contacts": [{"fields": {"email": "dirk@example.com"}},
                                                                {"fields": {"email": "ann@example.com"}}]})
    assert response.status_code == 400
    assert [(item["field"], REFUSED in item["message"]) for item in response.json["error"]["details"]] == [
        ("contacts[1].fields.email", True)]
    assert not Contact.select().where(Contact.email.in_(["ann@example.com", "dirk@example.com"])).exists()


def test_another_account_may_still_hold_the_address(app, news):
    other = make_account("Other shop")
    with app.app_context():
        contact = audience.create_contact(audience.FieldSet(other.id), {"email": "ann@example.com"})
    assert contact.account_id == other.id


def test_signing_up_again_and_confirming_lifts_it(app, client, owner_client, owner, news):
    signup_form = make_form(owner.account, [news])
    response = sign_up(client, signup_form, {"email": "ann@example.com"})
    assert "we sent you an e-mail" in page(response)
    assert Suppression.select().count() == 1  # not confirmed yet: anyone can type an address
    (_recipient, _subject, body), = mails(app)
    path = confirmation_path(body)
    post(client, path, {})
    assert Suppression.select().count() == 0
    ann = Contact.get(Contact.email == "ann@example.com")
    response = post(owner_client, f"/contacts/{ann.id}/edit", {"email": "ann@example.com", "first_name": "Annie"})
    assert response.status_code == 303 and Contact.get_by_id(ann.id).first_name == "Annie"


def test_the_erasure_page_says_what_is_kept(app, client, owner):
    news = MailingList.create(account=owner.account, name="Deals")
    with app.app_context():
        contact = audience.create_contact(audience.FieldSet(owner.account_id), {"email": "eve@example.com"}, [news.id])
        link = fresh_link(contact)
    response = client.get(link[link.index("/p/"):] + "/erase")
    assert response.status_code == 200 and "keeps only a one-way code of your address" in page(response)
