"""The subscriber's own pages: preference centre, asking for its link, data download, erasure, view in browser."""
import email
import json
import re
import sqlite3
from email import policy

import pytest

from sendtex import audience
from sendtex.mail.links import PREFERENCES, VIEW, link_urls
from sendtex.mail.transport import outbox
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery, Event, Link
from sendtex.models.contacts import Contact, Field, MailingList, Subscription
from sendtex.models.mail import OutboxMessage
from sendtex.models.ratelimit import RateHit
from sendtex.models.relays import Relay
from sendtex.models.subscribe import ConsentProof
from sendtex.tokens import sign
from tests.conftest import csrf_token, login, make_account, make_user, post

BASE = "https://mail.example.org"
HTML = ('<html><body><p>Hi {{ contact.first_name | default("there") }} from {{ contact.city }}!</p>'
        '<p><a href="https://shop.example.com/sale">The sale</a></p>'
        '<p><a href="{{ preferences_url }}">Preferences</a> <a href="{{ view_in_browser_url }}">View</a> '
        '<a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>')


APP_SETTINGS = {"BASE_URL": BASE}


class Shop:
    """An account with lists, fields (one encrypted), two contacts and a campaign sent to them with events."""

    def __init__(self, app, name="Acme Shop", address="ann@example.com", first_name="Ann"):
        self.app = app
        self.account = make_account(name)
        with app.app_context():
            fields = audience.FieldSet(self.account.id)
            Field.update(subscriber_editable=True).where(
                (Field.account == self.account.id) & (Field.key == "first_name")).execute()
            self.city = Field.create(account=self.account, key="city", label="City", encrypted=True,
                                     subscriber_editable=True, position=1)
            Field.create(account=self.account, key="birthday", label="Birthday", type="date",
                         subscriber_editable=True, position=2)
            Field.create(account=self.account, key="score", label="Score", type="number", position=3)
            fields = audience.FieldSet(self.account.id)
            self.news = MailingList.create(account=self.account, name="News", visibility="public", opt_in="single")
            self.deals = MailingList.create(account=self.account, name="Deals", visibility="public", opt_in="double")
            self.vip = MailingList.create(account=self.account, name="VIP", visibility="private")
            self.hidden = MailingList.create(account=self.account, name="Hidden", visibility="private")
            self.contact = audience.create_contact(
                fields, {"email": address, "first_name": first_name, "city": "Utrecht", "score": 7},
                [self.news.id, self.vip.id])
            self.other = audience.create_contact(fields, {"email": "bob@example.com", "first_name": "Bob",
                                                          "city": "Gouda"}, [self.news.id, self.hidden.id])
            self.campaign = Campaign.create(account=self.account, name="Spring sale", subject="Sale", html=HTML,
                                            list_ids=[self.news.id], status="sent")
            self.delivery = Delivery.create(campaign=self.campaign, contact=self.contact, status="sent",
                                            sent_at=utcnow(), error="250 ok <ann@example.com>")
            Delivery.create(campaign=self.campaign, contact=self.other, status="sent", sent_at=utcnow())
            link = Link.create(campaign=self.campaign, url="https://shop.example.com/sale", position=1)
            Event.create(account=self.account, campaign=self.campaign, delivery=self.delivery, kind="open")
            Event.create(account=self.account, campaign=self.campaign, delivery=self.delivery, kind="click", link=link)

    def url(self, kind=PREFERENCES, contact=None, campaign=None):
        contact = self.contact if contact is None else contact
        with self.app.app_context():
            full = link_urls().url(kind, (campaign or self.campaign).id, contact.uid if contact else "")
        return full[len(BASE):]

    def fresh_url(self, contact=None):
        with self.app.test_request_context():
            return "/p/" + sign("preferences", {"u": (contact or self.contact).uid})


@pytest.fixture
def shop(app):
    return Shop(app)


def page_post(client, url, data=None, action="", **kwargs):
    """POST a form of the page at url with the page's own token, as a browser on this site would."""
    data = dict(data or {})
    data.setdefault("csrf_token", csrf_token(client, url))
    response = client.post(url + action, data=data, headers={"Origin": "http://localhost",
                                                             "Sec-Fetch-Site": "same-origin"}, **kwargs)
    assert "Set-Cookie" not in response.headers
    return response


