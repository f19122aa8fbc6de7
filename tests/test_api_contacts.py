"""Contacts through the API: encrypted fields, filters and cursor pages, upsert, and bulk upsert of 10,000."""
import time
from pathlib import Path

import pytest

from sendtex import audience
from sendtex.db import checkpoint, db
from sendtex.models.api import SCOPES, ApiKey
from sendtex.models.contacts import Contact, Field, MailingList, Subscription
from tests.conftest import make_account

API = "/api/v1"


@pytest.fixture
def account(app):
    account = make_account("Shop")
    with app.app_context():
        audience.FieldSet(account.id)  # the built-in fields
    Field.update(encrypted=True).where((Field.account == account.id) & (Field.key == "last_name")).execute()
    Field.create(account=account, key="shoe_size", label="Shoe size", type="number")
    return account


@pytest.fixture
def api(app, client, account):
    """client.open with the account's key."""
    secret = ApiKey.issue(account.id, "Shop", SCOPES)[1]

    def send(method, url, **kwargs):
        headers = {"Authorization": f"Bearer {secret}", **kwargs.pop("headers", {})}
        return client.open(API + url, method=method, headers=headers, **kwargs)

    return send


def database_bytes(app):
    """Everything SQLite holds on disk: the database file and its write-ahead log."""
    path = Path(app.config["DATABASE_URL"][len("sqlite:///"):])
    return b"".join(candidate.read_bytes() for candidate in (path, Path(f"{path}-wal")) if candidate.exists())


def test_encrypted_values_go_in_plain_json_and_are_stored_sealed(app, api):
    response = api("POST", "/contacts", json={"fields": {"email": "Ann@Example.com", "last_name": "Zwanenburg",
                                                         "shoe_size": "38,5"}})
    assert response.status_code == 201
    assert response.json["fields"] == {"email": "ann@example.com", "first_name": None, "last_name": "Zwanenburg",
                                       "shoe_size": 38.5}
    contact = Contact.get_by_id(response.json["id"])
    assert contact.last_name is None and "last_name" in contact.sealed
    assert api("GET", f"/contacts/{contact.id}").json["fields"]["last_name"] == "Zwanenburg"
    assert b"Zwanenburg" not in database_bytes(app)


def test_invalid_values_get_the_pages_messages(api):
    response = api("POST", "/contacts", json={"fields": {"email": "ann@example.com", "shoe_size": "big",
                                                         "colour": "red"}})
    assert response.status_code == 400
    assert {"field": "fields.shoe_size", "message": "Shoe size must be a number."} in response.json["error"]["details"]
    assert {"field": "fields.colour", "message": "There is no field “colour”."} in response.json["error"]["details"]
    assert api("POST", "/contacts", json={"fields": {"first_name": "Ann"}}).json["error"]["details"][0]["field"] \
        == "fields.email"


def test_a_second_contact_with_the_same_address_conflicts_and_upsert_changes_it(api):
    first = api("POST", "/contacts", json={"fields": {"email": "ann@example.com", "first_name": "Ann"}})
    again = api("POST", "/contacts", json={"fields": {"email": "ANN@example.com"}})
    assert again.status_code == 409 and again.json["error"]["details"][0]["field"] == "fields.email"
    changed = api("POST", "/contacts/upsert", json={"fields": {"email": "ann@example.com", "last_name": "Smit"}})
    assert changed.status_code == 200 and changed.json["id"] == first.json["id"]
    assert changed.json["fields"]["first_name"] == "Ann" and changed.json["fields"]["last_name"] == "Smit"
    cleared = api("PATCH", f"/contacts/{first.json['id']}", json={"fields": {"first_name": None}, "status": "bounced"})
    assert cleared.json["fields"]["first_name"] is None and cleared.json["status"] == "bounced"


def test_subscribe_never_resubscribes_someone_who_unsubscribed(account, api):
    news = MailingList.create(account=account, name="News")
    contact = api("POST", "/contacts", json={"fields": {"email": "ann@example.com"}, "list_ids": [news.id]}).json
    api("POST", f"/contacts/{contact['id']}/unsubscribe", json={"list_ids": [news.id]})
    again = api("POST", f"/contacts/{contact['id']}/subscribe", json={"list_ids": [news.id]})
    assert [membership["status"] for membership in again.json["lists"]] == ["unsubscribed"]
    everything = api("POST", f"/contacts/{contact['id']}/unsubscribe")
    assert everything.json["status"] == "unsubscribed"


