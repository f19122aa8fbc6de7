"""Real-Chromium tests of the foundation: the marketer's first journey, cookie consent, a clean console.

Every test collects console errors, uncaught page errors and Content-Security-Policy violations
(reported through an init script, which the CSP does not apply to) and asserts there are none.
"""
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from sendtex.privacy.consent import CONSENT_COOKIE, NECESSARY_COOKIES

SHOTS = Path("/tmp/shots")
OLD_PASSWORD = "first long passphrase 1"
NEW_PASSWORD = "second long passphrase 2"

# Turn every CSP violation into a console error the test can see.
CSP_REPORTER = """
document.addEventListener("securitypolicyviolation", function (event) {
  console.error("CSP violation: " + event.violatedDirective + " blocked " + (event.blockedURI || "inline")
                + " at " + event.sourceFile + ":" + event.lineNumber);
});
"""


class ConsoleWatch:
    """Console errors and uncaught exceptions of a page, with expected HTTP error statuses allowed."""

    def __init__(self, page):
        self.problems = []
        self.allowed_statuses = set()
        page.add_init_script(CSP_REPORTER)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.problems.append(f"page error: {exc}"))

    def _console(self, message):
        if message.type != "error":
            return
        text = message.text
        # Chromium logs every 4xx answer; forms answer 422 (invalid) on purpose and htmx swaps them.
        status = re.search(r"Failed to load resource: the server responded with a status of (\d+)", text)
        if status and int(status.group(1)) in self.allowed_statuses:
            return
        self.problems.append(f"console error: {text} ({message.location.get('url')})")

    def assert_clean(self):
        assert self.problems == [], "\n".join(self.problems)


@pytest.fixture
def watch(page):
    return ConsoleWatch(page)


def mark_page(page):
    """Set a marker on window; it survives htmx swaps but not a full page load."""
    page.evaluate("window.__sendtexMarker = 'still here'")


def assert_no_navigation(page, url):
    assert page.url == url
    assert page.evaluate("window.__sendtexMarker") == "still here", "a full page load happened"


def screenshot(page, name):
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def consent_cookie(app, context):
    """The visitor's choice in the browser's consent cookie, read by the app itself; None if absent."""
    from sendtex.privacy.consent import current_choice

    for cookie in context.cookies():
        if cookie["name"] == CONSENT_COOKIE:
            with app.test_request_context(headers={"Cookie": f"{CONSENT_COOKIE}={cookie['value']}"}):
                choice = current_choice()
            assert choice is not None, f"the app does not understand its own consent cookie {cookie['value']!r}"
            return choice
    return None


def cookie_names(context):
    return {cookie["name"] for cookie in context.cookies()}


def consent_records(app):
    """Every ConsentRecord row, oldest first, as dicts."""
    with app.app_context():
        from sendtex.db import db
        from sendtex.models.privacy import ConsentRecord

        with db.connection_context():
            return [
                dict(consent_id=r.consent_id, categories=r.categories, policy_version=r.policy_version,
                     ip_anon=r.ip_anon)
                for r in ConsentRecord.select().order_by(ConsentRecord.id)
            ]


def check_text(locator, expected, problems):
    """Soft text check for texts that depend on the Dutch catalog: record, don't stop the journey."""
    try:
        expect(locator).to_have_text(expected, timeout=2_000)
    except AssertionError as exc:
        actual = [line for line in str(exc).splitlines() if line.startswith("Actual value")]
        problems.append(f"expected {expected!r}, {actual[0] if actual else str(exc).splitlines()[0]}")


def log_in(page, base, email, password):
    page.goto(f"{base}/login")
    form = page.locator("#login-form")
    form.locator("#email").fill(email)
    form.locator("#password").fill(password)
    form.locator("button[type=submit]").click()


def log_out(page):
    page.locator("header form[action='/logout'] button").click()
    expect(page).to_have_url(re.compile(r"/login$"))


