"""Reading the bounce mailbox over IMAP (TLS or STARTTLS, stdlib imaplib).

Each run reads the messages that arrived since the last one (UIDs above the folder's cursor), without
marking them read (BODY.PEEK). A bounce or complaint that was recorded is then moved to the processed folder:
moved, never deleted, and only after its record is committed. A crash in between leaves it in place, and
the next run records it again as a duplicate (nothing counts twice) and moves it then. Everything else
(vacation replies, replies from people, mail nobody can read, reports that match no delivery) stays
untouched where it is, and the cursor keeps it from being read again.
"""
import contextlib
import datetime
import imaplib
import re
import ssl

from peewee import IntegrityError

from sendtex.bounces.parse import parse
from sendtex.bounces.rules import DUPLICATE, RECORDED, record
from sendtex.models.base import utcnow
from sendtex.models.bounces import MailboxCursor

BATCH = 500  # messages per run at most; the next run goes on from the cursor
MAX_MESSAGE_BYTES = 1_000_000  # the report parts come first; only a long returned message is cut short


class MailboxError(Exception):
    """The mailbox could not be read; the message says why (no address or password in it)."""


def mailbox_name(config):
    """The cursor's name for the configured folder."""
    return (f"{config['BOUNCE_IMAP_USER']}@{config['BOUNCE_IMAP_HOST']}:{config['BOUNCE_IMAP_PORT']}"
            f"/{config['BOUNCE_IMAP_FOLDER']}")[:500]


def due(config, now=None):
    """Claim this run if the polling interval has passed since the last one (True), else False."""
    now = now or utcnow()
    name = mailbox_name(config)
    try:
        MailboxCursor.create(mailbox=name)
    except IntegrityError:
        pass
    since = now - datetime.timedelta(seconds=config["BOUNCE_IMAP_INTERVAL_SECONDS"])
    return MailboxCursor.update(polled_at=now).where(
        (MailboxCursor.mailbox == name) & (MailboxCursor.polled_at.is_null() | (MailboxCursor.polled_at <= since))
    ).execute() == 1


def poll(config):
    """Read new mail in the folder once; counts of what was recorded, already known, unmatched and left alone.
    MailboxError when the server cannot be reached or refuses."""
    counts = {"recorded": 0, "duplicates": 0, "unmatched": 0, "left alone": 0}
    cursor = MailboxCursor.get_or_create(mailbox=mailbox_name(config))[0]
    try:
        with _connection(config) as imap:
            uidvalidity = _select(imap, config["BOUNCE_IMAP_FOLDER"])
            if uidvalidity != cursor.uidvalidity:  # a new folder under the same name: UIDs start again
                cursor.uidvalidity, cursor.last_uid = uidvalidity, 0
                cursor.save()
            processed = config["BOUNCE_IMAP_PROCESSED_FOLDER"]
            imap.create(_quoted(processed))  # "NO" when it exists already, which is fine
            for uid in _new_uids(imap, cursor.last_uid)[:BATCH]:
                counts[_handle(imap, uid, processed)] += 1
                MailboxCursor.update(last_uid=uid).where(MailboxCursor.id == cursor.id).execute()
    except (OSError, imaplib.IMAP4.error) as exc:
        raise MailboxError(f"{config['BOUNCE_IMAP_HOST']}:{config['BOUNCE_IMAP_PORT']}: {_reason(exc)}") from exc
    return counts


def _handle(imap, uid, processed):
    raw = _fetch(imap, uid)
    report = parse(raw) if raw is not None else None
    if report is None or not report.actionable:
        return "left alone"
    outcomes = [record(notice, report.origin, "imap") for notice in report.notices]
    if RECORDED not in outcomes and DUPLICATE not in outcomes:
        return "unmatched"
    _move(imap, uid, processed)
    return "recorded" if RECORDED in outcomes else "duplicates"


@contextlib.contextmanager
def _connection(config):
    """A logged-in IMAP connection over TLS (or STARTTLS), logged out at the end."""
    context = ssl.create_default_context(cafile=config["BOUNCE_IMAP_CA_FILE"] or None)
    if not config["BOUNCE_IMAP_VERIFY"]:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    host, port, timeout = config["BOUNCE_IMAP_HOST"], config["BOUNCE_IMAP_PORT"], config["SMTP_TIMEOUT"]
    if config["BOUNCE_IMAP_SECURITY"] == "starttls":
        imap = imaplib.IMAP4(host, port, timeout=timeout)
        imap.starttls(ssl_context=context)
    else:
        imap = imaplib.IMAP4_SSL(host, port, ssl_context=context, timeout=timeout)
    try:
        imap.login(config["BOUNCE_IMAP_USER"], config["BOUNCE_IMAP_PASSWORD"])
        # Servers name more extensions (MOVE, UIDPLUS) once logged in than in their greeting.
        status, data = imap.capability()
        if status == "OK" and data and data[0]:
            imap.capabilities = tuple(data[0].decode("ascii", "replace").upper().split())
        yield imap
    finally:
        try:
            imap.logout()
        except (OSError, imaplib.IMAP4.error):
            pass


def _reason(exc):
    text = exc.args[0] if isinstance(exc, imaplib.IMAP4.error) and exc.args else str(exc)
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return text[:200] or exc.__class__.__name__


def _select(imap, folder):
    status, data = imap.select(_quoted(folder))
    if status != "OK":
        raise MailboxError(f"the folder {folder!r} cannot be opened: {_reason(imaplib.IMAP4.error(data[0]))}")
    value = (imap.response("UIDVALIDITY")[1] or [b"0"])[0]
    return int(value) if value and value.isdigit() else 0


def _new_uids(imap, last_uid):
    status, data = imap.uid("SEARCH", None, f"UID {last_uid + 1}:*")
    if status != "OK" or not data or not data[0]:
        return []
    # "n:*" always names the last message, even when its UID is below n: only larger ones are new.
    return sorted(uid for uid in map(int, data[0].split()) if uid > last_uid)


def _fetch(imap, uid):
    status, data = imap.uid("FETCH", str(uid), f"(BODY.PEEK[]<0.{MAX_MESSAGE_BYTES}>)")
    if status != "OK":
        return None
    return next((item[1] for item in data if isinstance(item, tuple) and len(item) == 2), None)


def _move(imap, uid, folder):
    capabilities = imap.capabilities
    if "MOVE" in capabilities:
        status, _ = imap.uid("MOVE", str(uid), _quoted(folder))
        if status == "OK":
            return
    status, _ = imap.uid("COPY", str(uid), _quoted(folder))
    if status != "OK":
        raise MailboxError(f"cannot copy a processed message to {folder!r}")
    imap.uid("STORE", str(uid), "+FLAGS.SILENT", "(\\Deleted)")
    if "UIDPLUS" in capabilities:  # expunges this message only; a plain EXPUNGE would take others marked deleted
        imap.uid("EXPUNGE", str(uid))


def _quoted(name):
    if not re.fullmatch(r"[\x20-\x7e]{1,200}", name or ""):
        raise MailboxError("IMAP folder names must be printable ASCII")
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
