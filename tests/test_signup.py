"""Public signup: signup forms, the hosted page and snippet, double opt-in, proof of consent, abuse, expiry."""
import datetime
import html
import re
import time
from email import message_from_bytes, policy

import pytest

from sendtex import audience, retention
from sendtex.mail.transport import read_from_outbox, readable_text
from sendtex.models.base import utcnow
from sendtex.models.contacts import Contact, Field, MailingList, Subscription
from sendtex.models.mail import OutboxMessage
from sendtex.models.relays import Relay
from sendtex.models.subscribe import ConsentProof, Signup, SignupForm
from sendtex.subscribe.signup import confirmation_token
from tests.conftest import make_account, post

HTMX = {"HX-Request": "true"}
IP = "198.51.100.23"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0 " + "x" * 400
CONSENT = "Yes, send me the monthly news. I can unsubscribe at any time."


def text(response):
    """The response body as a person reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def without_csrf(response):
    """The body with the session's CSRF token (which changes by the second) blanked out."""
    return re.sub(r'("X-CSRFToken": "|name="csrf_token" value=")[^"]+', r"\1", response.get_data(as_text=True))


def make_list(account, name="News", opt_in="double", visibility="public", **fields):
    return MailingList.create(account=account, name=name, opt_in=opt_in, visibility=visibility, **fields)


def make_form(account, lists, asked=(), consent=CONSENT, **fields):
    return SignupForm.create(account=account, name=fields.pop("name", "Our newsletter"), consent_text=consent,
                             list_ids=[lst.id for lst in lists], asked=list(asked), **fields)


def sign_up(client, signup_form, data, ip=IP, **headers):
    """Post the signup form as a browser on another site would (no session, no CSRF token)."""
    headers.setdefault("User-Agent", BROWSER)
    return client.post(f"/subscribe/{signup_form.public_id}", data=data, environ_base={"REMOTE_ADDR": ip},
                       headers=headers)


def mails(app):
    """(recipient, subject, text) of every mail in the outbox, oldest first."""
    with app.app_context():
        found = []
        for entry in OutboxMessage.select().order_by(OutboxMessage.id):
            message = read_from_outbox(entry)
            found.append((entry.recipient, str(message["Subject"]), readable_text(message)))
        return found


def confirmation_path(mail_text):
    match = re.search(r"https?://[^\s/]+(/subscribe/confirm/[A-Za-z0-9_.\-]+)", mail_text)
    assert match, mail_text
    return match.group(1)


def subscription(contact, lst):
    return Subscription.get_or_none((Subscription.contact == contact.id) & (Subscription.mailing_list == lst.id))


def contact_by_email(app, account, email):
    with app.app_context():
        return audience.find_by_email(account.id, email)


@pytest.fixture
def account(owner):
    return owner.account


# The marketer's pages


def test_lists_page_links_to_the_signup_forms(owner_client):
    page = text(owner_client.get("/lists"))
    assert 'href="/signup-forms"' in page


def test_create_a_form_offering_only_public_lists(owner_client, account):
    news, deals = make_list(account, "News"), make_list(account, "Deals", opt_in="single")
    secret = make_list(account, "Staff only", visibility="private")
    Field.create(account=account, key="age", label="Age", type="number")
    page = text(owner_client.get("/signup-forms/new"))
    assert "News" in page and "Deals" in page and "Staff only" not in page

    response = post(owner_client, "/signup-forms/new", {
        "name": "Website footer", "lists": [news.id, deals.id, secret.id], "consent_text": CONSENT,
        "thank_you_text": "See you soon!", "ask_first_name": "required", "ask_age": "optional"})
    assert response.status_code == 303
    signup_form = SignupForm.get(SignupForm.name == "Website footer")
    assert response.headers["Location"].endswith(f"/signup-forms/{signup_form.id}")
    assert sorted(signup_form.list_ids) == sorted([news.id, deals.id])
    assert signup_form.asked == [{"key": "first_name", "required": True}, {"key": "age", "required": False}]
    assert signup_form.consent_version == 1 and len(signup_form.public_id) >= 20

    page = text(owner_client.get(f"/signup-forms/{signup_form.id}"))
    action = f'action="http://127.0.0.1:5000/subscribe/{signup_form.public_id}"'
    assert action in page  # the snippet, shown as text to copy
    assert 'name="first_name"' in page and 'name="age"' in page and 'name="homepage"' in page
    assert f"http://127.0.0.1:5000/subscribe/{signup_form.public_id}" in page


