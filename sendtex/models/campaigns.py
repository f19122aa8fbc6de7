"""Campaigns, their layouts, sending domains, the delivery ledger, tracked links and raw events."""
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField, fn

from sendtex.db import BaseModel
from sendtex.models.accounts import Account
from sendtex.models.base import AccountOwned, account_data, utcnow
from sendtex.models.contacts import Contact, JSONField, Segment

CAMPAIGN_STATUSES = ("draft", "scheduled", "sending", "paused", "cancelled", "sent", "failed")
DELIVERY_STATUSES = ("queued", "sent", "failed", "skipped")
EVENT_KINDS = ("open", "click", "unsubscribe")


class Layout(AccountOwned):
    """A reusable message layout ("template") with a {{ content }} slot for the campaign's body."""

    data_policy = account_data()
    account = ForeignKeyField(Account, backref="layouts", on_delete="CASCADE")
    name = CharField(max_length=200)
    html = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)


class SendingDomain(AccountOwned):
    """A domain the account sends from, with its DKIM key (the private key is stored encrypted)."""

    data_policy = account_data(hidden=("dkim_private_key",))
    account = ForeignKeyField(Account, backref="sending_domains", on_delete="CASCADE")
    domain = CharField(max_length=253)
    verified_at = DateTimeField(null=True)
    dkim_selector = CharField(max_length=63, default="sendtex")
    dkim_private_key = TextField(default="")  # sealed PEM
    dkim_public_key = TextField(default="")  # base64 DER, for the DNS record
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "sending_domain"
        indexes = ((("account", "domain"), True),)


class Campaign(AccountOwned):
    data_policy = account_data(hidden=("lease_until",))
    account = ForeignKeyField(Account, backref="campaigns", on_delete="CASCADE")
    name = CharField(max_length=200)
    subject = CharField(max_length=998, default="")
    preheader = CharField(max_length=300, default="")
    from_name = CharField(max_length=200, default="")
    from_email = CharField(max_length=254, default="")
    reply_to = CharField(max_length=254, default="")
    list_ids = JSONField(default=list)
    segment = ForeignKeyField(Segment, null=True, on_delete="SET NULL")
    layout = ForeignKeyField(Layout, null=True, on_delete="SET NULL")
    html = TextField(default="")
    text = TextField(default="")
    text_by_hand = BooleanField(default=False)
    track_opens = BooleanField(default=True)
    track_clicks = BooleanField(default=True)
    status = CharField(max_length=10, default="draft")
    status_reason = TextField(default="")  # why it paused or failed, shown to the marketer
    scheduled_at = DateTimeField(null=True)  # UTC
    timezone = CharField(max_length=64, default="UTC")
    started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)
    lease_until = DateTimeField(null=True)  # renewed while a worker sends; expired while sending = worker died
    # Counters follow the ledger; recount() rebuilds them from it.
    total = IntegerField(default=0)
    sent = IntegerField(default=0)
    failed = IntegerField(default=0)
    skipped = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    def recount(self):
        """Set the counters from the delivery ledger."""
        counts = dict.fromkeys(DELIVERY_STATUSES, 0)
        query = (Delivery.select(Delivery.status, fn.COUNT(Delivery.id).alias("n"))
                 .where(Delivery.campaign == self.id).group_by(Delivery.status))
        counts.update({row.status: row.n for row in query})
        self.total = sum(counts.values())
        self.sent, self.failed, self.skipped = counts["sent"], counts["failed"], counts["skipped"]
        Campaign.update(total=self.total, sent=self.sent, failed=self.failed, skipped=self.skipped).where(
            Campaign.id == self.id).execute()
        return counts


class Delivery(BaseModel):
    """One recipient of a campaign: the ledger row that makes sending exactly-once per recipient."""

    data_policy = account_data(via="campaign", hidden=("claim", "lease_until"))
    campaign = ForeignKeyField(Campaign, backref="deliveries", on_delete="CASCADE")
    contact = ForeignKeyField(Contact, null=True, on_delete="SET NULL")
    status = CharField(max_length=8, default="queued")
    attempts = IntegerField(default=0)
    # A worker holds a batch (rows with its claim) until lease_until; after that another may take it over.
    claim = CharField(max_length=32, null=True)
    lease_until = DateTimeField(null=True)
    next_attempt_at = DateTimeField(null=True)
    sent_at = DateTimeField(null=True)
    error = CharField(max_length=500, default="")

    class Meta:
        indexes = (
            (("campaign", "contact"), True),
            (("campaign", "status", "next_attempt_at"), False),
        )


class Link(BaseModel):
    """A link of a campaign's content; click tracking redirects only to these."""

    data_policy = account_data(via="campaign")
    campaign = ForeignKeyField(Campaign, backref="links", on_delete="CASCADE")
    url = TextField()
    position = IntegerField()

    class Meta:
        indexes = ((("campaign", "position"), True),)


class Event(BaseModel):
    """A raw tracking event (no IP address is stored); the statistics task aggregates them."""

    data_policy = account_data()
    account = ForeignKeyField(Account, on_delete="CASCADE")
    campaign = ForeignKeyField(Campaign, on_delete="CASCADE")
    delivery = ForeignKeyField(Delivery, null=True, on_delete="SET NULL")
    kind = CharField(max_length=12)
    link = ForeignKeyField(Link, null=True, on_delete="SET NULL")
    at = DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("campaign", "kind"), False),)
