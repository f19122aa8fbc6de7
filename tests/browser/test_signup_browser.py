"""Real-Chromium test of public signup: the snippet pasted into a page of another origin, filled in and sent
without any script, then the double opt-in confirmation followed from the mail."""
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from sendtex.mail.transport import read_from_outbox, readable_text
from sendtex.models.contacts import MailingList, Subscription
from sendtex.models.mail import OutboxMessage
from sendtex.models.subscribe import ConsentProof, SignupForm
from sendtex.subscribe.routes import signup_snippet
from tests.browser.test_foundation_browser import ConsoleWatch, cookie_names
from tests.conftest import free_port, make_account


@pytest.fixture
def watch(page):
    return ConsoleWatch(page)


@pytest.fixture
def foreign_site():
    """A web server on another origin (another port) serving one page whose HTML the test sets."""
    pages = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            body = pages.get(self.path, "").encode()
            self.send_response(200 if body else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # localhost, not 127.0.0.1: another host name as well as another port, so truly another site's page.
    server.url, server.pages = f"http://localhost:{server.server_port}", pages
    yield server
    server.shutdown()


def test_snippet_on_another_site_signs_up_and_the_mail_confirms(live_server, foreign_site, page, watch):
    account = make_account("Bakery")
    news = MailingList.create(account=account, name="Fresh bread", opt_in="double", visibility="public")
    signup_form = SignupForm.create(account=account, name="Bread news", consent_text="Yes, mail me about bread.",
                                    list_ids=[news.id], asked=[{"key": "first_name", "required": True}])
    with live_server.test_request_context():
        snippet = signup_snippet(signup_form)
    foreign_site.pages["/blog"] = ('<!doctype html><html><head><link rel="icon" href="data:,"></head>'
                                   f"<body><h1>Our blog</h1>{snippet}</body></html>")

    page.goto(foreign_site.url + "/blog")
    page.get_by_label("E-mail address").fill("reader@example.com")
    page.get_by_label("First name").fill("Rita")
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("main [role=status]")).to_contain_text("we sent you an e-mail")
    assert page.url == f"{live_server.url}/subscribe/{signup_form.public_id}"
    assert cookie_names(page.context) <= {"session"}

    with live_server.app_context():
        (entry,) = OutboxMessage.select()
        mail_text = readable_text(read_from_outbox(entry))
    link = re.search(r"http://\S+/subscribe/confirm/\S+", mail_text).group()
    page.goto(link)
    assert Subscription.get().status == "unconfirmed"  # opening the link alone confirms nothing
    page.get_by_role("button", name="Yes, subscribe me").click()
    expect(page.locator("main [role=status]")).to_contain_text("your subscription is confirmed")
    assert Subscription.get().status == "subscribed"
    proof = ConsentProof.select().order_by(ConsentProof.id).first()
    assert proof.page_url.startswith(foreign_site.url) and proof.consent_text == "Yes, mail me about bread."
    assert [row.event for row in ConsentProof.select().order_by(ConsentProof.id)] == ["signup", "confirmation"]
    watch.assert_clean()


def _outbox_texts(app, kind=None):
    """(subject, text, html) of every outbox mail, oldest first."""
    with app.app_context():
        found = []
        for entry in OutboxMessage.select().order_by(OutboxMessage.id):
            message = read_from_outbox(entry)
            html = message.get_body(("html",))
            found.append((str(message["Subject"]), readable_text(message), html.get_content() if html else ""))
        return found