def test_changing_the_consent_text_makes_a_new_version(owner_client, account):
    signup_form = make_form(account, [make_list(account)])
    data = {"name": "Our newsletter", "lists": signup_form.list_ids, "consent_text": CONSENT}
    post(owner_client, f"/signup-forms/{signup_form.id}", data)
    assert SignupForm.get_by_id(signup_form.id).consent_version == 1
    response = post(owner_client, f"/signup-forms/{signup_form.id}", {**data, "consent_text": "New words."}, htmx=True)
    assert response.status_code == 200
    assert "Consent text version 2." in text(response) and "<html" not in text(response)
    assert SignupForm.get_by_id(signup_form.id).consent_text == "New words."


def test_editor_shows_errors_in_place(owner_client, account):
    response = post(owner_client, "/signup-forms/new", {"name": "", "consent_text": ""}, htmx=True)
    assert response.status_code == 422
    assert "Give the form a name." in text(response) and "Write the consent text." in text(response)
    assert SignupForm.select().count() == 0


def test_form_without_public_lists_says_it_accepts_no_signups(owner_client, account):
    lst = make_list(account)
    signup_form = make_form(account, [lst])
    MailingList.update(visibility="private").execute()
    assert "This form offers no public list, so it accepts no signups." in text(
        owner_client.get(f"/signup-forms/{signup_form.id}"))
    assert "does not accept signups at the moment" in text(owner_client.get(f"/subscribe/{signup_form.public_id}"))
    response = sign_up(owner_client, signup_form, {"email": "ann@example.com", "lists": [lst.id]})
    assert response.status_code == 404 and Contact.select().count() == 0


def test_list_page_shows_the_snippets_of_the_forms_offering_it(owner_client, account):
    news, other = make_list(account, "News"), make_list(account, "Other")
    signup_form = make_form(account, [news], name="Footer form")
    page = text(owner_client.get(f"/lists/{news.id}"))
    assert "Footer form" in page and f'action="http://127.0.0.1:5000/subscribe/{signup_form.public_id}"' in page
    assert "No signup form offers this list yet." in text(owner_client.get(f"/lists/{other.id}"))
    secret = make_list(account, "Secret", visibility="private")
    assert "This list is private" in text(owner_client.get(f"/lists/{secret.id}"))


def test_delete_a_form(owner_client, account):
    signup_form = make_form(account, [make_list(account)])
    response = post(owner_client, f"/signup-forms/{signup_form.id}/delete")
    assert response.status_code == 303 and SignupForm.select().count() == 0
    assert owner_client.get(f"/subscribe/{signup_form.public_id}").status_code == 404


def test_management_pages_need_a_login(client, app):
    assert client.get("/signup-forms").status_code in (302, 303)
    assert client.get("/signup-forms/new").status_code in (302, 303)


# The public page and single opt-in


def test_hosted_page_asks_the_chosen_fields_and_sets_no_other_cookie(app, client, account):
    Field.create(account=account, key="colour", label="Colour", type="choice", choices=["Red", "Blue"])
    signup_form = make_form(account, [make_list(account, "News"), make_list(account, "Deals")],
                            asked=[{"key": "colour", "required": True}])
    page = text(client.get(f"/subscribe/{signup_form.public_id}"))
    assert 'name="email"' in page and '<option>Blue</option>' in page and CONSENT in page
    assert 'value="1"' in page and "Deals" in page  # several lists: the visitor picks
    assert re.search(r'<p hidden><label>Leave this field empty <input type="text" name="homepage"', page)
    assert {cookie.key for cookie in client._cookies.values()} <= {"session"}


