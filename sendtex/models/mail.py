"""The local outbox index: one row per message written to the Maildir outbox."""
from peewee import CharField, DateTimeField, ForeignKeyField

from sendtex.models.accounts import Account
from sendtex.models.base import AccountOwned, account_data, utcnow


class OutboxMessage(AccountOwned):
    data_policy = account_data()
    account = ForeignKeyField(Account, null=True, backref="outbox", on_delete="CASCADE")
    maildir_key = CharField(max_length=200, unique=True)
    recipient = CharField(max_length=254)
    subject = CharField(max_length=400)
    kind = CharField(max_length=30, default="system")
    created_at = DateTimeField(default=utcnow, index=True)

    @classmethod
    def newest_first(cls, account_id):
        """The account's outbox, newest first."""
        return cls.for_account(account_id).order_by(cls.created_at.desc(), cls.id.desc())
