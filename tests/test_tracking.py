"""Per-message endpoints: the open image, the click redirect, unsubscribe pages and RFC 8058 one-click."""
import re

import pytest

from sendtex import audience
from sendtex.mail import render
from sendtex.mail.links import CLICK, OPEN, UNSUBSCRIBE, Signer, link_urls
from sendtex.models.campaigns import Campaign, Delivery, Event, Link
from sendtex.models.contacts import Contact, MailingList, Subscription
from tests.conftest import csrf_token, make_account

BASE = "https://mail.example.org"
HTML = ('<html><body><p>Hi {{ contact.first_name }}, see <a href="https://shop.example.com/sale">the sale</a> '
        'and <a href="https://blog.example.com/">the blog</a>.</p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>')


APP_SETTINGS = {"BASE_URL": BASE}


class Sent:
    """A campaign sent to some contacts: their deliveries and the URLs in their messages."""

    def __init__(self, app, account, lists=(), recipients=("ann", "bob"), html=HTML):
        with app.app_context():
            fields = audience.FieldSet(account.id)
            self.lists = [MailingList.create(account=account, name=name) for name in lists]
            self.contacts = [audience.create_contact(fields, {"email": f"{name}@example.com", "first_name": name},
                                                     [item.id for item in self.lists]) for name in recipients]
            self.campaign = Campaign.create(account=account, name="Sale", subject="Sale", html=html,
                                            list_ids=[item.id for item in self.lists], status="sending")
            self.deliveries = [Delivery.create(campaign=self.campaign, contact=contact) for contact in self.contacts]
            compiled = render.compile_campaign(self.campaign, fields)
            self.messages = [compiled.render(audience.read_values(contact, fields)[0], delivery.id, contact.uid)
                             for contact, delivery in zip(self.contacts, self.deliveries)]
            self.unsubscribe_urls = [compiled.unsubscribe_url(contact.uid) for contact in self.contacts]
            self.links = list(Link.select().where(Link.campaign == self.campaign.id).order_by(Link.position))

    def urls(self, index, kind):
        found = re.findall(r'(?:href|src)="(' + re.escape(BASE) + f'/{kind}/[^"]+)"', self.messages[index].html)
        return [url[len(BASE):] for url in found]


@pytest.fixture
def account(app):
    return make_account("Acme Shop")


@pytest.fixture
def sent(app, account):
    return Sent(app, account, lists=["Newsletter", "Deals"])


def events(kind=None):
    query = Event.select()
    return list(query.where(Event.kind == kind) if kind else query)


def statuses(contact):
    return sorted(row.status for row in Subscription.select().where(Subscription.contact == contact.id))


def altered(url):
    """The URL with one character of its token changed."""
    head, token = url.rsplit("/", 1)
    middle = len(token) // 2
    return f"{head}/{token[:middle]}{'A' if token[middle] != 'A' else 'B'}{token[middle + 1:]}"


# Tokens


def test_tokens_refuse_forgery_alteration_and_the_wrong_kind():
    signer = Signer("secret")
    token = signer.sign(CLICK, 123456, 3)
    assert signer.read(CLICK, token) == (123456, 3)
    assert signer.read(OPEN, token) is None  # a click token is no open token
    assert Signer("another secret").read(CLICK, token) is None
    for index in range(len(token)):  # every single-character change is refused
        for replacement in "A_-9z":
            changed = token[:index] + replacement + token[index + 1:]
            if changed != token:
                assert signer.read(CLICK, changed) is None, changed
    for bad in ("", "x", "=" * 20, token + "A", token[:-1], token + "==", "/" + token[1:], token + ".", "é" * 20,
                "A" * 500):
        assert signer.read(CLICK, bad) is None
    assert len(token) <= 24 and len(signer.sign(OPEN, 10**9)) <= 24  # short URLs