def test_single_opt_in_subscribes_at_once_with_proof_of_consent(app, client, account):
    news = make_list(account, opt_in="single")
    signup_form = make_form(account, [news], asked=[{"key": "first_name", "required": False}])
    response = sign_up(client, signup_form, {"email": "Ann@Example.com", "first_name": "Ann"},
                       Referer="https://shop.example/blog/post")
    assert response.status_code == 200
    assert "Thank you for subscribing." in text(response)
    contact = contact_by_email(app, account, "ann@example.com")
    assert contact.first_name == "Ann" and subscription(contact, news).status == "subscribed"
    assert subscription(contact, news).confirmed_at is not None
    (proof,) = ConsentProof.for_contact(contact.id)
    record = proof.as_dict()
    assert record["event"] == "signup" and record["ip_address_anonymised"] == "198.51.100.0"
    assert record["user_agent"] == BROWSER[:300] and record["page_url"] == "https://shop.example/blog/post"
    assert record["consent_text"] == CONSENT and record["consent_version"] == 1
    assert record["form_id"] == signup_form.id and record["lists"] == [{"id": news.id, "name": "News"}]
    assert mails(app) == []


# Double opt-in


def test_double_opt_in_confirms_only_by_the_button(app, client, account):
    news = make_list(account)
    signup_form = make_form(account, [news])
    response = sign_up(client, signup_form, {"email": "bob@example.com"})
    assert "we sent you an e-mail" in text(response)
    contact = contact_by_email(app, account, "bob@example.com")
    assert subscription(contact, news).status == "unconfirmed"

    (recipient, subject, body), = mails(app)
    assert recipient == "bob@example.com" and "Acme" in subject and "- News" in body and "7 days" in body
    assert [entry.kind for entry in OutboxMessage.select()] == ["signup-confirmation"]
    path = confirmation_path(body)
    page = client.get(path)  # what a link scanner does
    assert page.status_code == 200 and "Yes, subscribe me" in text(page)
    assert subscription(contact, news).status == "unconfirmed"

    done = post(client, path, {}, headers={"User-Agent": "Confirming browser"},
                environ_base={"REMOTE_ADDR": "203.0.113.5"})
    assert "your subscription is confirmed" in text(done)
    assert subscription(contact, news).status == "subscribed"
    signup_proof, confirmation = ConsentProof.for_contact(contact.id)
    assert (signup_proof.event, confirmation.event) == ("signup", "confirmation")
    assert confirmation.ip_anon == "203.0.113.0" and confirmation.user_agent == "Confirming browser"
    assert confirmation.consent_text == CONSENT and confirmation.lists == [{"id": news.id, "name": "News"}]

    again = post(client, path, {})
    assert again.status_code == 200 and "already confirmed" in text(again)
    assert "already confirmed" in text(client.get(path))
    assert ConsentProof.select().count() == 2


def test_confirmation_quotes_the_consent_text_given_at_signup(app, client, account):
    signup_form = make_form(account, [make_list(account)])
    sign_up(client, signup_form, {"email": "carol@example.com"})
    signup_form.set_consent_text("Changed later.")
    signup_form.save()
    post(client, confirmation_path(mails(app)[0][2]), {})
    confirmation = ConsentProof.get(ConsentProof.event == "confirmation")
    assert (confirmation.consent_text, confirmation.consent_version) == (CONSENT, 1)


def test_forged_and_expired_links_get_a_clear_error(app, client, account):
    signup_form = make_form(account, [make_list(account)])
    sign_up(client, signup_form, {"email": "dan@example.com"})
    path = confirmation_path(mails(app)[0][2])
    forged = client.get(path[:-3] + ("AAA" if not path.endswith("AAA") else "BBB"))
    assert forged.status_code == 404 and "This link is not valid." in text(forged)
    assert client.post("/subscribe/confirm/nonsense", data={}).status_code in (400, 404)
    app.config["SIGNUP_CONFIRM_MAX_AGE"] = 0
    time.sleep(1.1)
    for response in (client.get(path), post(client, path, {})):
        assert response.status_code == 410 and "This confirmation link has expired." in text(response)
    assert Subscription.get().status == "unconfirmed"


def test_link_of_a_deleted_contact_says_so(app, client, account):
    signup_form = make_form(account, [make_list(account)])
    sign_up(client, signup_form, {"email": "erin@example.com"})
    Contact.delete().execute()
    response = client.get(confirmation_path(mails(app)[0][2]))
    assert response.status_code == 404 and "This signup no longer exists." in text(response)


