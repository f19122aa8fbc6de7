"""Work on the values of a contact field: moving them into or out of encryption, removing those of a deleted
field, and re-sealing every encrypted value under the newest key after `sendtex rotate-keys`.

Each walk goes through the contacts by id in committed chunks. A value is in exactly one place at any moment
(plain or sealed, read_values reads both), so a walk stopped half-way loses nothing and a re-run finishes it.
"""
import collections

from peewee import OP, SQL, Expression, NodeList, Value

from sendtex.audience import PLAIN_COLUMNS, FieldSet, cipher, read_values, storage_columns
from sendtex.crypto import DecryptionError, associated_data
from sendtex.db import checkpoint, db
from sendtex.models.campaigns import SendingDomain
from sendtex.models.contacts import Contact, Field
from sendtex.models.jobs import Job
from sendtex.models.relays import Relay
from sendtex.tasks.jobs import job_handler, start_job, step

CHUNK = 1000
FIELD_JOB_KINDS = ("field_encryption", "field_delete")


def _text_like(column, fragment):
    """column LIKE %fragment%, compared as text: the JSON columns' converter must not touch the pattern."""
    escaped = fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = NodeList((Value(f"%{escaped}%", converter=False), SQL("ESCAPE"), Value("\\", converter=False)))
    # ILIKE is LIKE on SQLite (peewee maps LIKE to the case-sensitive GLOB there); keys are lower case anyway.
    return Expression(column, OP.ILIKE, pattern)


def _has_key(column, key):
    # The JSON columns hold flat objects; a string value cannot contain an unescaped quote, so '"key":' is exact.
    return _text_like(column, f'"{key}":')


def plain_value(key):
    """Contacts that hold a value of this field in plain text."""
    if key in PLAIN_COLUMNS:
        return getattr(Contact, key).is_null(False)
    return _has_key(Contact.attributes, key)


def sealed_value(key):
    """Contacts that hold an encrypted value of this field."""
    return _has_key(Contact.sealed, key)


def contacts_with_value(account_id, key):
    """The account's contacts that have a value (plain or encrypted) for the field with this key."""
    return Contact.for_account(account_id).where(plain_value(key) | sealed_value(key))


def active_jobs(account_id):
    """The account's field jobs that have not finished, oldest first."""
    return (Job.for_account(account_id)
            .where(Job.kind.in_(FIELD_JOB_KINDS) & Job.status.in_(("queued", "running")))
            .order_by(Job.id))


def pending_job(account_id, field_id=None, key=None):
    """The unfinished job on a field (by id) or on a key (a deleted field's values being removed), or None."""
    for job in active_jobs(account_id):
        if (field_id is not None and job.params.get("field_id") == field_id) or (key and job.params.get("key") == key):
            return job
    return None


def stopped_changes(account_id):
    """{field id: job} for the fields whose latest encryption change failed or was cancelled before it finished."""
    latest = {}
    for job in Job.for_account(account_id).where(Job.kind == "field_encryption").order_by(Job.id.desc()):
        latest.setdefault(job.params.get("field_id"), job)
    return {field_id: job for field_id, job in latest.items() if job.status in ("failed", "cancelled")}


def start_field_encryption(field, encrypted):
    """Turn a field's encryption on or off: a job sets the flag, then moves every value to its new place."""
    params = {"field_id": field.id, "key": field.key, "label": field.label, "encrypted": bool(encrypted)}
    return start_job(field.account_id, "field_encryption", params)


def start_field_deletion(field):
    """Delete a custom field: a job removes the definition, then every contact's value of it."""
    return start_job(field.account_id, "field_delete", {"field_id": field.id, "key": field.key, "label": field.label})


def rewrite_contacts(where, change, progress=None):
    """Rewrite the contacts matching where in committed chunks by id; change(contact) gives (outcomes, columns)."""
    counts, last = collections.Counter(), 0
    while True:
        ids = [row_id for (row_id,) in Contact.select(Contact.id).where(where & (Contact.id > last))
               .order_by(Contact.id).limit(CHUNK).tuples()]
        if not ids:
            break
        with db.atomic():
            # A no-op write first locks the rows (SQLite: the database) so no edit slips between read and write.
            Contact.update(uid=Contact.uid).where(Contact.id.in_(ids)).execute()
            for contact in Contact.select().where(Contact.id.in_(ids) & where).order_by(Contact.id):
                outcomes, columns = change(contact)
                counts.update(outcomes)
                if columns:
                    Contact.update(**columns).where(Contact.id == contact.id).execute()
        last = ids[-1]
        if progress:
            progress(counts.total())
    return counts