def test_tokens_carry_a_truncated_hmac_sha256_under_a_key_derived_from_the_secret():
    import base64
    import hashlib
    import hmac

    token = Signer("secret").sign(CLICK, 300, 2)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    key = hmac.digest(b"secret", b"sendtex.link-token.c", "sha256")
    assert raw[:-10] == bytes([0xAC, 0x02, 0x02]) and raw[-10:] == hmac.new(key, raw[:-10], hashlib.sha256).digest()[:10]


def test_unsubscribe_tokens_are_bound_to_campaign_and_contact():
    signer = Signer("secret")
    token = signer.sign(UNSUBSCRIBE, 7, "c0ntactUid")
    assert signer.read(UNSUBSCRIBE, token) == (7, "c0ntactUid")
    assert signer.read(UNSUBSCRIBE, signer.sign(UNSUBSCRIBE, 7, "")) == (7, "")


def test_links_are_built_on_base_url_not_the_host_header(app, sent, client):
    assert all(url.startswith("/t/") or url.startswith("/u/") for url in sent.urls(0, "t") + sent.urls(0, "u"))
    with app.test_request_context("/", headers={"Host": "evil.example"}):
        assert link_urls().open(1).startswith(BASE + "/t/o/")


# The open image


def test_open_image_records_an_open_and_is_never_cached(app, sent):
    client = app.test_client()
    pixel = sent.urls(0, "t/o")
    assert len(pixel) == 1
    response = client.get(pixel[0])
    assert response.status_code == 200
    assert response.mimetype == "image/gif" and response.data.startswith(b"GIF89a") and len(response.data) == 43
    assert "no-store" in response.headers["Cache-Control"]
    assert "Set-Cookie" not in response.headers
    [event] = events("open")
    assert (event.delivery_id, event.campaign_id, event.account_id, event.link_id) == (
        sent.deliveries[0].id, sent.campaign.id, sent.campaign.account_id, None)
    client.get(pixel[0])
    assert len(events("open")) == 2  # every fetch is a raw event; statistics count unique opens


def test_events_store_no_ip_address(app):
    columns = {column.name for column in Event._meta.sorted_fields}
    assert columns == {"id", "account", "campaign", "delivery", "kind", "link", "at"}


def test_open_image_with_a_bad_token_is_refused(app, sent):
    client = app.test_client()
    pixel = sent.urls(0, "t/o")[0]
    for url in (altered(pixel), "/t/o/AAAAAAAAAAAAAAAAAAAA", "/t/o/" + sent.urls(0, "t/c")[0].rsplit("/", 1)[1]):
        response = client.get(url)
        assert response.status_code == 404 and response.mimetype == "text/html"
        assert "Set-Cookie" not in response.headers  # a subscriber's link: no cookie, even when broken
    assert events() == []


def test_open_of_a_removed_campaign_still_answers_the_image(app, sent):
    client = app.test_client()
    pixel = sent.urls(0, "t/o")[0]
    Campaign.delete_by_id(sent.campaign.id)
    assert client.get(pixel).status_code == 200
    assert events() == []


# The click redirect


def test_click_redirects_to_the_campaigns_link_and_records_it(app, sent):
    client = app.test_client()
    clicks = sent.urls(1, "t/c")
    assert len(clicks) == 2
    response = client.get(clicks[1])
    assert response.status_code == 302
    assert response.headers["Location"] == "https://blog.example.com/" == sent.links[1].url
    assert "no-store" in response.headers["Cache-Control"] and "Set-Cookie" not in response.headers
    [event] = events("click")
    assert (event.delivery_id, event.link_id, event.campaign_id) == (sent.deliveries[1].id, sent.links[1].id,
                                                                    sent.campaign.id)


