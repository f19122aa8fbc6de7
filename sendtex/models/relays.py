"""The operator's SMTP relays (not owned by an account)."""
import datetime
import secrets

from peewee import BooleanField, CharField, DateTimeField, IntegerField, TextField

from sendtex.crypto import associated_data
from sendtex.db import BaseModel
from sendtex.models.base import not_account_data, utcnow

RELAY_SECURITY = ("starttls", "tls", "plain")
RELAY_REGIONS = ("eu", "intl")


class Relay(BaseModel):
    """An SMTP relay campaigns can go out through; its password is stored sealed."""

    data_policy = not_account_data("the operator's mail relays, shared by all accounts")
    uid = CharField(max_length=32, unique=True, default=lambda: secrets.token_urlsafe(12))
    name = CharField(max_length=100, unique=True)
    host = CharField(max_length=253)
    port = IntegerField(default=587)
    security = CharField(max_length=10, default="starttls")
    username = CharField(max_length=200, default="")
    password_sealed = TextField(default="")
    max_connections = IntegerField(default=4)
    max_per_second = IntegerField(default=50)
    region = CharField(max_length=4, default="eu")
    enabled = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    # Set when a sender could not reach it: every worker skips it until then, then tries it again.
    unavailable_until = DateTimeField(null=True)
    unavailable_reason = CharField(max_length=500, default="")

    def password_aad(self):
        """What the sealed password is bound to: this relay (not owned by an account, hence 0)."""
        return associated_data(0, "relay_password", self.uid)

    @classmethod
    def usable(cls, eu_only):
        """Enabled relays, only those in the EU when eu_only is set."""
        query = cls.select().where(cls.enabled == True)  # noqa: E712 (SQL comparison)
        return query.where(cls.region == "eu") if eu_only else query

    @classmethod
    def cool_down(cls, relay_id, seconds, reason):
        """Skip the relay for `seconds`: it could not be reached (refused, TLS, login, timeout)."""
        cls.update(unavailable_until=utcnow() + datetime.timedelta(seconds=seconds),
                   unavailable_reason=str(reason)[:500]).where(cls.id == relay_id).execute()

    def available(self, now):
        """True unless the relay is cooling down after a failure to reach it."""
        return self.unavailable_until is None or self.unavailable_until <= now
