"""Reading what comes back to the bounce address: delivery status notifications (RFC 3464), feedback-loop
complaints (ARF, RFC 5965), the plain-text bounces of MTAs that send no report, auto-replies and the rest.

parse() never raises: a message it cannot read is "unrecognised", and only bounces and complaints are ever
acted on; everything else is left where it is for a person to read.
"""
import base64
import binascii
import email
import quopri
import re
from dataclasses import dataclass, field
from email import policy
from email.parser import HeaderParser
from email.utils import getaddresses, parseaddr

# What parse() makes of a message; only the first two are recorded and taken out of the mailbox.
ACTIONABLE = ("bounce", "complaint")
OTHER = ("delay", "feedback", "autoreply", "unrelated", "unrecognised")

MAX_ID = 2**63 - 1
TRACKING_ID = re.compile(r"c(\d{1,19})\.d(\d{1,19})")  # the X-Sendtex-ID header: c<campaign>.d<delivery>
QUOTED_ID_HEADER = re.compile(r"^[ \t>]*X-Sendtex-ID:[ \t]*c(\d{1,19})\.d(\d{1,19})\b", re.I | re.M)
OUR_MESSAGE_ID = re.compile(r"<c(\d{1,19})\.d(\d{1,19})\.[0-9a-f]+@", re.I)  # Message-ID starts with the tracking id
OUR_LIST_ID = re.compile(r"<(\d{1,19})\.(\d{1,19})\.lists\.[^>\s]+>", re.I)  # <campaign.account.lists.domain>
STATUS = re.compile(r"(?<![\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.])")
SMTP_CODE = re.compile(r"(?<![\d.])([245]\d\d)(?=[\s-]|$)")
ADDRESS = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")
# A bad address (5.1.x), a disabled mailbox (5.2.1), an unroutable domain (5.4.4); the rest may pass.
HARD_DETAILS = {("2", "1"), ("4", "4")}
HARD_WORDS = re.compile(r"user unknown|unknown user|no such (?:user|mailbox|recipient|address)|does ?n[o']t exist|"
                        r"recipient (?:address )?(?:not found|rejected)|invalid (?:recipient|mailbox|address)|"
                        r"unrouteable address|mailbox (?:not found|disabled)|account (?:has been )?disabled", re.I)

BOUNCE_SENDER = re.compile(r"^(?:mailer-daemon|mailer_daemon|mailerdaemon|postmaster|mail-daemon)@", re.I)
BOUNCE_SENDER_NAME = re.compile(r"mail delivery (?:sub)?system|mail administrator", re.I)
BOUNCE_SUBJECT = re.compile(r"undeliver|delivery (?:status notification|failure|has failed|failed)|"
                            r"mail delivery failed|returned mail|failure notice|could not be delivered|"
                            r"non remis|unzustellbar|onbestelbaar|no entregado", re.I)
AUTOREPLY_SUBJECT = re.compile(r"out of (?:the )?office|automatic reply|auto[- ]?reply|auto[- ]?response|"
                               r"autoresponder|on vacation|vacation reply|away from (?:the |my )?office|"
                               r"abwesenheit|afwezig|absence|fuera de la oficina", re.I)
AUTOREPLY_HEADERS = ("x-autoreply", "x-autorespond", "x-autoresponder", "x-vacation")
# Where a plain-text bounce starts quoting the returned message: addresses after this are not failures.
RETURNED_COPY = re.compile(r"^[ \t]*-{2,}.*(?:copy of the|original message|returned message|message follows|"
                           r"undelivered message|message headers)|^[ \t]*(?:Return-Path|Received):", re.I | re.M)

DIAGNOSTIC_LENGTH = 200
ROUGH_TEXT_LIMIT = 200_000  # characters of a message searched by pattern; a bounce says what it must early on


@dataclass
class Notice:
    """One failed recipient or one complaint."""

    kind: str  # hard, soft or complaint
    recipient: str = ""  # the address the report names ("" when it names none)
    status: str = ""  # enhanced status code, e.g. 5.1.1
    diagnostic: str = ""  # short, without any e-mail address in it


@dataclass
class Origin:
    """What a report tells about the message of ours it is about."""

    campaign_id: int | None = None
    delivery_id: int | None = None
    account_id: int | None = None  # known from the List-Id when the tracking id is missing
    addressed_to: tuple = ()  # the To/Cc addresses of the returned message, lower case


