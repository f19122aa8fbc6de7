"""Statistics: counters aggregated from raw events and the delivery ledger, and the aggregation's own state."""
from peewee import (JOIN, BigIntegerField, BooleanField, CharField, DateField, DateTimeField, ForeignKeyField,
                    IntegerField)

from sendtex.db import BaseModel
from sendtex.models.accounts import Account
from sendtex.models.base import AccountOwned, account_data, not_account_data, utcnow
from sendtex.models.campaigns import Campaign, Delivery, Link

CHART_HOURS = 48  # a campaign's hourly counters cover its first two days


class StatsRun(BaseModel):
    """The aggregation's high-water mark (last event counted) and the lease of the worker running it."""

    data_policy = not_account_data("the aggregation's progress mark and lease, about no account")
    name = CharField(max_length=20, unique=True)
    last_event_id = BigIntegerField(default=0)
    lease_until = DateTimeField(null=True)
    ran_at = DateTimeField(null=True)

    class Meta:
        table_name = "stats_run"

    @classmethod
    def last_run(cls):
        """When the aggregation last finished (UTC), or None."""
        return cls.select(cls.ran_at).where(cls.name == "events").scalar()


class CampaignStats(AccountOwned):
    """A campaign's counters; unique counts are of deliveries, bounces and complaints too."""

    data_policy = account_data()
    account = ForeignKeyField(Account, on_delete="CASCADE")
    campaign = ForeignKeyField(Campaign, unique=True, on_delete="CASCADE")
    sent = IntegerField(default=0)
    failed = IntegerField(default=0)
    opens = IntegerField(default=0)
    unique_opens = IntegerField(default=0)
    clicks = IntegerField(default=0)
    unique_clicks = IntegerField(default=0)
    unsubscribes = IntegerField(default=0)
    bounces = IntegerField(default=0)  # hard bounces
    soft_bounces = IntegerField(default=0)
    complaints = IntegerField(default=0)
    # False once an open or click was counted without its delivery (individual tracking off): uniques unknown.
    uniques_known = BooleanField(default=True)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "campaign_stats"

    @property
    def delivered(self):
        """Messages the relays accepted and that did not bounce back for good."""
        return max(self.sent - self.bounces, 0)

    @classmethod
    def of(cls, campaign):
        """The campaign's counters (all zero before its first aggregation)."""
        found = cls.get_or_none(cls.campaign == campaign.id)
        return found or cls(account=campaign.account_id, campaign=campaign.id, updated_at=None)


class CampaignHourStats(BaseModel):
    """Opens and clicks of a campaign in one hour of its first CHART_HOURS (hour 0 starts when sending started)."""

    data_policy = account_data(via="campaign")
    campaign = ForeignKeyField(Campaign, on_delete="CASCADE", index=False)  # the unique index leads with it
    hour = IntegerField()
    opens = IntegerField(default=0)
    clicks = IntegerField(default=0)

    class Meta:
        table_name = "campaign_hour_stats"
        indexes = ((("campaign", "hour"), True),)

    @classmethod
    def series(cls, campaign_id):
        """[(opens, clicks)] for hours 0 … CHART_HOURS - 1."""
        hours = [(0, 0)] * CHART_HOURS
        for row in cls.select().where(cls.campaign == campaign_id):
            hours[row.hour] = (row.opens, row.clicks)
        return hours


class LinkStats(BaseModel):
    """Clicks on one link of a campaign."""

    data_policy = account_data(via="campaign")
    link = ForeignKeyField(Link, unique=True, on_delete="CASCADE")
    campaign = ForeignKeyField(Campaign, on_delete="CASCADE")
    clicks = IntegerField(default=0)

    class Meta:
        table_name = "link_stats"

    @classmethod
    def of_campaign(cls, campaign_id):
        """[(url, clicks)] of every link of the campaign, in the order they appear in it."""
        query = (Link.select(Link.url, LinkStats.clicks).join(LinkStats, on=(LinkStats.link == Link.id),
                                                               join_type=JOIN.LEFT_OUTER)
                 .where(Link.campaign == campaign_id).order_by(Link.position).tuples())
        return [(url, clicks or 0) for url, clicks in query]


class AccountDayStats(AccountOwned):
    """An account's counters of one day (UTC): messages, events, and subscriptions created or ended."""

    data_policy = account_data()
    account = ForeignKeyField(Account, on_delete="CASCADE", index=False)  # the unique index leads with it
    day = DateField()
    sent = IntegerField(default=0)
    opens = IntegerField(default=0)
    clicks = IntegerField(default=0)
    unsubscribes = IntegerField(default=0)
    bounces = IntegerField(default=0)
    complaints = IntegerField(default=0)
    subscribed = IntegerField(default=0)
    unsubscribed = IntegerField(default=0)

    class Meta:
        table_name = "account_day_stats"
        indexes = ((("account", "day"), True),)

    @classmethod
    def since(cls, account_id, first_day):
        """{day: row} of the account from first_day on."""
        return {row.day: row for row in cls.for_account(account_id).where(cls.day >= first_day)}


class EngagedDelivery(BaseModel):
    """A delivery that has had an event of a kind (open, click, bounce, complaint): keeps unique counts exact
    across aggregation runs. Deleted when the account switches individual tracking off."""

    data_policy = account_data(via="delivery", export=False)
    delivery = ForeignKeyField(Delivery, on_delete="CASCADE", index=False)  # the unique index leads with it
    kind = CharField(max_length=12)

    class Meta:
        table_name = "engaged_delivery"
        indexes = ((("delivery", "kind"), True),)