def test_marketer_journey(live_server, page, watch):
    base = live_server.url
    watch.allowed_statuses.add(422)  # the invalid VAT number and the old password are answered with 422
    email = "marketer@example.com"

    # A new visitor first answers the cookie banner, which otherwise covers the footer.
    page.goto(f"{base}/register")
    page.locator("#consent-banner").get_by_role("button", name="Reject all").click()
    expect(page.locator("#consent-banner")).to_have_count(0)

    form = page.locator("#register-form")
    form.get_by_label("Organisation").fill("Tulip Marketing")
    form.get_by_label("Your name").fill("Mia Marketer")
    form.get_by_label("E-mail address").fill(email)
    form.get_by_label("Password").fill(OLD_PASSWORD)
    form.get_by_role("button", name="Create account").click()
    expect(page).to_have_url(f"{base}/app")
    expect(page.locator("h1")).to_have_text("Tulip Marketing")
    expect(page.locator("#flashes .flash-success")).to_contain_text("Welcome to Sendtex, Mia Marketer.")

    log_out(page)
    log_in(page, base, email, OLD_PASSWORD)
    expect(page).to_have_url(f"{base}/app")

    # Billing details: edit in place with htmx.
    page.get_by_role("navigation").get_by_role("link", name="Account", exact=True).click()
    expect(page).to_have_url(f"{base}/account")
    account_url = page.url
    mark_page(page)
    billing = page.locator("#billing")
    billing.get_by_role("link", name="Edit").click()
    expect(page.locator("#billing-form")).to_be_visible()
    assert_no_navigation(page, account_url)

    page.locator("#billing-form").get_by_label("Company name").fill("Tulip Marketing BV")
    page.locator("#billing-form").get_by_label("VAT number").fill("BE0123456749")
    page.locator("#billing-form").get_by_role("button", name="Save").click()
    expect(page.locator("#billing-form")).to_have_count(0)
    expect(billing.locator("dl.details")).to_contain_text("Tulip Marketing BV")
    expect(billing.locator("dd.vat")).to_have_text("BE0123456749")
    expect(page.locator("#flashes .flash-success")).to_have_text("Billing details saved.")
    assert_no_navigation(page, account_url)
    screenshot(page, "account.png")

    billing.get_by_role("link", name="Edit").click()
    vat = page.locator("#billing-form").get_by_label("VAT number")
    expect(vat).to_have_value("BE0123456749")
    vat.fill("BE0123456748")
    page.locator("#billing-form").get_by_role("button", name="Save").click()
    error = page.locator("#vat_number-error")
    expect(error).to_have_text("The check digits of this Belgian VAT number are wrong.")
    expect(vat).to_have_attribute("aria-invalid", "true")
    # The earlier "Billing details saved." must not linger next to an error: nothing was saved now.
    expect(page.locator("#flashes .flash")).to_have_count(0)
    expect(vat).to_have_attribute("aria-describedby", "vat_number-error")
    # The message sits right under the field, inside the same .field block.
    expect(page.locator("#billing-form .field.has-error", has=page.locator("#vat_number")).locator(".error")).to_have_text(
        "The check digits of this Belgian VAT number are wrong.")
    assert_no_navigation(page, account_url)

    # Switch to Dutch in the footer: the page reloads in Dutch.
    page.locator("#language-choice").select_option("nl")
    page.locator("footer form.language button[type=submit]").click()
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    assert page.url == account_url
    assert page.evaluate("window.__sendtexMarker") is None, "the language switch should reload the page"
    dutch_problems = []
    check_text(page.locator("footer").get_by_role("link", name=re.compile("Privac")), "Privacyverklaring",
               dutch_problems)
    check_text(page.locator("#cookie-settings"), "Cookie-instellingen", dutch_problems)
    check_text(page.locator("header form[action='/logout'] button"), "Uitloggen", dutch_problems)
    check_text(page.locator("header nav a[href='/app']"), "Overzicht", dutch_problems)

    # Change the password with the htmx form on the profile page.
    page.locator("header nav a[href='/profile']").click()
    expect(page).to_have_url(f"{base}/profile")
    profile_url = page.url
    mark_page(page)
    password_form = page.locator("#password-form")
    password_form.locator("#current_password").fill(OLD_PASSWORD)
    password_form.locator("#new_password").fill(NEW_PASSWORD)
    password_form.locator("button[type=submit]").click()
    expect(page.locator("#flashes .flash-success")).to_be_visible()
    expect(page.locator("#password-form #current_password")).to_have_value("")
    expect(page.locator("#password-form .error")).to_have_count(0)
    assert_no_navigation(page, profile_url)

    log_out(page)
    log_in(page, base, email, OLD_PASSWORD)
    expect(page.locator("#login-form .form-error")).to_be_visible()
    expect(page).to_have_url(re.compile(r"/login$"))
    log_in(page, base, email, NEW_PASSWORD)
    expect(page).to_have_url(f"{base}/app")
    expect(page.locator("html")).to_have_attribute("lang", "nl")

    watch.assert_clean()
    assert dutch_problems == [], "Dutch texts missing (is the nl catalog compiled?):\n" + "\n".join(dutch_problems)


