"""The operator's own newsletter runs on Sendtex; every user withdraws from it in one click on the account page."""
import pytest

from sendtex.models.audit import AuditEntry
from sendtex.models.contacts import Contact, Subscription
from tests.conftest import login, make_account, make_user, post
from tests.test_signup import make_form, make_list, sign_up


@pytest.fixture
def newsletter(app):
    operator = make_account("Operator")
    news = make_list(operator, name="Operator news", opt_in="single")
    signup_form = make_form(operator, [news])
    app.config["OPERATOR_NEWSLETTER_FORM"] = signup_form.public_id
    return signup_form


def test_the_website_links_the_newsletter_signup(client, newsletter):
    home = client.get("/").get_data(as_text=True)
    assert f'href="/subscribe/{newsletter.public_id}"' in home and "Newsletter" in home


def test_a_user_withdraws_consent_in_one_click(app, client, newsletter):
    user = make_user(make_account("Customer shop"), email="marketer@customer.example")
    assert sign_up(app.test_client(), newsletter, {"email": user.email}).status_code == 200
    login(client, user)
    page = client.get("/account").get_data(as_text=True)
    assert "You receive our newsletter at marketer@customer.example." in page

    response = post(client, "/account/newsletter/withdraw")
    assert response.status_code == 303
    contact = Contact.get(Contact.account == newsletter.account_id)
    assert contact.status == "unsubscribed"
    assert Subscription.get(Subscription.contact == contact.id).status == "unsubscribed"
    assert AuditEntry.get(AuditEntry.action == "newsletter-withdrawn").account_id == user.account_id
    page = client.get("/account").get_data(as_text=True)
    assert "You no longer receive our newsletter." in page and "You do not receive our newsletter." in page


def test_without_a_configured_newsletter_nothing_is_shown(app, client, owner):
    login(client, owner)
    assert "Our newsletter" not in client.get("/account").get_data(as_text=True)
    assert "Newsletter</a>" not in client.get("/").get_data(as_text=True)
    assert post(client, "/account/newsletter/withdraw").status_code == 303  # harmless: nothing to withdraw
