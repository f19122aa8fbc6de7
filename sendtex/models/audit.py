"""The audit log: security events and every look of operator staff into an account. Append-only."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, TextField

from sendtex.db import BaseModel
from sendtex.models.accounts import Account, User
from sendtex.models.base import account_data, utcnow


class AppendOnly(Exception):
    """An audit entry cannot be changed or deleted one by one (only the retention purge removes old ones)."""


class AuditEntry(BaseModel):
    """Who did what to which account, why and when; the account's owners see their account's entries."""

    data_policy = account_data()
    at = DateTimeField(default=utcnow, index=True)
    account = ForeignKeyField(Account, null=True, backref="audit_entries", on_delete="CASCADE")
    actor = ForeignKeyField(User, null=True, on_delete="SET NULL")
    # Kept when the actor's user is removed, so the entry still says who it was.
    actor_label = CharField(max_length=254, default="")
    by_staff = BooleanField(default=False)  # operator staff acting on a customer's account
    action = CharField(max_length=40)
    target = CharField(max_length=200, default="")
    reason = TextField(default="")
    ip_anon = CharField(max_length=64, default="")

    class Meta:
        indexes = ((("account", "at"), False),)

    def save(self, *args, **kwargs):
        if self.id is not None:
            raise AppendOnly("audit entries are never changed")
        return super().save(*args, **kwargs)

    def delete_instance(self, *args, **kwargs):
        raise AppendOnly("audit entries are never deleted one by one")

    @classmethod
    def of_account(cls, account_id):
        """The account's entries, newest first."""
        return cls.select().where(cls.account == account_id).order_by(cls.at.desc(), cls.id.desc())
