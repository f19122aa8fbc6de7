"""The cookie-consent choice: which cookies exist, reading the visitor's choice, recording a new one."""
import json

from flask import current_app, request
from flask_babel import lazy_gettext as _l

from sendtex.anon import anonymise_ip
from sendtex.models.privacy import CONSENT_PURPOSES, ConsentRecord

CONSENT_COOKIE = "sendtex_consent"
CONSENT_MAX_AGE = 180 * 24 * 3600

# Every cookie Sendtex can set. The cookie statement lists these, and the browser tests check
# that nothing outside the strictly necessary ones appears before consent.
COOKIES = [
    {"name": "session", "category": "necessary", "lifetime": _l("until you close the browser or log out"),
     "purpose": _l("Keeps you logged in, protects forms against forgery, remembers the language you chose.")},
    {"name": CONSENT_COOKIE, "category": "necessary", "lifetime": _l("6 months"),
     "purpose": _l("Remembers your cookie choice so we do not ask again on every page.")},
]
NECESSARY_COOKIES = {cookie["name"] for cookie in COOKIES if cookie["category"] == "necessary"}

PURPOSE_LABELS = {
    "analytics": _l("Analytics: measure how the site is used, beyond the anonymous counts we keep without cookies."),
    "marketing": _l("Marketing: show content from or measure campaigns of partners."),
}


def current_choice():
    """The visitor's recorded choice {id, categories, version}, or None if they have not chosen (or the policy changed)."""
    try:
        choice = json.loads(request.cookies.get(CONSENT_COOKIE, ""))
    except ValueError:
        return None
    if not isinstance(choice, dict) or choice.get("version") != current_app.config["PRIVACY_POLICY_VERSION"]:
        return None
    return choice


def consent_given(purpose):
    """True if the visitor agreed to cookies for this purpose."""
    choice = current_choice()
    return bool(choice and purpose in choice.get("categories", []))


def categories_for(action, ticked):
    """The purposes agreed to by a banner button: accept, reject, or save the ticked boxes."""
    if action == "accept":
        return list(CONSENT_PURPOSES)
    if action == "reject":
        return []
    return [purpose for purpose in ticked if purpose in CONSENT_PURPOSES]


def record_choice(response, categories):
    """Store the proof of the choice and remember it in the consent cookie."""
    previous = current_choice() or {}
    record = ConsentRecord.record(
        categories, current_app.config["PRIVACY_POLICY_VERSION"], anonymise_ip(request.remote_addr), previous.get("id")
    )
    value = json.dumps({"id": record.consent_id, "categories": record.categories, "version": record.policy_version},
                       separators=(",", ":"))
    response.set_cookie(CONSENT_COOKIE, value, max_age=CONSENT_MAX_AGE, httponly=True, samesite="Lax",
                        secure=request.is_secure)
    return record
