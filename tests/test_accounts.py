"""Profile, billing details, team management, outbox and the validation of typed values."""
import html

import pytest

from sendtex import validation
from sendtex.mail.transport import send_system_mail
from sendtex.models.accounts import Account, User
from sendtex.models.mail import OutboxMessage
from tests.conftest import login, make_account, make_user, post

HTMX = {"HX-Request": "true"}
BILLING = {
    "name": "Acme",
    "company_name": "Acme BV",
    "street": "Rue de la Loi 16",
    "postal_code": "1000",
    "city": "Brussels",
    "country": "BE",
    "vat_number": "BE 0123.456.749",
    "phone": "+32 2 123 45 67",
}


def text(response):
    """The response body as a person reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def billing_of(account):
    """The billing fields of the account as stored."""
    row = Account.get_by_id(account.id)
    return {name: getattr(row, name) for name in BILLING}


@pytest.fixture
def member(owner):
    return make_user(owner.account, email="member@example.com", name="Max Member", role="member")


# Profile


def test_profile_page_and_fragment(owner_client, owner):
    full = owner_client.get("/profile")
    fragment = owner_client.get("/profile", headers=HTMX)
    assert full.status_code == fragment.status_code == 200
    assert "<html" in text(full) and 'id="profile-form"' in text(full) and 'id="password-form"' in text(full)
    assert "<html" not in text(fragment) and 'id="profile-form"' in text(fragment)
    assert owner.email in text(fragment)
    assert "HX-Request" in full.headers["Vary"]


def test_edit_profile(owner_client, owner):
    response = post(owner_client, "/profile", {"name": "Ann Other", "email": "Ann.Other@Example.com", "language": "nl"})
    assert response.status_code == 303 and response.headers["Location"] == "/profile"
    user = User.get_by_id(owner.id)
    assert (user.name, user.email, user.language) == ("Ann Other", "ann.other@example.com", "nl")
    page = text(owner_client.get("/profile"))
    assert '<html lang="nl"' in page and "Ann Other" in page


def test_edit_profile_htmx_refreshes_the_page(owner_client, owner):
    response = post(owner_client, "/profile", {"name": "Ann Other", "email": owner.email, "language": ""}, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Refresh"] == "true"
    assert User.get_by_id(owner.id).name == "Ann Other"
    assert "Your profile is saved." in text(owner_client.get("/profile"))


def test_profile_email_taken_by_another_user(owner_client, owner):
    make_user(email="taken@example.com")
    response = post(owner_client, "/profile", {"name": "Ann Other", "email": "Taken@Example.com", "language": ""},
                    htmx=True)
    assert response.status_code == 422
    assert "Another login already uses this e-mail address." in text(response)
    user = User.get_by_id(owner.id)
    assert (user.email, user.name) == (owner.email, owner.name)


@pytest.mark.parametrize(
    "changes, message",
    [({"email": "not-an-email"}, "This is not a valid e-mail address"),
     ({"name": ""}, "This field is required."),
     ({"language": "xx"}, "Not a valid choice.")],
    ids=["email", "name", "language"],
)
def test_profile_bad_input(owner_client, owner, changes, message):
    data = {"name": "Ann Other", "email": owner.email, "language": "", **changes}
    response = post(owner_client, "/profile", data, htmx=True)
    assert response.status_code == 422
    assert message in text(response)
    user = User.get_by_id(owner.id)
    assert (user.email, user.name, user.language) == (owner.email, owner.name, None)


# Billing details


def test_account_page_shows_billing_details(owner_client, owner):
    Account.update(company_name="Acme BV", vat_number="BE0123456749", city="Brussels", phone="+32 2 123 45 67").where(
        Account.id == owner.account_id).execute()
    for url in ("/account", "/account/billing"):
        page = text(owner_client.get(url))
        assert "<html" in page
        for value in ("Acme BV", "BE0123456749", "Brussels", "+32 2 123 45 67"):
            assert value in page


def test_billing_edit_page_and_fragment(owner_client):
    full = owner_client.get("/account/billing/edit")
    fragment = owner_client.get("/account/billing/edit", headers=HTMX)
    assert full.status_code == fragment.status_code == 200
    assert "<html" in text(full) and 'id="billing-form"' in text(full)
    assert text(fragment).lstrip().startswith('<section id="billing"')
    assert "<html" not in text(fragment) and 'id="billing-form"' in text(fragment)


def test_save_billing_htmx_returns_display_fragment_and_flash(owner_client, owner):
    response = post(owner_client, "/account/billing", BILLING, htmx=True)
    assert response.status_code == 200
    body = text(response)
    assert '<section id="billing"' in body and "<html" not in body
    assert 'id="billing-form"' not in body
    assert "BE0123456749" in body and "Acme BV" in body and "+32 2 123 45 67" in body
    assert 'id="flashes"' in body and "hx-swap-oob" in body and "Billing details saved." in body
    assert billing_of(owner.account) == {**BILLING, "vat_number": "BE0123456749"}


def test_save_billing_plain_redirects(owner_client, owner):
    response = post(owner_client, "/account/billing", {**BILLING, "vat_number": "nl 123456789 b01", "country": "NL"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/account"
    page = text(owner_client.get("/account"))
    assert "Billing details saved." in page and "NL123456789B01" in page
    stored = billing_of(owner.account)
    assert (stored["vat_number"], stored["country"], stored["phone"]) == ("NL123456789B01", "NL", "+32 2 123 45 67")


def test_billing_fields_may_be_cleared(owner_client, owner):
    post(owner_client, "/account/billing", BILLING)
    cleared = {**BILLING, "company_name": "", "vat_number": "", "phone": "", "country": ""}
    assert post(owner_client, "/account/billing", cleared).status_code == 303
    stored = billing_of(owner.account)
    assert (stored["company_name"], stored["vat_number"], stored["phone"], stored["country"]) == ("", "", "", "")


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"vat_number": "BE0123456748"}, "The check digits of this Belgian VAT number are wrong."),
        ({"vat_number": "BE123"}, "This is not the format of a BE VAT number."),
        ({"vat_number": "XX123456789"}, "A VAT number starts with the two-letter code of an EU country"),
        ({"vat_number": "NL12345678901"}, "This is not the format of a NL VAT number."),
        ({"vat_number": "123456789"}, "A VAT number starts with the two-letter code of an EU country"),
        ({"phone": "call me maybe"}, "Enter a phone number of 6 to 15 digits"),
        ({"phone": "12345"}, "Enter a phone number of 6 to 15 digits"),
        ({"phone": "+32 2 123 45 67 89 01 23 45"}, "Enter a phone number of 6 to 15 digits"),
        ({"country": "ZZ"}, "Not a valid choice."),
        ({"name": ""}, "This field is required."),
    ],
    ids=["be-check-digits", "be-short", "unknown-country-prefix", "nl-format", "no-prefix", "phone-letters",
         "phone-short", "phone-long", "country", "no-name"],
)
@pytest.mark.parametrize("htmx", [False, True], ids=["plain", "htmx"])
def test_save_billing_refuses_bad_input(owner_client, owner, changes, message, htmx):
    before = billing_of(owner.account)
    response = post(owner_client, "/account/billing", {**BILLING, **changes}, htmx=htmx)
    assert response.status_code == 422
    body = text(response)
    assert message in body
    assert 'id="billing-form"' in body
    assert ("<html" in body) is not htmx
    assert billing_of(owner.account) == before


def test_billing_values_fit_their_columns(owner_client, owner):
    """A value longer than its column would be cut or refused by PostgreSQL (a 500): the form says so."""
    long_phone = "(0032) (2) - 123 - 45 - 67 - 890"
    assert len(validation.normalise_phone(long_phone)) > Account.phone.max_length
    before = billing_of(owner.account)
    response = post(owner_client, "/account/billing", {**BILLING, "phone": long_phone}, htmx=True)
    assert response.status_code == 422
    assert f"Field cannot be longer than {Account.phone.max_length} characters." in text(response)
    assert billing_of(owner.account) == before
    response = post(owner_client, "/account/billing", {**BILLING, "phone": "+32 (0)2 - 123 - 45 - 67 - 890"}, htmx=True)
    assert response.status_code == 200
    assert all(len(value) <= getattr(Account, name).max_length for name, value in billing_of(owner.account).items())


def test_member_cannot_edit_billing(app, client, owner, member):
    login(client, member)
    page = text(client.get("/account"))
    assert "Only an owner of the account can change these details." in page
    edit = client.get("/account/billing/edit")
    assert edit.status_code == 403 and "You are not allowed to do this." in text(edit)
    assert client.get("/account/billing/edit", headers=HTMX).status_code == 403
    before = billing_of(owner.account)
    response = post(client, "/account/billing", BILLING)
    assert response.status_code == 403
    assert billing_of(owner.account) == before


# Team


def test_team_page_lists_members(owner_client, owner, member):
    full = owner_client.get("/team")
    fragment = owner_client.get("/team", headers=HTMX)
    assert "<html" in text(full) and "<html" not in text(fragment)
    for page in (text(full), text(fragment)):
        assert owner.email in page and member.email in page and 'id="invite-form"' in page


def test_change_role(owner_client, member):
    response = post(owner_client, f"/team/members/{member.id}/role", {"role": "owner"})
    assert response.status_code == 303 and response.headers["Location"] == "/team"
    assert User.get_by_id(member.id).role == "owner"
    assert "Max Member is now Owner." in text(owner_client.get("/team"))

    response = post(owner_client, f"/team/members/{member.id}/role", {"role": "member"}, htmx=True)
    assert response.status_code == 200 and "Max Member is now Member." in text(response)
    assert User.get_by_id(member.id).role == "member"


def test_unknown_role_is_refused(owner_client, member):
    response = post(owner_client, f"/team/members/{member.id}/role", {"role": "admin"})
    assert response.status_code == 400
    assert User.get_by_id(member.id).role == "member"


def test_last_owner_cannot_be_demoted(owner_client, owner, member):
    response = post(owner_client, f"/team/members/{owner.id}/role", {"role": "member"}, htmx=True)
    assert response.status_code == 200
    assert "An account needs at least one owner." in text(response)
    assert User.get_by_id(owner.id).role == "owner"
    # With a second owner, demoting oneself is fine.
    User.update(role="owner").where(User.id == member.id).execute()
    post(owner_client, f"/team/members/{owner.id}/role", {"role": "member"}, htmx=True)
    assert User.get_by_id(owner.id).role == "member"


def test_member_cannot_manage_the_team(app, client, owner, member):
    login(client, member)
    page = text(client.get("/team"))
    assert owner.email in page and 'id="invite-form"' not in page
    assert post(client, f"/team/members/{owner.id}/role", {"role": "member"}).status_code == 403
    assert post(client, f"/team/members/{member.id}/role", {"role": "owner"}).status_code == 403
    assert post(client, f"/team/members/{owner.id}/remove").status_code == 403
    assert User.get_by_id(owner.id).role == "owner" and User.get_by_id(member.id).role == "member"


def test_remove_member_ends_their_session(app, owner_client, member):
    member_client = app.test_client()
    login(member_client, member)
    assert member_client.get("/app").status_code == 200

    response = post(owner_client, f"/team/members/{member.id}/remove", htmx=True)
    assert response.status_code == 200
    assert "Max Member no longer has access." in text(response)
    assert member.email not in text(response)
    assert User.get_or_none(User.id == member.id) is None

    after = member_client.get("/app")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")


def test_owner_cannot_remove_themselves(owner_client, owner):
    response = post(owner_client, f"/team/members/{owner.id}/remove", htmx=True)
    assert response.status_code == 200
    assert "You cannot remove yourself." in text(response)
    assert User.get_or_none(User.id == owner.id) is not None
    assert owner_client.get("/app").status_code == 200


# Outbox


def test_outbox_lists_only_the_own_account(app, owner_client, owner):
    other = make_account("Other")
    with app.app_context():
        send_system_mail("ours@example.com", "Our news", "Hello from us.\nSecond line.", account_id=owner.account_id)
        send_system_mail("theirs@example.com", "Their secret", "Not for Acme.", account_id=other.id)
        send_system_mail("root@example.com", "System only", "No account.")
    page = owner_client.get("/outbox")
    assert page.status_code == 200
    assert "Our news" in text(page) and "ours@example.com" in text(page)
    assert "Their secret" not in text(page) and "System only" not in text(page)

    ours = OutboxMessage.get(OutboxMessage.subject == "Our news")
    detail = owner_client.get(f"/outbox/{ours.id}")
    assert detail.status_code == 200
    assert "Hello from us.\nSecond line." in text(detail) and "ours@example.com" in text(detail)
    fragment = owner_client.get(f"/outbox/{ours.id}", headers=HTMX)
    assert "<html" not in text(fragment) and "Hello from us." in text(fragment)


def test_empty_outbox(owner_client):
    page = owner_client.get("/outbox")
    assert page.status_code == 200
    assert "The outbox is empty." in text(page)


def test_outbox_pages(app, owner_client, owner):
    with app.app_context():
        for number in range(51):
            send_system_mail("ours@example.com", f"Mail number {number}", "Hello.", account_id=owner.account_id)
    first = text(owner_client.get("/outbox"))
    assert "Mail number 50" in first and "Mail number 1<" in first and "Mail number 0<" not in first
    assert "Older mail" in first and "/outbox?page=2" in first
    second = owner_client.get("/outbox?page=2", headers=HTMX)
    assert "<html" not in text(second) and "Mail number 0<" in text(second) and "Older mail" not in text(second)
    for page in ("0", "-3", "abc"):
        assert "Mail number 50" in text(owner_client.get(f"/outbox?page={page}"))
    beyond = owner_client.get("/outbox?page=99999999999999999999")
    assert beyond.status_code == 200 and "Mail number" not in text(beyond)


def test_outbox_message_whose_file_is_gone(app, owner_client, owner):
    with app.app_context():
        send_system_mail("ours@example.com", "Our news", "Hello.", account_id=owner.account_id)
    entry = OutboxMessage.get()
    OutboxMessage.update(maildir_key="missing").where(OutboxMessage.id == entry.id).execute()
    response = owner_client.get(f"/outbox/{entry.id}")
    assert response.status_code == 404
    assert "This page does not exist, or you have no access to it." in text(response)


# sendtex.validation


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("BE 0123.456.749", "BE0123456749"),
        ("be0123456749", "BE0123456749"),
        ("BE 1000.000.021", "BE1000000021"),
        ("NL123456789B01", "NL123456789B01"),
        ("nl 1234.56.789.b01", "NL123456789B01"),
        ("DE 123 456 789", "DE123456789"),
        ("FR 40 303265045", "FR40303265045"),
        ("ATU12345678", "ATU12345678"),
        ("GR123456789", "EL123456789"),
        ("ESX1234567X", "ESX1234567X"),
        ("IE1234567WA", "IE1234567WA"),
        ("", ""),
        ("  ", ""),
    ],
)
def test_normalise_vat_accepts(typed, stored):
    assert validation.normalise_vat(typed) == stored


@pytest.mark.parametrize(
    "typed, message",
    [
        ("BE0123456748", "check digits"),
        ("BE1000000022", "check digits"),
        ("BE2123456749", "format of a BE VAT number"),
        ("BE123", "format of a BE VAT number"),
        ("NL12345678901", "format of a NL VAT number"),
        ("DE12345678", "format of a DE VAT number"),
        ("AT12345678", "format of a AT VAT number"),
        ("XX123456789", "two-letter code of an EU country"),
        ("US123456789", "two-letter code of an EU country"),
    ],
)
def test_normalise_vat_refuses(app, typed, message):
    with app.test_request_context(), pytest.raises(validation.Invalid, match=message):
        validation.normalise_vat(typed)


@pytest.mark.parametrize(
    "typed, stored",
    [("+32 2 123 45 67", "+32 2 123 45 67"), ("  +32   2 123\t45 67 ", "+32 2 123 45 67"),
     ("(02) 123-45-67", "(02) 123-45-67"), ("0470/12.34.56", "0470/12.34.56"), ("", "")],
)
def test_normalise_phone_accepts(typed, stored):
    assert validation.normalise_phone(typed) == stored


@pytest.mark.parametrize("typed", ["12345", "+32 2 abc 45 67", "1234567890123456", "++32 2 123 45 67", "32#2123"])
def test_normalise_phone_refuses(app, typed):
    with app.test_request_context(), pytest.raises(validation.Invalid, match="6 to 15 digits"):
        validation.normalise_phone(typed)


@pytest.mark.parametrize(
    "typed, stored",
    [("Ann@Example.COM", "ann@example.com"), ("  ann@example.com ", "ann@example.com"),
     ("ann@bücher.example", "ann@bücher.example"), ("ann@xn--bcher-kva.example", "ann@bücher.example")],
)
def test_normalise_email_accepts(typed, stored):
    assert validation.normalise_email(typed) == stored


@pytest.mark.parametrize("typed", ["", "ann", "ann@", "@example.com", "ann@@example.com", "ann example@x.com",
                                   "a" * 250 + "@example.com"])
def test_normalise_email_refuses(app, typed):
    with app.test_request_context(), pytest.raises(validation.Invalid, match="e-mail address"):
        validation.normalise_email(typed)


@pytest.mark.parametrize("password", ["correct horse battery staple", "x" * 5 + "y" * 5 + "z1", "Tr0ub4dor&3xyz",
                                      "a" * 100 + "bcd" + "e" * 25])
def test_check_password_accepts(password):
    validation.check_password(password, "ann@example.com")


@pytest.mark.parametrize(
    "password, email, message",
    [
        ("short1!", "", "at least 10 characters"),
        ("abcd" * 32 + "e", "", "at most 128 characters"),
        ("Password123", "", "too easy to guess"),
        ("WACHTWOORD1", "", "too easy to guess"),
        ("aaaaaaaaaaaa", "", "too easy to guess"),
        ("abababababab", "", "too easy to guess"),
        ("annabel-is-the-best", "Annabel@example.com", "e-mail address in your password"),
    ],
)
def test_check_password_refuses(app, password, email, message):
    with app.test_request_context(), pytest.raises(validation.Invalid, match=message):
        validation.check_password(password, email)


SETTINGS = {"track_opens": "y", "soft_bounce_limit": "5", "soft_bounce_days": "10"}


def test_owner_changes_tracking_and_bounce_settings(owner_client, owner):
    page = text(owner_client.get("/account"))
    assert "Tracking and bounces" in page and "3 within 7 days mark a contact bounced" in page
    edit = owner_client.get("/account/settings/edit", headers=HTMX)
    assert edit.status_code == 200 and 'id="settings-form"' in text(edit)
    response = post(owner_client, "/account/settings", SETTINGS, htmx=True)
    assert response.status_code == 200 and "Settings saved." in text(response)
    assert "5 within 10 days" in text(response) and "never tracked" in text(response)
    account = Account.get_by_id(owner.account_id)
    assert (account.track_opens, account.track_clicks, account.individual_tracking) == (True, False, False)
    assert (account.soft_bounce_limit, account.soft_bounce_days) == (5, 10)


@pytest.mark.parametrize("changes, message", [
    ({"soft_bounce_limit": "0"}, "Number must be between 1 and 100."),
    ({"soft_bounce_days": "many"}, "Not a valid integer value."),
    ({"soft_bounce_days": ""}, "This field is required."),
])
def test_settings_refuse_bad_input(owner_client, owner, changes, message):
    response = post(owner_client, "/account/settings", {**SETTINGS, **changes}, htmx=True)
    assert response.status_code == 422 and message in text(response)
    account = Account.get_by_id(owner.account_id)
    assert (account.soft_bounce_limit, account.soft_bounce_days, account.track_clicks) == (3, 7, True)


def test_member_cannot_change_settings(client, owner, member):
    login(client, member)
    assert "Only an owner of the account can change these settings." in text(client.get("/account"))
    assert client.get("/account/settings/edit").status_code == 403
    assert post(client, "/account/settings", SETTINGS).status_code == 403
    assert Account.get_by_id(owner.account_id).track_clicks is True