@dataclass
class Report:
    """What a message that came back is, and what it says."""

    category: str
    notices: list = field(default_factory=list)
    origin: Origin = field(default_factory=Origin)

    @property
    def actionable(self):
        """True for a bounce or complaint with something to record."""
        return self.category in ACTIONABLE and bool(self.notices)


def parse(raw):
    """The Report for a message's bytes; never raises."""
    try:
        return _classify(email.message_from_bytes(raw, policy=policy.compat32))
    except Exception:  # noqa: BLE001  (any malformed MIME the email package chokes on: leave the message alone)
        return Report("unrecognised")


def _classify(message):
    parts = list(message.walk())
    types = {part.get_content_type() for part in parts}
    if types & {"message/delivery-status", "message/global-delivery-status"}:
        return _delivery_status(parts)
    if "message/feedback-report" in types:
        return _feedback_report(parts)
    if _is_autoreply(message):
        return Report("autoreply")
    if _is_plain_bounce(message):
        return _plain_bounce(message, parts)
    if _header(message, "Auto-Submitted").strip().lower() not in ("", "no"):
        return Report("autoreply")
    # Mail that is neither, and broken besides, is called what it is: somebody may want to look at it.
    return Report("unrecognised" if any(part.defects for part in parts) else "unrelated")


# RFC 3464 delivery status notifications

def _delivery_status(parts):
    blocks = []
    for part in parts:
        if part.get_content_type() in ("message/delivery-status", "message/global-delivery-status"):
            blocks += field_blocks(_report_text(part))
    notices, delayed = [], False
    for fields in blocks:
        if not any(name in fields for name in ("final-recipient", "original-recipient", "action")):
            continue  # the per-message block (Reporting-MTA, Arrival-Date)
        status = _status(fields.get("status", "")) or _status(fields.get("diagnostic-code", ""))
        action = fields.get("action", "").strip().lower() or {"5": "failed", "4": "delayed"}.get(status[:1], "")
        if action == "delayed":
            delayed = True
        if action != "failed":
            continue
        diagnostic = _one_reply(_after_type(fields.get("diagnostic-code", ""))) or _diagnostic_from_status(status)
        if status.endswith(".0.0"):  # a generic class: the relay's own reply may be more precise
            status = _status(diagnostic) or status
        recipient = _address(fields.get("original-recipient") or fields.get("final-recipient", ""))
        notices.append(Notice(severity(status, diagnostic), recipient, status, short(diagnostic)))
    origin = _origin(parts)
    if notices:
        return Report("bounce", notices, origin)
    return Report("delay" if delayed else "unrelated", origin=origin)


def _one_reply(text):
    """A multi-line SMTP reply as one: "550-5.1.1 No such 550-5.1.1 user" → "550 5.1.1 No such user"."""
    match = re.match(r"([245]\d\d)[- ]((?:[245]\.\d{1,3}\.\d{1,3} )?)", text)
    if match is None:
        return text
    code, status = match.groups()
    rest = re.sub(rf"\s{code}[- ]{re.escape(status)}", " ", text[match.end():])
    return f"{code} {status}{rest}"


def _diagnostic_from_status(status):
    return f"status {status}" if status else ""


# RFC 5965 feedback reports

COMPLAINTS = ("abuse", "fraud", "virus")


def _feedback_report(parts):
    fields = {}
    for part in parts:
        if part.get_content_type() == "message/feedback-report":
            for block in field_blocks(_report_text(part)):
                fields = {**block, **fields}
    feedback_type = fields.get("feedback-type", "").strip().lower()
    origin = _origin(parts)
    if feedback_type not in COMPLAINTS:
        return Report("feedback", origin=origin)
    reporter = fields.get("user-agent", "").strip() or fields.get("reporting-mta", "").strip()
    diagnostic = f"{feedback_type} report" + (f" ({reporter})" if reporter else "")
    recipient = _address(fields.get("original-rcpt-to", ""))
    return Report("complaint", [Notice("complaint", recipient, "", short(diagnostic))], origin)


# Bounces as plain text (Exim, qmail, many appliances): a failure note and a copy of the message

def _is_plain_bounce(message):
    if _header(message, "X-Failed-Recipients").strip():
        return True
    name, address = parseaddr(_header(message, "From"))
    from_daemon = bool(BOUNCE_SENDER.match(address or "") or BOUNCE_SENDER_NAME.search(name or ""))
    null_sender = _header(message, "Return-Path").strip() == "<>"
    return (from_daemon or null_sender) and bool(BOUNCE_SUBJECT.search(_header(message, "Subject")))


