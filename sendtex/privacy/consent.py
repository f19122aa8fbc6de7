"""The cookie-consent choice: which cookies exist, reading the visitor's choice, recording a new one."""
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


def encode_choice(consent_id, categories, version):
    """The consent cookie's value: 'id|purpose+purpose|version' (only characters cookies allow unquoted)."""
    return "|".join([consent_id, "+".join(categories), version])


def decode_choice(value):
    """The {id, categories, version} in a consent cookie value, or None if it is malformed."""
    parts = (value or "").split("|")
    if len(parts) != 3 or not parts[0]:
        return None
    categories = [purpose for purpose in parts[1].split("+") if purpose in CONSENT_PURPOSES]
    return {"id": parts[0], "categories": categories, "version": parts[2]}


def current_choice():
    """The visitor's recorded choice {id, categories, version}, or None if they have not chosen (or the policy changed)."""
    choice = decode_choice(request.cookies.get(CONSENT_COOKIE))
    if choice is None or choice["version"] != current_app.config["PRIVACY_POLICY_VERSION"]:
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
    # Also after a policy change, so one visitor's choices under every version of the statement link up.
    previous = decode_choice(request.cookies.get(CONSENT_COOKIE)) or {}
    record = ConsentRecord.record(
        categories, current_app.config["PRIVACY_POLICY_VERSION"], anonymise_ip(request.remote_addr), previous.get("id")
    )
    value = encode_choice(record.consent_id, record.categories, record.policy_version)
    response.set_cookie(CONSENT_COOKIE, value, max_age=CONSENT_MAX_AGE, httponly=True, samesite="Lax",
                        secure=request.is_secure)
    return record
