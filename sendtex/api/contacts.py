"""Contacts: create, upsert by e-mail address, read, change, delete, page through with the table's filters,
put on lists and take off them. Values are validated and encrypted by sendtex.audience, as in the pages."""
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from sendtex import audience
from sendtex.api.auth import account_id, owned
from sendtex.api.errors import ApiError, invalid
from sendtex.api.pagination import make_cursor, read_cursor
from sendtex.api.spec import CURSOR_PARAMS, ID, TIMESTAMP, component, nullable, obj, operation, stamp
from sendtex.db import db
from sendtex.lists import filters
from sendtex.lists.contacts import contact_rows
from sendtex.models.contacts import CONTACT_STATUSES, SUBSCRIPTION_STATUSES, Contact, MailingList, Segment
from sendtex.tasks.imports import add_memberships

MEMBERSHIPS = ("subscribed", "unconfirmed")
VALUE = {"type": ["string", "number", "boolean", "null"]}
LIST_IDS = {"type": "array", "items": ID, "maxItems": 100, "uniqueItems": True}
CONTACT = component("Contact", obj(
    ["id", "status", "fields", "undecryptable", "lists", "created_at", "updated_at"],
    id=ID, status={"type": "string", "enum": list(CONTACT_STATUSES)},
    fields={"type": "object", "additionalProperties": VALUE,
            "description": "Every field of the account by key, encrypted ones decrypted."},
    undecryptable={"type": "array", "items": {"type": "string"},
                   "description": "Keys of stored values whose encryption key is missing (shown as null)."},
    lists={"type": "array", "items": obj(
        ["list_id", "status", "created_at", "confirmed_at", "unsubscribed_at"], list_id=ID,
        status={"type": "string", "enum": list(SUBSCRIPTION_STATUSES)}, created_at=TIMESTAMP,
        confirmed_at=nullable(TIMESTAMP), unsubscribed_at=nullable(TIMESTAMP))},
    created_at=TIMESTAMP, updated_at=TIMESTAMP,
))
FIELD_VALUES = {"type": "object", "additionalProperties": VALUE, "maxProperties": 200,
                "description": "Values by field key (text, number, true/false, or null to clear)."}
CONTACT_INPUT = component("ContactInput", obj(
    ["fields"], fields=FIELD_VALUES, status={"type": "string", "enum": list(CONTACT_STATUSES)},
    list_ids=dict(LIST_IDS, description="Lists to put the contact on (someone who unsubscribed stays so)."),
    subscription_status={"type": "string", "enum": list(MEMBERSHIPS), "default": "subscribed"},
))
CONTACT_UPDATE = component("ContactUpdate", obj(fields=FIELD_VALUES,
                                                status={"type": "string", "enum": list(CONTACT_STATUSES)}))
FILTERS = {
    "status": ({"type": "string", "enum": list(CONTACT_STATUSES)}, "Only contacts with this status."),
    "list": (ID, "Only members of this list."),
    "membership": ({"type": "string", "enum": list(SUBSCRIPTION_STATUSES)}, "With `list`: only this membership status."),
    "segment": (ID, "Only contacts in this segment."),
    "email": ({"type": "string", "maxLength": 254}, "The contact with exactly this address (encrypted or not)."),
    "email_prefix": ({"type": "string", "maxLength": 254},
                     "Addresses starting with this (not while the e-mail field is encrypted); sorts by address."),
    "sort": ({"type": "string", "enum": list(filters.SORTS), "default": "newest"}, "The order of the pages."),
    **CURSOR_PARAMS,
}
NO_SUCH_FIELD = _l("There is no field “%(key)s”.")


def contact_json(row):
    """A contact row (values read in memory, memberships) as the API shows it."""
    contact = row.contact
    return {"id": contact.id, "status": contact.status, "fields": row.values, "undecryptable": sorted(row.errors),
            "lists": [{"list_id": sub.mailing_list_id, "status": sub.status, "created_at": stamp(sub.created_at),
                       "confirmed_at": stamp(sub.confirmed_at), "unsubscribed_at": stamp(sub.unsubscribed_at)}
                      for sub in row.memberships],
            "created_at": stamp(contact.created_at), "updated_at": stamp(contact.updated_at)}


def contacts_json(contacts, fields):
    """Several contacts (a page at most), memberships read in one query."""
    return [contact_json(row) for row in contact_rows(contacts, fields)]


def one_contact(contact, fields=None):
    """One contact as the API shows it."""
    return contacts_json([contact], fields or audience.FieldSet(contact.account_id))[0]


