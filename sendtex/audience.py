"""Contact values: typed validation, where each value is stored (plain or sealed), reading them back.

Every path that writes contacts (forms, import, API) goes through FieldSet and write_values, so a value
is validated and encrypted the same way wherever it comes from.
"""
import datetime
import json
import operator
import re
from functools import reduce

from flask import current_app
from flask_babel import lazy_gettext as _l

from peewee import IntegrityError

from sendtex.crypto import BlindIndex, DecryptionError, FieldCipher, associated_data
from sendtex.db import db
from sendtex.models.accounts import Account
from sendtex.models.base import utcnow
from sendtex.models.contacts import BUILTIN_KEYS, Contact, Field, Subscription, Suppression
from sendtex.validation import Invalid, normalise_email

PLAIN_COLUMNS = ("email", "first_name", "last_name")
TEXT_MAX = 2000
TRUE_WORDS = {"1", "true", "yes", "y", "ja", "j", "on", "x", "waar"}
FALSE_WORDS = {"0", "false", "no", "n", "nee", "off", "", "onwaar"}
DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y", "%d/%m/%Y", "%Y/%m/%d", "%d.%m.%Y")
# The built-in fields' labels are stored in English; pages and messages show them in the reader's language.
BUILTIN_LABELS = {"email": _l("E-mail address"), "first_name": _l("First name"), "last_name": _l("Last name")}
# Messages never repeat the refused value: it may belong to an encrypted field and end up stored in a report.
# Addresses this strict pattern accepts are valid for email-validator as well; anything else
# (unicode, quoted local parts, odd domains) takes the full check. Imports of millions need the fast path.
_SIMPLE_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)


def fast_normalise_email(value):
    """normalise_email with a fast path for plain ASCII addresses."""
    candidate = value.strip().lower()
    if len(candidate) <= 254 and _SIMPLE_EMAIL.fullmatch(candidate) and len(candidate.split("@")[0]) <= 64:
        return candidate
    return normalise_email(value)


def field_label(field):
    """The label to show for a field: built-in ones in the reader's language."""
    return BUILTIN_LABELS.get(field.key, field.label) if field.builtin else field.label


def coerce(field, raw):
    """The typed value of raw text for a field (None when empty); Invalid with a reason otherwise."""
    text = "" if raw is None else str(raw).strip()
    if field.key == "email":
        return fast_normalise_email(text)
    if text == "" and field.type != "boolean":
        if field.required:
            raise Invalid(_l("%(label)s is required.", label=field_label(field)))
        return None
    if len(text) > TEXT_MAX:
        raise Invalid(_l("%(label)s is longer than %(n)d characters.", label=field_label(field), n=TEXT_MAX))
    return _COERCERS[field.type](field, text)


def _text(field, text):
    return text


def _number(field, text):
    try:
        number = float(text.replace(",", ".")) if re.fullmatch(r"[+-]?\d+([.,]\d+)?", text) else float("nan")
    except ValueError:
        number = float("nan")
    if number != number:
        raise Invalid(_l("%(label)s must be a number.", label=field_label(field)))
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _date(field, text):
    for pattern in DATE_FORMATS:
        try:
            return datetime.datetime.strptime(text, pattern).date().isoformat()
        except ValueError:
            continue
    raise Invalid(_l("%(label)s must be a date like 2026-12-31.", label=field_label(field)))


def _boolean(field, text):
    word = text.lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise Invalid(_l("%(label)s must be yes or no.", label=field_label(field)))


def _choice(field, text):
    for option in field.choices:
        if option.lower() == text.lower():
            return option
    raise Invalid(_l("%(label)s must be one of %(options)s.", label=field_label(field),
                     options=", ".join(field.choices)))


_COERCERS = {"text": _text, "number": _number, "date": _date, "boolean": _boolean, "choice": _choice}


def cipher():
    """The app's field cipher over the configured key ring."""
    extensions = current_app.extensions
    if "sendtex.cipher" not in extensions:
        extensions["sendtex.cipher"] = FieldCipher(current_app.config["FIELD_KEYS"])
    return extensions["sendtex.cipher"]


def blind_index():
    """The app's blind index over the configured key."""
    extensions = current_app.extensions
    if "sendtex.blind_index" not in extensions:
        extensions["sendtex.blind_index"] = BlindIndex(current_app.config["BLIND_INDEX_KEY"])
    return extensions["sendtex.blind_index"]