def test_click_can_only_lead_to_the_campaigns_own_links(app, account, sent):
    client = app.test_client()
    click = sent.urls(0, "t/c")[0]
    for url in (altered(click), click + "?url=https://evil.example", "/t/c/https://evil.example",
                "/t/c/" + sent.urls(0, "t/o")[0].rsplit("/", 1)[1]):
        response = client.get(url)
        assert "evil" not in response.headers.get("Location", "")
        if not url.startswith(click):
            assert response.status_code == 404
    # A genuine token for a position the campaign has no link at finds nothing to redirect to.
    with app.app_context():
        made_up = link_urls().click(sent.deliveries[0].id, 99)
    assert client.get(made_up[len(BASE):]).status_code == 404
    # Another campaign's link at the same position is not reachable through this campaign's delivery.
    other = Sent(app, account, recipients=["cas"],
                 html='<a href="https://evil.example/">x</a><a href="https://evil.example/2">y</a>')
    assert other.links[0].position == sent.links[0].position
    response = client.get(click)
    assert response.headers["Location"] == "https://shop.example.com/sale"
    assert "no-store" in response.headers["Cache-Control"]


def test_click_of_a_removed_campaign_is_a_page_not_a_redirect(app, sent):
    client = app.test_client()
    click = sent.urls(0, "t/c")[0]
    Campaign.delete_by_id(sent.campaign.id)
    response = client.get(click)
    assert response.status_code == 404 and "Location" not in response.headers
    assert "no longer exists" in response.get_data(as_text=True)


# Unsubscribing


def test_get_shows_a_confirmation_and_changes_nothing(app, sent):
    client = app.test_client()
    url = sent.urls(0, "u")[0]
    for _ in range(3):  # link scanners prefetch
        response = client.get(url)
        assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Acme Shop" in page and "Newsletter" in page and "Deals" in page
    assert f'action="{url}"' in page and 'name="csrf_token"' in page
    assert "Set-Cookie" not in response.headers and "<script" not in page  # a subscriber's page: no cookie
    assert statuses(sent.contacts[0]) == ["subscribed", "subscribed"]
    assert events() == []


def test_the_button_unsubscribes_from_the_campaigns_lists(app, sent, account):
    elsewhere = MailingList.create(account=account, name="Elsewhere")
    audience.set_memberships([sent.contacts[0].id], [elsewhere.id], "subscribed")
    client = app.test_client()
    url = sent.urls(0, "u")[0]
    response = client.post(url, data={"csrf_token": csrf_token(client, url)})
    assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert "You are unsubscribed" in response.get_data(as_text=True)
    memberships = {row.mailing_list.name: row.status
                   for row in Subscription.select().where(Subscription.contact == sent.contacts[0].id)}
    assert memberships == {"Newsletter": "unsubscribed", "Deals": "unsubscribed", "Elsewhere": "subscribed"}
    assert Contact.get_by_id(sent.contacts[0].id).status == "active"
    [event] = events("unsubscribe")
    assert (event.delivery_id, event.campaign_id) == (sent.deliveries[0].id, sent.campaign.id)
    assert "already unsubscribed" in client.get(url).get_data(as_text=True)


def test_the_button_needs_the_csrf_token(app, sent):
    client = app.test_client()
    url = sent.urls(0, "u")[0]
    client.get(url)
    for data in ({}, {"csrf_token": "forged"}, {"List-Unsubscribe": "One-Click-ish"}):
        assert client.post(url, data=data).status_code == 400
    # The page's own token, but posted from another site, or taken from another contact's page.
    token = csrf_token(client, url)
    assert client.post(url, data={"csrf_token": token}, headers={"Origin": "https://evil.example"}).status_code == 400
    other = sent.urls(1, "u")[0]
    assert client.post(other, data={"csrf_token": token}).status_code == 400
    assert statuses(sent.contacts[0]) == ["subscribed", "subscribed"]
    assert statuses(sent.contacts[1]) == ["subscribed", "subscribed"]


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_post_unsubscribes_without_cookie_or_csrf(app, sent, encoding):
    client = app.test_client()
    url = sent.unsubscribe_urls[0][len(BASE):]
    assert url in sent.urls(0, "u")  # the List-Unsubscribe URL is the body's link
    data = {"List-Unsubscribe": "One-Click"}
    if encoding == "multipart":
        response = client.post(url, data=data, content_type="multipart/form-data")
    else:
        response = client.post(url, data=data)
    assert response.status_code == 200 and "Location" not in response.headers
    assert response.request.headers.get("Cookie") is None
    assert statuses(sent.contacts[0]) == ["unsubscribed", "unsubscribed"]
    assert statuses(sent.contacts[1]) == ["subscribed", "subscribed"]  # only the token's contact
    assert len(events("unsubscribe")) == 1
    assert client.post(url, data=data).status_code == 200  # providers may repeat it
    assert len(events("unsubscribe")) == 1


