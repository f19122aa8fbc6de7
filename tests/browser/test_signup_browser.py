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
