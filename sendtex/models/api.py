"""API keys of accounts and the remembered responses of idempotent API requests."""
import datetime
import hashlib
import hmac
import re
import secrets

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from sendtex.models.accounts import Account, User
from sendtex.models.base import AccountOwned, account_data, utcnow
from sendtex.models.contacts import JSONField

SCOPES = ("read", "write", "send")
KEY_PREFIX = "stx_"
# stx_<12 hex: the key's public id>_<43 url-safe characters: 256 random bits>
KEY_PATTERN = re.compile(r"stx_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
LAST_USED_RESOLUTION = datetime.timedelta(minutes=1)


def secret_digest(secret):
    """SHA-256 of a key's secret part, as hex.

    A fast hash is enough: the secret holds 256 random bits, so no guess list or brute force can find it
    from its digest. argon2's cost protects secrets people choose (passwords); here it would only add
    tens of milliseconds and megabytes to every API request.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


class ApiKey(AccountOwned):
    """A named key an account's systems use with `Authorization: Bearer <key>`; only its digest is stored."""

    data_policy = account_data(hidden=("secret_digest",))
    account = ForeignKeyField(Account, backref="api_keys", on_delete="CASCADE")
    name = CharField(max_length=100)
    public_id = CharField(max_length=12, unique=True)
    secret_digest = CharField(max_length=64)
    scopes = JSONField(default=list)
    created_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    created_at = DateTimeField(default=utcnow)
    expires_at = DateTimeField(null=True)
    revoked_at = DateTimeField(null=True)
    last_used_at = DateTimeField(null=True)

    class Meta:
        table_name = "api_key"

    @classmethod
    def issue(cls, account_id, name, scopes, expires_at=None, created_by=None):
        """Create a key; returns (row, the full key text to show once)."""
        secret = secrets.token_urlsafe(32)
        key = cls.create(account=account_id, name=name, public_id=secrets.token_hex(6), scopes=list(scopes),
                         secret_digest=secret_digest(secret), expires_at=expires_at, created_by=created_by)
        return key, f"{KEY_PREFIX}{key.public_id}_{secret}"

    @classmethod
    def authenticate(cls, text):
        """The key this text is, if it exists (usable or not); None otherwise."""
        match = KEY_PATTERN.fullmatch(text or "")
        if match is None:
            return None
        key = cls.get_or_none(cls.public_id == match.group(1))
        presented = secret_digest(match.group(2))
        # Constant-time, so response timing tells nothing about how much of a digest matched.
        if key is None or not hmac.compare_digest(key.secret_digest, presented):
            return None
        return key

    @property
    def label(self):
        """How the key is named in pages and the audit log: its name and the start of the key."""
        return f"{self.name} ({KEY_PREFIX}{self.public_id}…)"

    @property
    def revoked(self):
        return self.revoked_at is not None

    @property
    def expired(self):
        return self.expires_at is not None and self.expires_at <= utcnow()

    def touch(self):
        """Note the key's use; written at most once a minute, so most requests write nothing."""
        now = utcnow()
        if self.last_used_at is None or now - self.last_used_at >= LAST_USED_RESOLUTION:
            ApiKey.update(last_used_at=now).where(ApiKey.id == self.id).execute()
            self.last_used_at = now

    def revoke(self):
        """Stop the key from working, for good."""
        ApiKey.update(revoked_at=utcnow()).where((ApiKey.id == self.id) & ApiKey.revoked_at.is_null()).execute()

    @classmethod
    def listed(cls, account_id):
        """The account's keys, newest first."""
        return cls.for_account(account_id).order_by(cls.created_at.desc(), cls.id.desc())


class IdempotencyRecord(AccountOwned):
    """The outcome of a POST sent with an Idempotency-Key: a retry gets this response back."""

    # Responses can hold values of encrypted fields: the body is stored sealed, and no export needs it.
    data_policy = account_data(export=False)
    account = ForeignKeyField(Account, on_delete="CASCADE")
    api_key = ForeignKeyField(ApiKey, on_delete="CASCADE")
    key = CharField(max_length=255)
    fingerprint = CharField(max_length=64)  # SHA-256 of method, path and body: the same key with another request is refused
    status = IntegerField(null=True)  # None while the first request is still running
    body = TextField(default="")  # sealed JSON
    created_at = DateTimeField(default=utcnow, index=True)

    class Meta:
        table_name = "idempotency_record"
        indexes = ((("api_key", "key"), True),)

    @classmethod
    def purge_before(cls, moment):
        """Delete records older than moment; returns how many."""
        return cls.delete().where(cls.created_at < moment).execute()
