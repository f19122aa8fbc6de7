"""Mailing lists: index with counts, create, inline edit, detail page, delete with confirmation."""
import html
import re

import pytest

from sendtex import audience
from sendtex.models.contacts import Contact, MailingList, Subscription
from tests.conftest import make_account, post

HTMX = {"HX-Request": "true"}
LIST = {"name": "Newsletter", "description": "Monthly news", "opt_in": "double", "visibility": "public"}


def text(response):
    """The response body as a person reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def make_list(account, name="Newsletter", **fields):
    """A mailing list of the account."""
    return MailingList.create(account=account, name=name, **fields)


def subscribe(app, account, list_, statuses):
    """One new contact on the list per status given."""
    with app.app_context():
        fields = audience.FieldSet(account.id)
        for index, status in enumerate(statuses):
            email = f"member{index}-{list_.id}@example.com"
            audience.create_contact(fields, {"email": email}, [list_.id], subscription_status=status)


@pytest.fixture
def newsletter(owner):
    return make_list(owner.account, **{key: value for key, value in LIST.items() if key != "name"})


# Index


def test_index_without_lists_invites_to_create_one(owner_client):
    response = owner_client.get("/lists")
    assert response.status_code == 200
    assert "You have no lists yet." in text(response)
    assert 'id="list-create-form"' in text(response)


def test_index_shows_lists_with_counts_by_status(app, owner_client, owner, newsletter):
    subscribe(app, owner.account, newsletter, ["subscribed"] * 3 + ["unconfirmed"] * 2 + ["unsubscribed"])
    make_list(make_account("Other"), "Their list")
    full, fragment = owner_client.get("/lists"), owner_client.get("/lists", headers=HTMX)
    assert "<html" in text(full) and "<html" not in text(fragment)
    card = text(fragment).split('id="list-1"')[1].split("</section>")[0]
    assert "Newsletter" in card and "Monthly news" in card
    assert "Double opt-in" in card and "Public: offered on signup forms" in card
    assert ">3</a>" in card and ">2</a>" in card and ">1</a>" in card
    assert "/contacts?list=1&amp;membership=subscribed" in fragment.get_data(as_text=True)
    assert "Their list" not in text(full)


def test_navigation_and_dashboard_link_to_lists_and_contacts(owner_client):
    page = text(owner_client.get("/app"))
    assert page.count('href="/lists"') >= 2 and page.count('href="/contacts"') >= 2


# Create


def test_create_list(owner_client, owner):
    response = post(owner_client, "/lists", LIST)
    assert response.status_code == 303 and response.headers["Location"] == "/lists"
    created = MailingList.get(MailingList.account == owner.account_id)
    assert (created.name, created.description, created.opt_in, created.visibility) == (
        "Newsletter", "Monthly news", "double", "public")
    assert "The list “Newsletter” is created." in text(owner_client.get("/lists"))


def test_create_list_with_htmx_answers_the_updated_index(owner_client, owner):
    response = post(owner_client, "/lists", dict(LIST, name="  Offers  ", opt_in="single"), htmx=True)
    assert response.status_code == 200
    body = text(response)
    assert 'id="lists"' in body and "Offers" in body and "Single opt-in" in body
    assert "The list “Offers” is created." in body  # the flash, out of band
    assert re.search(r'<input[^>]*name="name"[^>]*value=""', body)  # a fresh form for the next list
    assert MailingList.get(MailingList.account == owner.account_id).name == "Offers"


@pytest.mark.parametrize("htmx", [False, True])
def test_duplicate_list_name_is_refused(owner_client, owner, newsletter, htmx):
    response = post(owner_client, "/lists", LIST, htmx=htmx)
    assert response.status_code == 422
    assert "You already have a list with this name. Choose another name." in text(response)
    assert MailingList.select().where(MailingList.account == owner.account_id).count() == 1


def test_same_name_in_another_account_is_fine(owner_client, owner):
    make_list(make_account("Other"), "Newsletter")
    assert post(owner_client, "/lists", LIST).status_code == 303


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_list_name_is_refused(owner_client, owner, name):
    response = post(owner_client, "/lists", dict(LIST, name=name), htmx=True)
    assert response.status_code == 422
    assert "Give the list a name." in text(response)
    assert not MailingList.select().exists()


def test_unknown_opt_in_is_refused(owner_client):
    response = post(owner_client, "/lists", dict(LIST, opt_in="triple"))
    assert response.status_code == 422
    assert "Not a valid choice" in text(response)
    assert not MailingList.select().exists()


def test_create_without_csrf_token_is_refused(owner_client):
    response = post(owner_client, "/lists", LIST, token=False)
    assert response.status_code == 400
    assert not MailingList.select().exists()


# Detail and inline edit


def test_detail_page_shows_counts_and_links_to_filtered_contacts(app, owner_client, owner, newsletter):
    subscribe(app, owner.account, newsletter, ["subscribed", "unsubscribed"])
    response = owner_client.get(f"/lists/{newsletter.id}")
    assert response.status_code == 200
    body = text(response)
    assert "<h1>Newsletter</h1>" in body
    assert f'href="/contacts?list={newsletter.id}"' in body
    assert "Subscribed" in body or "subscribed" in body


def test_edit_inline_form_and_cancel(owner_client, newsletter):
    form = owner_client.get(f"/lists/{newsletter.id}/edit", headers=HTMX)
    assert form.status_code == 200
    assert "<html" not in text(form) and f'id="list-{newsletter.id}-form"' in text(form)
    assert 'value="Newsletter"' in text(form)
    full = owner_client.get(f"/lists/{newsletter.id}/edit")
    assert "<html" in text(full) and f'id="list-{newsletter.id}-form"' in text(full)
    card = owner_client.get(f"/lists/{newsletter.id}", headers=HTMX)
    assert "<html" not in text(card) and f'id="list-{newsletter.id}"' in text(card)
    assert "Edit the list" not in text(card)


def test_edit_with_htmx_answers_the_card(owner_client, newsletter):
    response = post(owner_client, f"/lists/{newsletter.id}/edit",
                     {"name": "Weekly", "description": "", "opt_in": "single", "visibility": "private"}, htmx=True)
    assert response.status_code == 200
    body = text(response)
    assert f'id="list-{newsletter.id}"' in body and "Weekly" in body and "Single opt-in" in body
    assert "<form" not in body.split('id="flashes"')[0]
    stored = MailingList.get_by_id(newsletter.id)
    assert (stored.name, stored.description, stored.opt_in, stored.visibility) == ("Weekly", "", "single", "private")


def test_edit_without_htmx_redirects_to_the_list(owner_client, newsletter):
    response = post(owner_client, f"/lists/{newsletter.id}/edit", dict(LIST, name="Weekly"))
    assert response.status_code == 303 and response.headers["Location"] == f"/lists/{newsletter.id}"
    assert "The list “Weekly” is saved." in text(owner_client.get(response.headers["Location"]))


@pytest.mark.parametrize("htmx", [False, True])
def test_rename_to_a_taken_name_is_refused(owner_client, owner, newsletter, htmx):
    make_list(owner.account, "Offers")
    response = post(owner_client, f"/lists/{newsletter.id}/edit", dict(LIST, name="Offers"), htmx=htmx)
    assert response.status_code == 422
    assert "You already have a list with this name." in text(response)
    assert MailingList.get_by_id(newsletter.id).name == "Newsletter"


def test_rename_to_empty_is_refused(owner_client, newsletter):
    response = post(owner_client, f"/lists/{newsletter.id}/edit", dict(LIST, name=""), htmx=True)
    assert response.status_code == 422 and "Give the list a name." in text(response)
    assert MailingList.get_by_id(newsletter.id).name == "Newsletter"


# Delete


def test_delete_asks_first_naming_what_is_lost(app, owner_client, owner, newsletter):
    subscribe(app, owner.account, newsletter, ["subscribed"] * 2 + ["unconfirmed"])
    for response in (owner_client.get(f"/lists/{newsletter.id}/delete"),
                     owner_client.get(f"/lists/{newsletter.id}/delete", headers=HTMX)):
        assert response.status_code == 200
        body = text(response)
        assert "Delete the list “Newsletter”?" in body
        assert "3 memberships will be lost for good" in body
        assert "The contacts themselves stay in your contacts" in body
    assert MailingList.get_or_none(MailingList.id == newsletter.id) is not None


def test_delete_removes_list_and_memberships_but_keeps_contacts(app, owner_client, owner, newsletter):
    subscribe(app, owner.account, newsletter, ["subscribed", "unsubscribed"])
    response = post(owner_client, f"/lists/{newsletter.id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/lists"
    assert MailingList.get_or_none(MailingList.id == newsletter.id) is None
    assert Subscription.select().count() == 0
    assert Contact.select().count() == 2
    assert "The list “Newsletter” is deleted." in text(owner_client.get("/lists"))


def test_delete_with_htmx_from_the_index_removes_the_card(owner_client, newsletter):
    response = post(owner_client, f"/lists/{newsletter.id}/delete", htmx=True,
                    headers={"HX-Current-URL": "http://localhost/lists"})
    assert response.status_code == 200
    assert "HX-Redirect" not in response.headers
    assert f'id="list-{newsletter.id}"' not in text(response)
    assert "The list “Newsletter” is deleted." in text(response)
    assert not MailingList.select().exists()


def test_delete_with_htmx_from_the_list_page_goes_to_the_index(owner_client, newsletter):
    response = post(owner_client, f"/lists/{newsletter.id}/delete", htmx=True,
                    headers={"HX-Current-URL": f"http://localhost/lists/{newsletter.id}"})
    assert response.status_code == 200 and response.headers["HX-Redirect"] == "/lists"
    assert not MailingList.select().exists()


def test_lists_need_a_login(client, app):
    response = client.get("/lists")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