def typed_values(fields, raw, partial, where="fields"):
    """Typed values of raw field values through the account's fields; [(field, message)] for the bad ones."""
    unknown = [(f"{where}.{key}", NO_SUCH_FIELD % {"key": key[:40]}) for key in raw if key not in fields.by_key]
    values, errors = fields.coerce_all({key: value for key, value in raw.items() if key in fields.by_key},
                                       partial=partial)
    return values, unknown + [(f"{where}.{key}", message) for key, message in errors.items()]


def own_list_ids(list_ids, where="list_ids"):
    """The ids when every one is a list of the account; a 400 with the page's message otherwise."""
    found = MailingList.for_account(account_id()).where(MailingList.id.in_(list_ids)).count() if list_ids else 0
    if found != len(list_ids):
        raise invalid([(where, _("One of the chosen lists does not exist any more. Choose again."))])
    return list_ids


def _changed_values(contact, fields, raw):
    """The typed values of raw that differ from the contact's stored ones; a 400 for invalid ones."""
    values, errors = typed_values(fields, raw, partial=True)
    if errors:
        raise invalid(errors)
    current = audience.read_values(contact, fields)[0]
    return {key: value for key, value in values.items() if value != current.get(key)}


def _store(contact, fields, values, status=None):
    """Write changed values (and status); 409 if the address is another contact's or a value cannot be replaced."""
    if status is not None:
        contact.status = status
    try:
        audience.update_contact(contact, fields, values)
    except audience.DuplicateContact:
        raise ApiError(409, details=[("fields.email", _("Another contact already has this e-mail address."))]) \
            from None
    except audience.SuppressedAddress:
        raise ApiError(409, details=[("fields.email", str(audience.SUPPRESSED))]) from None
    except audience.UndecryptableValue as exc:
        label = audience.field_label(fields.by_key[exc.key])
        raise ApiError(409, details=[(f"fields.{exc.key}", _(
            "The contact's stored %(field)s cannot be decrypted (a key is missing), so it was left unchanged.",
            field=label))]) from None


@operation("GET", "/contacts", scope="read", tag="Contacts", query=FILTERS,
           responses={200: {"type": "object", "required": ["data", "next_cursor"], "additionalProperties": False,
                            "properties": {"data": {"type": "array", "items": CONTACT},
                                           "next_cursor": {"type": ["string", "null"]}}}})
def list_contacts(query):
    """Page through the account's contacts with the contacts table's filters, newest first by default."""
    fields = audience.FieldSet(account_id())
    contact_filter = _filter(query, fields)
    position = read_cursor(query["cursor"], "contacts")
    if position and position.get("sort") != contact_filter.sort:
        raise invalid([("cursor", _("This cursor is not valid. Start again from the first page."))])
    page = contact_filter.page(after=position.get("after"), key=position.get("key", ""), size=query["limit"])
    following = page.next_cursor
    return {"data": contacts_json(page.rows, fields),
            "next_cursor": make_cursor({"collection": "contacts", "sort": contact_filter.sort, **following})
            if following else None}


def _filter(query, fields):
    """The contacts table's filter from the query, with its messages; an exact address through the blind index."""
    args = {"status": query["status"] or "", "membership": query["membership"] or "", "sort": query["sort"],
            "list": str(query["list"] or ""), "segment": str(query["segment"] or "")}
    contact_filter, _cursor, errors = filters.parse(args, account_id(), fields)
    details = [("query", message) for message in errors]
    if query["email_prefix"] and fields.is_encrypted("email"):
        details.append(("email_prefix", _("The e-mail field is encrypted, so only a complete e-mail address can be "
                                          "searched.")))
    elif query["email_prefix"]:
        # In e-mail order the (account, email) index yields the matches in order, as on the contacts page.
        contact_filter.prefix, contact_filter.sort = query["email_prefix"].strip().lower(), "email"
    if query["list"] and not MailingList.for_account(account_id()).where(MailingList.id == query["list"]).exists():
        details.append(("list", _("This list does not exist (any more).")))
    if query["segment"] and not Segment.for_account(account_id()).where(Segment.id == query["segment"]).exists():
        details.append(("segment", _("This segment does not exist (any more).")))
    if details:
        raise invalid(details)
    if query["email"]:
        found = audience.find_by_email(account_id(), query["email"])
        contact_filter.contact_id, contact_filter.no_match = (found.id, False) if found else (None, True)
    return contact_filter


