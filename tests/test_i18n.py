"""Translations: complete catalogs, the language a visitor sees, the language switch, mail in the user's language."""
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from sendtex.mail.transport import read_from_outbox, readable_text
from sendtex.models.accounts import User
from sendtex.models.mail import OutboxMessage
from tests.conftest import login, make_user, post

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "sendtex" / "translations"
LANGUAGES = ("en", "nl")


def catalog(lang):
    with open(TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po", "rb") as f:
        return read_po(f, locale=lang)


@pytest.fixture(scope="module")
def source_messages(tmp_path_factory):
    """Every message in the source, extracted exactly as `make extract-messages` does (into a temp .pot)."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    (line,) = [line for line in (ROOT / "Makefile").read_text().splitlines() if "pybabel extract" in line]
    args = shlex.split(line)
    args = args[args.index("extract"):]
    args[args.index("-o") + 1] = str(pot)
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "-q", *args], cwd=ROOT, check=True)
    with open(pot, "rb") as f:
        messages = [message for message in read_po(f) if message.id]
    assert len(messages) > 100, "extraction found suspiciously few messages"
    return messages


def _translated(message):
    strings = message.string if isinstance(message.string, (list, tuple)) else [message.string]
    return bool(strings) and all(strings)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_translates_every_ui_string(source_messages, lang):
    translations = catalog(lang)
    untranslated = [
        message.id for message in source_messages
        if translations.get(message.id) is None
        or translations.get(message.id).fuzzy
        or not _translated(translations.get(message.id))
    ]
    assert not untranslated, (
        f"{len(untranslated)} UI string(s) lack a {lang} translation; run `make extract-messages`, "
        f"translate them in sendtex/translations/{lang}/LC_MESSAGES/messages.po, then `make translations`:\n"
        + "\n".join(f"  {msgid!r}" for msgid in untranslated)
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_catalog_keeps_every_placeholder(lang):
    problems = [(message.id, [str(error) for error in errors]) for message, errors in catalog(lang).check()]
    assert not problems, f"{lang} translations with broken placeholders: {problems}"


def test_english_catalog_is_the_source_text():
    for message in catalog("en"):
        if message.id:
            expected = list(message.id) if message.pluralizable else message.id
            actual = list(message.string) if message.pluralizable else message.string
            assert actual == expected, message.id


@pytest.mark.parametrize("lang", LANGUAGES)
def test_compiled_catalog_is_not_older_than_its_source(lang):
    po = TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    fresh = mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime
    assert fresh, f"{mo.relative_to(ROOT)} is missing or older than its .po: run `make translations`"


# The language a visitor sees.

def page(client, url, **headers):
    return client.get(url, headers=headers).get_data(as_text=True)


@pytest.mark.parametrize("accept", ["nl", "nl-NL", "nl-BE,fr;q=0.5", "fr, nl;q=0.3"])
def test_dutch_browser_gets_dutch_pages(client, accept):
    login_page = page(client, "/login", **{"Accept-Language": accept})
    assert '<html lang="nl">' in login_page
    assert "Inloggen bij Sendtex" in login_page and "Wachtwoord vergeten?" in login_page
    assert "Privacyverklaring" in login_page and "Cookie-instellingen" in login_page and "Taal" in login_page
    assert "Log in to Sendtex" not in login_page


@pytest.mark.parametrize("accept", ["fr", "de-DE,fr;q=0.8", ""])
def test_unsupported_or_missing_language_falls_back_to_english(client, accept):
    login_page = page(client, "/login", **({"Accept-Language": accept} if accept else {}))
    assert '<html lang="en">' in login_page
    assert "Log in to Sendtex" in login_page and "Privacy statement" in login_page
    assert "Inloggen" not in login_page


def test_dutch_consent_banner(client):
    home = page(client, "/", **{"Accept-Language": "nl"})
    for text in ("Alles accepteren", "Alles weigeren", "Kiezen", "Cookieverklaring"):
        assert text in home


def test_form_errors_and_flashes_follow_the_language(client):
    response = post(client, "/login", {"email": "", "password": ""}, headers={"Accept-Language": "nl"})
    assert response.status_code == 422
    assert "Dit veld is vereist." in response.get_data(as_text=True)  # WTForms' own messages too
    redirect = client.get("/app", headers={"Accept-Language": "nl"})
    assert redirect.status_code == 302
    assert "Log in om deze pagina te bekijken." in page(client, redirect.headers["Location"], **{"Accept-Language": "nl"})


def test_dutch_dashboard_uses_the_dutch_plural(owner_client):
    dashboard = page(owner_client, "/app", **{"Accept-Language": "nl"})
    assert "Overzicht" in dashboard and "Uitloggen" in dashboard and "Postvak uit" in dashboard
    assert "1 persoon heeft toegang." in dashboard


# The footer language switch.

def test_switch_makes_later_pages_dutch_for_an_anonymous_visitor(client):
    response = post(client, "/language", {"lang": "nl", "next": "/login?next=%2Fapp"})
    assert response.status_code == 303 and response.headers["Location"] == "/login?next=%2Fapp"
    login_page = page(client, "/login")
    assert '<html lang="nl">' in login_page and "Inloggen" in login_page
    assert "De taal is gewijzigd." in login_page
    # The session's choice beats the browser's.
    assert '<html lang="nl">' in page(client, "/", **{"Accept-Language": "en"})


def test_switch_back_to_english(client):
    post(client, "/language", {"lang": "nl", "next": "/"})
    post(client, "/language", {"lang": "en", "next": "/"})
    assert '<html lang="en">' in page(client, "/", **{"Accept-Language": "nl"})


def test_htmx_switch_refreshes_the_page(client):
    response = post(client, "/language", {"lang": "nl", "next": "/"}, htmx=True)
    assert response.status_code == 200 and response.headers["HX-Refresh"] == "true"
    assert '<html lang="nl">' in page(client, "/")


def test_switch_never_redirects_off_site(client):
    response = post(client, "/language", {"lang": "nl", "next": "https://evil.example/"})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_switch_is_stored_on_the_user_and_follows_them_to_a_new_session(app, owner_client, owner):
    response = post(owner_client, "/language", {"lang": "nl", "next": "/app"})
    assert response.status_code == 303 and response.headers["Location"] == "/app"
    assert User.get_by_id(owner.id).language == "nl"
    assert "Overzicht" in page(owner_client, "/app")

    other_device = app.test_client()
    login(other_device, owner)
    dashboard = page(other_device, "/app", **{"Accept-Language": "en"})
    assert '<html lang="nl">' in dashboard and "Overzicht" in dashboard and "Uitloggen" in dashboard


def test_users_language_beats_the_browser_and_an_earlier_session_choice(app, client):
    user = make_user(name="Nina")
    user.language = "nl"
    user.save()
    post(client, "/language", {"lang": "en", "next": "/"})
    login(client, user)
    assert '<html lang="nl">' in page(client, "/app", **{"Accept-Language": "en"})


# Unknown languages.

@pytest.mark.parametrize("htmx", [False, True])
def test_unknown_language_is_refused_and_changes_nothing(client, htmx):
    post(client, "/language", {"lang": "nl", "next": "/"})
    response = post(client, "/language", {"lang": "xx", "next": "/"}, htmx=htmx)
    assert response.status_code == 400
    assert "Deze taal is niet beschikbaar." in response.get_data(as_text=True)
    assert '<html lang="nl">' in page(client, "/")


def test_unknown_language_message_in_english(client):
    response = post(client, "/language", {"lang": "xx"})
    assert response.status_code == 400
    assert "This language is not available." in response.get_data(as_text=True)
    assert '<html lang="en">' in page(client, "/")


def test_unknown_language_leaves_the_users_setting_alone(owner_client, owner):
    response = post(owner_client, "/language", {"lang": "../../etc", "next": "/app"})
    assert response.status_code == 400
    assert User.get_by_id(owner.id).language is None


# Mail in the user's language.

def outbox_mail(app, recipient):
    entry = OutboxMessage.get(OutboxMessage.recipient == recipient)
    with app.app_context():
        return entry.subject, readable_text(read_from_outbox(entry))


def test_dutch_user_gets_a_dutch_password_reset_mail(app, client):
    user = make_user(email="nina@example.com")
    user.language = "nl"
    user.save()
    response = post(client, "/reset", {"email": "nina@example.com"})
    assert response.status_code == 303
    subject, text = outbox_mail(app, "nina@example.com")
    assert subject == "Uw Sendtex-wachtwoord opnieuw instellen"
    minutes = app.config["PASSWORD_RESET_MAX_AGE"] // 60
    assert "Iemand heeft gevraagd het Sendtex-wachtwoord van nina@example.com opnieuw in te stellen." in text
    assert f"({minutes} minuten geldig)" in text and f"{app.config['BASE_URL']}/reset/" in text
    assert "uw wachtwoord blijft ongewijzigd" in text and "%(" not in text


def test_user_without_a_language_gets_the_default_language(app, client):
    make_user(email="eve@example.com")
    post(client, "/reset", {"email": "eve@example.com"}, headers={"Accept-Language": "nl"})
    subject, text = outbox_mail(app, "eve@example.com")
    assert subject == "Reset your Sendtex password" and "Choose a new password here" in text


def test_invitation_mail_is_in_the_inviters_language(app, owner_client):
    post(owner_client, "/language", {"lang": "nl", "next": "/team"})
    response = post(owner_client, "/team/invitations", {"email": "piet@example.com", "role": "member"})
    assert response.status_code == 303
    assert "Uitnodiging verstuurd naar piet@example.com." in owner_client.get("/team").get_data(as_text=True)
    subject, text = outbox_mail(app, "piet@example.com")
    assert subject == "U bent uitgenodigd voor Sendtex"
    assert "nodigt u uit voor het Sendtex-account Acme." in text and "%(" not in text
