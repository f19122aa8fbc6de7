"""Real-Chromium tests of the campaign pages: compose with a merge tag and a layout while the sandboxed preview
follows, see a contact's own message, send a test, schedule, send, watch the progress and open the outbox.

Huey runs in immediate mode in tests, so "Send now" has delivered everything before the campaign page
loads; the second test moves a campaign's ledger itself to watch the polled progress panel change.
"""
import datetime
import re

from playwright.sync_api import expect

from sendtex import audience
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery, Layout, SendingDomain
from sendtex.models.contacts import Contact, MailingList
from tests.browser.test_foundation_browser import ConsoleWatch, assert_no_navigation, log_in, mark_page, screenshot
from tests.conftest import PASSWORD, make_account, make_user

CONTENT = '<p style="color:#1a5">Hello {{ contact.first_name | default("there") }}</p>'


def marketer(app, names=("ann", "bob")):
    """An account with a verified domain, a layout and a list of subscribed contacts; its owner."""
    account = make_account("Acme", daily_quota=1000)
    user = make_user(account, email="owner@acme.example")
    SendingDomain.create(account=account, domain="acme.example", verified_at=utcnow())
    Layout.create(account=account, name="Brand", html='<div class="brand">{{ content }}</div>')
    news = MailingList.create(account=account, name="News")
    with app.app_context():
        fields = audience.FieldSet(account.id)
        for name in names:
            audience.create_contact(fields, {"email": f"{name}@example.com", "first_name": name.title()}, [news.id])
    return account, user, news


def signed_in(page, app, user):
    log_in(page, app.url, user.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/app$"))


def test_compose_preview_test_schedule_and_send(live_server, page):
    watch = ConsoleWatch(page)
    watch.allowed_statuses.add(422)  # the preview answers 422 while the template is broken
    _account, user, _news = marketer(live_server)
    signed_in(page, live_server, user)

    page.goto(f"{live_server.url}/campaigns")
    page.fill("#name", "Spring")
    page.click("#campaign-create-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/campaigns/\d+$"))
    editor_url = page.url
    mark_page(page)

    page.locator("label.choice", has_text="News").locator("input").check()
    expect(page.locator("#recipient-count")).to_contain_text("2 contacts would receive")
    page.fill("#from_local", "news")
    page.fill("#subject", "Hi {{ contact.first_name }}")
    page.locator("#html").press_sequentially(CONTENT, delay=5)
    preview = page.frame_locator("#preview iframe")
    expect(preview.locator("p")).to_have_text("Hello there")
    page.select_option("#layout", label="Brand")
    expect(page.frame_locator("#preview iframe").locator("div.brand > p")).to_have_text("Hello there")
    page.locator("#html").press_sequentially("{{ contact.nope }}", delay=5)
    expect(page.locator("#preview .error")).to_contain_text("Line 1: Unknown field “nope”")
    page.locator("#html").fill(CONTENT)
    page.click("#campaign-form button.primary[type=submit]")
    expect(page.locator("#flashes")).to_contain_text("The campaign “Spring” is saved.")
    expect(page.frame_locator("#preview iframe").locator("div.brand > p")).to_have_text("Hello there")

    page.fill("#as-contact-email", "bob@example.com")
    page.click("#as-contact-form button[type=submit]")
    expect(page.locator("#as-contact .subject")).to_have_text("Hi Bob")
    expect(page.frame_locator("#as-contact iframe").locator("p")).to_have_text("Hello Bob")

    page.fill("#test-addresses", "me@example.com")
    page.fill("#test-contact_email", "ann@example.com")
    page.click("#test-send-form button[type=submit]")
    expect(page.locator("#test-send")).to_contain_text("A test was sent to me@example.com.")
    assert_no_navigation(page, editor_url)
    screenshot(page, "campaign-editor.png")

    page.goto(f"{editor_url}/schedule")
    page.select_option("#timezone", "Europe/Amsterdam")
    page.fill("#date", "2999-01-01")
    page.fill("#time", "09:00")
    page.click("#schedule-form button[type=submit]")
    expect(page.locator("section.scheduled")).to_contain_text("2999-01-01 09:00 (Europe/Amsterdam)")

    page.click("text=Send now…")
    expect(page.locator("#send-now")).to_contain_text("will be sent to 2 contacts")
    page.click("#send-now-form button[type=submit]")
    expect(page).to_have_url(editor_url)
    expect(page.locator("#campaign-progress .percent")).to_have_text("100 %")
    expect(page.locator("#campaign-progress")).to_contain_text("Sent")

    page.goto(f"{live_server.url}/outbox")
    page.click("text=Hi Ann")
    expect(page.locator("main")).to_contain_text("Hello Ann")
    watch.assert_clean()


def test_progress_panel_follows_the_ledger_and_stops_polling(live_server, page):
    watch = ConsoleWatch(page)
    account, user, news = marketer(live_server, names=("ann", "bob", "cy", "dee"))
    campaign = Campaign.create(account=account, name="Big", subject="News", html="<p>News</p>", list_ids=[news.id],
                               from_email="news@acme.example", status="sending", started_at=utcnow(),
                               lease_until=utcnow() + datetime.timedelta(hours=1))  # no worker takes it over
    for index, contact in enumerate(Contact.select().order_by(Contact.id)):
        Delivery.create(campaign=campaign, contact=contact, status="sent" if index == 0 else "queued",
                        sent_at=utcnow() if index == 0 else None)
    campaign.recount()
    signed_in(page, live_server, user)
    page.goto(f"{live_server.url}/campaigns/{campaign.id}")
    mark_page(page)
    expect(page.locator("#campaign-progress .percent")).to_have_text("25 %")
    expect(page.locator("#campaign-actions")).to_contain_text("Pause")

    Delivery.update(status="sent", sent_at=utcnow()).where(Delivery.campaign == campaign.id).execute()
    campaign.recount()
    expect(page.locator("#campaign-progress .percent")).to_have_text("100 %")
    Campaign.update(status="sent", finished_at=utcnow()).where(Campaign.id == campaign.id).execute()
    expect(page.locator("#campaign-progress")).to_contain_text("Status: Sent")
    expect(page.locator("#campaign-actions")).not_to_contain_text("Pause")
    assert page.locator("#campaign-progress").get_attribute("hx-trigger") is None
    assert_no_navigation(page, f"{live_server.url}/campaigns/{campaign.id}")
    watch.assert_clean()
