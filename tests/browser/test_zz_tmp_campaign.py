import re
from playwright.sync_api import expect
from sendtex import audience
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, SendingDomain, Layout
from sendtex.models.contacts import MailingList
from tests.browser.test_foundation_browser import ConsoleWatch, log_in, mark_page, assert_no_navigation, screenshot
from tests.conftest import PASSWORD, make_account, make_user


def test_editor(live_server, page):
    watch = ConsoleWatch(page)
    watch.allowed_statuses.add(422)
    account = make_account("Acme", daily_quota=1000)
    user = make_user(account, email="owner@acme.example")
    SendingDomain.create(account=account, domain="acme.example", verified_at=utcnow())
    news = MailingList.create(account=account, name="News")
    Layout.create(account=account, name="Brand", html='<div style="border:4px solid red">{{ content }}</div>')
    with live_server.app_context():
        fields = audience.FieldSet(account.id)
        for a in ["ann@example.com", "bob@example.com"]:
            audience.create_contact(fields, {"email": a, "first_name": a.split("@")[0].title()}, [news.id])
    base = live_server.url
    log_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/app"))
    page.goto(f"{base}/campaigns")
    page.fill("#name", "Spring")
    page.click("#campaign-create-form button[type=submit]")
    expect(page).to_have_url(re.compile(r"/campaigns/\d+$"))
    mark_page(page)
    url = page.url
    page.locator("label.choice", has_text="News").locator("input").check()
    expect(page.locator("#recipient-count")).to_contain_text("2 contacts would receive")
    page.fill("#from_local", "news")
    page.fill("#subject", "Hi {{ contact.first_name }}")
    page.locator("#html").press_sequentially('<p style="color:blue">Hello {{ contact.first_name | default("there") }}</p>', delay=5)
    frame = page.frame_locator("#preview iframe")
    expect(frame.locator("p")).to_have_text("Hello there", timeout=5000)
    page.select_option("#layout", label="Brand")
    expect(page.frame_locator("#preview iframe").locator("div > p")).to_have_text("Hello there", timeout=5000)
    page.locator("#html").press_sequentially("{{ contact.nope }}", delay=5)
    expect(page.locator("#preview .error")).to_contain_text("Line 1: Unknown field", timeout=5000)
    page.locator("#html").fill('<p style="color:blue">Hello {{ contact.first_name | default("there") }}</p>')
    page.locator("#html").press("End")
    page.click("#campaign-form button.primary[type=submit]")
    expect(page.locator("#flashes")).to_contain_text("is saved")
    expect(page.frame_locator("#preview iframe").locator("div > p")).to_have_text("Hello there", timeout=5000)

    page.fill("#as-contact-email", "bob@example.com")
    page.click("#as-contact-form button[type=submit]")
    expect(page.locator("#as-contact .subject")).to_have_text("Hi Bob")
    expect(page.frame_locator("#as-contact iframe").locator("p")).to_have_text("Hello Bob")
    assert_no_navigation(page, url)
    screenshot(page, "campaign-editor.png")
    page.goto(f"{url}/schedule")
    page.select_option("#timezone", "Europe/Amsterdam")
    page.fill("#date", "2999-01-01")
    page.fill("#time", "09:00")
    page.click("#schedule-form button[type=submit]")
    expect(page.locator("section.scheduled")).to_contain_text("2999-01-01 09:00 (Europe/Amsterdam)")
    screenshot(page, "campaign-scheduled.png")
    watch.assert_clean()


def test_progress(live_server, page):
    import datetime
    from sendtex.models.campaigns import Delivery
    from sendtex.models.contacts import Contact
    watch = ConsoleWatch(page)
    account = make_account("Acme", daily_quota=1000)
    user = make_user(account, email="owner@acme.example")
    news = MailingList.create(account=account, name="News")
    with live_server.app_context():
        fields = audience.FieldSet(account.id)
        for i in range(4):
            audience.create_contact(fields, {"email": f"p{i}@example.com"}, [news.id])
    c = Campaign.create(account=account, name="Big", subject="S", html="<p>x</p>", from_email="n@acme.example",
                        list_ids=[news.id], status="sending", started_at=utcnow(), lease_until=utcnow() + datetime.timedelta(hours=1))
    for i, contact in enumerate(Contact.select()):
        Delivery.create(campaign=c, contact=contact, status="sent" if i < 1 else "queued", sent_at=utcnow() if i < 1 else None)
    c.recount()
    base = live_server.url
    log_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/app"))
    page.goto(f"{base}/campaigns/{c.id}")
    mark_page(page)
    expect(page.locator("#campaign-progress .percent")).to_have_text("25 %")
    expect(page.locator("#campaign-actions")).to_contain_text("Pause")
    Delivery.update(status="sent", sent_at=utcnow()).where(Delivery.campaign == c.id).execute()
    c.recount()
    expect(page.locator("#campaign-progress .percent")).to_have_text("100 %", timeout=5000)
    Campaign.update(status="sent", finished_at=utcnow()).where(Campaign.id == c.id).execute()
    expect(page.locator("#campaign-progress")).to_contain_text("Sent", timeout=5000)
    expect(page.locator("#campaign-actions")).not_to_contain_text("Pause", timeout=5000)
    assert page.locator("#campaign-progress").get_attribute("hx-trigger") is None
    screenshot(page, "campaign-sent.png")
    assert_no_navigation(page, f"{base}/campaigns/{c.id}")
    watch.assert_clean()