class FieldSet:
    """The fields of one account, loaded once for a request or a task."""

    def __init__(self, account_id):
        self.account_id = account_id
        self.fields = list(Field.ordered(account_id))
        if sum(field.builtin for field in self.fields) < len(BUILTIN_KEYS):
            Field.ensure_builtins(account_id)
            self.fields = list(Field.ordered(account_id))
        self.by_key = {field.key: field for field in self.fields}

    @property
    def custom(self):
        return [field for field in self.fields if not field.builtin]

    def is_encrypted(self, key):
        return self.by_key[key].encrypted

    def coerce_all(self, raw_values, partial=False):
        """Typed values for {key: raw text}; Invalid errors collected as {key: message}."""
        values, errors = {}, {}
        for field in self.fields:
            if field.key not in raw_values:
                if not partial and field.required:
                    errors[field.key] = str(_l("%(label)s is required.", label=field_label(field)))
                continue
            try:
                values[field.key] = coerce(field, raw_values[field.key])
            except Invalid as exc:
                errors[field.key] = str(exc)
        return values, errors


def email_digest(account_id, email):
    """The blind index of a normalised address in an account."""
    return blind_index().email(account_id, email)


class UndecryptableValue(DecryptionError):
    """A stored value cannot be decrypted (its key is missing from the ring); it is never overwritten."""

    def __init__(self, key):
        super().__init__(f"the stored value of {key!r} cannot be decrypted, so it was not changed")
        self.key = key


def _refuse_to_overwrite_undecryptable(token, aad, key):
    # Overwriting (or clearing) a value nobody can read any more would destroy it for good once its key returns.
    try:
        cipher().open(token, aad)
    except DecryptionError as exc:
        raise UndecryptableValue(key) from exc


def storage_columns(account_id, uid, values, fields, sealed=None, attributes=None, digest=None):
    """The contact columns that hold typed values: sealed when their field is encrypted, plain otherwise."""
    seal = cipher().seal
    sealed, attributes = dict(sealed or {}), dict(attributes or {})
    columns = {}
    for key, value in values.items():
        if key in sealed:
            _refuse_to_overwrite_undecryptable(sealed[key], associated_data(account_id, key, uid), key)
        if key == "email":
            columns["email_digest"] = digest or email_digest(account_id, value)
        if fields.by_key[key].encrypted and value is not None:
            sealed[key] = seal(json.dumps(value), associated_data(account_id, key, uid))
            value = None
        else:
            sealed.pop(key, None)
        if key in PLAIN_COLUMNS:
            columns[key] = value
        elif value is None:
            attributes.pop(key, None)
        else:
            attributes[key] = value
    columns["sealed"], columns["attributes"] = sealed, attributes
    return columns


def write_values(contact, values, fields):
    """Put typed values on the contact: sealed when their field is encrypted, plain otherwise."""
    columns = storage_columns(fields.account_id, contact.uid, values, fields, contact.sealed, contact.attributes)
    for name, value in columns.items():
        setattr(contact, name, value)


def read_values(contact, fields):
    """Every field value of a contact, decrypted in memory, and {key: reason} for those that failed."""
    values, errors = {}, {}
    open_ = cipher().open
    for field in fields.fields:
        key = field.key
        token = (contact.sealed or {}).get(key)
        if token is not None:
            try:
                values[key] = json.loads(open_(token, associated_data(fields.account_id, key, contact.uid)))
            except DecryptionError as exc:
                values[key], errors[key] = None, str(exc)
        elif key in PLAIN_COLUMNS:
            values[key] = getattr(contact, key)
        else:
            values[key] = (contact.attributes or {}).get(key)
    return values, errors


def display(value):
    """A typed value as text for a page or a CSV cell."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)



class DuplicateContact(Exception):
    """The account already has a contact with this e-mail address."""


class SuppressedAddress(Exception):
    """The address's subscriber asked to be erased from the account: only they can add it again."""


SUPPRESSED = _l("The person with this address asked to have their data erased: this account cannot add "
                "it again (they can sign up again themselves).")


def find_by_email(account_id, email):
    """The account's contact with this address (encrypted or not), or None."""
    try:
        normalised = fast_normalise_email(email)
    except Invalid:
        return None
    digest = email_digest(account_id, normalised)
    return Contact.for_account(account_id).where(Contact.email_digest == digest).first()


