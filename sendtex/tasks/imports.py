"""The CSV import task: streams the encrypted upload and writes contacts in committed chunks.

Each chunk's contacts, memberships, rejections and the import's counters and resume_line are written in
one transaction, so a worker killed at any moment leaves a consistent import that a restart continues
after its last committed row, with nothing doubled.
"""
import json

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from sendtex import audience
from sendtex.csvimport import ATTRIBUTES_JSON, FULL_NAME, CsvProblem, read_rows, split_full_name
from sendtex.db import bulk_insert, db
from sendtex.models.accounts import Account
from sendtex.models.base import utcnow
from sendtex.models.contacts import Contact, MailingList, Subscription, Suppression, contact_ids_by_digest, new_uid
from sendtex.models.imports import Import, ImportRejection
from sendtex.queue import huey
from sendtex.tasks.context import app_task
from sendtex.tasks.jobs import Stopped, resumer, run_tracked, step
from sendtex.uploads import delete_upload
from sendtex.validation import Invalid

NEW_CONTACT_COLUMNS = [Contact.account, Contact.uid, Contact.email, Contact.email_digest, Contact.first_name,
                       Contact.last_name, Contact.attributes, Contact.sealed, Contact.status, Contact.created_at,
                       Contact.updated_at]
SUBSCRIPTION_COLUMNS = [Subscription.contact, Subscription.mailing_list, Subscription.status,
                        Subscription.created_at, Subscription.updated_at, Subscription.confirmed_at]
REJECTION_COLUMNS = [ImportRejection.import_, ImportRejection.line, ImportRejection.column, ImportRejection.reason]
KEEP_EXISTING = "ON CONFLICT (contact_id, mailing_list_id) DO NOTHING"
CONFIRM_PENDING = ("ON CONFLICT (contact_id, mailing_list_id) DO UPDATE SET status = excluded.status, "
                   "confirmed_at = excluded.confirmed_at, updated_at = excluded.updated_at "
                   "WHERE subscription.status = 'unconfirmed'")


@huey.task()
@app_task
def run_import(import_id):
    """Import the rows of an uploaded CSV file (continuing after the last committed row)."""
    job = Import.get_or_none(Import.id == import_id)
    if job is not None and not job.finished:
        run_tracked(Import, import_id, _import_file)


@resumer
def _resume_imports():
    for job in Import.stale():
        run_import(job.id)


def _stop_if_restricted(job):
    """Restricted processing means no import runs: stop after the rows already committed."""
    if Account.select().where((Account.id == job.account_id) & Account.restricted_at.is_null(False)).exists():
        raise Stopped(_("Processing of this account is restricted, so the import stopped. Rows imported before "
                        "stay; start the import again once the restriction is lifted."))


def _import_file(job):
    writer = ChunkWriter(job)
    last_progress = [0]
    try:
        with force_locale(job.user.language if job.user and job.user.language else "en"):
            _stop_if_restricted(job)
            for line, cells, problem in read_rows(job.upload_name, job.encoding, job.delimiter,
                                                  progress=lambda consumed: last_progress.__setitem__(0, consumed)):
                if line > job.resume_line:
                    writer.add(line, cells, problem)
                if len(writer.pending) >= writer.chunk_rows:
                    writer.flush()
                    step(job, done=last_progress[0])
                    _stop_if_restricted(job)
            writer.flush()
            step(job, done=job.total)
    except CsvProblem as exc:
        raise Stopped(str(exc)) from exc
    finally:
        delete_upload(job.upload_name)