def test_eu_only_account_without_eu_relay_refuses_double_opt_in(app, client, account):
    Relay.create(name="us", host="127.0.0.1", port=2525, security="plain", region="intl")
    account.eu_only_sending = True
    account.save()
    signup_form = make_form(account, [make_list(account)])
    response = sign_up(client, signup_form, {"email": "fay@example.com"})
    assert response.status_code == 503 and "cannot be confirmed by e-mail" in text(response)
    assert Contact.select().count() == 0


# Existing contacts


def test_existing_contact_is_completed_never_duplicated_or_overwritten(app, client, account):
    news = make_list(account, opt_in="single")
    Field.create(account=account, key="city", label="City")
    with app.app_context():
        audience.create_contact(audience.FieldSet(account.id), {"email": "gus@example.com", "first_name": "Gus"})
    signup_form = make_form(account, [news], asked=[{"key": "first_name", "required": False},
                                                    {"key": "last_name", "required": False},
                                                    {"key": "city", "required": False}])
    sign_up(client, signup_form, {"email": "GUS@example.com", "first_name": "Mallory", "last_name": "",
                                  "city": "Ghent"})
    (contact,) = Contact.select()
    assert (contact.first_name, contact.last_name, contact.attributes) == ("Gus", None, {"city": "Ghent"})
    assert subscription(contact, news).status == "subscribed"
    assert not Signup.get().created_contact


def test_unsubscribed_member_of_a_double_list_comes_back_only_by_confirming(app, client, account):
    news = make_list(account)
    with app.app_context():
        contact = audience.create_contact(audience.FieldSet(account.id), {"email": "hal@example.com"}, [news.id],
                                          subscription_status="unsubscribed")
    signup_form = make_form(account, [news])
    sign_up(client, signup_form, {"email": "hal@example.com"})
    assert subscription(contact, news).status == "unsubscribed"
    post(client, confirmation_path(mails(app)[0][2]), {})
    assert subscription(contact, news).status == "subscribed"


def test_contact_unsubscribed_from_everything_confirms_even_on_a_single_list(app, client, account):
    news = make_list(account, opt_in="single")
    with app.app_context():
        contact = audience.create_contact(audience.FieldSet(account.id), {"email": "ida@example.com"},
                                          status="unsubscribed")
    sign_up(client, make_form(account, [news]), {"email": "ida@example.com"})
    assert subscription(contact, news).status == "unconfirmed" and len(mails(app)) == 1
    post(client, confirmation_path(mails(app)[0][2]), {})
    assert subscription(contact, news).status == "subscribed"
    assert Contact.get_by_id(contact.id).status == "active"


def test_the_answer_never_tells_whether_an_address_is_known(app, client, account):
    news = make_list(account)
    with app.app_context():
        fields = audience.FieldSet(account.id)
        audience.create_contact(fields, {"email": "known@example.com"}, [news.id])
        audience.create_contact(fields, {"email": "gone@example.com"}, [news.id], subscription_status="unsubscribed")
        audience.create_contact(fields, {"email": "blocked@example.com"}, status="blocklisted")
    signup_form = make_form(account, [news])
    answers = {without_csrf(sign_up(client, signup_form, {"email": email}, ip=f"198.51.{index}.1"))
               for index, email in enumerate(["new@example.com", "known@example.com", "gone@example.com",
                                              "blocked@example.com"])}
    assert len(answers) == 1
    # Only the mailbox owners learn something: the new and the unsubscribed address got a confirmation mail.
    assert sorted(recipient for recipient, _, _ in mails(app)) == ["gone@example.com", "new@example.com"]
    assert Contact.get(Contact.email == "blocked@example.com").status == "blocklisted"
    assert not Subscription.select().join(Contact).where(Contact.email == "blocked@example.com").exists()


# Bad input


def test_malformed_address_missing_and_wrongly_typed_fields(app, client, account):
    Field.create(account=account, key="age", label="Age", type="number")
    Field.create(account=account, key="terms", label="I am over 16", type="boolean")
    signup_form = make_form(account, [make_list(account)], asked=[{"key": "first_name", "required": True},
                                                                  {"key": "age", "required": False},
                                                                  {"key": "terms", "required": True}])
    response = sign_up(client, signup_form, {"email": "not an address", "age": "old", "first_name": ""})
    assert response.status_code == 422
    page = text(response)
    assert "This is not a valid e-mail address" in page and "First name is required." in page
    assert "Age must be a number." in page and "I am over 16 must be ticked." in page
    assert 'value="not an address"' in page and 'value="old"' in page
    response = sign_up(client, signup_form, {"first_name": "Jo", "age": "12", "terms": "yes"})
    assert response.status_code == 422 and "Enter your e-mail address." in text(response)
    assert Contact.select().count() == 0 and ConsentProof.select().count() == 0


