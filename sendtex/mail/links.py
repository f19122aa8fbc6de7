"""Per-message links: short signed tokens, the URLs built from BASE_URL, and the links found in campaign HTML.

A token is base64url(payload + MAC): the payload packs a few integers and strings, the MAC is a truncated
HMAC-SHA256 under a key derived from SECRET_KEY for that kind of token, so a token of one kind is worthless
as another. Tokens do not expire: an unsubscribe link must keep working as long as the message exists.
"""
import base64
import binascii
import hashlib
import hmac
import re
from html import unescape
from html.parser import HTMLParser
from typing import NamedTuple
from urllib.parse import urlsplit

from flask import current_app

MAC_BYTES = 10  # 80 bits: guessing a valid token takes ~10^24 tries
MAX_TOKEN_CHARS = 200

OPEN, CLICK, UNSUBSCRIBE, PREFERENCES, VIEW = "o", "c", "u", "p", "v"
# What each kind carries: i = a non-negative integer, s = a short string.
#   open: delivery id · click: delivery id, link position · others: campaign id, contact uid ("" in tests)
SHAPES = {OPEN: "i", CLICK: "ii", UNSUBSCRIBE: "is", PREFERENCES: "is", VIEW: "is"}
PATHS = {OPEN: "/t/o/", CLICK: "/t/c/", UNSUBSCRIBE: "/u/", PREFERENCES: "/p/", VIEW: "/v/"}

_TOKEN_CHARS = re.compile(r"[A-Za-z0-9_-]+")


def _varint(number):
    if number < 0x80:
        return bytes((number,))
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        if not number:
            out.append(byte)
            return out
        out.append(byte | 0x80)


def _read_varint(data, index):
    number = shift = 0
    while True:
        if index >= len(data) or shift > 63:
            raise ValueError("truncated")
        byte = data[index]
        index += 1
        number |= (byte & 0x7F) << shift
        if not byte & 0x80:
            # One encoding per number: a varint ending in a zero byte (other than zero itself) is refused.
            if byte == 0 and shift:
                raise ValueError("not minimal")
            return number, index
        shift += 7


def _pack(shape, parts):
    if len(parts) != len(shape):
        raise ValueError("wrong number of token parts")
    out = bytearray()
    for kind, part in zip(shape, parts):
        if kind == "i":
            if not isinstance(part, int) or part < 0:
                raise ValueError("token integers are non-negative")
            out += _varint(part)
        else:
            raw = part.encode()
            out += _varint(len(raw)) + raw
    return bytes(out)


def _unpack(shape, payload):
    parts, index = [], 0
    for kind in shape:
        number, index = _read_varint(payload, index)
        if kind == "i":
            parts.append(number)
        else:
            if index + number > len(payload):
                raise ValueError("truncated")
            parts.append(payload[index:index + number].decode())
            index += number
    if index != len(payload):
        raise ValueError("trailing bytes")
    return tuple(parts)


class _HmacSha256:
    """HMAC-SHA256 under one key, with the padded key's hash states computed once (2.5x faster per token)."""

    def __init__(self, key):
        key = key.ljust(64, b"\0")  # keys here are 32 bytes, shorter than SHA-256's block
        self._inner = hashlib.sha256(bytes(byte ^ 0x36 for byte in key))
        self._outer = hashlib.sha256(bytes(byte ^ 0x5C for byte in key))

    def digest(self, message):
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()


