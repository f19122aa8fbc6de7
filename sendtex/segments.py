"""Segments: conditions on contact fields, list membership and contact status, compiled to parameterised queries.

A condition is {"field": key, "op": op, "value": ...}; "list" and "status" are pseudo-fields for membership
({"field": "list", "op": "in", "value": list_id, "status": optional subscription status}) and the contact's
status. Operators come from an allow-list per field type, field keys from the account's own fields, and
every value reaches the database as a parameter.

Conditions on the e-mail address that compare it exactly are kept as its blind-index digest, so a saved
segment never holds an address in plain text (the e-mail field may be encrypted now or later).
"""
import functools
import operator
import re

from flask_babel import lazy_gettext as _l
from peewee import OP, SQL, Expression, NodeList, Value, fn

from sendtex import audience
from sendtex.db import JSON_KEY, json_value
from sendtex.models.contacts import CONTACT_STATUSES, SUBSCRIPTION_STATUSES, Contact, MailingList, Subscription
from sendtex.validation import Invalid

MATCHES = ("all", "any")
MAX_CONDITIONS = 20
OPS = {
    "text": ("eq", "neq", "contains", "starts_with", "is_set", "is_empty"),
    "number": ("eq", "neq", "gt", "lt", "is_set", "is_empty"),
    "date": ("eq", "before", "after", "is_set", "is_empty"),
    "boolean": ("is_true", "is_false"),
    "choice": ("eq", "neq", "is_set", "is_empty"),
    "list": ("in", "not_in"),
    "status": ("eq", "neq"),
}
ENCRYPTED_EMAIL_OPS = ("eq", "neq")
VALUELESS_OPS = ("is_set", "is_empty", "is_true", "is_false")
PSEUDO_FIELDS = ("list", "status")
DIGEST = re.compile(r"[0-9a-f]{32}")
OP_LABELS = {
    "eq": _l("equals"), "neq": _l("does not equal"), "contains": _l("contains"), "starts_with": _l("starts with"),
    "gt": _l("is greater than"), "lt": _l("is less than"), "before": _l("is before"), "after": _l("is after"),
    "is_set": _l("is set"), "is_empty": _l("is empty"), "is_true": _l("is yes"), "is_false": _l("is no"),
    "in": _l("is on the list"), "not_in": _l("is not on the list"),
}
CONTACT_STATUS_LABELS = {
    "active": _l("active"), "unsubscribed": _l("unsubscribed from everything"), "bounced": _l("bounced"),
    "complained": _l("complained"), "blocklisted": _l("blocklisted"),
}
SUBSCRIPTION_STATUS_LABELS = {
    "unconfirmed": _l("unconfirmed"), "subscribed": _l("subscribed"), "unsubscribed": _l("unsubscribed"),
}
# A JSON value is cast so comparisons are numeric or boolean on PostgreSQL too.
JSON_CASTS = {"number": "number", "boolean": "boolean"}


class InvalidSegment(ValueError):
    """Conditions that cannot be compiled; errors maps a condition's position (or "match") to a message.

    The messages are lazy (a task has no request to pick a language from). Pass them through str() before
    putting them in a page: Jinja takes a lazy string for safe HTML, and messages quote what was typed.
    """

    def __init__(self, errors):
        super().__init__(errors)
        self.errors = errors

    def __str__(self):
        return "; ".join(str(message) for message in self.errors.values())


def ops_for(field):
    """The operators a field allows: by its type; when encrypted only exact e-mail matches, else none."""
    if field.encrypted:
        return ENCRYPTED_EMAIL_OPS if field.key == "email" else ()
    if not field.builtin and not JSON_KEY.fullmatch(field.key):
        return ()
    return OPS.get(field.type, ())


def validate(conditions, account_id):
    """Check conditions against the account's fields and lists: (clean conditions, {position: message})."""
    clean, errors = _Checker(account_id).check(conditions)
    return clean, {position: str(message) for position, message in errors.items()}