def digests_everywhere(email):
    """[(account id, the address's blind index there)] for every account: each account has its own index."""
    try:
        normalised = fast_normalise_email(email)
    except Invalid:
        return []
    return [(account_id, email_digest(account_id, normalised)) for (account_id,) in Account.select(Account.id).tuples()]


def contacts_everywhere(email):
    """The contacts with this address in every account."""
    pairs = digests_everywhere(email)
    found = []
    for start in range(0, len(pairs), 400):
        condition = reduce(operator.or_, [(Contact.account == account_id) & (Contact.email_digest == digest)
                                          for account_id, digest in pairs[start:start + 400]])
        found.extend(Contact.select().where(condition).order_by(Contact.account, Contact.id))
    return found


def create_contact(fields, values, list_ids=(), subscription_status="subscribed", status="active",
                   by_subscriber=False):
    """Create a contact from typed values and subscribe it; DuplicateContact if the address exists,
    SuppressedAddress if its subscriber asked to be erased, unless the subscriber is signing up again
    themselves (by_subscriber; their confirmation lifts the suppression)."""
    contact = Contact(account=fields.account_id, status=status)
    write_values(contact, values, fields)
    if not by_subscriber and Suppression.among(fields.account_id, [contact.email_digest]):
        raise SuppressedAddress(values.get("email"))
    try:
        with db.atomic():
            contact.save(force_insert=True)
            set_memberships([contact.id], list_ids, subscription_status)
    except IntegrityError as exc:
        raise DuplicateContact(values.get("email")) from exc
    return contact


def update_contact(contact, fields, values):
    """Store changed typed values; DuplicateContact if the new address belongs to another contact,
    SuppressedAddress if its subscriber asked to be erased."""
    digest = contact.email_digest
    write_values(contact, values, fields)
    if contact.email_digest != digest and Suppression.among(fields.account_id, [contact.email_digest]):
        raise SuppressedAddress(values.get("email"))
    contact.updated_at = utcnow()
    try:
        with db.atomic():
            contact.save()
    except IntegrityError as exc:
        raise DuplicateContact(values.get("email")) from exc
    return contact


def end_memberships(contact_ids, list_ids=None, now=None):
    """Unsubscribe the contacts from these lists (from every list without list_ids); how many memberships
    changed (those already unsubscribed keep their date)."""
    now = now or utcnow()
    query = Subscription.update(status="unsubscribed", updated_at=now, unsubscribed_at=now).where(
        Subscription.contact.in_(list(contact_ids)) & (Subscription.status != "unsubscribed"))
    return (query.where(Subscription.mailing_list.in_(list(list_ids))) if list_ids is not None else query).execute()


def unsubscribe_everywhere(contact_ids, now=None):
    """Unsubscribe the contacts from every list and stop all their mail; how many memberships and contacts
    changed (a bounced, complained or blocklisted contact keeps that stronger status)."""
    now = now or utcnow()
    changed = end_memberships(contact_ids, now=now)
    return changed + Contact.update(status="unsubscribed", updated_at=now).where(
        Contact.id.in_(list(contact_ids)) & (Contact.status == "active")).execute()


def set_memberships(contact_ids, list_ids, status):
    """Put contacts on lists with a status (or change the status of existing memberships)."""
    now = utcnow()
    dates = {"confirmed_at": now if status == "subscribed" else None,
             "unsubscribed_at": now if status == "unsubscribed" else None}
    rows = [dict(contact=contact_id, mailing_list=list_id, status=status, created_at=now, updated_at=now, **dates)
            for contact_id in contact_ids for list_id in list_ids]
    # An existing membership keeps its dates but for the change made now (statistics count by these dates).
    changed = {Subscription.status: status, Subscription.updated_at: now}
    if status == "subscribed":
        changed.update({Subscription.confirmed_at: now, Subscription.unsubscribed_at: None})
    elif status == "unsubscribed":
        changed[Subscription.unsubscribed_at] = now
    for start in range(0, len(rows), 500):
        (Subscription.insert_many(rows[start:start + 500])
         .on_conflict(conflict_target=[Subscription.contact, Subscription.mailing_list], update=changed)
         .execute())