def statuses(contact):
    return {row.mailing_list.name: row.status for row in Subscription.select().where(Subscription.contact == contact.id)}


def outbox_links(app, address):
    """The preference links in the outbox's mails to address."""
    found = []
    for row in OutboxMessage.select().where(OutboxMessage.recipient == address).order_by(OutboxMessage.id):
        with app.app_context():
            raw = outbox().get_bytes(row.maildir_key)
        message = email.message_from_bytes(raw, policy=policy.default)
        found += re.findall(re.escape(BASE) + r"(/p/[^\s]+)", message.get_body(("plain",)).get_content())
    return found


# The centre


def test_message_link_shows_own_and_public_lists_and_sets_no_cookie(app, shop):
    elsewhere = Shop(app, name="Other Shop")
    MailingList.create(account=elsewhere.account, name="Foreign public", visibility="public")
    client = app.test_client()
    response = client.get(shop.url())
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    page = response.get_data(as_text=True)
    assert "Acme Shop" in page and "ann@example.com" in page
    assert all(shown in page for shown in ("News", "Deals", "VIP"))
    assert "Hidden" not in page and "Foreign public" not in page and "Other Shop" not in page
    assert "bob@example.com" not in page and "Gouda" not in page
    assert re.search(r'id="list-%d"[^>]*checked' % shop.news.id, page)
    assert not re.search(r'id="list-%d"[^>]*checked' % shop.deals.id, page)
    # The fields the marketer allows, with the encrypted one decrypted for its owner; the others not.
    assert 'name="first_name"' in page and 'value="Utrecht"' in page and 'name="birthday"' in page
    assert 'name="score"' not in page and 'name="email"' not in page
    assert "<script" not in page  # the subscriber's pages need no script
    assert statuses(shop.contact) == {"News": "subscribed", "VIP": "subscribed"}  # a GET changes nothing


def test_ticking_and_unticking_lists(app, shop):
    client = app.test_client()
    url = shop.url()
    response = page_post(client, url, {"list": [str(shop.deals.id), str(shop.vip.id)]}, "/lists")
    assert response.status_code == 200 and "subscriptions are saved" in response.get_data(as_text=True)
    assert statuses(shop.contact) == {"News": "unsubscribed", "Deals": "subscribed", "VIP": "subscribed"}
    deals = Subscription.get((Subscription.contact == shop.contact.id) & (Subscription.mailing_list == shop.deals.id))
    assert deals.confirmed_at is not None  # the link proves the address: no second confirmation
    news = Subscription.get((Subscription.contact == shop.contact.id) & (Subscription.mailing_list == shop.news.id))
    assert news.unsubscribed_at is not None
    [proof] = ConsentProof.for_contact(shop.contact.id)
    assert proof.event == "preferences" and proof.lists == [{"id": shop.deals.id, "name": "Deals"}]
    assert "Acme Shop" in proof.consent_text and proof.consent_text in response.get_data(as_text=True)
    assert proof.page_url == BASE + "/p" and proof.ip_anon == "127.0.0.0"  # never the token
    # Leaving a list through a campaign's link counts as an unsubscribe of that campaign.
    [event] = Event.select().where(Event.kind == "unsubscribe")
    assert (event.campaign_id, event.delivery_id) == (shop.campaign.id, shop.delivery.id)
    assert statuses(shop.other) == {"News": "subscribed", "Hidden": "subscribed"}
    # Joining again: the membership's dates say so (the statistics count by them).
    page_post(client, url, {"list": [str(shop.news.id), str(shop.deals.id), str(shop.vip.id)]}, "/lists")
    news = Subscription.get_by_id(news.id)
    assert (news.status, news.unsubscribed_at) == ("subscribed", None) and news.confirmed_at is not None