def _b64(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Signer:
    """Makes and reads the tokens of per-message links under keys derived from one secret."""

    def __init__(self, secret):
        secret = secret.encode() if isinstance(secret, str) else secret
        self._macs = {kind: _HmacSha256(hmac.digest(secret, b"sendtex.link-token." + kind.encode(), "sha256"))
                      for kind in SHAPES}

    def _mac(self, kind, payload):
        return self._macs[kind].digest(payload)[:MAC_BYTES]

    def sign(self, kind, *parts):
        """A token of this kind carrying parts (integers and strings, as SHAPES says)."""
        payload = _pack(SHAPES[kind], parts)
        return _b64(payload + self._mac(kind, payload))

    def sign_numbers(self, kind, *numbers):
        """sign() for kinds that carry only integers, without the general packing (the per-link hot path)."""
        if len(numbers) != len(SHAPES[kind]) or "s" in SHAPES[kind] or min(numbers) < 0:
            raise ValueError("wrong token parts")
        payload = b"".join(map(_varint, numbers))
        return _b64(payload + self._macs[kind].digest(payload)[:MAC_BYTES])

    def read(self, kind, token):
        """The parts a genuine token of this kind carries, or None if it is forged, altered or of another kind."""
        if not token or len(token) > MAX_TOKEN_CHARS or not _TOKEN_CHARS.fullmatch(token):
            return None
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        # base64 ignores the spare bits of the last character: only the one canonical spelling is accepted.
        if len(raw) <= MAC_BYTES or _b64(raw) != token:
            return None
        payload, mac = raw[:-MAC_BYTES], raw[-MAC_BYTES:]
        if not hmac.compare_digest(mac, self._mac(kind, payload)):
            return None
        try:
            return _unpack(SHAPES[kind], payload)
        except (ValueError, UnicodeDecodeError):
            return None


def signer():
    """The app's token signer (keys derived from SECRET_KEY once per app)."""
    cached = current_app.extensions.get("sendtex.link_signer")
    secret = current_app.config["SECRET_KEY"]
    if cached is None or cached[0] != secret:
        cached = (secret, Signer(secret))
        current_app.extensions["sendtex.link_signer"] = cached
    return cached[1]


def read_token(kind, token):
    """The parts of a genuine token of this kind, or None (forged, altered, of another kind)."""
    return signer().read(kind, token)


class LinkUrls:
    """Builds the absolute per-message URLs on BASE_URL (never on the request's Host header)."""

    def __init__(self, base_url, token_signer):
        base = base_url.rstrip("/")
        self._prefix = {kind: base + path for kind, path in PATHS.items()}
        self._sign, self._sign_numbers = token_signer.sign, token_signer.sign_numbers
        self._open_prefix, self._click_prefix = self._prefix[OPEN], self._prefix[CLICK]

    def url(self, kind, *parts):
        """The URL of a token of this kind carrying parts."""
        return self._prefix[kind] + self._sign(kind, *parts)

    def open(self, delivery_id):
        """The open image's URL of a delivery."""
        return self._open_prefix + self._sign_numbers(OPEN, delivery_id)

    def click(self, delivery_id, position):
        """The click URL of a delivery's link at position."""
        return self._click_prefix + self._sign_numbers(CLICK, delivery_id, position)


def link_urls():
    """LinkUrls for the current app's BASE_URL and SECRET_KEY."""
    return LinkUrls(current_app.config["BASE_URL"], signer())


# Links in HTML


class FoundLink(NamedTuple):
    start: int  # the href value's span in the scanned text
    end: int
    url: str  # the URL with character references resolved


class HtmlScan(NamedTuple):
    links: list  # FoundLink of every trackable <a href>, in document order
    body_start: int  # just after <body ...>, 0 without one
    body_end: int  # at the last </body>, the end of the text without one


def is_trackable(url):
    """True for absolute http(s) URLs: mailto:, tel:, #anchors and relative links are left alone."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.netloc) and url.isprintable()


_ATTRIBUTE = re.compile(r"""\s*([^\s"'>/=]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]*))?|\s*/""")


def _href_span(tag_text):
    """The (start, end, raw value) of the href attribute inside a start tag's text, or None."""
    index = len(re.match(r"<[^\s/>]+", tag_text).group())
    while index < len(tag_text):
        match = _ATTRIBUTE.match(tag_text, index)
        if not match or match.end() == index:
            return None
        index = match.end()
        if match.group(1) and match.group(1).lower() == "href" and match.group(2) is not None:
            value = match.group(2)
            start = match.start(2)
            if value and value[0] in "\"'":
                return start + 1, match.end(2) - 1, value[1:-1]
            return start, match.end(2), value
    return None


class _Scanner(HTMLParser):
    def __init__(self, text, skip):
        super().__init__(convert_charrefs=True)
        self._line_starts = [0] + [match.end() for match in re.finditer("\n", text)]
        self._skip = skip
        self.links, self.body_start, self.body_end = [], None, None

    def _offset(self):
        line, column = self.getpos()
        return self._line_starts[line - 1] + column

    def handle_starttag(self, tag, attrs):
        if tag == "body" and self.body_start is None:
            self.body_start = self._offset() + len(self.get_starttag_text())
        elif tag == "a":
            span = _href_span(self.get_starttag_text())
            if span:
                url = unescape(span[2]).strip()
                if is_trackable(url) and not self._skip(url):
                    offset = self._offset()
                    self.links.append(FoundLink(offset + span[0], offset + span[1], url))

    def handle_endtag(self, tag):
        if tag == "body":
            self.body_end = self._offset()


def scan_html(text, skip=lambda url: False):
    """The trackable links and the body's inner bounds of an HTML text (skip(url) leaves a URL alone)."""
    scanner = _Scanner(text, skip)
    scanner.feed(text)
    scanner.close()
    body_start = scanner.body_start or 0
    body_end = scanner.body_end if scanner.body_end is not None and scanner.body_end >= body_start else len(text)
    return HtmlScan(scanner.links, body_start, body_end)


_TEXT_URL = re.compile(r"https?://[^\s<>\"'`]+", re.IGNORECASE)


def scan_text(text, skip=lambda url: False):
    """The trackable URLs written out in a plain text, as FoundLink (trailing punctuation excluded)."""
    found = []
    for match in _TEXT_URL.finditer(text):
        url = match.group().rstrip(".,;:!?)]}'\"")
        if is_trackable(url) and not skip(url):
            found.append(FoundLink(match.start(), match.start() + len(url), url))
    return found
