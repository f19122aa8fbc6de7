"""Privacy statement, cookie statement and the cookie-consent choice."""
from pathlib import Path

import pytest

from sendtex.models.privacy import ConsentRecord
from sendtex.privacy.consent import CONSENT_COOKIE, decode_choice
from tests.conftest import make_app, post


@pytest.fixture
def operator_app(tmp_path):
    return make_app(tmp_path, CONTROLLER_NAME="Mailwise BV", CONTROLLER_ADDRESS="Kerkstraat 1, 9000 Gent",
                    CONTROLLER_VAT="BE0123456749", CONTROLLER_EMAIL="privacy@mailwise.example",
                    CONTROLLER_PHONE="+32 9 123 45 67", RETENTION_TRACKING_EVENTS_DAYS=123,
                    RETENTION_CONTACT_MESSAGES_DAYS=45, SUPERVISORY_AUTHORITY="Gegevensbeschermingsautoriteit",
                    SUPERVISORY_AUTHORITY_URL="https://authority.example")


@pytest.mark.parametrize("lang, heading, words", [
    ("en", "Privacy statement", "days"),
    ("nl", "Privacyverklaring", "dagen"),
])
def test_statement_shows_controller_and_configured_retention(operator_app, lang, heading, words):
    page = operator_app.test_client().get("/privacy", headers={"Accept-Language": lang}).get_data(as_text=True)
    assert f'<html lang="{lang}">' in page and heading in page
    for value in ("Mailwise BV", "Kerkstraat 1, 9000 Gent", "BE0123456749", "privacy@mailwise.example",
                  "+32 9 123 45 67", "Gegevensbeschermingsautoriteit", "https://authority.example"):
        assert value in page
    assert f"123 {words}" in page and f"45 {words}" in page


def test_cookie_statement_lists_every_cookie(client):
    page = client.get("/cookies").get_data(as_text=True)
    assert "session" in page and CONSENT_COOKIE in page


def test_operator_can_override_the_statement(tmp_path):
    override = tmp_path / "instance" / "templates" / "privacy"
    override.mkdir(parents=True)
    (override / "statement_en.html").write_text("<p>Our own words, {{ cfg.CONTROLLER_NAME }}.</p>")
    page = make_app(tmp_path).test_client().get("/privacy").get_data(as_text=True)
    assert "Our own words, Sendtex operator." in page


def test_banner_shows_until_a_choice_is_made(client):
    assert 'id="consent-banner"' in client.get("/").get_data(as_text=True)
    post(client, "/privacy/consent", {"action": "reject", "next": "/"})
    assert 'id="consent-banner"' not in client.get("/").get_data(as_text=True)
    assert 'id="cookie-settings"' in client.get("/").get_data(as_text=True)


def consent_cookie(client):
    return decode_choice(client.get_cookie(CONSENT_COOKIE).value)


@pytest.mark.parametrize("form, expected", [
    ({"action": "accept"}, ["analytics", "marketing"]),
    ({"action": "reject", "purpose": ["analytics"]}, []),
    ({"action": "save", "purpose": ["marketing", "tracking-everything"]}, ["marketing"]),
])
def test_choice_is_recorded_as_proof(app, client, form, expected):
    response = post(client, "/privacy/consent", dict(form, next="/privacy"),
                    environ_base={"REMOTE_ADDR": "198.51.100.77"})
    assert response.status_code == 303 and response.headers["Location"] == "/privacy"
    record = ConsentRecord.get()
    assert record.categories == expected
    assert record.ip_anon == "198.51.100.0"
    assert record.policy_version == app.config["PRIVACY_POLICY_VERSION"]
    assert consent_cookie(client) == {"id": record.consent_id, "categories": expected,
                                      "version": record.policy_version}


def test_changing_the_choice_keeps_the_consent_id_and_adds_a_record(client):
    post(client, "/privacy/consent", {"action": "accept"})
    post(client, "/privacy/consent", {"action": "reject"}, htmx=True)
    first, second = ConsentRecord.select().order_by(ConsentRecord.id)
    assert first.consent_id == second.consent_id
    assert (first.categories, second.categories) == (["analytics", "marketing"], [])


def test_htmx_choice_removes_the_banner_in_place(client):
    response = post(client, "/privacy/consent", {"action": "reject"}, htmx=True)
    assert response.status_code == 200
    assert 'id="flashes" class="flashes" role="status" aria-live="polite" hx-swap-oob="true"' in response.get_data(as_text=True)


def test_banner_returns_when_the_policy_version_changes(app, client):
    post(client, "/privacy/consent", {"action": "accept"})
    app.config["PRIVACY_POLICY_VERSION"] = "2027-01-01"
    assert 'id="consent-banner"' in client.get("/").get_data(as_text=True)


def test_settings_page_works_without_javascript(client):
    page = client.get("/privacy/consent").get_data(as_text=True)
    assert "<html" in page and 'value="accept"' in page and 'value="reject"' in page and 'value="save"' in page
    fragment = client.get("/privacy/consent", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and 'id="consent-banner"' in fragment


def test_unknown_choice_is_refused_and_nothing_recorded(client):
    response = post(client, "/privacy/consent", {"action": "maybe"})
    assert response.status_code == 400 and "Choose accept all" in response.get_data(as_text=True)
    assert ConsentRecord.select().count() == 0
    assert client.get_cookie(CONSENT_COOKIE) is None


def test_no_cookie_but_the_strictly_necessary_ones_before_a_choice(client):
    client.get("/")
    client.get("/privacy")
    names = {cookie.key for cookie in client._cookies.values()}
    assert names <= {"session"}


def test_consent_redirect_cannot_leave_the_site(client):
    response = post(client, "/privacy/consent", {"action": "reject", "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"


def test_statement_texts_exist_for_every_language(app):
    templates = Path(app.template_folder) / "privacy"
    for lang in app.config["LANGUAGES"]:
        assert (templates / f"statement_{lang}.html").exists() and (templates / f"cookies_{lang}.html").exists()