def test_one_click_with_a_bad_token_changes_nothing(app, sent):
    client = app.test_client()
    url = sent.urls(0, "u")[0]
    for bad in (altered(url), "/u/" + sent.urls(0, "t/o")[0].rsplit("/", 1)[1], "/u/x"):
        assert client.post(bad, data={"List-Unsubscribe": "One-Click"}).status_code == 404
        page = client.get(bad)
        assert page.status_code == 404 and "Set-Cookie" not in page.headers and "not valid" in page.get_data(as_text=True)
    assert statuses(sent.contacts[0]) == ["subscribed", "subscribed"] and events() == []


def test_another_contacts_token_unsubscribes_only_that_contact(app, sent):
    client = app.test_client()
    client.post(sent.urls(1, "u")[0], data={"List-Unsubscribe": "One-Click"})
    assert statuses(sent.contacts[0]) == ["subscribed", "subscribed"]
    assert statuses(sent.contacts[1]) == ["unsubscribed", "unsubscribed"]


def test_campaign_without_lists_unsubscribes_from_everything(app, account):
    newsletter = MailingList.create(account=account, name="Newsletter")
    sent = Sent(app, account, lists=[])
    audience.set_memberships([sent.contacts[0].id], [newsletter.id], "subscribed")
    client = app.test_client()
    page = client.get(sent.urls(0, "u")[0]).get_data(as_text=True)
    assert "stop receiving all e-mails from Acme Shop" in page
    assert client.post(sent.urls(0, "u")[0], data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert Contact.get_by_id(sent.contacts[0].id).status == "unsubscribed"
    assert statuses(sent.contacts[0]) == ["unsubscribed"]
    assert Contact.get_by_id(sent.contacts[1].id).status == "active"


def test_unsubscribe_of_a_deleted_contact_is_a_friendly_page(app, sent):
    client = app.test_client()
    url = sent.urls(0, "u")[0]
    Contact.delete_by_id(sent.contacts[0].id)
    response = client.get(url)
    assert response.status_code == 200 and "no longer on our lists" in response.get_data(as_text=True)
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert events() == []


def test_unsubscribe_after_the_campaign_was_deleted_still_works(app, sent):
    client = app.test_client()
    url = sent.urls(0, "u")[0]
    Campaign.delete_by_id(sent.campaign.id)
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert Contact.get_by_id(sent.contacts[0].id).status == "unsubscribed"


def test_unsubscribe_link_of_a_test_message_changes_nothing(app, account, sent):
    with app.app_context():
        fields = audience.FieldSet(account.id)
        message = render.compile_campaign(sent.campaign, fields).render({"first_name": "Test"})
    url = re.search(r'href="' + re.escape(BASE) + r'(/u/[^"]+)"', message.html).group(1)
    client = app.test_client()
    assert "test message" in client.get(url).get_data(as_text=True)
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert events() == [] and statuses(sent.contacts[0]) == ["subscribed", "subscribed"]


def test_hostile_list_and_account_names_are_escaped(app):
    account = make_account('<script>alert("acct")</script>')
    sent = Sent(app, account, lists=['<img src=x onerror=alert(1)>'])
    page = app.test_client().get(sent.urls(0, "u")[0]).get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
