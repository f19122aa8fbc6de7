"""Campaign messages as bytes, built fast.

The stdlib email package costs ~1.5 ms a message here; a campaign's headers are the same for every
recipient but for a few, so the fixed part is prepared once and each message is assembled from
pre-encoded pieces (RFC 5322 / 2045 / 2047, CRLF line ends), which the tests parse back with `email`.
"""
import binascii
import secrets
import time
from email.header import Header
from email.utils import formataddr, formatdate

CRLF = b"\r\n"


def encode_header_value(text):
    """A header value, RFC 2047-encoded only when it is not plain ASCII."""
    if text.isascii() and "\r" not in text and "\n" not in text:
        return text
    return Header(text.replace("\r", " ").replace("\n", " "), "utf-8").encode()


def address_header(name, address):
    """'Name <address>' with the name encoded when needed."""
    if not name:
        return address
    return formataddr((name, address)) if name.isascii() else f"{encode_header_value(name)} <{address}>"


# Bytes a quoted-printable line may carry as they are: printable ASCII but "=", and the space (RFC 2045 6.7).
_LITERAL = bytes(range(32, 127)).replace(b"=", b"")


def _qp_line(line, last):
    """One line (without its line end) exactly as binascii.b2a_qp(istext=True) encodes it within the text."""
    if line.translate(None, _LITERAL) or line.endswith(b" ") or line == b".":
        # Something to escape: the C encoder's own rules, given the line end it saw (it breaks lines
        # differently at the end of the data).
        if last:
            return binascii.b2a_qp(line, istext=True).replace(b"\n", CRLF)
        return binascii.b2a_qp(line + b"\n", istext=True)[:-1].replace(b"\n", CRLF)
    if len(line) <= 76:
        return line
    # b2a_qp's soft breaks: 75 characters and "=" while more than 76 are left, then the rest.
    chunks, start, end = [], 0, len(line)
    while end - start > 76:
        chunks.append(line[start:start + 75])
        start += 75
    chunks.append(line[start:])
    return b"=\r\n".join(chunks)


def quoted_printable(text, known=None):
    """UTF-8 quoted-printable body with CRLF line ends, byte for byte what binascii.b2a_qp(istext=True) gives.

    b2a_qp goes through every byte at ~8 ns each: 23-25 µs for each 3 KB part of bench/bench_send.py's
    message, the biggest cost of building it. Campaign text is mostly lines of plain ASCII that QP keeps as
    they are (or only cuts at 76): those are passed through here, the C encoder gets only the lines that
    need escaping (in HTML, those with an "="): 17-19 µs a part. `known` ({line: encoded}, filled here up
    to KNOWN_LINES) keeps the encoding of lines that are the same for every recipient of a campaign, most
    of its text: a part then costs ~5 µs. tests/test_message.py checks the output against b2a_qp on many
    generated texts."""
    data = text.replace("\r\n", "\n")
    if "\r" in data:  # a lone CR switches b2a_qp's line-end handling for the whole text: let it do all
        return binascii.b2a_qp(data.encode("utf-8"), istext=True).replace(b"\n", CRLF)
    lines = data.split("\n")  # as splitting the UTF-8 bytes: no multi-byte sequence holds a newline byte
    last = lines.pop()
    if known is None:
        encoded = [_qp_line(line.encode("utf-8"), False) for line in lines]
    else:
        encoded = []
        for line in lines:
            piece = known.get(line)
            if piece is None:
                piece = _qp_line(line.encode("utf-8"), False)
                if len(known) < KNOWN_LINES:
                    known[line] = piece
            encoded.append(piece)
    encoded.append(_qp_line(last.encode("utf-8"), True))
    return CRLF.join(encoded)


KNOWN_LINES = 2000  # lines a campaign keeps encoded (a bound on memory: lines with merge tags never repeat)


_date = [None, b""]  # [the second, its Date header value]


def date_header():
    """formatdate(usegmt=True) as bytes, formatted once a second: the header has one-second resolution, and
    formatting it (time.gmtime, string building) for each of thousands of messages a second was wasted."""
    now = time.time()
    second = int(now)
    if _date[0] != second:
        _date[1] = formatdate(second, usegmt=True).encode()
        _date[0] = second
    return _date[1]


class MessageTemplate:
    """The parts of a campaign's messages that are the same for every recipient."""

    def __init__(self, from_name, from_email, reply_to, list_id, list_name, message_domain, id_header="X-Sendtex-ID"):
        fixed = [
            f"From: {address_header(from_name, from_email)}",
            "MIME-Version: 1.0",
            f"List-Id: {encode_header_value(list_name)} <{list_id}>",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
        ]
        if reply_to:
            fixed.append(f"Reply-To: {reply_to}")
        self.fixed = CRLF.join(line.encode() for line in fixed) + CRLF
        self.message_domain = message_domain
        self.id_header = id_header
        self._subjects = {}
        self._known_lines = {}

    def _subject(self, subject):
        # Most campaigns have one subject for everybody: encode it once.
        encoded = self._subjects.get(subject)
        if encoded is None:
            encoded = encode_header_value(subject).encode()
            if len(self._subjects) < 1000:
                self._subjects[subject] = encoded
        return encoded

    def build(self, to_address, subject, html, text, unsubscribe_urls, tracking_id):
        """The complete message for one recipient, as bytes with CRLF line ends."""
        boundary = secrets.token_hex(12)
        message_id = f"<{tracking_id}.{secrets.token_hex(8)}@{self.message_domain}>"
        head = b"".join([
            self.fixed,
            b"To: ", to_address.encode(), CRLF,
            b"Subject: ", self._subject(subject), CRLF,
            b"Date: ", date_header(), CRLF,
            b"Message-ID: ", message_id.encode(), CRLF,
            b"List-Unsubscribe: ", ", ".join(f"<{url}>" for url in unsubscribe_urls).encode(), CRLF,
            self.id_header.encode(), b": ", tracking_id.encode(), CRLF,
            b'Content-Type: multipart/alternative; boundary="', boundary.encode(), b'"', CRLF,
        ])
        separator = b"--" + boundary.encode()
        part_head = b"Content-Transfer-Encoding: quoted-printable" + CRLF + CRLF
        return b"".join([
            head, CRLF,
            separator, CRLF, b'Content-Type: text/plain; charset="utf-8"', CRLF, part_head,
            quoted_printable(text, self._known_lines), CRLF,
            separator, CRLF, b'Content-Type: text/html; charset="utf-8"', CRLF, part_head,
            quoted_printable(html, self._known_lines), CRLF,
            separator, b"--", CRLF,
        ]), message_id
