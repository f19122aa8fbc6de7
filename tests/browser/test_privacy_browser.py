"""Real-Chromium tests of the privacy self-service: downloading all data, deleting the account, and cookie
consent asked again after the privacy statement changed."""
import io
import json
import re
import zipfile

from playwright.sync_api import expect

from sendtex import audience
from sendtex.models.accounts import Account
from sendtex.models.contacts import MailingList
from sendtex.models.privacy import ConsentRecord, DeletionRecord
from tests.browser.test_foundation_browser import ConsoleWatch, log_in
from tests.conftest import PASSWORD, make_account, make_user


def owner_with_data(app):
    owner = make_user(make_account("Browser Shop"), email="owner@browser-shop.example")
    news = MailingList.create(account=owner.account_id, name="Browser news")
    with app.app_context():
        audience.create_contact(audience.FieldSet(owner.account_id), {"email": "reader@browser-shop.example",
                                                                       "first_name": "Berta"}, [news.id])
    return owner


def test_download_all_data_then_delete_the_account(live_server, page):
    watch = ConsoleWatch(page)
    watch.allowed_statuses.add(422)  # the wrong account name, then the refused login, answer 422 on purpose
    base = live_server.url
    owner = owner_with_data(live_server)
    log_in(page, base, owner.email, PASSWORD)
    expect(page).to_have_url(re.compile(r"/app$"))
    page.goto(f"{base}/account")
    page.get_by_role("link", name="Download all data").click()
    page.get_by_role("button", name="Prepare a new export").click()
    download_link = page.locator("#exports").get_by_role("link", name="Download")
    expect(download_link).to_be_visible()
    with page.expect_download() as download_info:
        download_link.click()
    archive = zipfile.ZipFile(io.BytesIO(open(download_info.value.path(), "rb").read()))
    values = json.loads(archive.read("contact_values.json"))
    assert values[0]["fields"]["first_name"] == "Berta"
    assert json.loads(archive.read("manifest.json"))["tables"]["mailing_list"] == 1

    page.goto(f"{base}/account")
    page.get_by_role("link", name="Delete the account").click()  # the dialog opens in the page (htmx)
    panel = page.locator("#danger-zone #delete-account")
    expect(panel).to_contain_text("1 lists")
    expect(panel).to_contain_text("1 contacts")
    panel.get_by_label("Your password").fill(PASSWORD)
    panel.get_by_label("The account's name, exactly as shown").fill("Browser shop")
    panel.get_by_role("button", name="Delete the account and all its data").click()
    expect(page.locator("#delete-account")).to_contain_text("This is not the account's name.")
    assert Account.get_or_none(Account.id == owner.account_id) is not None

    page.locator("#delete-account").get_by_label("Your password").fill(PASSWORD)
    page.locator("#delete-account").get_by_label("The account's name, exactly as shown").fill("Browser Shop")
    page.locator("#delete-account").get_by_role("button", name="Delete the account and all its data").click()
    expect(page.locator("h1")).to_have_text("Your account is deleted")
    assert Account.get_or_none(Account.id == owner.account_id) is None
    assert DeletionRecord.get().finished_at is not None

    log_in(page, base, owner.email, PASSWORD)
    expect(page.locator("#login-form")).to_contain_text("The e-mail address or the password is not right.")
    watch.assert_clean()


def test_cookie_consent_is_asked_again_when_the_statement_changes(live_server, page):
    watch = ConsoleWatch(page)
    base = live_server.url
    page.goto(f"{base}/")
    page.locator("#consent-banner").get_by_role("button", name="Accept all").click()
    expect(page.locator("#consent-banner")).to_have_count(0)
    page.reload()
    expect(page.locator("#consent-banner")).to_have_count(0)

    live_server.config["PRIVACY_POLICY_VERSION"] = "2027-01-01"
    page.reload()
    banner = page.locator("#consent-banner")
    expect(banner).to_be_visible()
    banner.get_by_role("button", name="Reject all").click()
    expect(page.locator("#consent-banner")).to_have_count(0)
    records = list(ConsentRecord.select().order_by(ConsentRecord.id))
    assert [(record.categories, record.policy_version) for record in records] == [
        (["analytics", "marketing"], "2026-11-25"), ([], "2027-01-01")]
    assert records[0].consent_id == records[1].consent_id
    watch.assert_clean()