def test_lists_that_are_not_offered_cannot_be_joined(app, shop):
    elsewhere = Shop(app, name="Other Shop")
    client = app.test_client()
    posted = [str(shop.hidden.id), str(elsewhere.news.id), str(elsewhere.vip.id), "-1", "x", "9" * 40,
              str(shop.news.id)]
    assert page_post(client, shop.url(), {"list": posted}, "/lists").status_code == 200
    assert statuses(shop.contact) == {"News": "subscribed", "VIP": "unsubscribed"}
    assert Subscription.select().where(Subscription.mailing_list.in_(
        [shop.hidden.id, elsewhere.news.id, elsewhere.vip.id]) & (Subscription.contact == shop.contact.id)).count() == 0


def test_an_unconfirmed_signup_waits_until_it_is_ticked(app, shop):
    audience.set_memberships([shop.contact.id], [shop.deals.id], "unconfirmed")
    client = app.test_client()
    page = client.get(shop.url()).get_data(as_text=True)
    assert "did not confirm yet" in page
    page_post(client, shop.url(), {"list": [str(shop.news.id), str(shop.vip.id)]}, "/lists")
    assert statuses(shop.contact)["Deals"] == "unconfirmed"
    page_post(client, shop.url(), {"list": [str(shop.news.id), str(shop.vip.id), str(shop.deals.id)]}, "/lists")
    assert statuses(shop.contact)["Deals"] == "subscribed"


def test_joining_a_list_after_unsubscribing_from_everything_resumes_mail(app, shop):
    client = app.test_client()
    response = page_post(client, shop.url(), {}, "/unsubscribe")
    assert "unsubscribed from everything" in response.get_data(as_text=True)
    assert Contact.get_by_id(shop.contact.id).status == "unsubscribed"
    assert set(statuses(shop.contact).values()) == {"unsubscribed"}
    assert "You receive no e-mails from Acme Shop" in client.get(shop.url()).get_data(as_text=True)
    page_post(client, shop.url(), {"list": [str(shop.news.id)]}, "/lists")
    assert Contact.get_by_id(shop.contact.id).status == "active"
    assert statuses(shop.contact) == {"News": "subscribed", "VIP": "unsubscribed"}
    assert Contact.get_by_id(shop.other.id).status == "active"


def test_editing_the_allowed_fields_keeps_encrypted_ones_encrypted(app, shop):
    client = app.test_client()
    data = {"first_name": "Annie", "city": "Zwolle-secret", "birthday": "1990-05-17",
            "score": "99", "email": "evil@example.com"}  # score and email are not the subscriber's to change
    response = page_post(client, shop.url(), data, "/profile")
    assert response.status_code == 200 and "details are saved" in response.get_data(as_text=True)
    contact = Contact.get_by_id(shop.contact.id)
    with app.app_context():
        values = audience.read_values(contact, audience.FieldSet(shop.account.id))[0]
    assert values == {"email": "ann@example.com", "first_name": "Annie", "last_name": None, "city": "Zwolle-secret",
                      "birthday": "1990-05-17", "score": 7}
    assert "city" in contact.sealed and "city" not in contact.attributes
    with sqlite3.connect(app.config["DATABASE_URL"].removeprefix("sqlite:///")) as raw:
        dump = "\n".join(raw.iterdump())
    assert "Zwolle-secret" not in dump and "Annie" in dump


def test_bad_values_are_refused_with_a_message_and_nothing_is_saved(app, shop):
    client = app.test_client()
    response = page_post(client, shop.url(), {"first_name": "Annie", "birthday": "the 40th of May"}, "/profile")
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Birthday must be a date" in page and 'value="the 40th of May"' in page
    with app.app_context():
        values = audience.read_values(Contact.get_by_id(shop.contact.id), audience.FieldSet(shop.account.id))[0]
    assert values["first_name"] == "Ann" and values["birthday"] is None