def test_cookie_consent_on_public_page(live_server, page, watch):
    base = live_server.url
    context = page.context
    version = live_server.config["PRIVACY_POLICY_VERSION"]
    assert context.cookies() == []

    page.goto(f"{base}/")
    banner = page.locator("#consent-banner")
    expect(banner).to_be_visible()
    screenshot(page, "home-banner.png")

    # Three equally prominent choices.
    choices = [
        banner.get_by_role("button", name="Accept all"),
        banner.get_by_role("button", name="Reject all"),
        banner.locator("summary", has_text="Choose"),
    ]
    for choice in choices:
        expect(choice).to_be_visible()
    sizes = {choice.evaluate("el => getComputedStyle(el).fontSize") for choice in choices}
    assert len(sizes) == 1, f"font sizes differ: {sizes}"
    boxes = [choice.bounding_box() for choice in choices]
    tallest = max(box["height"] for box in boxes)
    widest = max(box["width"] for box in boxes)
    for box in boxes:
        assert box["height"] >= 0.8 * tallest, boxes
        assert box["width"] >= 0.5 * widest, boxes

    # Nothing but strictly necessary cookies before a choice.
    assert cookie_names(context) <= NECESSARY_COOKIES, cookie_names(context)
    assert consent_cookie(live_server, context) is None

    mark_page(page)
    home_url = page.url
    banner.get_by_role("button", name="Reject all").click()
    expect(banner).to_have_count(0)
    expect(page.locator("#flashes .flash-success")).to_be_visible()
    assert_no_navigation(page, home_url)

    choice = consent_cookie(live_server, context)
    assert choice is not None and choice["categories"] == [] and choice["version"] == version
    assert cookie_names(context) <= NECESSARY_COOKIES, cookie_names(context)
    records = consent_records(live_server)
    assert len(records) == 1
    assert records[0] == dict(consent_id=choice["id"], categories=[], policy_version=version, ip_anon="127.0.0.0")

    page.reload()
    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("#consent-banner")).to_have_count(0)

    # The footer link brings the banner back in place, with the current choice.
    mark_page(page)
    page.locator("#cookie-settings").click()
    banner = page.locator("#consent-slot #consent-banner")
    expect(banner).to_be_visible()
    assert_no_navigation(page, home_url)
    expect(banner.locator("details")).to_have_attribute("open", "")
    analytics = banner.locator("input[name=purpose][value=analytics]")
    marketing = banner.locator("input[name=purpose][value=marketing]")
    expect(analytics).not_to_be_checked()
    expect(marketing).not_to_be_checked()

    analytics.check()
    banner.get_by_role("button", name="Save my choice").click()
    expect(page.locator("#consent-banner")).to_have_count(0)
    assert_no_navigation(page, home_url)

    records = consent_records(live_server)
    assert len(records) == 2
    assert records[1] == dict(consent_id=records[0]["consent_id"], categories=["analytics"], policy_version=version,
                              ip_anon="127.0.0.0")
    new_choice = consent_cookie(live_server, context)
    assert new_choice == dict(id=records[0]["consent_id"], categories=["analytics"], version=version)
    assert cookie_names(context) <= NECESSARY_COOKIES

    # The settings link now shows analytics ticked.
    page.locator("#cookie-settings").click()
    expect(page.locator("#consent-banner input[name=purpose][value=analytics]")).to_be_checked()
    expect(page.locator("#consent-banner input[name=purpose][value=marketing]")).not_to_be_checked()

    watch.assert_clean()


@pytest.mark.parametrize("path", ["/", "/login", "/register", "/reset", "/privacy", "/cookies", "/privacy/consent"])
def test_public_pages_have_no_console_errors(live_server, page, watch, path):
    response = page.goto(live_server.url + path)
    assert response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator("h1").first).to_be_visible()
    # htmx loaded and read its configuration from the meta tag (no inline script needed).
    assert page.evaluate("typeof htmx !== 'undefined' && htmx.config.allowEval === false")
    watch.assert_clean()


def test_csp_violations_are_caught(live_server, page, watch):
    """Guard for the watcher itself: an inline script must show up as a CSP problem."""
    page.goto(live_server.url + "/")
    with page.expect_console_message(lambda message: "CSP violation" in message.text):
        page.evaluate("""() => {
            const s = document.createElement('script'); s.textContent = 'window.__inline = 1';
            document.body.appendChild(s);
        }""")
    assert page.evaluate("window.__inline") is None
    assert any("CSP violation: script-src" in problem for problem in watch.problems), watch.problems