def compile_conditions(match, conditions, account_id):
    """A Peewee expression selecting the account's contacts that match; InvalidSegment if anything is invalid."""
    checker = _Checker(account_id)
    clean, errors = checker.check(conditions)
    if match not in MATCHES:
        errors["match"] = _l("Choose whether all or any of the conditions must match.")
    if errors:
        raise InvalidSegment(errors)
    scope = Contact.account == account_id
    if not clean:
        return scope
    combine = operator.and_ if match == "all" else operator.or_
    return scope & functools.reduce(combine, [_expression(condition, checker.fields) for condition in clean])


def contacts_in_segment(segment, account_id):
    """A query selecting Contact.id of the segment's contacts; none at all if the segment is no longer valid."""
    # Fail closed: another account's segment, or a condition whose field was since deleted or encrypted,
    # selects nobody; it must never widen the audience. (A contact id is never NULL.)
    where = Contact.id.is_null()
    if segment.account_id == account_id:
        try:
            where = compile_conditions(segment.match, segment.conditions, account_id)
        except InvalidSegment:
            pass
    return Contact.select(Contact.id).where(where)


def count(match, conditions, account_id):
    """How many of the account's contacts match; InvalidSegment if the conditions are invalid."""
    where = compile_conditions(match, conditions, account_id)
    return Contact.select(fn.COUNT(Contact.id)).where(where).scalar()


def problems(segment, account_id):
    """Why a saved segment cannot be used any more ({position or "match": message}); empty when it can."""
    try:
        compile_conditions(segment.match, segment.conditions, account_id)
    except InvalidSegment as exc:
        return {key: str(message) for key, message in exc.errors.items()}
    return {}


class _Checker:
    """Validates conditions of one account, loading its fields once."""

    def __init__(self, account_id):
        self.account_id = account_id
        self.fields = audience.FieldSet(account_id)

    def check(self, conditions):
        if not isinstance(conditions, list):
            return [], {0: _l("The conditions must be a list.")}
        clean, errors = [], {}
        for position, condition in enumerate(conditions):
            try:
                if position >= MAX_CONDITIONS:
                    raise Invalid(_l("A segment has at most %(n)d conditions.", n=MAX_CONDITIONS))
                clean.append(self.condition(condition))
            except Invalid as exc:
                # Messages stay lazy: tasks have no request to choose a language from.
                errors[position] = exc.args[0]
        return clean, errors

    def condition(self, condition):
        if not isinstance(condition, dict) or not isinstance(condition.get("field"), str) \
                or not isinstance(condition.get("op"), str):
            raise Invalid(_l("This condition is not understood: it needs a field and a comparison."))
        key, op = condition["field"], condition["op"]
        if key == "list":
            return self.membership(op, condition.get("value"), condition.get("status"))
        if key == "status":
            return self.status(op, condition.get("value"))
        field = self.fields.by_key.get(key)
        if field is None:
            raise Invalid(_l("There is no field “%(key)s”.", key=key[:40]))
        allowed = ops_for(field)
        if not allowed and field.encrypted:
            raise Invalid(_l("%(label)s is encrypted, so it cannot be used in a segment.",
                             label=audience.field_label(field)))
        if not allowed:
            raise Invalid(_l("%(label)s cannot be used in a segment.", label=audience.field_label(field)))
        if op not in allowed:
            raise Invalid(_l("“%(op)s” is not a way to compare %(label)s.", op=OP_LABELS.get(op, op[:20]),
                             label=audience.field_label(field)))
        if op in VALUELESS_OPS:
            return {"field": key, "op": op}
        if key == "email" and op in ENCRYPTED_EMAIL_OPS:
            return {"field": key, "op": op, "digest": self.email_digest(condition)}
        return {"field": key, "op": op, "value": self.value(field, op, condition.get("value"))}

    def value(self, field, op, raw):
        if raw is None or isinstance(raw, (bool, list, dict)) or str(raw).strip() == "":
            raise Invalid(_l("Enter a value to compare %(label)s with.", label=audience.field_label(field)))
        if op in ("contains", "starts_with"):
            text = str(raw).strip()
            if len(text) > audience.TEXT_MAX:
                raise Invalid(_l("%(label)s is longer than %(n)d characters.", label=audience.field_label(field),
                                 n=audience.TEXT_MAX))
            return text.lower() if field.key == "email" else text
        return audience.coerce(field, raw)

    def email_digest(self, condition):
        raw = condition.get("value")
        if (raw is None or str(raw).strip() == "") and isinstance(condition.get("digest"), str) \
                and DIGEST.fullmatch(condition["digest"]):
            return condition["digest"]
        if not isinstance(raw, str) or raw.strip() == "":
            raise Invalid(_l("Enter the e-mail address to compare with."))
        return audience.email_digest(self.account_id, audience.fast_normalise_email(raw))

    def membership(self, op, raw_id, status):
        if op not in OPS["list"]:
            raise Invalid(_l("Choose whether contacts are on the list or not."))
        if isinstance(raw_id, str) and re.fullmatch(r"[0-9]{1,19}", raw_id.strip()):
            list_id = int(raw_id)
        elif isinstance(raw_id, int) and not isinstance(raw_id, bool):
            list_id = raw_id
        else:
            raise Invalid(_l("Choose a list."))
        owned = MailingList.for_account(self.account_id).where(MailingList.id == list_id)
        if not 0 < list_id < 2**63 or not owned.exists():
            raise Invalid(_l("This list does not exist (any more)."))
        if status in (None, ""):
            return {"field": "list", "op": op, "value": list_id}
        if status not in SUBSCRIPTION_STATUSES:
            raise Invalid(_l("Choose a subscription status: unconfirmed, subscribed or unsubscribed."))
        return {"field": "list", "op": op, "value": list_id, "status": status}

    def status(self, op, value):
        if op not in OPS["status"]:
            raise Invalid(_l("Choose whether the status equals the value or not."))
        if value not in CONTACT_STATUSES:
            raise Invalid(_l("Choose a contact status."))
        return {"field": "status", "op": op, "value": value}


