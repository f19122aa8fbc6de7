"""CSV downloads streamed to the browser: spreadsheet-safe cells, bounded memory, nothing written to disk.

csv_response() streams any rows; contact_header() and contact_rows() turn contacts into decrypted rows.
The privacy area reuses them for data-subject exports.
"""
import csv
import datetime
import io
import re
import unicodedata

from flask import Response, stream_with_context

from sendtex import audience
from sendtex.models.contacts import Contact, Subscription

BOM = "\ufeff"  # spreadsheet apps read the file as UTF-8 only with it
# A spreadsheet evaluates a cell starting with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
PAGE_SIZE = 1000
UNREADABLE = "[cannot be decrypted]"
CONTACT_COLUMNS = ("email", "first_name", "last_name", "status")
MEMBERSHIP_COLUMNS = ("list_status", "subscribed_at", "confirmed_at", "unsubscribed_at")


def neutralise(cell):
    """The cell as text, prefixed with a single quote when a spreadsheet would read it as a formula."""
    text = "" if cell is None else str(cell)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def csv_chunks(header, rows, chunk_rows=None):
    """CSV text in chunks of rows: a UTF-8 BOM and the header first, every cell neutralised."""
    chunk_rows = chunk_rows or PAGE_SIZE
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write(BOM)
    writer.writerow([neutralise(cell) for cell in header])
    for number, row in enumerate(rows, 1):
        writer.writerow([neutralise(cell) for cell in row])
        if number % chunk_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def export_filename(name, fallback="contacts"):
    """A filename safe in any header and file system: ASCII letters, digits and dashes, with today's date."""
    ascii_name = unicodedata.normalize("NFKD", name or "").encode("ascii", "ignore").decode()
    stem = re.sub(r"[^A-Za-z0-9]+", "-", ascii_name).strip("-")[:60].lower() or fallback
    return f"{stem}-{datetime.date.today().isoformat()}.csv"


def csv_response(filename, header, rows):
    """A streamed CSV download of rows (an iterable, read lazily) as an attachment that is never cached."""
    response = Response(stream_with_context(csv_chunks(header, rows)), mimetype="text/csv")
    response.headers.set("Content-Disposition", "attachment", filename=filename)
    response.headers["Cache-Control"] = "no-store"
    return response


def keyset_pages(query, page_size=None):
    """The rows of a Contact query in id order, fetched page by page after the last id seen (bounded memory)."""
    page_size = page_size or PAGE_SIZE
    last_id = 0
    while True:
        page = list(query.where(Contact.id > last_id).order_by(Contact.id).limit(page_size))
        yield from page
        if len(page) < page_size:
            return
        last_id = page[-1].id


def list_members(account_id, list_id):
    """The list's contacts, each with its membership status and dates (list_status, subscribed_at, …)."""
    return (Contact.select(Contact, Subscription.status.alias("list_status"),
                           Subscription.created_at.alias("subscribed_at"),
                           Subscription.confirmed_at.alias("confirmed_at"),
                           Subscription.unsubscribed_at.alias("unsubscribed_at"))
            .join(Subscription, on=(Subscription.contact == Contact.id))
            .where(Subscription.mailing_list == list_id, Contact.account == account_id)
            .objects())


def contact_header(fields, membership=False):
    """The columns of a contact export: built-in fields, status, custom fields by key, membership if asked."""
    return list(CONTACT_COLUMNS) + [field.key for field in fields.custom] + (list(MEMBERSHIP_COLUMNS) if membership else [])


def contact_rows(fields, query, membership=False):
    """One row per contact of query, every value decrypted in memory; a value that fails says so, the row stays."""
    keys = [key for key in CONTACT_COLUMNS if key != "status"]
    custom = [field.key for field in fields.custom]
    for contact in keyset_pages(query):
        values, errors = audience.read_values(contact, fields)
        cells = [UNREADABLE if key in errors else audience.display(values.get(key)) for key in keys]
        cells.append(contact.status)
        cells += [UNREADABLE if key in errors else audience.display(values.get(key)) for key in custom]
        if membership:
            cells += [contact.list_status] + [_timestamp(getattr(contact, name)) for name in MEMBERSHIP_COLUMNS[1:]]
        yield cells


def _timestamp(value):
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return "" if value is None else str(value)
