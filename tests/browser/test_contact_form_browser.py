"""Real-Chromium test of the contact form: a visitor writes from the footer link and is thanked; staff then find
the message, read it and mark it answered. No JavaScript error, no CSP violation, no cookie but the session."""
import pytest
from playwright.sync_api import expect

from sendtex.models.accounts import User
from sendtex.models.website import ContactMessage
from tests.browser.test_foundation_browser import ConsoleWatch, cookie_names, log_in
from tests.conftest import PASSWORD, make_account, make_user


@pytest.fixture
def watch(page):
    return ConsoleWatch(page)


def test_a_visitor_sends_a_message_and_staff_answer_it(live_server, page, watch):
    page.goto(live_server.url + "/")
    page.locator("footer").get_by_role("link", name="Contact").click()
    expect(page.get_by_role("heading", name="Contact us")).to_be_visible()
    expect(page.get_by_label("Leave this field empty")).to_be_hidden()  # the honeypot is not for people
    page.get_by_label("Last name").fill("Maes")
    page.get_by_label("First name").fill("Sofie")
    page.get_by_label("E-mail address").fill("sofie.maes@example.com")
    page.get_by_label("Your message").fill("Do you offer <b>discounts</b> for schools?\nThanks!")
    page.get_by_role("button", name="Send the message").click()
    expect(page.locator("main [role=status]")).to_contain_text("Your message has reached us")
    assert page.url == live_server.url + "/contact/thanks"
    assert cookie_names(page.context) <= {"session"}
    assert ContactMessage.get().email == "sofie.maes@example.com"

    staff = make_user(make_account("Operator"), email="staff@operator.example")
    User.update(is_staff=True).where(User.id == staff.id).execute()
    log_in(page, live_server.url, staff.email, PASSWORD)
    page.get_by_role("link", name="Staff").click()
    page.get_by_role("link", name="Contact messages").first.click()
    expect(page.locator("main")).to_contain_text("1 message waits for an answer.")
    row = page.locator("table.contact-messages tbody tr").first
    expect(row).to_contain_text("Sofie Maes")
    row.get_by_role("link").click()
    expect(page.locator(".message-text")).to_have_text("Do you offer <b>discounts</b> for schools?\nThanks!")
    page.get_by_role("button", name="Mark as answered").click()
    expect(page.get_by_role("button", name="Mark as not answered")).to_be_visible()
    assert ContactMessage.get().answered_at is not None
    watch.assert_clean()
