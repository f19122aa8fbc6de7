"""Everything an account holds, found through each model's data_policy: counted, exported, deleted.

No table is listed here by hand: a model's `data_policy` says through which foreign key its rows hang off an
account, so a new table is deleted and exported with its account as soon as it declares its policy (and a
test fails while it does not). Files outside the database are removed through FILE_REMOVERS.
"""
import datetime
import json
import zipfile

from sendtex import audience
from sendtex.csvexport import contact_header, contact_rows, csv_chunks, export_filename, list_members
from sendtex.db import checkpoint, db
from sendtex.mail.transport import outbox
from sendtex.models import MODELS
from sendtex.models.accounts import Account
from sendtex.models.base import iso_utc, utcnow
from sendtex.models.contacts import Contact, MailingList
from sendtex.uploads import delete_upload, exports_dir

DELETE_CHUNK = 2000


def _remove_outbox_file(message):
    try:
        outbox().discard(message.maildir_key)
    except OSError:
        pass  # already gone: nothing left to remove


# Models whose rows own a file outside the database: how to remove it (rows are removed after their files).
FILE_REMOVERS = {
    "import": lambda row: delete_upload(row.upload_name),
    "outbox_message": _remove_outbox_file,
    "account_export": lambda row: row.file_name and (exports_dir() / row.file_name).unlink(missing_ok=True),
}


def account_models():
    """The models that hold account data, children before their parents (the account last)."""
    return [model for model in reversed(MODELS) if model.data_policy.delete_via is not None]


def rows_of(model, account_id):
    """A query of the model's rows that belong to the account, following its policy's foreign keys up."""
    via = model.data_policy.delete_via
    if via == "id":
        return model.select().where(model.id == account_id)
    key = getattr(model, via)
    parent = key.rel_model
    if parent is Account:
        return model.select().where(key == account_id)
    return model.select().where(key.in_(rows_of(parent, account_id).select(parent._meta.primary_key)))


def counts(account_id):
    """{table name: number of the account's rows} for every table that holds account data."""
    return {model._meta.table_name: rows_of(model, account_id).count() for model in account_models()}


def delete_everything(account_id):
    """Delete every row and file of the account, in chunks so other accounts' work goes on meanwhile."""
    for model in account_models():
        remove_file = FILE_REMOVERS.get(model._meta.table_name)
        while True:
            with db.atomic():
                key = model._meta.primary_key
                chunk = list(rows_of(model, account_id).order_by(key).limit(DELETE_CHUNK))
                if not chunk:
                    break
                for row in chunk if remove_file else ():
                    remove_file(row)
                model.delete().where(key.in_([row._pk for row in chunk])).execute()
    checkpoint()


def export_rows(model, account_id):
    """The account's rows of the model as JSON-ready dicts, without the columns the policy hides."""
    hidden = set(model.data_policy.hidden)
    columns = [field for field in model._meta.sorted_fields if field.name not in hidden]
    for row in rows_of(model, account_id).order_by(model._meta.primary_key).iterator():
        yield {field.name: _json_value(row.__data__.get(field.name)) for field in columns}


def _json_value(value):
    if isinstance(value, datetime.datetime):  # stored as naive UTC: the export says so
        return iso_utc(value)
    if isinstance(value, datetime.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.hex()
    return value


def contact_values(account_id):
    """The account's contacts with every field decrypted in memory (what export_rows() leaves out)."""
    fields = audience.FieldSet(account_id)
    for contact in Contact.for_account(account_id).order_by(Contact.id).iterator():
        values, errors = audience.read_values(contact, fields)
        yield {"id": contact.id, "fields": {key: _json_value(audience.display(value)) for key, value in values.items()},
               "unreadable": sorted(errors)}


def write_export(account_id, out):
    """Write the account's data export as a ZIP to the binary file `out`: JSON per table, a CSV per list."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        manifest = {"account_id": account_id, "created_at": iso_utc(utcnow()),
                    "tables": {}}
        for model in account_models():
            if not model.data_policy.export:
                continue
            name = model._meta.table_name
            manifest["tables"][name] = _write_json_lines(archive, f"{name}.json", export_rows(model, account_id))
        manifest["tables"]["contact_values"] = _write_json_lines(archive, "contact_values.json",
                                                                 contact_values(account_id))
        fields = audience.FieldSet(account_id)
        for mailing_list in MailingList.for_account(account_id).order_by(MailingList.id):
            _write_list_csv(archive, account_id, mailing_list, fields)
        archive.writestr("manifest.json", json.dumps(manifest, indent=2))
    return manifest


def _write_json_lines(archive, name, rows):
    """A JSON array written row by row (memory stays bounded for any number of rows); returns the count."""
    count = 0
    with archive.open(name, "w") as handle:
        handle.write(b"[")
        for count, row in enumerate(rows, 1):
            handle.write((b",\n" if count > 1 else b"\n") + json.dumps(row, ensure_ascii=False).encode())
        handle.write(b"\n]\n")
    return count


def _write_list_csv(archive, account_id, mailing_list, fields):
    rows = contact_rows(fields, list_members(account_id, mailing_list.id), membership=True)
    with archive.open(f"lists/{mailing_list.id}-{export_filename(mailing_list.name, 'list')}", "w") as handle:
        for chunk in csv_chunks(contact_header(fields, membership=True), rows):
            handle.write(chunk.encode())
