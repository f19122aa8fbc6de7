"""DKIM signing (RFC 6376: rsa-sha256, relaxed/relaxed) of messages built as CRLF bytes, with RSA from OpenSSL.

dkimpy does the same in pure Python at ~140 signatures/s; here the hashing and RSA run in C through
`cryptography` and the canonicalisation is a few regular expressions, so one core signs thousands per second.
"""
import base64
import hashlib
import re
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

# Signed when present, in this order. List-Unsubscribe(-Post) must be signed for one-click unsubscribe (RFC 8058).
SIGNED_HEADERS = (
    "from", "sender", "reply-to", "to", "cc", "subject", "date", "message-id", "in-reply-to", "references",
    "mime-version", "content-type", "content-transfer-encoding", "list-id", "list-unsubscribe",
    "list-unsubscribe-post", "list-help", "list-subscribe", "list-post", "list-owner", "list-archive",
    "feedback-id",
)
MAX_LINE = 78
FOLD = b"\r\n "

_HEADER_FIELD = re.compile(rb"^([!-9;-~]+)[ \t]*:([^\r\n]*(?:\r\n[ \t][^\r\n]*)*)", re.MULTILINE)
_WSP = re.compile(rb"[ \t]+")
# Literal patterns: the regex engine finds them in text full of spaces ~2x faster than `in` does.
_SPACES = re.compile(rb"  +")
_DOUBLE_SPACE = re.compile(rb"  ")  # "  +" is no plain literal: searching with it is 2x slower
_TRAILING_SPACE = re.compile(rb" \r\n")
_LINE_END = re.compile(rb"\r?\n")
_SELECTOR = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*", re.I)


def generate_key(bits=2048):
    """A new RSA key pair: (private key as PKCS#8 PEM text, public key as base64 DER for the DNS record)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()).decode()
    return private_pem, public_key_b64(key.public_key())


def public_key_b64(public_key):
    """The public key as base64 of its DER SubjectPublicKeyInfo, the p= value of the DNS record."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode()


def dns_record(selector, domain, public_b64):
    """(name, value) of the TXT record that publishes the key."""
    return f"{selector}._domainkey.{domain}", f"v=DKIM1; k=rsa; p={public_b64}"


def txt_strings(value, size=255):
    """A TXT value cut into the ≤255-byte strings DNS stores (verifiers join them again)."""
    return [value[start:start + size] for start in range(0, len(value), size)] or [""]


def canonical_header(name, value):
    """A header field in relaxed canonical form (RFC 6376 3.4.2), as bytes ending in CRLF."""
    value = value.replace(b"\r\n", b"")
    if b"\t" in value or b"  " in value:
        value = _WSP.sub(b" ", value)
    return name.lower() + b":" + value.strip(b" ") + b"\r\n"


def canonical_body(body):
    """A body in relaxed canonical form (RFC 6376 3.4.4)."""
    if not body.endswith(b"\r\n"):
        body += b"\r\n"
    # Tabs become spaces, runs of spaces one space, then a space left at a line end goes. Each step is one
    # C-speed pass (the regex starts with a literal, so it scans fast); a character class costs 8x more.
    if b"\t" in body:
        body = body.replace(b"\t", b" ")
    if _DOUBLE_SPACE.search(body):
        body = _SPACES.sub(b" ", body)
    if _TRAILING_SPACE.search(body):
        body = body.replace(b" \r\n", b"\r\n")
    if not body.endswith(b"\r\n\r\n"):  # one line end already: nothing to cut, nothing to copy
        return body if body != b"\r\n" else b""
    end = len(body)
    while body.endswith(b"\r\n", 0, end):
        end -= 2
    return body[:end] + b"\r\n" if end else b""


def split_message(message):
    """(header block, body) of a CRLF message; the header block keeps the CRLF of its last line."""
    end = message.find(b"\r\n\r\n")
    if end < 0:
        return message if message.endswith(b"\r\n") else message + b"\r\n", b""
    return message[:end + 2], message[end + 4:]