def test_subscriber_journey_from_signup_to_erasure_and_the_report(live_server, foreign_site, page, watch):
    from sendtex import sending
    from sendtex.models.base import utcnow
    from sendtex.models.campaigns import Campaign, SendingDomain
    from sendtex.models.contacts import Contact
    from sendtex.tasks.stats import aggregate
    from tests.browser.test_foundation_browser import log_in
    from tests.conftest import PASSWORD, make_user

    owner = make_user(make_account("Bakery"), email="baker@bakery.example")
    account = owner.account
    news = MailingList.create(account=account, name="Fresh bread", opt_in="double", visibility="public")
    offers = MailingList.create(account=account, name="Offers", opt_in="single", visibility="public")
    signup_form = SignupForm.create(account=account, name="Bread news", consent_text="Yes, mail me about bread.",
                                    list_ids=[news.id, offers.id], asked=[{"key": "first_name", "required": True}])
    with live_server.test_request_context():
        snippet = signup_snippet(signup_form)
    foreign_site.pages["/blog"] = ('<!doctype html><html><head><link rel="icon" href="data:,"></head>'
                                   f"<body><h1>Our blog</h1>{snippet}</body></html>")
    foreign_site.pages["/shop"] = '<!doctype html><html><head><link rel="icon" href="data:,"></head><body>Shop</body></html>'

    # Sign up on the other site, confirm from the mail.
    page.goto(foreign_site.url + "/blog")
    page.get_by_label("E-mail address").fill("reader@example.com")
    page.get_by_label("First name").fill("Rita")
    page.get_by_label("Fresh bread").check()
    page.get_by_label("Offers").check()
    page.get_by_role("button", name="Subscribe").click()
    expect(page.locator("main [role=status]")).to_contain_text("we sent you an e-mail")
    link = re.search(r"http://\S+/subscribe/confirm/\S+", _outbox_texts(live_server)[-1][1]).group()
    page.goto(link)
    page.get_by_role("button", name="Yes, subscribe me").click()
    expect(page.locator("main [role=status]")).to_contain_text("your subscription is confirmed")

    # A campaign reaches her; she opens it, clicks, and goes to her preferences from the message.
    with live_server.app_context():
        SendingDomain.create(account=account, domain="bakery.example", verified_at=utcnow())
        campaign = Campaign.create(account=account, name="Sourdough week", subject="Sourdough, {{ contact.first_name }}",
                                   from_name="Bakery", from_email="news@bakery.example", list_ids=[news.id],
                                   html=f'<p>Hi {{{{ contact.first_name }}}}! <a href="{foreign_site.url}/shop">'
                                        'Order</a> · <a href="{{ preferences_url }}">Preferences</a></p>')
        sending.start(campaign)
    subject, _text, html = _outbox_texts(live_server)[-1]
    assert subject == "Sourdough, Rita"
    pixel = page.request.get(re.search(r'src="(http://[^"]+/t/o/[^"]+)"', html).group(1))  # as a mail client loads it
    assert pixel.ok and pixel.headers["content-type"].startswith("image/")
    page.goto(re.search(r'href="(http://[^"]+/t/c/[^"]+)"', html).group(1))
    assert page.url == foreign_site.url + "/shop"  # the click redirects to the campaign's own link
    page.goto(re.search(r'href="(http://[^"]+/p/[^"]+)"', html).group(1))
    expect(page.locator("h1")).to_contain_text("Your e-mail preferences at Bakery")
    page.get_by_label("Offers").uncheck()
    page.get_by_role("button", name="Save my subscriptions").click()
    expect(page.get_by_label("Offers")).not_to_be_checked()
    with live_server.app_context():
        contact = Contact.get(Contact.account == account.id)
        assert Subscription.get(contact=contact, mailing_list=offers).status == "unsubscribed"
        assert Subscription.get(contact=contact, mailing_list=news).status == "subscribed"

    # Downloading or erasing needs a fresh link, mailed on request.
    page.get_by_role("button", name="Mail me a link").click()
    fresh = re.search(r"http://\S+/p/\S+", _outbox_texts(live_server)[-1][1]).group()
    page.goto(fresh)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data (JSON)").click()
    import json

    data = json.loads(open(download.value.path(), encoding="utf-8").read())
    assert "Rita" in json.dumps(data) and "Yes, mail me about bread." in json.dumps(data)
    page.get_by_role("link", name="Erase my data…").click()
    page.get_by_role("button", name="Erase my data for good").click()
    with live_server.app_context():
        assert not Contact.select().where(Contact.account == account.id).exists()

    # The marketer's report shows the open and the click, with its charts.
    with live_server.app_context():
        aggregate()
    log_in(page, live_server.url, owner.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/app$"))
    page.goto(f"{live_server.url}/campaigns/{campaign.id}/report")
    expect(page.locator("main svg").first).to_be_visible()
    assert page.locator("main svg").count() >= 2
    watch.assert_clean()
