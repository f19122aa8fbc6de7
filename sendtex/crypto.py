"""Field encryption (AES-256-GCM under a key ring), blind indexes and encrypted files.

Keys come from configuration (instance/keys.json or SENDTEX_* variables), never from the database.
"""
import base64
import hashlib
import hmac
import itertools
import os
import secrets
import struct

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
FILE_CHUNK = 64 * 1024


class DecryptionError(Exception):
    """A value could not be decrypted: its key is missing from the ring, or it was altered or moved."""


def _decode_key(text):
    key = base64.urlsafe_b64decode(text.strip().encode())
    if len(key) != 32:
        raise ValueError("keys must be 32 bytes, base64url encoded")
    return key


def new_key_text():
    """A fresh random 256-bit key, base64url encoded."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def parse_key_ring(text):
    """Parse 'id:base64,id:base64' into an ordered dict; the first key encrypts."""
    ring = {}
    for part in text.split(","):
        key_id, sep, encoded = part.strip().partition(":")
        if not sep or not key_id or "$" in key_id:
            raise ValueError("a key ring entry must look like id:base64key")
        ring[key_id] = _decode_key(encoded)
    if not ring:
        raise ValueError("the key ring is empty")
    return ring


def format_key_ring(ring_text, new_id, new_key):
    """The ring text with a new key in front (it encrypts from now on)."""
    return f"{new_id}:{new_key}," + ring_text


def keyed_digest(key_text, value):
    """HMAC-SHA256 of value under a configured key, as hex."""
    return hmac.new(_decode_key(key_text), value.encode(), hashlib.sha256).hexdigest()


def associated_data(account_id, field_key, contact_uid):
    """What a field value is bound to: copied to another account, field or contact it fails to decrypt."""
    return f"{account_id}|{field_key}|{contact_uid}".encode()


class FieldCipher:
    """Seals short text values as 'keyid$base64(nonce+ciphertext)'; opens them with any key of the ring."""

    def __init__(self, ring_text):
        ring = parse_key_ring(ring_text)
        self.primary_id = next(iter(ring))
        self._aeads = {key_id: AESGCM(key) for key_id, key in ring.items()}

    def seal(self, plaintext, aad):
        """Encrypt plaintext (str) bound to aad under the newest key."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._aeads[self.primary_id].encrypt(nonce, plaintext.encode(), aad)
        return f"{self.primary_id}${base64.b64encode(nonce + sealed).decode()}"

    def open(self, token, aad):
        """Decrypt a sealed value, or raise DecryptionError."""
        key_id, _, body = token.partition("$")
        aead = self._aeads.get(key_id)
        if aead is None:
            raise DecryptionError(f"key {key_id!r} is not in the key ring")
        try:
            raw = base64.b64decode(body)
            return aead.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], aad).decode()
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError("the value was altered or belongs to another record") from exc

    def is_current(self, token):
        """True if the value is sealed under the newest key."""
        return token.startswith(self.primary_id + "$")


class BlindIndex:
    """Keyed digests of normalised e-mail addresses, per account, for uniqueness and exact search."""

    def __init__(self, key_text):
        self._key = _decode_key(key_text)

    def email(self, account_id, normalised_email):
        """The 32-hex-digit digest of an address within one account."""
        message = f"{account_id}|{normalised_email}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]


FILE_MAGIC = b"STXF1"


def _file_aead(ring, key_id, salt):
    return AESGCM(hmac.new(ring[key_id], b"sendtex-file|" + salt, hashlib.sha256).digest())


def _chunk_nonce(counter, final):
    # The final flag is part of the nonce, so a file cut after any chunk fails to decrypt.
    return struct.pack(">QB", counter, final) + b"\x00" * 3


class EncryptedFileWriter:
    """Writes a file as AES-GCM sealed chunks under a per-file key, so uploads never touch disk in plain text."""

    def __init__(self, path, ring_text):
        ring = parse_key_ring(ring_text)
        key_id, salt = next(iter(ring)), os.urandom(16)
        self._aead = _file_aead(ring, key_id, salt)
        self._file = open(path, "wb")
        self._file.write(FILE_MAGIC + struct.pack(">B", len(key_id)) + key_id.encode() + salt)
        self._buffer = bytearray()
        self._counter = 0
        self.name = str(path)

    def write(self, data):
        self._buffer.extend(data)
        while len(self._buffer) > FILE_CHUNK:
            self._write_chunk(bytes(self._buffer[:FILE_CHUNK]), final=False)
            del self._buffer[:FILE_CHUNK]
        return len(data)

    def _write_chunk(self, chunk, final):
        sealed = self._aead.encrypt(_chunk_nonce(self._counter, final), chunk, None)
        self._file.write(struct.pack(">IB", len(sealed), final) + sealed)
        self._counter += 1

    def seek(self, *args):
        return 0

    def flush(self):
        """Seal what is buffered as a chunk of its own (the zipfile module flushes when it closes)."""
        if self._buffer:
            self._write_chunk(bytes(self._buffer), final=False)
            self._buffer.clear()

    def close(self):
        if not self._file.closed:
            self._write_chunk(bytes(self._buffer), final=True)
            self._buffer.clear()
            self._file.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def read_encrypted_file(path, ring_text):
    """Yield the plain chunks of a file written by EncryptedFileWriter; DecryptionError if cut, altered or keyless."""
    ring = parse_key_ring(ring_text)
    with open(path, "rb") as handle:
        if handle.read(len(FILE_MAGIC)) != FILE_MAGIC:
            raise DecryptionError("not an encrypted upload")
        key_id = handle.read(handle.read(1)[0]).decode()
        if key_id not in ring:
            raise DecryptionError(f"key {key_id!r} is not in the key ring")
        aead = _file_aead(ring, key_id, handle.read(16))
        for counter in itertools.count():
            header = handle.read(5)
            if len(header) < 5:
                raise DecryptionError("the encrypted file is truncated")
            length, final = struct.unpack(">IB", header)
            try:
                yield aead.decrypt(_chunk_nonce(counter, final), handle.read(length), None)
            except InvalidTag as exc:
                raise DecryptionError("the encrypted file was altered") from exc
            if final:
                return
