"""The contacts table (keyset pages, search, filters), a contact's page, inline edit, add, delete and bulk actions."""
import html
import json
import re

import pytest

from sendtex import audience
from sendtex.models.base import utcnow
from sendtex.models.contacts import Contact, Field, MailingList, Segment, Subscription, new_uid
from sendtex.models.jobs import Job
from sendtex.tasks.jobs import run_job
from tests.conftest import make_account, make_user, post

HTMX = {"HX-Request": "true"}
EMAIL_CELL = re.compile(r'<td class="email"><a href="/contacts/\d+">([^<]*)</a>')


def text(response):
    """The response body as a person reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def emails_on(response):
    """The e-mail addresses in the table, top to bottom."""
    return EMAIL_CELL.findall(text(response))


def link(response, rel):
    """The URL of the Previous or Next link, or None."""
    match = re.search(rf'rel="{rel}" href="([^"]+)"', response.get_data(as_text=True))
    return html.unescape(match.group(1)) if match else None


def many_contacts(app, account, count, start=0, status="active"):
    """count contacts person0000@example.com… written in bulk, their values stored as audience stores them."""
    now = utcnow()
    with app.app_context():
        fields = audience.FieldSet(account.id)
        rows = []
        for number in range(start, start + count):
            uid = new_uid()
            values = {"email": f"person{number:04d}@example.com", "first_name": f"First{number}",
                      "last_name": f"Last{number}"}
            rows.append(dict(account=account.id, uid=uid, status=status, created_at=now, updated_at=now,
                             **audience.storage_columns(account.id, uid, values, fields)))
        for first in range(0, len(rows), 100):
            Contact.insert_many(rows[first:first + 100]).execute()
    return list(Contact.for_account(account.id).order_by(Contact.id))


def add(app, account, email, list_ids=(), subscription_status="subscribed", **values):
    """One contact made through audience.create_contact."""
    with app.app_context():
        fields = audience.FieldSet(account.id)
        return audience.create_contact(fields, dict(values, email=email), list_ids, subscription_status)


def encrypt_field(account, key):
    """Mark a field of the account as encrypted (values written from now on are sealed)."""
    Field.ensure_builtins(account.id)
    Field.update(encrypted=True).where((Field.account == account.id) & (Field.key == key)).execute()


def custom_field(account, key, kind, **options):
    """A custom field of the account."""
    return Field.create(account=account, key=key, label=key.replace("_", " ").capitalize(), type=kind, position=10,
                        **options)


@pytest.fixture
def account(owner):
    return owner.account


@pytest.fixture
def newsletter(account):
    return MailingList.create(account=account, name="Newsletter")


# The table


def test_empty_table_invites_to_add_a_contact(owner_client):
    response = owner_client.get("/contacts")
    assert response.status_code == 200
    assert "You have no contacts yet." in text(response)
    assert 'href="/contacts/new"' in text(response)


def test_table_full_page_and_fragment(app, owner_client, account, newsletter):
    add(app, account, "ann@example.com", [newsletter.id], first_name="Ann", last_name="Archer")
    full, fragment = owner_client.get("/contacts"), owner_client.get("/contacts", headers=HTMX)
    assert full.status_code == fragment.status_code == 200
    assert "<html" in text(full) and 'id="contact-filter"' in text(full) and 'id="bulk-form"' in text(full)
    assert "<html" not in text(fragment) and 'id="contacts-results"' in text(fragment)
    assert "HX-Request" in full.headers["Vary"]
    row = text(fragment).split('<tr id="contact-')[1]
    for shown in ("ann@example.com", "Ann", "Archer", "active", "Newsletter", utcnow().strftime("%Y-%m-%d")):
        assert shown in row


def test_table_shows_only_the_accounts_contacts(app, owner_client, account):
    add(app, account, "mine@example.com")
    add(app, make_account("Other"), "theirs@example.com")
    assert emails_on(owner_client.get("/contacts")) == ["mine@example.com"]


def test_table_needs_a_login(client, app):
    assert client.get("/contacts").status_code == 302


@pytest.mark.parametrize("sort, key", [("newest", lambda c: -c.id), ("oldest", lambda c: c.id),
                                       ("email", lambda c: c.email)])
def test_keyset_pages_walk_forward_and_back_without_gaps(app, owner_client, account, sort, key):
    contacts = many_contacts(app, account, 120)
    # Ids out of e-mail order, so the e-mail sort is not the id sort in disguise.
    Contact.update(email=Contact.email.concat("x")).where(Contact.id % 3 == 0).execute()
    contacts = list(Contact.for_account(account.id))
    expected = [contact.email for contact in sorted(contacts, key=key)]

    pages, url = [], f"/contacts?sort={sort}"
    while url:
        response = owner_client.get(url, headers=HTMX)
        assert response.status_code == 200
        assert "OFFSET" not in url and "page=" not in url
        pages.append(emails_on(response))
        url = link(response, "next")
    assert [len(page) for page in pages] == [50, 50, 20]
    assert sum(pages, []) == expected
    assert link(response, "prev") is not None

    back, url = [], link(response, "prev")
    while url:
        response = owner_client.get(url)
        back.insert(0, emails_on(response))
        url = link(response, "prev")
    assert back == pages[:-1]
    assert link(response, "next") is not None


def test_page_links_keep_the_filter(app, owner_client, account, newsletter):
    contacts = many_contacts(app, account, 60)
    with app.app_context():
        audience.set_memberships([contact.id for contact in contacts], [newsletter.id], "subscribed")
    response = owner_client.get(f"/contacts?list={newsletter.id}&status=active")
    assert f"list={newsletter.id}" in link(response, "next") and "status=active" in link(response, "next")
    assert len(emails_on(owner_client.get(link(response, "next")))) == 10


def test_a_page_link_that_is_not_valid_gets_a_message(owner_client):
    for url in ("/contacts?after=abc", "/contacts?after=99999999999999999999", "/contacts?sort=email&after=5",
                "/contacts?list=0", "/contacts?segment=-1", "/contacts?before=1.5"):
        response = owner_client.get(url)
        assert response.status_code == 422, url
        assert "not valid" in text(response)


# Search


def test_exact_search(app, owner_client, account):
    many_contacts(app, account, 30)
    response = owner_client.get("/contacts?q=Person0007@Example.com")
    assert response.status_code == 200
    assert emails_on(response) == ["person0007@example.com"]


def test_prefix_search_sorted_by_email(app, owner_client, account):
    many_contacts(app, account, 30)
    add(app, account, "other@example.com")
    response = owner_client.get("/contacts?q=PERSON001")
    assert emails_on(response) == [f"person{n:04d}@example.com" for n in range(10, 20)]
    assert "Sorted by e-mail address." in text(response)
    assert emails_on(owner_client.get("/contacts?q=nobody")) == []
    assert "No contacts match." in text(owner_client.get("/contacts?q=nobody"))


def test_search_longer_than_an_address_gets_a_message(owner_client):
    response = owner_client.get("/contacts?q=" + "a" * 300)
    assert response.status_code == 422
    assert "An e-mail address has at most 254 characters." in text(response)


def test_search_for_an_address_that_is_not_there_falls_back_to_its_beginning(app, owner_client, account):
    add(app, account, "ann@example.com")
    assert emails_on(owner_client.get("/contacts?q=ann@example.co")) == ["ann@example.com"]


def test_search_with_encrypted_email(app, owner_client, account):
    encrypt_field(account, "email")
    add(app, account, "secret@example.com", first_name="Sam")
    add(app, account, "second@example.com")
    assert Contact.get(Contact.email_digest.is_null(False) & (Contact.first_name == "Sam")).email is None

    page = text(owner_client.get("/contacts"))
    assert re.search(r'<form id="contact-filter"[^>]*method="post"', page)  # no address in a URL
    assert re.search(r'<option value="email"\s*disabled>', page)
    assert "Sorting by e-mail address is not possible while the e-mail field is encrypted." in page
    assert sorted(emails_on(owner_client.get("/contacts"))) == ["second@example.com", "secret@example.com"]

    found = post(owner_client, "/contacts", {"q": "Secret@Example.com"}, htmx=True)
    assert found.status_code == 200 and emails_on(found) == ["secret@example.com"]
    assert "secret@example.com" not in found.headers.get("HX-Push-Url", "")
    assert "q=" not in text(found).split('hx-get="')[1].split('"')[0]  # the refresh URL holds no address
    assert emails_on(owner_client.get("/contacts?q=secret@example.com")) == ["secret@example.com"]

    refused = post(owner_client, "/contacts", {"q": "secr"})
    assert refused.status_code == 422
    assert "The e-mail field is encrypted, so only a complete e-mail address can be searched." in text(refused)
    assert emails_on(refused) == []
    assert owner_client.get("/contacts?sort=email").status_code == 422


# Filters


def test_filter_on_list_and_membership_status(app, owner_client, account, newsletter):
    other = MailingList.create(account=account, name="Other")
    add(app, account, "sub@example.com", [newsletter.id])
    add(app, account, "unconfirmed@example.com", [newsletter.id], "unconfirmed")
    add(app, account, "elsewhere@example.com", [other.id])
    add(app, account, "none@example.com")
    assert sorted(emails_on(owner_client.get(f"/contacts?list={newsletter.id}"))) == [
        "sub@example.com", "unconfirmed@example.com"]
    assert emails_on(owner_client.get(f"/contacts?list={newsletter.id}&membership=unconfirmed")) == [
        "unconfirmed@example.com"]
    response = owner_client.get("/contacts?membership=subscribed")
    assert response.status_code == 422 and "Choose a list to filter on membership status." in text(response)


def test_filter_on_contact_status(app, owner_client, account):
    many_contacts(app, account, 3)
    many_contacts(app, account, 2, start=10, status="blocklisted")
    assert emails_on(owner_client.get("/contacts?status=blocklisted")) == [
        "person0011@example.com", "person0010@example.com"]
    response = owner_client.get("/contacts?status=sleeping")
    assert response.status_code == 422 and "Choose a contact status from the list." in text(response)


def test_filter_on_segment(app, owner_client, account):
    add(app, account, "ann@example.com", first_name="Ann")
    add(app, account, "bob@example.com", first_name="Bob")
    segment = Segment.create(account=account, name="Anns", conditions=[{"field": "first_name", "op": "eq",
                                                                        "value": "Ann"}])
    response = owner_client.get(f"/contacts?segment={segment.id}")
    assert response.status_code == 200 and emails_on(response) == ["ann@example.com"]
    assert "Anns" in text(owner_client.get("/contacts"))


def test_filter_on_another_accounts_list_or_segment_is_not_found(app, owner_client):
    other = make_account("Other")
    their_list = MailingList.create(account=other, name="Theirs")
    their_segment = Segment.create(account=other, name="Theirs", conditions=[])
    for url in (f"/contacts?list={their_list.id}", f"/contacts?segment={their_segment.id}", "/contacts?list=999"):
        response = owner_client.get(url)
        assert response.status_code == 404, url
        assert "Theirs" not in text(response)


def test_filter_with_an_unknown_sort_gets_a_message(owner_client):
    response = owner_client.get("/contacts?sort=random")
    assert response.status_code == 422 and "Choose a sort order from the list." in text(response)


# A contact's page


def test_contact_page_shows_every_field_and_membership(app, owner_client, account, newsletter):
    custom_field(account, "birthday", "date")
    custom_field(account, "vip", "boolean")
    contact = add(app, account, "ann@example.com", [newsletter.id], first_name="Ann", birthday="1990-05-01", vip=True)
    Subscription.update(status="unsubscribed", unsubscribed_at=utcnow()).execute()
    response = owner_client.get(f"/contacts/{contact.id}")
    assert response.status_code == 200
    body = text(response)
    for shown in ("ann@example.com", "Ann", "Birthday", "1990-05-01", "Vip", "yes", "Newsletter", "unsubscribed"):
        assert shown in body
    assert body.count(utcnow().strftime("%Y-%m-%d")) >= 4  # added, changed, on the list since, unsubscribed
    fragment = owner_client.get(f"/contacts/{contact.id}", headers=HTMX)
    assert "<html" not in text(fragment) and 'id="contact-detail"' in text(fragment)


# Inline edit


def test_inline_edit_row_and_cancel(app, owner_client, account):
    contact = add(app, account, "ann@example.com", first_name="Ann")
    form = owner_client.get(f"/contacts/{contact.id}/edit", headers=HTMX)
    assert form.status_code == 200
    body = text(form)
    assert body.lstrip().startswith("<tr") and 'class="editing"' in body
    assert 'value="ann@example.com"' in body and 'value="Ann"' in body
    assert f'form="contact-{contact.id}-form"' in body
    row = owner_client.get(f"/contacts/{contact.id}/row", headers=HTMX)
    assert text(row).lstrip().startswith("<tr") and "editing" not in text(row)
    assert "<html" in text(owner_client.get(f"/contacts/{contact.id}/row"))


def test_inline_edit_saves_and_answers_the_row(app, owner_client, account):
    contact = add(app, account, "ann@example.com", first_name="Ann", last_name="Archer")
    response = post(owner_client, f"/contacts/{contact.id}/edit",
                    {"email": "Ann.New@Example.com", "first_name": "Anne", "last_name": "", "_status": "unsubscribed"},
                    htmx=True)
    assert response.status_code == 200
    body = text(response)
    assert body.lstrip().startswith("<tr") and "ann.new@example.com" in body and "Anne" in body
    assert "The contact is saved." in body
    stored = Contact.get_by_id(contact.id)
    assert (stored.email, stored.first_name, stored.last_name, stored.status) == (
        "ann.new@example.com", "Anne", None, "unsubscribed")
    with app.app_context():
        assert audience.find_by_email(account.id, "ann.new@example.com").id == contact.id


def test_inline_edit_keeps_the_fields_it_does_not_show(app, owner_client, account):
    custom_field(account, "city", "text", required=True)
    contact = add(app, account, "ann@example.com", city="Ghent")
    response = post(owner_client, f"/contacts/{contact.id}/edit", {"first_name": "Ann"}, htmx=True)
    assert response.status_code == 200
    assert Contact.get_by_id(contact.id).attributes == {"city": "Ghent"}


def test_inline_edit_with_an_invalid_address_shows_the_error_in_the_row(app, owner_client, account):
    contact = add(app, account, "ann@example.com")
    response = post(owner_client, f"/contacts/{contact.id}/edit", {"email": "not an address"}, htmx=True)
    assert response.status_code == 422
    body = text(response)
    assert body.lstrip().startswith("<tr") and "This is not a valid e-mail address" in body
    assert Contact.get_by_id(contact.id).email == "ann@example.com"


def test_edit_to_another_contacts_address_is_refused(app, owner_client, account):
    add(app, account, "taken@example.com")
    contact = add(app, account, "ann@example.com")
    response = post(owner_client, f"/contacts/{contact.id}/edit", {"email": "taken@example.com"}, htmx=True)
    assert response.status_code == 422
    assert "Another contact already has this e-mail address." in text(response)
    assert Contact.get_by_id(contact.id).email == "ann@example.com"


def test_edit_page_without_javascript_with_typed_fields(app, owner_client, account):
    custom_field(account, "age", "number")
    custom_field(account, "plan", "choice", choices=["Free", "Pro"])
    contact = add(app, account, "ann@example.com")
    page = owner_client.get(f"/contacts/{contact.id}/edit")
    assert "<html" in text(page) and 'name="age"' in text(page) and '<option value="Pro"' in text(page)

    wrong = post(owner_client, f"/contacts/{contact.id}/edit",
                 {"email": "ann@example.com", "age": "old", "plan": "Gold"})
    assert wrong.status_code == 422
    assert "Age must be a number" in text(wrong) and "Plan must be one of Free, Pro." in text(wrong)
    assert Contact.get_by_id(contact.id).attributes == {}

    right = post(owner_client, f"/contacts/{contact.id}/edit", {"email": "ann@example.com", "age": "42", "plan": "pro"})
    assert right.status_code == 303 and right.headers["Location"] == f"/contacts/{contact.id}"
    assert Contact.get_by_id(contact.id).attributes == {"age": 42, "plan": "Pro"}


def test_edit_with_an_unknown_status_is_refused(app, owner_client, account):
    contact = add(app, account, "ann@example.com")
    response = post(owner_client, f"/contacts/{contact.id}/edit", {"_status": "vip"}, htmx=True)
    assert response.status_code == 422 and "Choose a status from the list." in text(response)
    assert Contact.get_by_id(contact.id).status == "active"


def test_a_value_that_cannot_be_decrypted_is_shown_and_never_overwritten(app, owner_client, account):
    encrypt_field(account, "first_name")
    contact = add(app, account, "ann@example.com", first_name="Ann", last_name="Archer")
    other = add(app, account, "bob@example.com", first_name="Bob")
    # Moved to another contact, a sealed value no longer decrypts (it is bound to its contact).
    Contact.update(sealed=other.sealed).where(Contact.id == contact.id).execute()
    tampered = Contact.get_by_id(contact.id).sealed

    table = text(owner_client.get("/contacts"))
    assert "cannot be decrypted" in table.split(f'id="contact-{contact.id}"')[1].split("</tr>")[0]
    assert "Bob" in table
    detail = text(owner_client.get(f"/contacts/{contact.id}"))
    assert "cannot be decrypted" in detail and "ann@example.com" in detail

    row_form = text(owner_client.get(f"/contacts/{contact.id}/edit", headers=HTMX))
    assert 'name="first_name"' not in row_form and "cannot be decrypted" in row_form
    response = post(owner_client, f"/contacts/{contact.id}/edit",
                    {"email": "ann@example.com", "first_name": "Overwritten", "last_name": "Aster"}, htmx=True)
    assert response.status_code == 200
    stored = Contact.get_by_id(contact.id)
    assert stored.last_name == "Aster" and stored.sealed == tampered


# Add


def test_add_contact_form(owner_client, newsletter):
    response = owner_client.get("/contacts/new")
    assert response.status_code == 200
    assert 'name="email"' in text(response) and 'name="_lists"' in text(response) and "Newsletter" in text(response)


def test_add_contact_and_subscribe(app, owner_client, account, newsletter):
    custom_field(account, "age", "number")
    response = post(owner_client, "/contacts/new", {"email": "New@Example.com", "first_name": "Nora", "age": "7",
                                                     "_lists": str(newsletter.id), "_membership": "unconfirmed"})
    assert response.status_code == 303
    contact = Contact.get(Contact.email == "new@example.com")
    assert response.headers["Location"] == f"/contacts/{contact.id}"
    assert (contact.first_name, contact.attributes) == ("Nora", {"age": 7})
    assert [(s.mailing_list_id, s.status) for s in contact.subscriptions] == [(newsletter.id, "unconfirmed")]
    assert "The contact is added." in text(owner_client.get(response.headers["Location"]))


def test_add_contact_with_htmx_goes_to_its_page(owner_client):
    response = post(owner_client, "/contacts/new", {"email": "new@example.com"}, htmx=True)
    contact = Contact.get(Contact.email == "new@example.com")
    assert response.status_code == 200 and response.headers["HX-Redirect"] == f"/contacts/{contact.id}"


@pytest.mark.parametrize("htmx", [False, True])
def test_add_an_existing_address_is_refused(app, owner_client, account, htmx):
    add(app, account, "ann@example.com")
    response = post(owner_client, "/contacts/new", {"email": "ANN@example.com", "first_name": "Other"}, htmx=htmx)
    assert response.status_code == 422
    assert "This address is already a contact." in text(response)
    assert Contact.select().count() == 1


def test_add_with_bad_values_is_refused_and_keeps_what_was_typed(owner_client, account):
    custom_field(account, "age", "number")
    custom_field(account, "member_since", "date", required=True)
    response = post(owner_client, "/contacts/new", {"email": "nobody", "first_name": "Nora", "age": "seven"},
                    htmx=True)
    assert response.status_code == 422
    body = text(response)
    assert "This is not a valid e-mail address" in body
    assert "Age must be a number" in body
    assert "Member since is required." in body
    assert 'value="Nora"' in body and 'value="seven"' in body
    assert not Contact.select().exists()


def test_add_to_another_accounts_list_is_refused(owner_client):
    theirs = MailingList.create(account=make_account("Other"), name="Theirs")
    response = post(owner_client, "/contacts/new", {"email": "new@example.com", "_lists": str(theirs.id)})
    assert response.status_code == 422
    assert "One of the chosen lists does not exist any more." in text(response)
    assert not Contact.select().exists() and not Subscription.select().exists()


# Delete


def test_delete_contact_asks_first(app, owner_client, account, newsletter):
    contact = add(app, account, "ann@example.com", [newsletter.id])
    for response in (owner_client.get(f"/contacts/{contact.id}/delete"),
                     owner_client.get(f"/contacts/{contact.id}/delete", headers=HTMX)):
        assert response.status_code == 200
        assert "Delete this contact?" in text(response) and "ann@example.com" in text(response)
        assert "1 list membership" in text(response)
    assert Contact.get_or_none(Contact.id == contact.id) is not None

    response = post(owner_client, f"/contacts/{contact.id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/contacts"
    assert Contact.get_or_none(Contact.id == contact.id) is None and not Subscription.select().exists()
    assert "The contact is deleted." in text(owner_client.get("/contacts"))


def test_delete_contact_with_htmx_navigates_to_the_table(app, owner_client, account):
    contact = add(app, account, "ann@example.com")
    response = post(owner_client, f"/contacts/{contact.id}/delete", htmx=True)
    assert response.headers["HX-Redirect"] == "/contacts"
    assert not Contact.select().exists()


# Bulk actions on a selection


def bulk(client, action, ids=(), htmx=False, **form):
    """Submit the bulk form for selected contacts."""
    return post(client, "/contacts/bulk", dict(form, action=action, ids=[str(i) for i in ids]), htmx=htmx)


def test_bulk_add_to_list_keeps_existing_memberships(app, owner_client, account, newsletter):
    left = add(app, account, "left@example.com", [newsletter.id], "unsubscribed")
    fresh = add(app, account, "fresh@example.com")
    response = bulk(owner_client, "add", [left.id, fresh.id], to_list=str(newsletter.id), list="", q="")
    assert response.status_code == 303 and response.headers["Location"] == "/contacts"
    statuses = {s.contact_id: s.status for s in Subscription.select()}
    assert statuses == {left.id: "unsubscribed", fresh.id: "subscribed"}
    assert "2 contacts are on “Newsletter” now." in text(owner_client.get("/contacts"))


def test_bulk_with_htmx_reloads_the_table(app, owner_client, account, newsletter):
    contact = add(app, account, "ann@example.com", [newsletter.id])
    response = bulk(owner_client, "remove", [contact.id], htmx=True, to_list=str(newsletter.id))
    assert response.status_code == 200
    assert response.headers["HX-Trigger"] == "contacts-changed"
    assert "1 contact is off “Newsletter” now." in text(response)
    assert not Subscription.select().exists()


def test_bulk_unsubscribe_and_blocklist(app, owner_client, account):
    news = MailingList.create(account=account, name="News")
    active = add(app, account, "active@example.com", [news.id])
    bounced = add(app, account, "bounced@example.com", [news.id])
    Contact.update(status="bounced").where(Contact.id == bounced.id).execute()
    bulk(owner_client, "unsubscribe", [active.id, bounced.id])
    assert Contact.get_by_id(active.id).status == "unsubscribed"
    assert Contact.get_by_id(bounced.id).status == "bounced"
    # Off every list too, dated: the list pages and the statistics show it as the preference centre's would.
    assert {(m.status, m.unsubscribed_at is not None) for m in Subscription.select()} == {("unsubscribed", True)}
    bulk(owner_client, "blocklist", [active.id, bounced.id])
    assert {c.status for c in Contact.select()} == {"blocklisted"}


def test_bulk_delete_asks_first(app, owner_client, account):
    keep, gone = add(app, account, "keep@example.com"), add(app, account, "gone@example.com")
    confirm = bulk(owner_client, "delete", [gone.id], htmx=True)
    assert confirm.status_code == 200
    assert "Delete 1 contact?" in text(confirm) and 'name="confirmed" value="yes"' in text(confirm)
    assert Contact.select().count() == 2
    assert "Delete 1 contact?" in text(bulk(owner_client, "delete", [gone.id]))

    done = bulk(owner_client, "delete", [gone.id], confirmed="yes")
    assert done.status_code == 303
    assert [c.id for c in Contact.select()] == [keep.id]


def test_bulk_without_selection_or_action_gets_a_message(app, owner_client, account):
    contact = add(app, account, "ann@example.com")
    response = bulk(owner_client, "blocklist", [], htmx=True)
    assert response.status_code == 422
    assert "Select one or more contacts, or choose all contacts matching the filter." in text(response)
    response = bulk(owner_client, "dance", [contact.id])
    assert response.status_code == 422
    assert "Choose what to do with the contacts." in text(response) and "<html" in text(response)
    response = bulk(owner_client, "add", [contact.id], htmx=True)
    assert response.status_code == 422 and "Choose the list to add the contacts to" in text(response)
    assert bulk(owner_client, "blocklist", ["x"]).status_code == 400
    assert Contact.get_by_id(contact.id).status == "active" and not Subscription.select().exists()


def test_bulk_with_an_unknown_or_foreign_list_is_not_found(app, owner_client, account):
    contact = add(app, account, "ann@example.com")
    theirs = MailingList.create(account=make_account("Other"), name="Theirs")
    for list_id in (str(theirs.id), "12345", "abc"):
        response = bulk(owner_client, "add", [contact.id], to_list=list_id)
        assert response.status_code == 404
        assert "That list does not exist, or you have no access to it." in text(response)
    assert not Subscription.select().exists()


def test_bulk_on_all_matching_another_accounts_list_is_not_found(app, owner_client, account):
    add(app, account, "ann@example.com")
    theirs = MailingList.create(account=make_account("Other"), name="Theirs")
    response = post(owner_client, "/contacts/bulk", {"action": "blocklist", "scope": "all", "list": str(theirs.id)})
    assert response.status_code == 404
    assert Contact.get().status == "active" and not Job.select().exists()


def test_bulk_leaves_other_accounts_contacts_alone(app, owner_client, account):
    theirs = add(app, make_account("Other"), "theirs@example.com")
    mine = add(app, account, "mine@example.com")
    response = bulk(owner_client, "delete", [theirs.id, mine.id], confirmed="yes", htmx=True)
    assert "1 contact is deleted." in text(response)
    assert [c.id for c in Contact.select()] == [theirs.id]


# Bulk actions as a job


def test_bulk_on_all_matching_runs_as_a_job(app, owner_client, account, newsletter):
    contacts = many_contacts(app, account, 620)
    many_contacts(app, account, 5, start=900, status="blocklisted")
    response = post(owner_client, "/contacts/bulk", {"action": "add", "to_list": str(newsletter.id), "scope": "all",
                                                     "status": "active"}, htmx=True)
    assert response.status_code == 200
    job = Job.get(Job.kind == "bulk_contacts")
    assert job.status == "done" and job.total == job.done == 620
    assert response.headers["HX-Trigger"] == "contacts-changed"
    assert "620 contacts are on “Newsletter” now." in text(response)
    assert "every 1s" not in text(response)
    members = {s.contact_id for s in Subscription.select()}
    assert members == {contact.id for contact in contacts}
    # Only ids and filter settings in the job, never an address or another field value.
    assert "@" not in json.dumps(job.params)
    assert job.params["filter"]["status"] == "active"


def test_a_large_selection_runs_as_a_job_that_can_run_twice(app, owner_client, account, newsletter):
    contacts = many_contacts(app, account, 510)
    response = bulk(owner_client, "add", [c.id for c in contacts], to_list=str(newsletter.id))
    job = Job.get(Job.kind == "bulk_contacts")
    assert response.status_code == 303 and response.headers["Location"] == f"/contacts/jobs/{job.id}"
    assert job.status == "done" and Subscription.select().count() == 510
    page = text(owner_client.get(response.headers["Location"]))
    assert "<html" in page and "510 contacts are on “Newsletter” now." in page

    # A worker that died after its last chunk leaves the job running; running it again doubles nothing.
    Job.update(status="running", lease_until=utcnow()).where(Job.id == job.id).execute()
    with app.app_context():
        run_job.call_local(job.id)
    assert Job.get_by_id(job.id).status == "done" and Subscription.select().count() == 510


def test_bulk_delete_all_matching_a_search(app, owner_client, account):
    many_contacts(app, account, 30)
    confirm = post(owner_client, "/contacts/bulk", {"action": "delete", "scope": "all", "q": "person001"})
    assert confirm.status_code == 200 and "Delete 10 contacts?" in text(confirm)
    done = post(owner_client, "/contacts/bulk", {"action": "delete", "scope": "all", "q": "person001",
                                                 "confirmed": "yes"})
    assert done.status_code == 303
    assert Contact.select().count() == 20
    assert not Contact.select().where(Contact.email.startswith("person001")).exists()


def test_bulk_on_an_encrypted_address_search_keeps_the_address_out_of_the_job(app, owner_client, account):
    encrypt_field(account, "email")
    target = add(app, account, "secret@example.com")
    other = add(app, account, "other@example.com")
    response = post(owner_client, "/contacts/bulk", {"action": "blocklist", "scope": "all", "q": "secret@example.com"},
                    htmx=True)
    assert response.status_code == 200 and "1 contact is blocklisted." in text(response)
    job = Job.get(Job.kind == "bulk_contacts")
    assert job.params["filter"]["contact_id"] == target.id and "secret" not in json.dumps(job.params)
    assert Contact.get_by_id(target.id).status == "blocklisted" and Contact.get_by_id(other.id).status == "active"


def test_bulk_all_matching_with_a_refused_filter_gets_a_message(app, owner_client, account):
    encrypt_field(account, "email")
    add(app, account, "ann@example.com")
    response = post(owner_client, "/contacts/bulk", {"action": "blocklist", "scope": "all", "q": "ann"}, htmx=True)
    assert response.status_code == 422
    assert "only a complete e-mail address can be searched" in text(response)
    assert Contact.get().status == "active" and not Job.select().exists()


def queued_job(account, **params):
    """A bulk job that no worker picked up yet."""
    return Job.create(account=account, kind="bulk_contacts", params=dict({"list_id": None}, **params))


def test_progress_partial_polls_until_the_job_is_finished(app, owner_client, account):
    job = queued_job(account, action="blocklist", contact_ids=[])
    polling = owner_client.get(f"/contacts/jobs/{job.id}", headers=HTMX)
    assert polling.status_code == 200
    assert 'hx-trigger="every 1s"' in text(polling) and "HX-Trigger" not in polling.headers
    assert "Cancel" in text(polling)
    assert f'id="bulk-job-{job.id}"' in text(owner_client.get("/contacts"))  # running work shows on the table

    Job.update(status="running", total=2000, done=500).where(Job.id == job.id).execute()
    running = text(owner_client.get(f"/contacts/jobs/{job.id}", headers=HTMX))
    assert "500 of 2000 contacts done." in running and 'value="25"' in running

    Job.update(status="done", done=2000, result={"affected": 2000}).where(Job.id == job.id).execute()
    finished = owner_client.get(f"/contacts/jobs/{job.id}", headers=HTMX)
    assert "every 1s" not in text(finished) and finished.headers["HX-Trigger"] == "contacts-changed"
    assert "2000 contacts are blocklisted." in text(finished)
    assert "<html" in text(owner_client.get(f"/contacts/jobs/{job.id}"))


def test_cancel_a_bulk_job(app, owner_client, account):
    contacts = many_contacts(app, account, 3)
    job = queued_job(account, action="blocklist", contact_ids=[c.id for c in contacts])
    response = post(owner_client, f"/contacts/jobs/{job.id}/cancel", htmx=True)
    assert response.status_code == 200 and "Stopping…" in text(response)
    assert Job.get_by_id(job.id).cancel_requested
    with app.app_context():
        run_job.call_local(job.id)
    job = Job.get_by_id(job.id)
    assert job.status == "cancelled"
    assert "Cancelled after" in text(owner_client.get(f"/contacts/jobs/{job.id}"))
    assert post(owner_client, f"/contacts/jobs/{job.id}/cancel").status_code == 303


def test_a_job_whose_list_was_deleted_stops_with_a_reason(app, owner_client, account, newsletter):
    contacts = many_contacts(app, account, 2)
    job = queued_job(account, action="add", list_id=newsletter.id, contact_ids=[c.id for c in contacts])
    newsletter.delete_instance()
    with app.app_context():
        run_job.call_local(job.id)
    job = Job.get_by_id(job.id)
    assert job.status == "failed" and "The list was deleted" in job.error
    assert "The list was deleted" in text(owner_client.get(f"/contacts/jobs/{job.id}"))


def test_other_kinds_of_jobs_are_not_shown_here(owner_client, account):
    job = Job.create(account=account, kind="field_encryption", params={})
    assert owner_client.get(f"/contacts/jobs/{job.id}").status_code == 404


def test_a_member_can_use_the_contacts(app, client, account):
    member = make_user(account, role="member")
    from tests.conftest import login

    login(client, member)
    add(app, account, "ann@example.com")
    assert emails_on(client.get("/contacts")) == ["ann@example.com"]
