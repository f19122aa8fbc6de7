"""Bulk upsert: up to 10,000 contacts in one request and one transaction, all or nothing.

Every row is validated first (each bad row is listed, nothing is written); then new contacts are inserted
with one statement, as the CSV import does, and existing ones (by e-mail address) get the values given.
"""
from flask_babel import gettext as _
from peewee import IntegrityError

from sendtex import audience
from sendtex.api.auth import account_id
from sendtex.api.contacts import FIELD_VALUES, LIST_IDS, MEMBERSHIPS, own_list_ids
from sendtex.api.errors import ApiError, invalid
from sendtex.api.spec import ID, component, obj, operation
from sendtex.db import db
from sendtex.models.contacts import Contact, Suppression, contact_ids_by_digest
from sendtex.models.base import utcnow
from sendtex.tasks.imports import add_memberships, insert_contacts
from sendtex.validation import Invalid

MAX_CONTACTS = 10_000
UPDATE_CHUNK = 500

BULK_INPUT = component("BulkUpsertInput", obj(
    ["contacts"],
    contacts={"type": "array", "minItems": 1, "maxItems": MAX_CONTACTS,
              "items": obj(["fields"], fields=FIELD_VALUES)},
    list_ids=dict(LIST_IDS, description="Lists to put every contact on (someone who unsubscribed stays so)."),
    subscription_status={"type": "string", "enum": list(MEMBERSHIPS), "default": "subscribed"},
))
BULK_RESULT = component("BulkUpsertResult", obj(
    ["created", "updated", "ids"], created={"type": "integer", "minimum": 0}, updated={"type": "integer", "minimum": 0},
    ids={"type": "array", "items": ID, "description": "The contacts' ids, in the order they were sent."}))


@operation("POST", "/contacts/bulk", scope="write", tag="Contacts", body=BULK_INPUT, responses={200: BULK_RESULT},
           too_large=("contacts", MAX_CONTACTS), errors=(409,))
def bulk_upsert(body):
    """Add or change up to 10,000 contacts by e-mail address in one transaction.

    When any row is invalid nothing is written, and the 400 lists every bad row's problems
    (`contacts[3].fields.email`), among them addresses whose subscribers asked to be erased (they cannot be
    added again). Values given replace stored ones; null clears one.
    """
    fields = audience.FieldSet(account_id())
    list_ids = own_list_ids(body.get("list_ids", []))
    rows = _validated(fields, body["contacts"])
    with db.atomic():
        existing = contact_ids_by_digest(fields.account_id, [digest for digest, _values in rows])
        try:
            created = insert_contacts(fields, [(digest, values) for digest, values in rows if digest not in existing])
        except IntegrityError:
            raise ApiError(409, _("Another request added one of these contacts meanwhile. Send the request again.")) \
                from None
        _update(fields, {existing[digest]: values for digest, values in rows if digest in existing})
        ids = {**existing, **created}
        ordered = [ids[digest] for digest, _values in rows]
        add_memberships(ordered, list_ids, body.get("subscription_status", "subscribed"))
    return {"created": len(rows) - len(existing), "updated": len(existing), "ids": ordered}


def _validated(fields, items):
    """[(digest, typed values)] of every row; a 400 listing each problem of each bad row."""
    account, by_key = fields.account_id, fields.by_key
    email_field, email_digest, coerce = by_key["email"], audience.blind_index().email, audience.coerce
    raws, digests = [item["fields"] for item in items], []
    for raw in raws:
        try:
            digests.append(email_digest(account, coerce(email_field, raw.get("email"))))
        except Invalid:
            digests.append(None)  # reported with the row's other problems below
    known = set(contact_ids_by_digest(account, list(set(digests) - {None})))
    suppressed = Suppression.among(account, list(set(digests) - known - {None}))
    rows, errors, first_row = [], [], {}
    for index, (raw, digest) in enumerate(zip(raws, digests)):
        unknown = [key for key in raw if key not in by_key]
        values, problems = fields.coerce_all({key: raw[key] for key in raw if key in by_key} if unknown else raw,
                                             partial=digest in known)
        if unknown or problems:
            where = f"contacts[{index}].fields"
            errors += [(f"{where}.{key}", _("There is no field “%(key)s”.", key=key[:40])) for key in unknown]
            errors += [(f"{where}.{key}", message) for key, message in problems.items()]
        if digest is None:
            continue
        if digest in suppressed:
            errors.append((f"contacts[{index}].fields.email", str(audience.SUPPRESSED)))
        elif digest in first_row:
            errors.append((f"contacts[{index}].fields.email",
                           _("This address is also in contacts[%(n)d].", n=first_row[digest])))
        else:
            first_row[digest] = index
            rows.append((digest, values))
    if errors:
        raise invalid(errors)
    return rows


def _update(fields, values_by_id):
    """Write the given values on existing contacts; a 409 (the transaction undone) if one cannot be replaced."""
    ids, now = list(values_by_id), utcnow()
    for start in range(0, len(ids), UPDATE_CHUNK):
        for contact in Contact.select().where(Contact.id.in_(ids[start:start + UPDATE_CHUNK])):
            try:
                audience.write_values(contact, values_by_id[contact.id], fields)
            except audience.UndecryptableValue as exc:
                label = audience.field_label(fields.by_key[exc.key])
                raise ApiError(409, details=[(f"contacts.fields.{exc.key}", _(
                    "The contact's stored %(field)s cannot be decrypted (a key is missing), so it was left "
                    "unchanged.", field=label))]) from None
            contact.updated_at = now
            contact.save()