def test_private_and_foreign_lists_can_never_be_joined(app, client, account):
    news, deals = make_list(account, "News", opt_in="single"), make_list(account, "Deals", opt_in="single")
    secret = make_list(account, "Secret", opt_in="single", visibility="private")
    theirs = make_list(make_account("Other"), "Theirs", opt_in="single")
    signup_form = make_form(account, [news, deals, secret])  # made public then, private now: no longer offered

    response = sign_up(client, signup_form, {"email": "kim@example.com", "lists": [secret.id, theirs.id, "x"]})
    assert response.status_code == 422 and "Choose at least one list." in text(response)
    assert Contact.select().count() == 0
    sign_up(client, signup_form, {"email": "kim@example.com", "lists": [deals.id, secret.id, theirs.id]})
    assert [row.mailing_list_id for row in Subscription.select()] == [deals.id]
    only_secret = make_form(account, [secret])
    assert sign_up(client, only_secret, {"email": "lee@example.com", "lists": [secret.id]}).status_code == 404
    assert not Subscription.select().where(Subscription.mailing_list.in_([secret.id, theirs.id])).exists()


def test_honeypot_filled_is_refused_and_stores_nothing(client, account):
    signup_form = make_form(account, [make_list(account)])
    response = sign_up(client, signup_form, {"email": "bot@example.com", "homepage": "http://spam.example"})
    assert response.status_code == 400 and "Leave this field empty" in text(response)
    assert Contact.select().count() == 0


def test_a_burst_from_one_network_is_limited_while_others_get_through(app, client, account):
    signup_form = make_form(account, [make_list(account, opt_in="single")])
    statuses = [sign_up(client, signup_form, {"email": f"burst{number}@example.com"}, ip="192.0.2.7").status_code
                for number in range(1000)]
    limit = app.config["SIGNUP_LIMIT_PER_NETWORK"]
    assert statuses[:limit] == [200] * limit and set(statuses[limit:]) == {429}
    assert Contact.select().count() == limit
    blocked = sign_up(client, signup_form, {"email": "late@example.com"}, ip="192.0.2.200")  # same /24
    assert blocked.status_code == 429 and "Too many signups from your network." in text(blocked)
    real = sign_up(client, signup_form, {"email": "real@example.com"}, ip="203.0.113.50")
    assert real.status_code == 200 and contact_by_email(app, account, "real@example.com") is not None


def test_one_address_signed_up_too_often_is_limited(app, client, account):
    signup_form = make_form(account, [make_list(account)])
    for number in range(3):
        assert sign_up(client, signup_form, {"email": "pat@example.com"}, ip=f"198.51.{number}.9").status_code == 200
    response = sign_up(client, signup_form, {"email": "PAT@example.com"}, ip="203.0.113.9")
    assert response.status_code == 429 and len(mails(app)) == 3
    assert sign_up(client, signup_form, {"email": "quinn@example.com"}, ip="203.0.113.9").status_code == 200


def test_rate_limit_follows_the_forwarded_address_behind_a_trusted_proxy(tmp_path):
    from tests.conftest import make_app

    app = make_app(tmp_path, TRUSTED_PROXIES=1, SIGNUP_LIMIT_PER_NETWORK=2)
    client = app.test_client()
    shop = make_account("Shop")
    signup_form = make_form(shop, [make_list(shop, opt_in="single")])
    for number in range(2):
        forwarded = {"X-Forwarded-For": "203.0.113.1"}
        assert sign_up(client, signup_form, {"email": f"p{number}@example.com"}, ip="127.0.0.1",
                       **forwarded).status_code == 200
    assert sign_up(client, signup_form, {"email": "p3@example.com"}, ip="127.0.0.1",
                   **{"X-Forwarded-For": "203.0.113.2"}).status_code == 429
    assert sign_up(client, signup_form, {"email": "p4@example.com"}, ip="127.0.0.1",
                   **{"X-Forwarded-For": "198.51.100.1"}).status_code == 200


HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_hostile_names_are_escaped_everywhere_they_are_shown(app, client, owner_client, account):
    account.name = "Acme " + HOSTILE
    account.save()
    news = make_list(account, "News " + HOSTILE, description=HOSTILE)
    other = make_list(account, "Deals " + HOSTILE)
    Field.create(account=account, key="nick", label="Nick " + HOSTILE)
    signup_form = make_form(account, [news, other], asked=[{"key": "nick", "required": True}],
                            name="Form " + HOSTILE, consent=HOSTILE, thank_you_text=HOSTILE)
    pages = [client.get(f"/subscribe/{signup_form.public_id}"),
             sign_up(client, signup_form, {"email": HOSTILE, "nick": HOSTILE, "lists": [news.id]}),
             sign_up(client, signup_form, {"email": "x@example.com", "nick": HOSTILE, "lists": [news.id]}),
             sign_up(client, signup_form, {"email": "y@example.com", "nick": "Nick", "lists": [news.id]}),
             owner_client.get(f"/signup-forms/{signup_form.id}"), owner_client.get("/signup-forms"),
             owner_client.get(f"/lists/{news.id}")]
    path = confirmation_path(mails(app)[0][2])
    contact = contact_by_email(app, account, "x@example.com")
    pages += [client.get(path), post(client, path, {}), owner_client.get(f"/contacts/{contact.id}")]
    assert pages[1].status_code == 422
    for response in pages:
        body = response.get_data(as_text=True)
        assert "<script>" not in body and "<img src=x" not in body, body
        assert "&lt;script&gt;" in body
    assert ConsentProof.get().consent_text == HOSTILE  # the proof keeps the exact text


# Expiry


def test_unconfirmed_signups_expire_and_only_their_own_contacts_go(app, client, account):
    news, deals = make_list(account, "News"), make_list(account, "Deals", opt_in="single")
    with app.app_context():
        fields = audience.FieldSet(account.id)
        marketer_made = audience.create_contact(fields, {"email": "kept@example.com"})
        on_other_list = audience.create_contact(fields, {"email": "member@example.com"})
    signup_form = make_form(account, [news])
    for email in ["new@example.com", "kept@example.com", "member@example.com", "confirmed@example.com"]:
        sign_up(client, signup_form, {"email": email}, ip="203.0.113.1" if "con" in email else IP)
    Subscription.create(contact=on_other_list, mailing_list=deals)
    confirmed = contact_by_email(app, account, "confirmed@example.com")
    post(client, confirmation_path(mails(app)[-1][2]), {})
    Signup.update(created_at=utcnow() - datetime.timedelta(days=31)).execute()
    sign_up(client, signup_form, {"email": "fresh@example.com"}, ip="203.0.113.9")

    with app.app_context():
        assert retention.run()["unconfirmed_signups"] == 3
        assert retention.run()["unconfirmed_signups"] == 0  # idempotent
    remaining = {contact.email for contact in Contact.select()}
    assert remaining == {"kept@example.com", "member@example.com", "confirmed@example.com", "fresh@example.com"}
    memberships = Subscription.select().where(Subscription.mailing_list == news).order_by(Subscription.id)
    assert [(row.contact.email, row.status) for row in memberships] == [
        ("confirmed@example.com", "subscribed"), ("fresh@example.com", "unconfirmed")]
    assert subscription(on_other_list, deals) is not None and subscription(confirmed, news).status == "subscribed"
    response = client.get(confirmation_path(mails(app)[0][2]))
    assert response.status_code == 404  # the contact was removed with its signup


def test_a_repeated_signup_keeps_the_membership_until_it_expires_too(app, client, account):
    news = make_list(account)
    signup_form = make_form(account, [news])
    sign_up(client, signup_form, {"email": "ray@example.com"})
    Signup.update(created_at=utcnow() - datetime.timedelta(days=31)).execute()
    sign_up(client, signup_form, {"email": "ray@example.com"})
    with app.app_context():
        assert retention.run()["unconfirmed_signups"] == 1
    contact = contact_by_email(app, account, "ray@example.com")
    assert subscription(contact, news).status == "unconfirmed"
    Signup.update(created_at=utcnow() - datetime.timedelta(days=31)).execute()
    with app.app_context():
        assert retention.run()["unconfirmed_signups"] == 1
    assert Contact.select().count() == 0