def test_posts_need_the_pages_own_token_and_this_origin(app, shop):
    other = Shop(app, name="Other Shop")
    client = app.test_client()
    url = shop.url()
    good = csrf_token(client, url)
    same_site = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    attempts = [
        ({}, same_site),
        ({"csrf_token": "forged"}, same_site),
        ({"csrf_token": csrf_token(client, other.url())}, same_site),  # another link's page
        ({"csrf_token": csrf_token(client, "/p")}, same_site),
        ({"csrf_token": good}, {"Origin": "https://evil.example"}),
        ({"csrf_token": good}, {"Sec-Fetch-Site": "cross-site"}),
        ({"csrf_token": good}, {"Origin": "null"}),
    ]
    for data, headers in attempts:
        for action in ("/unsubscribe", "/lists", "/profile", "/link"):
            response = client.post(url + action, data=data, headers=headers)
            assert response.status_code == 400, (data, headers, action)
            assert "did not come from this site" in response.get_data(as_text=True)
    assert Contact.get_by_id(shop.contact.id).status == "active"
    assert statuses(shop.contact) == {"News": "subscribed", "VIP": "subscribed"}
    assert OutboxMessage.select().count() == 0
    # The public site's own origin (BASE_URL) is this site, also behind a proxy the app was not told about.
    response = client.post(url + "/unsubscribe", data={"csrf_token": good}, headers={"Origin": BASE})
    assert response.status_code == 200 and Contact.get_by_id(shop.contact.id).status == "unsubscribed"


def test_forged_and_altered_links_get_a_clear_page(app, shop):
    client = app.test_client()
    url = shop.url()
    token = url.rsplit("/", 1)[1]
    middle = len(token) // 2
    altered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]
    unsubscribe_token = shop.url(kind="u").rsplit("/", 1)[1]
    with app.test_request_context():
        reset_token = sign("reset", {"u": shop.contact.uid})
    for bad in (altered, unsubscribe_token, reset_token, "x", "a.b.c", "A" * 250, "é", "%00", "1" * 400 + ".x"):
        for path in ("/p/" + bad, "/v/" + bad, "/p/" + bad + "/erase"):
            response = client.get(path)
            assert response.status_code == 404, path
            assert "not valid" in response.get_data(as_text=True) and "Set-Cookie" not in response.headers
        response = client.post("/p/" + bad + "/unsubscribe", data={"csrf_token": csrf_token(client, "/p")})
        assert response.status_code == 404
    assert Contact.get_by_id(shop.contact.id).status == "active"


def test_a_test_messages_link_changes_nothing(app, shop):
    client = app.test_client()
    url = shop.url(contact=False)
    page = client.get(url).get_data(as_text=True)
    assert "test message" in page
    assert client.post(url + "/unsubscribe", data={}).status_code == 200
    assert Contact.get_by_id(shop.contact.id).status == "active"


# Data download and erasure


def test_a_message_link_cannot_download_or_erase_but_mails_a_fresh_link(app, shop):
    client = app.test_client()
    url = shop.url()
    page = client.get(url).get_data(as_text=True)
    assert "/data" not in page and "/erase" not in page
    token = csrf_token(client, url)
    for action in ("/data", "/erase"):
        response = page_post(client, url, {"csrf_token": token}, action)
        assert response.status_code == 403 and "mail you on request" in response.get_data(as_text=True)
    assert client.get(url + "/erase").status_code == 403
    assert Contact.get_or_none(Contact.id == shop.contact.id) is not None
    response = page_post(client, url, {}, "/link")
    assert response.status_code == 200 and "We mailed you a link" in response.get_data(as_text=True)
    [link] = outbox_links(app, "ann@example.com")
    assert OutboxMessage.select().where(OutboxMessage.kind == "preference-link").count() == 1
    fresh = client.get(link).get_data(as_text=True)
    assert "Download my data" in fresh and "Erase my data" in fresh
    for _ in range(2):
        page_post(client, url, {}, "/link")
    response = page_post(client, url, {}, "/link")
    assert response.status_code == 429 and len(outbox_links(app, "ann@example.com")) == 3


