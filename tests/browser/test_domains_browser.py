"""Real-Chromium test of sending domains: add one, copy its DKIM record, make a new key, check DNS until verified."""
import re

from playwright.sync_api import expect

from sendtex import domains
from sendtex.models.campaigns import SendingDomain
from tests.browser.test_foundation_browser import ConsoleWatch, log_in
from tests.conftest import PASSWORD, make_account, make_user
from tests.test_domains import dns_server  # noqa: F401  (the fixture)


def test_sending_domain_journey(live_server, page, dns_server):
    watch = ConsoleWatch(page)
    watch.allowed_statuses.add(422)
    live_server.config["DNS_RESOLVER"] = f"127.0.0.1:{dns_server.port}"
    user = make_user(make_account("Acme"), email="owner@acme.example")
    base = live_server.url
    log_in(page, base, user.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/app$"))
    page.get_by_role("link", name="Sending domains").first.click()
    expect(page).to_have_url(f"{base}/domains")

    form = page.locator("#domain-add")
    form.locator("#domain").fill("news@bücher.example")
    form.get_by_role("button", name="Add the domain").click()
    expect(page.locator("#domain-add .error")).to_contain_text("without an address or web link")
    page.locator("#domain-add #domain").fill("Bücher.example")
    page.locator("#domain-add").get_by_role("button", name="Add the domain").click()
    expect(page.locator("h1")).to_have_text("bücher.example")

    domain = SendingDomain.get()
    name, value = domains.record_of(domain)
    expect(page.locator("#dkim-name")).to_have_value(name)
    expect(page.locator("#dkim-value")).to_have_value(value)
    copy = page.locator("button[data-copy=dkim-value]")
    expect(copy).to_be_visible()
    copy.click()
    expect(copy).to_have_text("Copied")

    page.get_by_text("Make a new DKIM key…").click()
    page.get_by_role("button", name="Make a new key").click()
    expect(page.locator("#dkim-value")).not_to_have_value(value)
    renewed = SendingDomain.get()
    new_name, new_value = domains.record_of(renewed)
    expect(page.locator("#dkim-value")).to_have_value(new_value)
    assert new_name != name

    page.get_by_role("button", name="Check DNS").click()
    expect(page.locator("#domain-status")).to_contain_text(f"No TXT record was found at {new_name}")
    dns_server.publish(new_name, new_value)
    page.get_by_role("button", name="Check DNS").click()
    expect(page.locator("#domain-status")).to_contain_text("Verified")
    assert SendingDomain.get().verified_at is not None
    watch.assert_clean()