class DkimSigner:
    """Signs messages for one domain and selector; the key is parsed once, when the signer is made."""

    def __init__(self, domain, selector, private_key_pem, headers=SIGNED_HEADERS):
        if not _SELECTOR.fullmatch(selector) or not _SELECTOR.fullmatch(domain) or not domain.isascii():
            raise ValueError("the domain and selector must be ASCII host names (IDN in punycode)")
        key = private_key_pem.encode() if isinstance(private_key_pem, str) else private_key_pem
        self._key = serialization.load_pem_private_key(key, password=None)
        if not isinstance(self._key, rsa.RSAPrivateKey):
            raise ValueError("a DKIM key for rsa-sha256 must be an RSA key")
        self.domain, self.selector = domain.lower(), selector
        self._wanted = tuple(name.lower().encode() for name in headers)
        self._wanted_set = frozenset(self._wanted)
        self._padding, self._hash = padding.PKCS1v15(), hashes.SHA256()
        self._layouts = {}  # see _signature_layout(): one campaign repeats a handful
        self._canonical = {}  # canonical form by (name, value) of header fields seen

    def sign(self, message):
        """The message (CRLF bytes) with a DKIM-Signature header field in front."""
        # As many CRs as LFs: the lines end in CRLF (counting single bytes is several times faster than pairs).
        if message.count(b"\r") != message.count(b"\n"):
            message = _LINE_END.sub(b"\r\n", message)  # as an SMTP relay would put bare LFs on the wire
        header_block, body = split_message(message)
        body_hash = base64.b64encode(hashlib.sha256(canonical_body(body)).digest())
        found, known = {}, self._canonical
        for name, value in _HEADER_FIELD.findall(header_block):
            name = name.lower()
            if name in self._wanted_set:
                canonical = known.get((name, value))
                if canonical is None:
                    canonical = canonical_header(name, value)
                    if len(known) < 1000:  # most of a campaign's header fields are the same in every message
                        known[(name, value)] = canonical
                found.setdefault(name, []).append(canonical)
        signed_names, hashed = [], []
        for name in self._wanted:
            instances = found.get(name)
            if instances:
                # Instances are taken from the bottom up (RFC 6376 5.4.2); the extra name "oversigns" the
                # field, so a header of this name added on the way breaks the signature.
                signed_names.extend([name] * (len(instances) + 1))
                hashed.extend(reversed(instances))
        stamp = b"%d" % time.time()
        field, canonical, column = self._signature_layout(tuple(signed_names), len(stamp), len(body_hash))
        hashed.append(canonical % (stamp, body_hash))
        signature = base64.b64encode(self._key.sign(b"".join(hashed), self._padding, self._hash))
        return b"".join((field % (stamp, body_hash), _fold_base64(signature, column), b"\r\n", message))

    def _signature_layout(self, signed_names, stamp_length, hash_length):
        """(field, its canonical form, the column where b= ends) with %b for the t= and bh= values: the
        folding depends only on the signed names and those values' lengths, so it is worked out once."""
        key = (signed_names, stamp_length, hash_length)
        layout = self._layouts.get(key)
        if layout is None:
            # Stand-ins of the real lengths that canonicalisation keeps as they are (no spaces, no %).
            stamp, body_hash = b"\x01" * stamp_length, b"\x02" * hash_length
            field = self._signature_field(signed_names, stamp, body_hash)
            canonical = canonical_header(b"dkim-signature", field[len(b"DKIM-Signature:"):])[:-2]
            layout = self._layouts[key] = (_with_slots(field, stamp, body_hash),
                                           _with_slots(canonical, stamp, body_hash), _last_line_length(field))
        return layout

    def _signature_field(self, signed_names, stamp, body_hash):
        """The DKIM-Signature field up to its empty b= tag, folded at MAX_LINE."""
        tags = [b"v=1;", b"a=rsa-sha256;", b"c=relaxed/relaxed;", b"d=" + self.domain.encode() + b";",
                b"s=" + self.selector.encode() + b";", b"t=" + stamp + b";", _fold_list(b"h=", signed_names) + b";",
                b"bh=" + body_hash + b";", b"b="]
        lines, line = [], b"DKIM-Signature:"
        for tag in tags:
            first = tag.split(b"\r\n", 1)[0]
            if len(line) + 1 + len(first) > MAX_LINE or tag == b"b=":
                lines.append(line)
                line = b""
            line += b" " + tag
            if b"\r\n" in tag:
                done, line = line.rsplit(b"\r\n", 1)
                lines.append(done)
        return b"\r\n".join(lines + [line])


def _with_slots(text, stamp, body_hash):
    """text with its stand-ins for the t= and bh= values made %b slots (and any other % doubled)."""
    return text.replace(b"%", b"%%").replace(stamp, b"%b", 1).replace(body_hash, b"%b", 1)


def _fold_list(prefix, names):
    """'h=a:b:c' folded after a colon where a line would pass MAX_LINE (FWS is allowed there)."""
    lines, line = [], prefix
    for position, name in enumerate(names):
        piece = name + (b":" if position < len(names) - 1 else b"")
        if len(line) + len(piece) > MAX_LINE - 2:
            lines.append(line)
            line = b""
        line += piece
    return FOLD.join(lines + [line])


def _last_line_length(field):
    return len(field) - field.rfind(b"\n") - 1


def _fold_base64(value, column):
    """The b= value folded to MAX_LINE, continuing at the column where it starts."""
    room = max(MAX_LINE - column, 0)
    pieces = [value[:room]]
    pieces.extend(value[start:start + MAX_LINE - 1] for start in range(room, len(value), MAX_LINE - 1))
    return FOLD.join(pieces)