def test_filters_and_cursor_pages_walk_every_contact_once(account, api):
    news = MailingList.create(account=account, name="News")
    for n in range(7):
        api("POST", "/contacts", json={"fields": {"email": f"p{n}@example.com"}, "list_ids": [news.id] if n % 2 else []})
    seen, cursor = [], None
    while True:
        page = api("GET", "/contacts", query_string={"limit": 3, **({"cursor": cursor} if cursor else {})}).json
        seen += [contact["fields"]["email"] for contact in page["data"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p{n}@example.com" for n in reversed(range(7))]
    members = api("GET", "/contacts", query_string={"list": news.id, "membership": "subscribed"}).json["data"]
    assert sorted(contact["fields"]["email"] for contact in members) == ["p1@example.com", "p3@example.com",
                                                                         "p5@example.com"]
    exact = api("GET", "/contacts", query_string={"email": "P4@example.com"}).json["data"]
    assert [contact["fields"]["email"] for contact in exact] == ["p4@example.com"]
    prefix = api("GET", "/contacts", query_string={"email_prefix": "p1"}).json["data"]
    assert [contact["fields"]["email"] for contact in prefix] == ["p1@example.com"]
    altered = api("GET", "/contacts", query_string={"cursor": cursor or "x" + "A" * 20})
    assert altered.status_code == 400 and altered.json["error"]["details"][0]["field"] == "cursor"


def test_a_prefix_search_is_refused_while_the_address_is_encrypted(account, api):
    Field.update(encrypted=True).where((Field.account == account.id) & (Field.key == "email")).execute()
    response = api("GET", "/contacts", query_string={"email_prefix": "ann"})
    assert response.status_code == 400
    assert "only a complete e-mail address can be searched" in response.json["error"]["details"][0]["message"]


def test_another_accounts_cursor_is_refused(app, client, account, api):
    for n in range(3):
        api("POST", "/contacts", json={"fields": {"email": f"p{n}@example.com"}})
    cursor = api("GET", "/contacts", query_string={"limit": 1}).json["next_cursor"]
    other = ApiKey.issue(make_account("Other").id, "Other", SCOPES)[1]
    response = client.get(f"{API}/contacts", query_string={"cursor": cursor},
                          headers={"Authorization": f"Bearer {other}"})
    assert response.status_code == 400


def rows(count, start=0, **extra):
    return [{"fields": {"email": f"person{n}@example.com", "first_name": f"First{n}", "last_name": f"Secret{n}x",
                        "shoe_size": n % 50, **extra}} for n in range(start, start + count)]


def test_bulk_upsert_of_ten_thousand_contacts_with_an_encrypted_field(app, account, api):
    news = MailingList.create(account=account, name="News")
    api("POST", "/contacts", json={"fields": {"email": "person5@example.com", "first_name": "Old"}})
    started = time.perf_counter()
    response = api("POST", "/contacts/bulk", json={"contacts": rows(10_000), "list_ids": [news.id]})
    elapsed = time.perf_counter() - started
    print(f"bulk upsert of 10,000 contacts: {elapsed:.2f} s, {10_000 / elapsed:,.0f} contacts/s")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.json["created"] == 9_999 and response.json["updated"] == 1
    assert len(set(response.json["ids"])) == 10_000
    assert Contact.for_account(account.id).count() == 10_000
    assert Subscription.select().where(Subscription.mailing_list == news.id).count() == 10_000
    fifth = api("GET", f"/contacts/{response.json['ids'][5]}").json
    assert fifth["fields"] == {"email": "person5@example.com", "first_name": "First5", "last_name": "Secret5x",
                               "shoe_size": 5}
    with app.app_context(), db.connection_context():
        checkpoint()
    stored = database_bytes(app)
    assert b"person5@example.com" in stored  # the address is not encrypted: the check below can see values
    assert not any(f"Secret{n}x".encode() in stored for n in (0, 5, 4_321, 9_999))


def test_one_invalid_row_rejects_the_whole_request_and_lists_every_bad_row(account, api):
    contacts = rows(2_000)
    contacts[7]["fields"]["email"] = "not an address"
    contacts[1_500]["fields"]["shoe_size"] = "large"
    contacts[1_600]["fields"]["email"] = "person3@example.com"
    response = api("POST", "/contacts/bulk", json={"contacts": contacts})
    assert response.status_code == 400
    fields = [detail["field"] for detail in response.json["error"]["details"]]
    assert fields == ["contacts[7].fields.email", "contacts[1500].fields.shoe_size", "contacts[1600].fields.email"]
    assert Contact.for_account(account.id).count() == 0


def test_more_than_ten_thousand_contacts_is_too_large(account, api):
    response = api("POST", "/contacts/bulk", json={"contacts": [{"fields": {}}] * 10_001})
    assert response.status_code == 413 and response.json["error"]["code"] == "too_large"
    assert Contact.for_account(account.id).count() == 0