def test_the_data_download_holds_everything_and_only_the_subscribers(app, shop):
    elsewhere = Shop(app, name="Other Shop")  # the same address at another account
    client = app.test_client()
    page_post(client, shop.url(), {"list": [str(shop.deals.id), str(shop.news.id), str(shop.vip.id)]}, "/lists")
    url = shop.fresh_url()
    response = page_post(client, url, {}, "/data")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="my-data.json"'
    assert "no-store" in response.headers["Cache-Control"]
    data = json.loads(response.get_data(as_text=True))
    assert data["sender"] == "Acme Shop"
    assert data["profile"] == {"email": "ann@example.com", "first_name": "Ann", "last_name": None,
                               "city": "Utrecht", "birthday": None, "score": 7}
    assert data["contact"]["status"] == "active" and data["undecryptable_fields"] == []
    assert sorted((item["list"], item["status"]) for item in data["subscriptions"]) == [
        ("Deals", "subscribed"), ("News", "subscribed"), ("VIP", "subscribed")]
    [consent] = data["consent_records"]
    assert consent["event"] == "preferences" and consent["lists"] == [{"id": shop.deals.id, "name": "Deals"}]
    [received] = data["campaigns"]
    assert received["campaign"] == "Spring sale" and received["status"] == "sent" and received["sent_at"]
    assert [event["kind"] for event in received["events"]] == ["open", "click"]
    assert received["events"][1]["url"] == "https://shop.example.com/sale"
    text = response.get_data(as_text=True)
    assert "Bob" not in text and "Gouda" not in text and "Other Shop" not in text
    assert elsewhere.contact.uid not in text


def test_erasure_asks_first_then_removes_everything_tied_to_the_contact(app, shop):
    client = app.test_client()
    page_post(client, shop.url(), {"list": [str(shop.deals.id)]}, "/lists")  # a consent proof, an event
    page_post(client, shop.url(), {}, "/link")  # a mail in the outbox
    assert OutboxMessage.select().where(OutboxMessage.recipient == "ann@example.com").count() == 1
    url = shop.fresh_url()
    confirm = client.get(url + "/erase")
    assert confirm.status_code == 200 and "cannot be undone" in confirm.get_data(as_text=True)
    assert Contact.get_or_none(Contact.id == shop.contact.id) is not None  # the GET erased nothing
    response = page_post(client, url + "/erase", {"csrf_token": csrf_token(client, url + "/erase")})
    assert response.status_code == 200 and "no longer holds your data" in response.get_data(as_text=True)

    contact_id = shop.contact.id
    assert Contact.get_or_none(Contact.id == contact_id) is None
    assert Subscription.select().where(Subscription.contact == contact_id).count() == 0
    assert ConsentProof.select().where(ConsentProof.contact == contact_id).count() == 0
    delivery = Delivery.get_by_id(shop.delivery.id)
    assert delivery.contact_id is None and delivery.error == ""  # the ledger stays, anonymous
    assert Event.select().where(Event.delivery == shop.delivery.id).count() == 3  # counts stay, tied to nobody
    assert OutboxMessage.select().where(OutboxMessage.recipient == "ann@example.com").count() == 0
    assert Contact.get_or_none(Contact.id == shop.other.id) is not None
    assert statuses(shop.other) == {"News": "subscribed", "Hidden": "subscribed"}

    for gone in (url, shop.url(), url + "/erase"):
        response = client.get(gone)
        assert response.status_code == 410 and "no longer exists" in response.get_data(as_text=True)
    assert client.post(url + "/erase", data={}).status_code == 410
    assert client.get(shop.url(kind=VIEW)).status_code == 404


def test_a_token_of_one_account_never_reaches_another(app, shop):
    elsewhere = Shop(app, name="Other Shop")  # ann@example.com is a contact there too
    client = app.test_client()
    page_post(client, shop.fresh_url(), {}, "/unsubscribe")
    assert Contact.get_by_id(shop.contact.id).status == "unsubscribed"
    assert Contact.get_by_id(elsewhere.contact.id).status == "active"
    page_post(client, shop.url(), {"list": [str(item.id) for item in (elsewhere.news, elsewhere.deals)]}, "/lists")
    assert statuses(elsewhere.contact) == {"News": "subscribed", "VIP": "subscribed"}
    assert Subscription.select().where((Subscription.contact == shop.contact.id) & Subscription.mailing_list.in_(
        [elsewhere.news.id, elsewhere.deals.id])).count() == 0
    # A campaign id of the other account in a genuine token of this contact shows nothing of it.
    assert client.get(shop.url(kind=VIEW, campaign=elsewhere.campaign)).status_code == 404
    page_post(client, shop.fresh_url(), {}, "/erase")
    assert Contact.get_or_none(Contact.id == elsewhere.contact.id) is not None
    assert statuses(elsewhere.contact) == {"News": "subscribed", "VIP": "subscribed"}