class ChunkWriter:
    """Collects parsed rows and writes them a chunk at a time."""

    def __init__(self, job):
        self.job = job
        self.fields = audience.FieldSet(job.account_id)
        self.mapping = {int(column): target for column, target in job.mapping.items() if target}
        self.email_column = next(column for column, target in self.mapping.items() if target == "email")
        self.chunk_rows = current_app.config["IMPORT_CHUNK_ROWS"]
        self.pending, self.rejections = [], []
        self.seen = set()  # 64-bit prefixes of the digests in this file: a duplicate row is refused, not doubled
        self.membership = "subscribed" if job.confirmed else "unconfirmed"
        self.last_line = job.resume_line

    def _reject(self, line, column, reason):
        header = self.job.header
        name = header[column] if column is not None and column < len(header) else ""
        self.rejections.append((self.job.id, line, name[:200], str(reason)[:300]))

    def add(self, line, cells, problem):
        """Validate one row; keep it for the next chunk or record why it was refused."""
        self.last_line = line
        if problem:
            return self._reject(line, None, problem)
        values, errors = self.parse(cells)
        for column, message in errors:
            self._reject(line, column, message)
        if errors:
            return
        digest = audience.email_digest(self.fields.account_id, values["email"])
        prefix = int(digest[:16], 16)
        if prefix in self.seen:
            return self._reject(line, self.email_column, _("This address is on an earlier row of the file."))
        self.seen.add(prefix)
        self.pending.append((line, digest, values))

    def parse(self, cells):
        """Typed values of the mapped cells and [(column, message)] for the ones that are wrong."""
        raw, errors = {}, []
        for column, target in self.mapping.items():
            cell = cells[column] if column < len(cells) else ""
            if target == FULL_NAME:
                raw["first_name"], raw["last_name"] = split_full_name(cell)
            elif target == ATTRIBUTES_JSON:
                raw.update(_custom_from_json(cell, self.fields))
            else:
                raw[target] = cell
        values = {}
        for key, text in raw.items():
            try:
                values[key] = audience.coerce(self.fields.by_key[key], text)
            except Invalid as exc:
                errors.append((self._column_of(key), str(exc)))
        return values, errors

    def _column_of(self, key):
        return next((column for column, target in self.mapping.items() if target == key), None)

    def flush(self):
        """Write the pending rows, their rejections and the progress in one transaction."""
        rows, self.pending = self.pending, []
        with db.atomic():
            self._check_lists_exist()
            existing = self._existing([digest for _line, digest, _values in rows])
            new_rows = self._not_suppressed([row for row in rows if row[1] not in existing])
            if self.job.mode == "update":
                for line, _digest, _values in new_rows:
                    self._reject(line, self.email_column, _("No contact has this address (update mode adds no one)."))
                new_rows = []
            inserted_ids = self._insert(new_rows)
            updated_ids = self._update(rows, existing)
            self._memberships(inserted_ids + updated_ids)
            skipped, self.rejections = self.rejections, []
            bulk_insert(ImportRejection, REJECTION_COLUMNS, skipped)
            done = len(inserted_ids) + len(updated_ids) + len(skipped)
            Import.update(resume_line=self.last_line, rows_done=Import.rows_done + done,
                          inserted=Import.inserted + len(inserted_ids), updated=Import.updated + len(updated_ids),
                          skipped=Import.skipped + len(skipped)).where(Import.id == self.job.id).execute()
            self.job.resume_line = self.last_line

    def _existing(self, digests):
        ids = contact_ids_by_digest(self.fields.account_id, digests)
        if not ids:
            return {}
        return {contact.email_digest: contact for contact in Contact.select().where(Contact.id.in_(list(ids.values())))}

    def _not_suppressed(self, rows):
        """The rows whose address the account may add; the others are refused with the reason."""
        suppressed = Suppression.among(self.fields.account_id, [digest for _line, digest, _values in rows])
        for line, _digest, _values in (row for row in rows if row[1] in suppressed):
            self._reject(line, self.email_column, str(audience.SUPPRESSED))
        return [row for row in rows if row[1] not in suppressed] if suppressed else rows

    def _check_lists_exist(self):
        found = MailingList.for_account(self.fields.account_id).where(MailingList.id.in_(self.job.list_ids)).count()
        if found < len(self.job.list_ids):
            raise Stopped(_("A list chosen for this import was deleted while it ran. The rows up to line "
                            "%(line)d were imported; the rest was not.", line=self.job.resume_line))

    def _insert(self, rows):
        status = "blocklisted" if self.job.mode == "blocklist" else "active"
        return list(insert_contacts(self.fields, [(digest, values) for _line, digest, values in rows], status).values())

    def _update(self, rows, existing):
        ids = []
        for line, digest, values in rows:
            contact = existing.get(digest)
            if contact is None:
                continue
            try:
                # Empty cells never erase what a contact already has.
                audience.write_values(contact, {key: value for key, value in values.items() if value is not None},
                                      self.fields)
            except audience.UndecryptableValue as exc:
                label = audience.field_label(self.fields.by_key[exc.key])
                self._reject(line, self._column_of(exc.key), _("The contact's stored %(field)s cannot be decrypted "
                                                                "(a key is missing), so it was left unchanged.",
                                                                field=label))
                continue
            if self.job.mode == "blocklist":
                contact.status = "blocklisted"
            contact.updated_at = utcnow()
            contact.save()
            ids.append(contact.id)
        return ids

    def _memberships(self, contact_ids):
        if not contact_ids:
            return
        if self.job.mode == "blocklist":
            audience.end_memberships(contact_ids)
            return
        add_memberships(contact_ids, self.job.list_ids, self.membership)


def insert_contacts(fields, rows, status="active"):
    """Insert new contacts from [(email digest, typed values)] in one statement; returns {digest: new id}."""
    if not rows:
        return {}
    now, account_id = utcnow(), fields.account_id
    records = []
    for digest, values in rows:
        uid = new_uid()
        columns = audience.storage_columns(account_id, uid, values, fields, digest=digest)
        records.append((account_id, uid, columns.get("email"), digest, columns.get("first_name"),
                        columns.get("last_name"), columns["attributes"], columns["sealed"], status, now, now))
    bulk_insert(Contact, NEW_CONTACT_COLUMNS, records)
    return contact_ids_by_digest(account_id, [digest for digest, _values in rows])


def add_memberships(contact_ids, list_ids, membership):
    """Put contacts on lists (subscribed or unconfirmed) without re-subscribing anyone who unsubscribed."""
    now = utcnow()
    confirmed_at = now if membership == "subscribed" else None
    rows = [(contact_id, list_id, membership, now, now, confirmed_at) for contact_id in contact_ids
            for list_id in list_ids]
    # A pending (unconfirmed) membership may be confirmed.
    bulk_insert(Subscription, SUBSCRIPTION_COLUMNS, rows, CONFIRM_PENDING if membership == "subscribed"
                else KEEP_EXISTING)


def _custom_from_json(text, fields):
    """Custom field values from a JSON object cell, for the fields the account has."""
    try:
        data = json.loads(text) if text.strip() else {}
    except ValueError:
        return {}
    if not isinstance(data, dict):
        return {}
    return {key: "" if value is None else str(value) for key, value in data.items()
            if key in fields.by_key and not fields.by_key[key].builtin}