# End to end through a real relay


def test_end_to_end_through_a_real_smtp_relay(app, client, account, smtp_server):
    Relay.create(name="loopback", host="127.0.0.1", port=smtp_server.port, security="plain", max_per_second=0,
                 region="eu")
    news = make_list(account, "Monthly news")
    signup_form = make_form(account, [news], asked=[{"key": "first_name", "required": True}])
    page = text(client.get(f"/subscribe/{signup_form.public_id}"))
    assert 'name="first_name"' in page and 'name="lists"' not in page  # one list: nothing to pick
    response = sign_up(client, signup_form, {"email": "sam@example.com", "first_name": "Sam"},
                       Referer=f"http://127.0.0.1:5000/subscribe/{signup_form.public_id}")
    assert response.status_code == 200

    (envelope,) = smtp_server.wait_for(1)
    assert envelope.rcpt_tos == ["sam@example.com"]
    message = message_from_bytes(envelope.content, policy=policy.default)
    assert message["To"] == "sam@example.com" and "Acme" in message["From"]
    assert message["Subject"] == "Please confirm your subscription to Acme"
    body = message.get_body(preferencelist=("plain",)).get_content()
    path = confirmation_path(body)
    assert OutboxMessage.select().count() == 0  # it went through the relay, not the outbox

    assert "Yes, subscribe me" in text(client.get(path))
    contact = contact_by_email(app, account, "sam@example.com")
    assert subscription(contact, news).status == "unconfirmed"
    assert "your subscription is confirmed" in text(post(client, path, {}))
    assert subscription(contact, news).status == "subscribed" and contact.first_name == "Sam"
    proofs = [proof.as_dict() for proof in ConsentProof.for_contact(contact.id)]
    assert [proof["event"] for proof in proofs] == ["signup", "confirmation"]
    assert proofs[0]["page_url"].endswith(signup_form.public_id) and Signup.get().mailed_at is not None


def test_confirmation_token_of_another_contact_does_not_confirm(app, client, account):
    signup_form = make_form(account, [make_list(account)])
    sign_up(client, signup_form, {"email": "tom@example.com"})
    signup = Signup.get()
    Contact.update(uid="someone-else").execute()
    with app.test_request_context():
        token = confirmation_token(Signup.get_by_id(signup.id))
    Contact.update(uid="original").execute()
    response = client.get(f"/subscribe/confirm/{token}")
    assert response.status_code == 404


def test_single_opt_in_signups_never_expire(app, client, owner_client, account):
    news = make_list(account, opt_in="single")
    sign_up(client, make_form(account, [news]), {"email": "uma@example.com"})
    Subscription.delete().execute()  # the marketer took the contact off the list
    Signup.update(created_at=utcnow() - datetime.timedelta(days=31)).execute()
    with app.app_context():
        assert retention.run()["unconfirmed_signups"] == 0
    assert Contact.select().count() == 1


def test_encrypted_fields_are_sealed_and_the_mail_still_finds_its_address(app, client, account):
    with app.app_context():
        audience.FieldSet(account.id)  # the built-in fields
    Field.update(encrypted=True).where(Field.key.in_(["email", "first_name"])).execute()
    signup_form = make_form(account, [make_list(account)], asked=[{"key": "first_name", "required": True}])
    sign_up(client, signup_form, {"email": "vic@example.com", "first_name": "Victoria"},
            **{"Accept-Language": "nl"})
    (contact,) = Contact.select()
    assert contact.email is None and contact.first_name is None and set(contact.sealed) == {"email", "first_name"}
    assert [recipient for recipient, _, _ in mails(app)] == ["vic@example.com"]
    assert Signup.get().language == "nl"
    # Signing up again finds the encrypted contact by its blind index.
    sign_up(client, signup_form, {"email": "VIC@example.com", "first_name": "Other"}, ip="203.0.113.4")
    assert Contact.select().count() == 1
    with app.app_context():
        values, _ = audience.read_values(Contact.get(), audience.FieldSet(account.id))
    assert values["first_name"] == "Victoria"