def _expression(condition, fields):
    key, op = condition["field"], condition["op"]
    if key == "list":
        members = Subscription.select(Subscription.contact).where(Subscription.mailing_list == condition["value"])
        if condition.get("status"):
            members = members.where(Subscription.status == condition["status"])
        return Contact.id.in_(members) if op == "in" else Contact.id.not_in(members)
    if key == "status":
        return (Contact.status == condition["value"]) if op == "eq" else (Contact.status != condition["value"])
    if "digest" in condition:
        # The blind index answers exact e-mail matches whether the address is encrypted or not.
        digest = condition["digest"]
        return (Contact.email_digest == digest) if op == "eq" else (Contact.email_digest != digest)
    field = fields.by_key[key]
    if key in audience.PLAIN_COLUMNS:
        column = getattr(Contact, key)
    else:
        column = json_value(Contact.attributes, key, JSON_CASTS.get(field.type))
    return _OPERATORS[op](column, condition.get("value"), field.type)


def _ilike(column, text, template):
    """Case-insensitive LIKE with the value's own wildcards escaped (portable: ILIKE on PostgreSQL)."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return Expression(column, OP.ILIKE, NodeList((Value(template % escaped), SQL("ESCAPE"), Value("\\"))))


def _eq(column, value, kind):
    return _ilike(column, value, "%s") if kind == "text" else (column == value)


def _is_set(column, value, kind):
    present = column.is_null(False)
    return (present & (column != "")) if kind == "text" else present


_OPERATORS = {
    "eq": _eq,
    # "does not equal" includes contacts without a value, as a marketer reads it.
    "neq": lambda column, value, kind: column.is_null() | ~_eq(column, value, kind),
    "contains": lambda column, value, kind: _ilike(column, value, "%%%s%%"),
    "starts_with": lambda column, value, kind: _ilike(column, value, "%s%%"),
    "gt": lambda column, value, kind: column > value,
    "lt": lambda column, value, kind: column < value,
    "before": lambda column, value, kind: column < value,
    "after": lambda column, value, kind: column > value,
    "is_set": _is_set,
    "is_empty": lambda column, value, kind: ~_is_set(column, value, kind),
    "is_true": lambda column, value, kind: column == True,  # noqa: E712  (an SQL comparison)
    # A yes/no field that was never filled in counts as no.
    "is_false": lambda column, value, kind: column.is_null() | (column == False),  # noqa: E712
}