def _plain_bounce(message, parts):
    text = _text(parts)
    copy = RETURNED_COPY.search(text)
    note = text[:copy.start()] if copy else text
    failed = [address for _, address in getaddresses([_header(message, "X-Failed-Recipients")]) if "@" in address]
    if not failed:
        failed = _listed_addresses(note, exclude={parseaddr(_header(message, name))[1].lower() for name in ("From", "To")})
    status = _status(note)
    line = _diagnostic_line(note)
    origin = _origin(parts, text)
    kind = severity(status, note)
    notices = [Notice(kind, address.lower(), status, short(line)) for address in dict.fromkeys(failed)]
    if not notices and origin.delivery_id:
        notices = [Notice(kind, "", status, short(line))]
    return Report("bounce" if notices else "unrecognised", notices, origin)


def _listed_addresses(note, exclude):
    """Addresses standing alone on a line (how Exim and qmail list the failed ones)."""
    found = []
    for line in note.splitlines():
        match = re.fullmatch(r"\s*<?(" + ADDRESS.pattern + r")>?:?\s*", line)
        if match and match.group(1).lower() not in exclude:
            found.append(match.group(1))
    return found


def _diagnostic_line(note):
    for line in note.splitlines():
        if SMTP_CODE.search(line) or STATUS.search(line):
            return line.strip()
    return next((line.strip() for line in note.splitlines() if HARD_WORDS.search(line)), "")


def _is_autoreply(message):
    if any(_header(message, name).strip() for name in AUTOREPLY_HEADERS):
        return True
    if _header(message, "Precedence").strip().lower() == "auto_reply":
        return True
    return bool(AUTOREPLY_SUBJECT.search(_header(message, "Subject")))


# Which message of ours a report is about

RETURNED_MESSAGE = ("message/rfc822", "message/global")
RETURNED_HEADERS = ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers")


def _origin(parts, text=None):
    """From the returned message (or its headers) when the report has it, else by pattern from its text."""
    for part in parts:
        headers = _returned_headers(part)
        if headers is not None and (headers.get("X-Sendtex-ID") or headers.get("Message-ID") or headers.get("List-Id")):
            origin = _origin_from_headers(headers)
            if origin.campaign_id:
                return origin
    return _origin_from_text(text if text is not None else _text(parts))


def _returned_headers(part):
    content_type = part.get_content_type()
    if content_type in RETURNED_MESSAGE:
        payload = part.get_payload()
        if isinstance(payload, list) and payload:
            return payload[0]
    elif content_type in RETURNED_HEADERS:
        return HeaderParser(policy=policy.compat32).parsestr(_decoded(part))
    return None


def _origin_from_headers(headers):
    origin = Origin(addressed_to=tuple(address.lower() for _, address in
                                       getaddresses([str(headers.get("To", "")), str(headers.get("Cc", ""))])
                                       if "@" in address))
    origin.campaign_id, origin.delivery_id = tracking_id(str(headers.get("X-Sendtex-ID", "")))
    if origin.delivery_id is None:
        origin.campaign_id, origin.delivery_id = tracking_id(str(headers.get("Message-ID", "")))
    listed = OUR_LIST_ID.search(str(headers.get("List-Id", "")))
    if listed:
        origin.campaign_id = origin.campaign_id or _id(listed.group(1))
        origin.account_id = _id(listed.group(2))
    return origin


def _origin_from_text(text):
    origin = Origin()
    tracking = QUOTED_ID_HEADER.search(text) or OUR_MESSAGE_ID.search(text)
    if tracking and _id(tracking.group(1)) and _id(tracking.group(2)):
        origin.campaign_id, origin.delivery_id = _id(tracking.group(1)), _id(tracking.group(2))
    listed = OUR_LIST_ID.search(text)
    if listed:
        origin.campaign_id = origin.campaign_id or _id(listed.group(1))
        origin.account_id = _id(listed.group(2))
    copy = RETURNED_COPY.search(text)
    to_line = re.search(r"^[ \t>]*To:[ \t]*(.+)$", text[copy.start() if copy else 0:], re.I | re.M)
    if to_line:
        origin.addressed_to = tuple(address.lower() for _, address in getaddresses([to_line.group(1)]) if "@" in address)
    return origin


def tracking_id(value):
    """(campaign id, delivery id) from an X-Sendtex-ID value or a Message-ID of ours; (None, None) otherwise."""
    value = value.strip()
    match = TRACKING_ID.fullmatch(value) or OUR_MESSAGE_ID.search(value if value.startswith("<") else f"<{value}")
    if match is None or _id(match.group(1)) is None or _id(match.group(2)) is None:
        return None, None
    return _id(match.group(1)), _id(match.group(2))