def test_an_expired_mailed_link_says_so(app, shop):
    client = app.test_client()
    url = shop.fresh_url()
    app.config["PREFERENCES_LINK_MAX_AGE"] = -1
    response = client.get(url)
    assert response.status_code == 410 and "expired" in response.get_data(as_text=True)
    assert 'href="/p"' in response.get_data(as_text=True)


# Asking for a link


def ask(client, address, ip="203.0.113.9"):
    return page_post(client, "/p", {"email": address}, environ_base={"REMOTE_ADDR": ip})


def test_the_link_goes_out_through_the_accounts_relay_and_the_answer_never_tells(app, smtp_server):
    Shop(app)  # ann@example.com at a first account as well
    elsewhere = Shop(app, name="Other Shop")
    with app.app_context():  # at the other account the address is an encrypted field: found by its blind index
        Field.update(encrypted=True).where((Field.account == elsewhere.account.id) & (Field.key == "email")).execute()
        contact = Contact.get_by_id(elsewhere.contact.id)
        audience.update_contact(contact, audience.FieldSet(elsewhere.account.id), {"email": "ann@example.com"})
        assert Contact.get_by_id(contact.id).email is None
    Relay.create(name="loopback", host="127.0.0.1", port=smtp_server.port, security="plain", max_per_second=0,
                 region="eu")
    client = app.test_client()
    known = ask(client, "  Ann@Example.com ")
    unknown = ask(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert known.get_data(as_text=True) == unknown.get_data(as_text=True)
    assert "If this address is on a mailing list here" in known.get_data(as_text=True)
    messages = smtp_server.wait_for(2)
    assert sorted(envelope.rcpt_tos[0] for envelope in messages) == ["ann@example.com", "ann@example.com"]
    subjects, pages = set(), []
    for envelope in messages:
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        subjects.add(message["Subject"])
        [link] = re.findall(re.escape(BASE) + r"(/p/\S+)", message.get_body(("plain",)).get_content())
        pages.append(client.get(link).get_data(as_text=True))
    assert subjects == {"Your e-mail preferences at Acme Shop", "Your e-mail preferences at Other Shop"}
    assert sorted("Acme Shop" in page for page in pages) == [False, True]
    assert all("Download my data" in page for page in pages)  # mailed links are fresh
    assert "ann@example.com" not in str([(hit.bucket, hit.key) for hit in RateHit.select()])


def test_asking_is_rate_limited_per_address_and_per_network(app, shop):
    client = app.test_client()
    for _ in range(3):
        assert ask(client, "ann@example.com").status_code == 200
    limited = ask(client, "ann@example.com", ip="198.51.100.7")
    assert limited.status_code == 429 and "Too many requests" in limited.get_data(as_text=True)
    assert ask(client, "someone@example.com", ip="198.51.100.7").status_code == 200
    for number in range(17):
        ask(client, f"person{number}@example.com")
    assert ask(client, "next@example.com", ip="203.0.113.200").status_code == 429  # the same /24
    assert ask(client, "next@example.com", ip="192.0.2.1").status_code == 200
    assert len(outbox_links(app, "ann@example.com")) == 3


def test_asking_with_a_bad_address_or_without_the_pages_token(app, shop):
    client = app.test_client()
    response = ask(client, "not an address")
    assert response.status_code == 422 and "not a valid e-mail address" in response.get_data(as_text=True)
    assert client.post("/p", data={"email": "ann@example.com"}).status_code == 400
    assert client.post("/p", data={"email": "ann@example.com", "csrf_token": csrf_token(client, "/p")},
                       headers={"Origin": "https://evil.example"}).status_code == 400
    assert OutboxMessage.select().count() == 0


# View in browser


def test_view_in_browser_shows_the_message_as_received_without_tracking(app, shop):
    client = app.test_client()
    response = client.get(shop.url(kind=VIEW))
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    html = response.get_data(as_text=True)
    assert "Hi Ann from Utrecht!" in html  # merge tags with the subscriber's values, decrypted
    assert 'href="https://shop.example.com/sale"' in html and "/t/c/" not in html and "/t/o/" not in html
    assert shop.url() in html  # the subscriber's own preference link
    policy_header = response.headers["Content-Security-Policy"]
    assert "sandbox" in policy_header and "script-src" not in policy_header and "default-src 'none'" in policy_header
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert Event.select().count() == 2  # viewing counts as no open


def test_a_test_messages_view_shows_placeholders(app, shop):
    html = app.test_client().get(shop.url(kind=VIEW, contact=False)).get_data(as_text=True)
    assert "Hi [First name] from [City]!" in html


@pytest.mark.parametrize("status", ["draft", "scheduled"])
def test_nothing_unsent_can_be_viewed(app, shop, status):
    Campaign.update(status=status).where(Campaign.id == shop.campaign.id).execute()
    client = app.test_client()
    for url in (shop.url(kind=VIEW), shop.url(kind=VIEW, contact=False)):
        response = client.get(url)
        assert response.status_code == 404 and "not available" in response.get_data(as_text=True)


def test_views_of_deleted_campaigns_and_contacts_are_404(app, shop):
    client = app.test_client()
    view, other_view = shop.url(kind=VIEW), shop.url(kind=VIEW, contact=shop.other)
    Contact.delete_by_id(shop.contact.id)
    assert client.get(view).status_code == 404
    assert client.get(other_view).status_code == 200
    Campaign.delete_by_id(shop.campaign.id)
    assert client.get(other_view).status_code == 404


# Hostile input


def test_hostile_names_are_escaped_on_every_page(app):
    hostile = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    shop = Shop(app, name=hostile, first_name=hostile)
    MailingList.update(name=hostile, description=hostile).where(MailingList.id == shop.deals.id).execute()
    Field.update(label=hostile).where(Field.id == shop.city.id).execute()
    client = app.test_client()
    pages = [client.get(shop.url()), client.get(shop.fresh_url() + "/erase"), client.get(shop.url(kind=VIEW)),
             page_post(client, shop.url(), {"birthday": hostile}, "/profile"),
             page_post(client, "/p", {"email": hostile})]
    for response in pages:
        text = response.get_data(as_text=True)
        assert "<script>alert" not in text and "<img src=x" not in text, response.request.path
    assert "&lt;script&gt;" in pages[0].get_data(as_text=True)
    assert "&lt;script&gt;" in pages[2].get_data(as_text=True)  # merge tags are escaped in the HTML


# The marketer's side


def test_the_marketer_chooses_which_fields_subscribers_may_change(app):
    owner = make_user(make_account("Acme"))
    client = app.test_client()
    login(client, owner)
    with app.app_context():
        fields = audience.FieldSet(owner.account_id)
    email_field, last_name = fields.by_key["email"], fields.by_key["last_name"]
    form = client.get(f"/fields/{last_name.id}/edit").get_data(as_text=True)
    assert 'name="subscriber_editable"' in form
    assert 'name="subscriber_editable"' not in client.get(f"/fields/{email_field.id}/edit").get_data(as_text=True)
    assert post(client, f"/fields/{last_name.id}", {"subscriber_editable": "y"}).status_code == 303
    assert post(client, f"/fields/{email_field.id}", {"subscriber_editable": "y"}).status_code == 303
    assert Field.get_by_id(last_name.id).subscriber_editable and not Field.get_by_id(email_field.id).subscriber_editable
    custom = Field.create(account=owner.account_id, key="size", label="Size", subscriber_editable=True, position=1)
    assert post(client, f"/fields/{custom.id}", {"label": "Size"}).status_code == 303
    assert not Field.get_by_id(custom.id).subscriber_editable