@operation("POST", "/contacts", scope="write", tag="Contacts", body=CONTACT_INPUT, responses={201: CONTACT},
           errors=(409,))
def create_contact(body):
    """Add a contact (409 if the address is already a contact: use /contacts/upsert to add or change).

    An address whose subscriber asked to be erased cannot be added again (409): only they can sign up again.
    """
    fields = audience.FieldSet(account_id())
    values, errors = typed_values(fields, body["fields"], partial=False)
    if errors:
        raise invalid(errors)
    list_ids = own_list_ids(body.get("list_ids", []))
    try:
        contact = audience.create_contact(fields, values, list_ids, body.get("subscription_status", "subscribed"),
                                          body.get("status", "active"))
    except audience.DuplicateContact:
        raise ApiError(409, details=[("fields.email", _("This address is already a contact."))]) from None
    except audience.SuppressedAddress:
        raise ApiError(409, details=[("fields.email", str(audience.SUPPRESSED))]) from None
    return one_contact(contact, fields), 201


@operation("POST", "/contacts/upsert", scope="write", tag="Contacts", body=CONTACT_INPUT,
           responses={200: CONTACT, 201: CONTACT}, errors=(409,))
def upsert_contact(body):
    """Add the contact, or change the one with this e-mail address (201 when added, 200 when changed).

    A change writes only the values given; lists are added, and nobody who unsubscribed from one is
    subscribed again. An address whose subscriber asked to be erased cannot be added again (409).
    """
    fields = audience.FieldSet(account_id())
    if "email" not in body["fields"]:
        raise invalid([("fields.email", _("%(label)s is required.", label=audience.field_label(fields.by_key["email"])))])
    contact = audience.find_by_email(account_id(), str(body["fields"]["email"] or ""))
    if contact is None:
        return create_contact(body)
    list_ids = own_list_ids(body.get("list_ids", []))
    with db.atomic():
        _store(contact, fields, _changed_values(contact, fields, body["fields"]), body.get("status"))
        add_memberships([contact.id], list_ids, body.get("subscription_status", "subscribed"))
    return one_contact(contact, fields), 200


@operation("GET", "/contacts/{contact_id}", scope="read", tag="Contacts", responses={200: CONTACT})
def get_contact(contact_id):
    """One contact: every field (encrypted ones decrypted in memory) and its lists."""
    return one_contact(owned(Contact, contact_id))


@operation("PATCH", "/contacts/{contact_id}", scope="write", tag="Contacts", body=CONTACT_UPDATE,
           responses={200: CONTACT}, errors=(409,))
def update_contact(contact_id, body):
    """Change some of a contact's values or its status; values left out stay, null clears one."""
    contact = owned(Contact, contact_id)
    fields = audience.FieldSet(account_id())
    _store(contact, fields, _changed_values(contact, fields, body.get("fields", {})), body.get("status"))
    return one_contact(contact, fields)


@operation("DELETE", "/contacts/{contact_id}", scope="write", tag="Contacts", responses={204: None})
def delete_contact(contact_id):
    """Delete a contact and its memberships."""
    contact = owned(Contact, contact_id)
    with db.atomic():
        contact.delete_instance()
    return None, 204


@operation("POST", "/contacts/{contact_id}/subscribe", scope="write", tag="Contacts", responses={200: CONTACT},
           body=component("SubscribeInput", obj(
               ["list_ids"], list_ids=dict(LIST_IDS, minItems=1),
               status={"type": "string", "enum": list(MEMBERSHIPS), "default": "subscribed"})))
def subscribe_contact(contact_id, body):
    """Put a contact on lists; a pending membership may be confirmed, an unsubscribed one stays unsubscribed."""
    contact = owned(Contact, contact_id)
    add_memberships([contact.id], own_list_ids(body["list_ids"]), body.get("status", "subscribed"))
    return one_contact(contact)


@operation("POST", "/contacts/{contact_id}/unsubscribe", scope="write", tag="Contacts", responses={200: CONTACT},
           body=component("UnsubscribeInput", obj(list_ids=dict(
               LIST_IDS, minItems=1, description="Leave out to unsubscribe the contact from everything."))),
           body_required=False)
def unsubscribe_contact(contact_id, body):
    """Unsubscribe a contact from some lists, or (without list_ids) from everything."""
    contact = owned(Contact, contact_id)
    if "list_ids" in body:
        audience.end_memberships([contact.id], own_list_ids(body["list_ids"]))
    else:
        audience.unsubscribe_everywhere([contact.id])
    return one_contact(Contact.get_by_id(contact.id))