def _id(digits):
    value = int(digits)
    return value if 0 < value <= MAX_ID else None


# Small readers

def severity(status, text=""):
    """"hard" when the address itself is bad (by the status code, else by the words), else "soft"."""
    if status and not status.endswith(".0.0"):
        klass, subject, detail = status.split(".")
        return "hard" if klass == "5" and (subject == "1" or (subject, detail) in HARD_DETAILS) else "soft"
    code = SMTP_CODE.search(text or "")
    if code and code.group(1).startswith("4"):
        return "soft"
    return "hard" if HARD_WORDS.search(text or "") else "soft"


def enhanced_status(text):
    """The first enhanced status code (e.g. 5.1.1) in a relay's reply, or ""."""
    return _status(text)


def _status(text):
    match = STATUS.search(text or "")
    return ".".join(match.groups()) if match else ""


def short(text):
    """A diagnostic fit to keep: one line, e-mail addresses removed, at most DIAGNOSTIC_LENGTH characters."""
    text = without_addresses(text)
    return text if len(text) <= DIAGNOSTIC_LENGTH else text[:DIAGNOSTIC_LENGTH - 1] + "…"


def without_addresses(text):
    """The text on one line with every e-mail address replaced by "(address)"."""
    return ADDRESS.sub("(address)", " ".join(str(text or "").split()))


def _after_type(value):
    """A DSN field value without its type ("smtp; 550 …" → "550 …")."""
    kind, separator, rest = value.partition(";")
    return " ".join((rest if separator and " " not in kind.strip() else value).split())


def _address(value):
    address = _after_type(value).strip().strip("<>").strip()
    return address.lower() if "@" in address else ""


def field_blocks(text):
    """The blocks of "Name: value" fields of a report part (separated by blank lines), as dicts with
    lower-case names; folded lines unfolded, the first of repeated fields kept."""
    blocks, current, last = [], {}, None
    for line in text.replace("\r\n", "\n").split("\n"):
        if not line.strip():
            if current:
                blocks.append(current)
            current, last = {}, None
        elif line[:1] in (" ", "\t"):
            if last is not None:
                current[last] += " " + line.strip()
        elif ":" in line:
            name, _, value = line.partition(":")
            last = name.strip().lower()
            if last in current:
                last = None  # a repeated field: keep the first, skip its continuation lines
            else:
                current[last] = value.strip()
    if current:
        blocks.append(current)
    return blocks


def _report_text(part):
    """The text of a message/delivery-status or message/feedback-report part, decoded where it was encoded
    (the email package splits such parts into blocks before decoding; they are put together again here)."""
    payload = part.get_payload()
    text = "\n\n".join(map(_block_text, payload)) if isinstance(payload, list) else str(payload)
    encoding = _header(part, "Content-Transfer-Encoding").strip().lower()
    try:
        if encoding == "base64":
            return base64.b64decode("".join(text.split())).decode("utf-8", "replace")
        if encoding == "quoted-printable":
            return quopri.decodestring(text.encode("ascii", "replace")).decode("utf-8", "replace")
    except (binascii.Error, ValueError):
        return ""
    return text


def _block_text(block):
    # Its fields as they came, then whatever the email package took for a body (the rest of an encoded
    # block, or lines after one that was not a field) with no blank line between: one block stays one.
    lines = [f"{name}: {value}" for name, value in block.items()]
    body = block.get_payload()
    if isinstance(body, str) and body:
        lines.append(body)
    return "\n".join(lines)


def _decoded(part):
    data = part.get_payload(decode=True)
    if data is None:
        return str(part.get_payload() or "")
    try:
        return data.decode(part.get_content_charset() or "utf-8", "replace")
    except LookupError:  # a charset Python does not know
        return data.decode("latin-1")


def _text(parts):
    """The text parts of a message, decoded, and the headers of returned messages, as one string."""
    pieces = []
    for part in parts:
        if part.get_content_maintype() == "text" and not part.is_multipart():
            pieces.append(_decoded(part))
        elif part.get_content_type() in RETURNED_MESSAGE and isinstance(part.get_payload(), list):
            pieces.append("--- returned message ---")
            pieces += [f"{name}: {value}" for inner in part.get_payload() for name, value in inner.items()]
        if sum(map(len, pieces)) > ROUGH_TEXT_LIMIT:
            break
    return "\n".join(pieces)[:ROUGH_TEXT_LIMIT]


def _header(message, name):
    value = message.get(name)
    return str(value) if value is not None else ""
