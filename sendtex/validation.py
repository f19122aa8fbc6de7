"""Validation of values that arrive from people: e-mail, passwords, VAT numbers, phones."""
import re

from email_validator import EmailNotValidError, validate_email
from flask_babel import lazy_gettext as _l

PASSWORD_MIN, PASSWORD_MAX = 10, 128
COMMON_PASSWORDS = {
    "password", "password1", "password12", "password123", "passw0rd", "qwerty", "qwertyuiop",
    "1234567890", "0123456789", "123456789", "12345678910", "iloveyou", "letmein123",
    "welcome123", "admin12345", "sendtex123", "wachtwoord", "wachtwoord1", "azertyuiop",
}

# Format of each EU member state's VAT number after its two-letter prefix (plus XI, Northern Ireland).
VAT_FORMATS = {
    "AT": r"U\d{8}", "BE": r"[01]\d{9}", "BG": r"\d{9,10}", "CY": r"\d{8}[A-Z]", "CZ": r"\d{8,10}",
    "DE": r"\d{9}", "DK": r"\d{8}", "EE": r"\d{9}", "EL": r"\d{9}", "ES": r"[A-Z0-9]\d{7}[A-Z0-9]",
    "FI": r"\d{8}", "FR": r"[A-HJ-NP-Z0-9]{2}\d{9}", "HR": r"\d{11}", "HU": r"\d{8}", "IE": r"\d[A-Z0-9+*]\d{5}[A-Z]{1,2}",
    "IT": r"\d{11}", "LT": r"\d{9}|\d{12}", "LU": r"\d{8}", "LV": r"\d{11}", "MT": r"\d{8}",
    "NL": r"\d{9}B\d{2}", "PL": r"\d{10}", "PT": r"\d{9}", "RO": r"[1-9]\d{1,9}", "SE": r"\d{12}",
    "SI": r"\d{8}", "SK": r"\d{10}", "XI": r"\d{9}|\d{12}|GD\d{3}|HA\d{3}",
}


class Invalid(ValueError):
    """A value a person typed is not acceptable; the message says why."""


def normalise_email(value):
    """The address in normalised form (lower case), or Invalid with the reason."""
    value = (value or "").strip()
    if len(value) > 254:
        raise Invalid(_l("An e-mail address has at most 254 characters."))
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as exc:
        raise Invalid(_l("This is not a valid e-mail address: %(reason)s", reason=str(exc))) from exc
    return result.normalized.lower()


def check_password(password, email=""):
    """Raise Invalid if the password is too weak or too long."""
    if len(password) < PASSWORD_MIN:
        raise Invalid(_l("Use at least %(n)d characters.", n=PASSWORD_MIN))
    if len(password) > PASSWORD_MAX:
        raise Invalid(_l("Use at most %(n)d characters.", n=PASSWORD_MAX))
    lowered = password.lower()
    if lowered in COMMON_PASSWORDS or len(set(password)) < 4:
        raise Invalid(_l("This password is too easy to guess."))
    if email and email.split("@")[0].lower() in lowered and len(email.split("@")[0]) > 3:
        raise Invalid(_l("Do not use your e-mail address in your password."))


def normalise_vat(value):
    """The VAT number without spaces or dots, upper case; Invalid if its format or check digits are wrong."""
    number = re.sub(r"[\s.\-]", "", value or "").upper()
    if not number:
        return ""
    country, rest = number[:2], number[2:]
    if country == "GR":
        country = "EL"
    pattern = VAT_FORMATS.get(country)
    if pattern is None:
        raise Invalid(_l("A VAT number starts with the two-letter code of an EU country, like BE or NL."))
    if not re.fullmatch(pattern, rest):
        raise Invalid(_l("This is not the format of a %(country)s VAT number.", country=country))
    if country == "BE" and not _belgian_check_ok(rest):
        raise Invalid(_l("The check digits of this Belgian VAT number are wrong."))
    return country + rest


def _belgian_check_ok(digits):
    return 97 - int(digits[:8]) % 97 == int(digits[8:])


def normalise_phone(value):
    """The phone number with single spaces; Invalid unless it has 6 to 15 digits and an optional +."""
    phone = " ".join((value or "").split())
    if not phone:
        return ""
    if not re.fullmatch(r"\+?[0-9 ()/.-]+", phone) or not 6 <= len(re.sub(r"\D", "", phone)) <= 15:
        raise Invalid(_l("Enter a phone number of 6 to 15 digits, optionally starting with +."))
    return phone
