"""Keys from configuration: the field key ring and the keyed digest used for blind indexes."""
import base64
import hashlib
import hmac


def _decode_key(text):
    key = base64.urlsafe_b64decode(text.strip().encode())
    if len(key) != 32:
        raise ValueError("keys must be 32 bytes, base64url encoded")
    return key


def parse_key_ring(text):
    """Parse 'id:base64,id:base64' into an ordered dict; the first key encrypts."""
    ring = {}
    for part in text.split(","):
        key_id, sep, encoded = part.strip().partition(":")
        if not sep or not key_id:
            raise ValueError("a key ring entry must look like id:base64key")
        ring[key_id] = _decode_key(encoded)
    if not ring:
        raise ValueError("the key ring is empty")
    return ring


def keyed_digest(key_text, value):
    """HMAC-SHA256 of value under a configured key, as hex."""
    return hmac.new(_decode_key(key_text), value.encode(), hashlib.sha256).hexdigest()
