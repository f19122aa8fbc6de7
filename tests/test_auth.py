"""Registration, login, throttling, logout, password reset, password change and invitations."""
import datetime
import html
import re

import pytest

from sendtex.mail.transport import read_from_outbox, readable_text
from sendtex.models.accounts import Account, Invitation, User
from sendtex.models.ratelimit import RateHit
from sendtex.models.base import utcnow
from sendtex.models.mail import OutboxMessage
from tests.conftest import CSRF_RE, PASSWORD, login, make_user, post

NEW_PASSWORD = "another long passphrase"
REGISTRATION = {"account_name": "Shop", "name": "Ann", "email": "Ann@Example.com", "password": "a long passphrase here"}
OTHER_IP = {"REMOTE_ADDR": "203.0.113.9"}


def text(response):
    """The response body as a person reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def counts():
    return Account.select().count(), User.select().count()


def mails(app):
    """(recipient, text) of every mail in the outbox, oldest first."""
    with app.app_context():
        entries = OutboxMessage.select().order_by(OutboxMessage.id)
        return [(entry.recipient, readable_text(read_from_outbox(entry))) for entry in entries]


def link_in(mail_text, path):
    """The first absolute link to /path/<token> in a mail text."""
    match = re.search(rf"(https?://[^\s/]+)/{path}/([A-Za-z0-9_.\-]+)", mail_text)
    assert match, mail_text
    return match.group(1), f"/{path}/{match.group(2)}"


def token_from(client, url, **kwargs):
    match = CSRF_RE.search(client.get(url, **kwargs).get_data(as_text=True))
    return match.group(1) or match.group(2)


# Registration


def test_register_creates_account_and_owner_and_logs_in(client):
    response = post(client, "/register", REGISTRATION)
    assert response.status_code == 303
    assert response.headers["Location"] == "/app"
    user = User.get(User.email == "ann@example.com")
    assert user.role == "owner" and user.account.name == "Shop" and user.name == "Ann"
    dashboard = client.get("/app")
    assert dashboard.status_code == 200
    assert "Welcome to Sendtex, Ann." in text(dashboard)


def test_register_htmx_redirects_with_header(client):
    response = post(client, "/register", REGISTRATION, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/app"
    assert counts() == (1, 1)
    assert client.get("/app").status_code == 200


def test_register_page_full_and_fragment(client):
    full = client.get("/register")
    fragment = client.get("/register", headers={"HX-Request": "true"})
    assert full.status_code == fragment.status_code == 200
    assert "<html" in text(full) and 'id="register-form"' in text(full)
    assert "<html" not in text(fragment) and 'id="register-form"' in text(fragment)
    for response in (full, fragment):
        assert "HX-Request" in response.headers["Vary"]


LONG_PASSWORD = ("Tr0ub4dor&3-" * 11)[:129]


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"email": "not-an-email"}, "This is not a valid e-mail address"),
        ({"email": "ann@"}, "This is not a valid e-mail address"),
        ({"password": "short1!"}, "Use at least 10 characters."),
        ({"password": "password123"}, "This password is too easy to guess."),
        ({"password": "aaaaaaaaaaaaaa"}, "This password is too easy to guess."),
        ({"password": LONG_PASSWORD}, "Use at most 128 characters."),
        ({"email": "annabel@example.com", "password": "Annabel-secret-phrase"}, "Do not use your e-mail address in your password."),
        ({"account_name": None}, "This field is required."),
        ({"name": None}, "This field is required."),
        ({"email": None}, "This field is required."),
        ({"password": None}, "This field is required."),
        ({"account_name": "x" * 201}, "Field cannot be longer than 200 characters."),
    ],
    ids=["email", "email-no-domain", "short", "common", "same-chars", "129-chars", "contains-email",
         "no-organisation", "no-name", "no-email", "no-password", "long-organisation"],
)
def test_register_rejects_bad_input(client, changes, message):
    assert len(LONG_PASSWORD) == 129
    data = {key: value for key, value in {**REGISTRATION, **changes}.items() if value is not None}
    for htmx in (False, True):
        response = post(client, "/register", data, htmx=htmx)
        assert response.status_code == 422
        assert message in text(response)
        assert "HX-Redirect" not in response.headers
    assert counts() == (0, 0)
    assert client.get("/app").status_code == 302


def test_register_duplicate_email_in_other_case_writes_nothing(client):
    assert post(client, "/register", REGISTRATION).status_code == 303
    other = client.application.test_client()
    response = post(other, "/register", {**REGISTRATION, "account_name": "Other", "email": "ANN@EXAMPLE.COM"})
    assert response.status_code in (409, 422)
    assert "This e-mail address already has a login." in text(response)
    assert counts() == (1, 1)
    assert Account.get_or_none(Account.name == "Other") is None


@pytest.mark.parametrize("url", ["/register", "/login"])
@pytest.mark.parametrize("token", [None, "not-a-valid-token"], ids=["missing", "invalid"])
def test_post_without_valid_csrf_token_is_refused(client, owner, url, token):
    client.get(url)
    data = {**REGISTRATION, "email": "new@example.com"} if url == "/register" else {"email": owner.email, "password": PASSWORD}
    if token:
        data["csrf_token"] = token
    response = post(client, url, data, token=False)
    assert response.status_code == 400
    assert "This form has expired or did not come from this site." in text(response)
    assert counts() == (1, 1)
    assert client.get("/app").status_code == 302


def test_oversized_body_is_refused(client):
    response = post(client, "/register", {**REGISTRATION, "name": "x" * (20 * 1024 * 1024)})
    assert response.status_code == 413
    assert "What you sent is too large." in text(response)
    assert counts() == (0, 0)


# Login and logout


def test_wrong_password_is_refused(client, owner):
    response = post(client, "/login", {"email": owner.email, "password": "not the password"})
    assert response.status_code == 422
    assert "The e-mail address or the password is not right." in text(response)
    assert client.get("/app").status_code == 302


def test_unknown_address_gets_the_same_message(client, owner):
    response = post(client, "/login", {"email": "nobody@example.com", "password": PASSWORD})
    assert response.status_code == 422
    assert "The e-mail address or the password is not right." in text(response)


def test_login_with_email_in_other_case(client, owner):
    response = post(client, "/login", {"email": "  " + owner.email.upper(), "password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/app"
    assert client.get("/app").status_code == 200
    assert User.get_by_id(owner.id).last_login_at is not None


@pytest.mark.parametrize(
    "next_url, expected",
    [
        ("/account", "/account"),
        ("/team?x=1", "/team?x=1"),
        ("//evil.example", "/app"),
        ("https://evil.example", "/app"),
        ("/\\evil.example", "/app"),
        ("/\t/evil.example", "/app"),
        ("/\n/evil.example", "/app"),
        ("/\r\nSet-Cookie: x=1", "/app"),
        ("/ /evil.example", "/%20/evil.example"),
    ],
    ids=["path", "query", "scheme-relative", "absolute", "backslash", "tab", "newline", "crlf", "space"],
)
def test_login_honours_only_local_next(client, owner, next_url, expected):
    response = client.post("/login", query_string={"next": next_url},
                           data={"email": owner.email, "password": PASSWORD, "csrf_token": token_from(client, "/login")})
    assert response.status_code == 303
    assert response.headers["Location"] == expected


def test_login_htmx_redirects_by_header(client, owner):
    response = post(client, "/login", {"email": owner.email, "password": PASSWORD}, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == "/app"


def test_logout_needs_post_and_ends_session(owner_client):
    assert owner_client.get("/logout").status_code == 405
    assert owner_client.get("/app").status_code == 200
    response = post(owner_client, "/logout")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    after = owner_client.get("/app")
    assert after.status_code == 302
    assert after.headers["Location"].startswith("/login")


def test_protected_page_redirects_to_login_with_next(client):
    response = client.get("/team")
    assert response.status_code == 302
    assert response.headers["Location"] == "/login?next=%2Fteam"


# Throttling


def fail_login(client, email, **kwargs):
    response = post(client, "/login", {"email": email, "password": "wrong password"}, **kwargs)
    assert response.status_code == 422
    return response


def assert_blocked(response):
    assert response.status_code == 429
    assert re.search(r"Too many failed attempts\. Try again in 1[45] minutes\.", text(response))


def test_five_failures_for_an_address_block_even_the_right_password(app, client, owner):
    for _ in range(5):
        fail_login(client, owner.email)
    assert_blocked(post(client, "/login", {"email": owner.email, "password": PASSWORD}))
    # Another network does not help: the block is per address too.
    assert_blocked(post(client, "/login", {"email": owner.email.upper(), "password": PASSWORD}, environ_base=OTHER_IP))
    assert client.get("/app").status_code == 302

    RateHit.update(at=utcnow() - datetime.timedelta(minutes=16)).execute()
    login(client, owner)
    assert client.get("/app").status_code == 200
    assert RateHit.select().where(RateHit.bucket == "login-address").count() == 0


def test_five_failures_from_one_network_block_other_addresses(client, owner):
    for number in range(5):
        fail_login(client, f"guess{number}@example.com")
    assert_blocked(post(client, "/login", {"email": owner.email, "password": PASSWORD}))
    # Same /24 network, another address in it: still blocked.
    assert_blocked(post(client, "/login", {"email": owner.email, "password": PASSWORD},
                        environ_base={"REMOTE_ADDR": "127.0.0.77"}))
    response = post(client, "/login", {"email": owner.email, "password": PASSWORD}, environ_base=OTHER_IP)
    assert response.status_code == 303


def test_four_failures_do_not_block(client, owner):
    for _ in range(4):
        fail_login(client, owner.email)
    login(client, owner)


def test_login_attempts_store_no_address_and_no_full_ip(client, owner):
    fail_login(client, owner.email)
    fail_login(client, "Someone@Example.com", environ_base=OTHER_IP)
    rows = list(RateHit.select().dicts())
    assert len(rows) == 4
    stored = " ".join(str(value) for row in rows for value in row.values())
    assert "@" not in stored and "example" not in stored.lower()
    assert "127.0.0.1" not in stored and "203.0.113.9" not in stored
    assert {row["key"] for row in rows if row["bucket"] == "login-network"} == {"127.0.0.0", "203.0.113.0"}


# Password reset


def request_reset(client, email, **kwargs):
    response = post(client, "/reset", {"email": email}, **kwargs)
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    return response


def reset_link(app, client, user):
    request_reset(client, user.email)
    found = [body for recipient, body in mails(app) if recipient == user.email]
    assert found, "no reset mail"
    return link_in(found[-1], "reset")[1]


def test_reset_mail_links_to_base_url_not_host_header(app, client, owner):
    evil = {"Host": "evil.example"}
    token = token_from(client, "/reset", headers=evil)
    response = post(client, "/reset", {"email": owner.email, "csrf_token": token}, headers=dict(evil))
    assert response.status_code == 303
    (recipient, body), = mails(app)
    assert recipient == owner.email
    host, path = link_in(body, "reset")
    assert host == "http://127.0.0.1:5000"
    assert "evil.example" not in body
    assert client.get(path).status_code == 200


def test_reset_answer_is_the_same_for_unknown_addresses(app, client, owner):
    answers = []
    for email in (owner.email, "nobody@example.com"):
        response = post(client, "/reset", {"email": email}, htmx=True)
        answers.append((response.status_code, response.headers.get("HX-Redirect"), response.get_data()))
        assert "If that address has a login, a link to choose a new password is on its way." in text(client.get("/login"))
    assert answers[0] == answers[1] == (200, "/login", b"")
    assert [recipient for recipient, _ in mails(app)] == [owner.email]


def test_reset_link_sets_new_password_once(app, client, owner):
    path = reset_link(app, client, owner)
    form = client.get(path)
    assert form.status_code == 200 and 'id="reset-form"' in text(form)
    response = post(client, path, {"password": NEW_PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/app"
    assert "Your new password is set." in text(client.get("/app"))

    other = app.test_client()
    wrong = post(other, "/login", {"email": owner.email, "password": PASSWORD})
    assert wrong.status_code == 422 and "not right" in text(wrong)
    login(other, owner, NEW_PASSWORD)

    again = post(client, path, {"password": "yet another passphrase"})
    assert again.status_code == 400
    assert "This link is not valid." in text(again)
    assert client.get(path).status_code == 400
    assert User.get_by_id(owner.id).check_password(NEW_PASSWORD)


def test_reset_ends_other_sessions(app, client, owner):
    logged_in = app.test_client()
    login(logged_in, owner)
    path = reset_link(app, client, owner)
    assert post(client, path, {"password": NEW_PASSWORD}).status_code == 303
    assert logged_in.get("/app").status_code == 302


def test_altered_reset_token_is_refused(app, client, owner):
    path = reset_link(app, client, owner)
    token = path.rsplit("/", 1)[1]
    altered = ("f" if token[0] != "f" else "e") + token[1:]
    for url in (f"/reset/{altered}", "/reset/garbage"):
        response = client.get(url)
        assert response.status_code == 400
        assert "This link is not valid." in text(response)
    response = post(client, f"/reset/{altered}", {"password": NEW_PASSWORD})
    assert response.status_code == 400
    assert User.get_by_id(owner.id).check_password(PASSWORD)


def test_expired_reset_link_is_refused(app, client, owner):
    path = reset_link(app, client, owner)
    app.config["PASSWORD_RESET_MAX_AGE"] = -1
    response = post(client, path, {"password": NEW_PASSWORD})
    assert response.status_code == 400
    assert "This link has expired. Ask for a new one." in text(response)
    assert User.get_by_id(owner.id).check_password(PASSWORD)


def test_reset_refuses_weak_password(app, client, owner):
    path = reset_link(app, client, owner)
    response = post(client, path, {"password": "password123"})
    assert response.status_code == 422
    assert "This password is too easy to guess." in text(response)
    assert User.get_by_id(owner.id).check_password(PASSWORD)


# Changing the password


def test_change_password_needs_current_password(owner_client, owner):
    response = post(owner_client, "/profile/password", {"current_password": "not it at all", "new_password": NEW_PASSWORD})
    assert response.status_code == 422
    assert "This is not your current password." in text(response)
    assert User.get_by_id(owner.id).check_password(PASSWORD)


def test_change_password_rejects_weak_new_password(owner_client, owner):
    response = post(owner_client, "/profile/password", {"current_password": PASSWORD, "new_password": "qwertyuiop"},
                    htmx=True)
    assert response.status_code == 422
    assert "This password is too easy to guess." in text(response)
    assert User.get_by_id(owner.id).check_password(PASSWORD)


def test_change_password_ends_other_sessions_only(app, owner_client, owner):
    second = app.test_client()
    login(second, owner)
    assert second.get("/app").status_code == 200

    response = post(owner_client, "/profile/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
                    htmx=True)
    assert response.status_code == 200
    assert "Your password is changed." in text(response)
    assert 'hx-swap-oob' in text(response)

    assert owner_client.get("/app").status_code == 200
    after = second.get("/app")
    assert after.status_code == 302 and after.headers["Location"].startswith("/login")
    assert User.get_by_id(owner.id).check_password(NEW_PASSWORD)


# Invitations


def invite(client, email, role="member"):
    return post(client, "/team/invitations", {"email": email, "role": role}, htmx=True)


@pytest.mark.parametrize("role", ["member", "owner"])
def test_invitation_mail_and_accept(app, owner_client, owner, role):
    response = invite(owner_client, "New.Person@Example.com", role)
    assert response.status_code == 200
    assert "Invitation sent to new.person@example.com." in text(response)
    assert "new.person@example.com" in text(owner_client.get("/team"))

    (recipient, body), = mails(app)
    assert recipient == "new.person@example.com"
    host, path = link_in(body, "invitation")
    assert host == "http://127.0.0.1:5000"

    guest = app.test_client()
    page = guest.get(path)
    assert page.status_code == 200 and "Join Acme on Sendtex" in text(page)
    response = post(guest, path, {"name": "Nina", "password": NEW_PASSWORD})
    assert response.status_code == 303
    assert response.headers["Location"] == "/app"
    user = User.get(User.email == "new.person@example.com")
    assert (user.account_id, user.role, user.name) == (owner.account_id, role, "Nina")
    dashboard = text(guest.get("/app"))
    assert "Welcome to Acme." in dashboard and "Welcome, Nina." in dashboard

    again = post(app.test_client(), path, {"name": "Mallory", "password": "a different passphrase"})
    assert again.status_code == 400
    assert "This link is not valid." in text(again)
    assert User.select().where(User.account == owner.account_id).count() == 2


def test_accepting_needs_a_strong_password(app, owner_client):
    invite(owner_client, "new@example.com")
    path = link_in(mails(app)[0][1], "invitation")[1]
    guest = app.test_client()
    response = post(guest, path, {"name": "Nina", "password": "1234567890"})
    assert response.status_code == 422
    assert "This password is too easy to guess." in text(response)
    assert User.get_or_none(User.email == "new@example.com") is None


def test_accepting_when_the_address_got_a_login_meanwhile(app, owner_client):
    invite(owner_client, "new@example.com")
    path = link_in(mails(app)[0][1], "invitation")[1]
    make_user(email="new@example.com")
    response = post(app.test_client(), path, {"name": "Nina", "password": NEW_PASSWORD})
    assert response.status_code == 409
    assert "new@example.com already has a Sendtex login." in text(response)
    assert Invitation.get().accepted_at is None
    assert User.select().count() == 2


def test_member_cannot_invite(app, client, owner):
    member = make_user(owner.account, role="member")
    login(client, member)
    response = invite(client, "new@example.com")
    assert response.status_code == 403
    assert "You are not allowed to do this." in text(response)
    assert Invitation.select().count() == 0
    assert mails(app) == []


def test_inviting_an_address_with_a_login_is_refused(app, owner_client, owner):
    elsewhere = make_user(email="taken@example.com")
    response = invite(owner_client, "Taken@Example.com")
    assert response.status_code == 422
    assert "This address already has a Sendtex login." in text(response)
    assert Invitation.select().count() == 0
    assert mails(app) == []
    assert User.get_by_id(elsewhere.id).account_id != owner.account_id


def test_invalid_invitation_address_is_refused(owner_client):
    response = invite(owner_client, "not an address")
    assert response.status_code == 422
    assert "This is not a valid e-mail address" in text(response)
    assert Invitation.select().count() == 0


def test_revoked_invitation_link_stops_working(app, owner_client):
    invite(owner_client, "new@example.com")
    path = link_in(mails(app)[0][1], "invitation")[1]
    invitation = Invitation.get()
    response = post(owner_client, f"/team/invitations/{invitation.id}/revoke", htmx=True)
    assert response.status_code == 200
    assert "Invitation withdrawn." in text(response)
    assert Invitation.select().count() == 0
    guest = app.test_client()
    assert guest.get(path).status_code == 400
    response = post(guest, path, {"name": "Nina", "password": NEW_PASSWORD})
    assert response.status_code == 400
    assert "This link is not valid." in text(response)
    assert User.get_or_none(User.email == "new@example.com") is None


def test_expired_invitation_link_is_refused(app, owner_client):
    invite(owner_client, "new@example.com")
    path = link_in(mails(app)[0][1], "invitation")[1]
    app.config["INVITATION_MAX_AGE"] = -1
    guest = app.test_client()
    response = post(guest, path, {"name": "Nina", "password": NEW_PASSWORD})
    assert response.status_code == 400
    assert "This link has expired. Ask for a new one." in text(response)
    assert User.get_or_none(User.email == "new@example.com") is None


def test_reset_mails_are_limited_per_address(app, client, owner):
    for _ in range(5):
        response = post(client, "/reset", {"email": owner.email})
        assert response.status_code == 303  # the same answer every time: nothing to learn from it
    assert OutboxMessage.select().where(OutboxMessage.recipient == owner.email).count() == 3


@pytest.mark.parametrize("url_kind", ["reset", "change"])
def test_new_password_may_not_contain_the_address(app, client, owner, url_kind):
    weak = owner.email.split("@")[0] + "-and-more-words"
    if url_kind == "change":
        login(client, owner)
        response = post(client, "/profile/password", {"current_password": PASSWORD, "new_password": weak})
    else:
        post(client, "/reset", {"email": owner.email})
        with app.app_context():
            entry = OutboxMessage.get()
            link = re.search(r"/reset/\S+", readable_text(read_from_outbox(entry))).group(0)
        response = post(client, link, {"password": weak})
    assert response.status_code == 422
    assert "Do not use your e-mail address in your password." in text(response)