def _finish_walk(job, counts):
    Job.update(result=dict(counts)).where(Job.id == job.id).execute()
    # The previous (plain or old) versions of the rewritten rows must not stay behind in the -wal file.
    checkpoint()


def _walk_job(job, where, change):
    job.total = Contact.for_account(job.account_id).where(where).count()
    step(job, 0)
    counts = rewrite_contacts((Contact.account == job.account_id) & where, change, lambda done: step(job, done))
    _finish_walk(job, counts)


@job_handler("field_encryption")
def move_field_values(job):
    """Set the field's encryption to the job's target, then move each value between plain and sealed."""
    target, key = job.params["encrypted"], job.params["key"]
    updated = Field.update(encrypted=target).where(
        (Field.account == job.account_id) & (Field.id == job.params["field_id"])).execute()
    if not updated:
        _finish_walk(job, {})  # the field was deleted meanwhile; its deletion removes the values
        return
    fields = FieldSet(job.account_id)

    def move(contact):
        values, errors = read_values(contact, fields)
        if key in errors:
            return {"undecryptable": 1}, None  # left as it is: overwriting it would lose it for good
        return {"moved": 1}, storage_columns(fields.account_id, contact.uid, {key: values[key]}, fields,
                                             contact.sealed, contact.attributes)

    _walk_job(job, plain_value(key) if target else sealed_value(key), move)


@job_handler("field_delete")
def remove_field_values(job):
    """Delete the field's definition, then remove its value (plain or sealed) from every contact."""
    key = job.params["key"]
    Field.delete().where((Field.account == job.account_id) & (Field.id == job.params["field_id"])
                         & (Field.builtin == False)).execute()  # noqa: E712  (peewee expression)

    def remove(contact):
        sealed, attributes = dict(contact.sealed or {}), dict(contact.attributes or {})
        sealed.pop(key, None)
        attributes.pop(key, None)
        return {"removed": 1}, {"sealed": sealed, "attributes": attributes}

    _walk_job(job, _has_key(Contact.attributes, key) | _has_key(Contact.sealed, key), remove)


def _single_sealed_values():
    """(model, row id, column, token, associated data) of every sealed value outside contacts."""
    from sendtex.domains import key_aad

    for domain in SendingDomain.select().where(SendingDomain.dkim_private_key != ""):
        yield SendingDomain, domain.id, "dkim_private_key", domain.dkim_private_key, key_aad(domain)
    for relay in Relay.select().where(Relay.password_sealed != ""):
        yield Relay, relay.id, "password_sealed", relay.password_sealed, relay.password_aad()


def sealed_key_counts():
    """How many sealed values each key id protects, over every account, DKIM keys and relay passwords."""
    counts = collections.Counter()
    for contact in Contact.select(Contact.sealed).where(_text_like(Contact.sealed, "$")):
        counts.update(token.partition("$")[0] for token in contact.sealed.values())
    counts.update(token.partition("$")[0] for _model, _id, _column, token, _aad in _single_sealed_values())
    return counts


def reseal_all():
    """Re-seal every encrypted value under the newest key; counts of resealed, current and undecryptable values."""
    field_cipher = cipher()

    def reseal(contact):
        sealed, outcomes = dict(contact.sealed), collections.Counter()
        for key, token in contact.sealed.items():
            if field_cipher.is_current(token):
                outcomes["current"] += 1
                continue
            aad = associated_data(contact.account_id, key, contact.uid)
            try:
                sealed[key] = field_cipher.seal(field_cipher.open(token, aad), aad)
                outcomes["resealed"] += 1
            except DecryptionError:
                outcomes["undecryptable"] += 1  # kept as it is: its key may come back into the ring
        return outcomes, ({"sealed": sealed} if outcomes["resealed"] else None)

    counts = rewrite_contacts(_text_like(Contact.sealed, "$"), reseal)
    # DKIM keys and relay passwords too: an old key dropped from the ring must leave nothing unreadable.
    for model, row_id, column, token, aad in list(_single_sealed_values()):
        if field_cipher.is_current(token):
            counts["current"] += 1
            continue
        try:
            fresh = field_cipher.seal(field_cipher.open(token, aad), aad)
        except DecryptionError:
            counts["undecryptable"] += 1
            continue
        model.update({column: fresh}).where(model.id == row_id).execute()
        counts["resealed"] += 1
    checkpoint()
    return counts
