"""Bounces and complaints of deliveries, and how far the bounce mailbox has been read."""
from peewee import BigIntegerField, CharField, DateTimeField, ForeignKeyField

from sendtex.db import BaseModel
from sendtex.models.accounts import Account
from sendtex.models.base import AccountOwned, account_data, not_account_data, utcnow
from sendtex.models.campaigns import Campaign, Delivery
from sendtex.models.contacts import Contact


class Bounce(AccountOwned):
    """A delivery that bounced (hard or soft) or that its recipient reported as spam (complaint).

    A message can fail for good only once, so a delivery has at most one bounce of each kind: the same
    notice read twice, or arriving by two ways (mailbox and webhook), is recorded once. No e-mail address
    is kept here (the diagnostic has them removed): the contact is the link to the person.
    """

    data_policy = account_data()
    account = ForeignKeyField(Account, on_delete="CASCADE")
    campaign = ForeignKeyField(Campaign, on_delete="CASCADE")
    delivery = ForeignKeyField(Delivery, null=True, on_delete="SET NULL")
    contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    kind = CharField(max_length=9)
    status = CharField(max_length=12, default="")  # enhanced status code, e.g. 5.1.1
    diagnostic = CharField(max_length=200, default="")
    source = CharField(max_length=7)
    received_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("delivery", "kind"), True),
            (("campaign", "received_at"), False),
            (("contact", "kind", "received_at"), False),
        )


class MailboxCursor(BaseModel):
    """How far the poller has read a mailbox folder: every UID up to last_uid has been looked at."""

    data_policy = not_account_data("the operator's bounce mailbox position, shared by all accounts")
    mailbox = CharField(max_length=500, unique=True)  # user@host:port/folder
    uidvalidity = BigIntegerField(default=0)
    last_uid = BigIntegerField(default=0)
    polled_at = DateTimeField(null=True)

    class Meta:
        table_name = "mailbox_cursor"
