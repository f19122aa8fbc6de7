"""What the statistics pages show, read from the aggregated counters: a campaign's report, the account
dashboard's figures and a contact's timeline."""
import dataclasses
import datetime
import functools

from flask_babel import lazy_gettext as _l
from peewee import JOIN

from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery, Event, Link
from sendtex.models.contacts import MailingList, Subscription
from sendtex.models.stats import AccountDayStats, CampaignHourStats, CampaignStats, LinkStats

RECENT_CAMPAIGNS = 5
GROWTH_DAYS = 30
TIMELINE_LIMIT = 200


def ratio(part, whole):
    """part / whole, or None when there is nothing to divide by (or part is unknown)."""
    return None if part is None or not whole else part / whole


@dataclasses.dataclass
class CampaignReport:
    """A campaign's counters and rates; unique counts are None when they are unknown."""

    campaign: Campaign
    stats: CampaignStats
    uniques_known: bool

    @classmethod
    def of(cls, campaign):
        """The report of a campaign from its aggregated counters."""
        stats = CampaignStats.of(campaign)
        return cls(campaign, stats, stats.uniques_known and campaign.account.individual_tracking)

    @property
    def unique_opens(self):
        return self.stats.unique_opens if self.uniques_known else None

    @property
    def unique_clicks(self):
        return self.stats.unique_clicks if self.uniques_known else None

    @property
    def open_rate(self):
        """Deliveries opened at least once per delivery (None when unknown)."""
        return ratio(self.unique_opens, self.stats.delivered)

    @property
    def click_rate(self):
        """Deliveries clicked at least once per delivery (None when unknown)."""
        return ratio(self.unique_clicks, self.stats.delivered)

    @property
    def unsubscribe_rate(self):
        return ratio(self.stats.unsubscribes, self.stats.delivered)

    def rates(self):
        """[(label, rate or None)] in the order the report shows them."""
        stats, delivered = self.stats, self.stats.delivered
        return [
            (_l("Delivered"), ratio(delivered, stats.sent)),
            (_l("Open rate (unique)"), self.open_rate),
            (_l("Click rate (unique)"), self.click_rate),
            (_l("Click-to-open rate"), ratio(self.unique_clicks, self.unique_opens)),
            (_l("Unsubscribe rate"), self.unsubscribe_rate),
            (_l("Bounce rate"), ratio(stats.bounces, stats.sent)),
            (_l("Complaint rate"), ratio(stats.complaints, delivered)),
        ]

    def counts(self):
        """[(label, number or None)]: the counters behind the rates."""
        stats = self.stats
        return [
            (_l("Sent"), stats.sent), (_l("Delivered"), stats.delivered), (_l("Failed"), stats.failed),
            (_l("Opens (unique)"), self.unique_opens), (_l("Opens (total)"), stats.opens),
            (_l("Clicks (unique)"), self.unique_clicks), (_l("Clicks (total)"), stats.clicks),
            (_l("Unsubscribes"), stats.unsubscribes), (_l("Hard bounces"), stats.bounces),
            (_l("Soft bounces"), stats.soft_bounces), (_l("Complaints"), stats.complaints),
        ]

    def bounce_breakdown(self):
        """[(label, number, css class)] for the bounce chart."""
        stats = self.stats
        return [(str(_l("Hard bounces")), stats.bounces, "hard"), (str(_l("Soft bounces")), stats.soft_bounces, "soft"),
                (str(_l("Complaints")), stats.complaints, "complaint")]

    @functools.cached_property
    def hours(self):
        """[(hour, moment in UTC or None, opens, clicks)] over the first 48 hours after sending started."""
        started = self.campaign.started_at
        return [(hour, started + datetime.timedelta(hours=hour) if started else None, opens, clicks)
                for hour, (opens, clicks) in enumerate(CampaignHourStats.series(self.campaign.id))]

    @functools.cached_property
    def links(self):
        """[(url, clicks)] of the campaign's links."""
        return LinkStats.of_campaign(self.campaign.id)


@dataclasses.dataclass
class Dashboard:
    """The account's recent campaigns and its last GROWTH_DAYS days."""

    campaigns: list
    days: list  # [(date, AccountDayStats or None)]

    @classmethod
    def of(cls, account):
        """The dashboard's figures of an account."""
        started = (Campaign.for_account(account.id).where(Campaign.started_at.is_null(False))
                   .order_by(Campaign.started_at.desc()).limit(RECENT_CAMPAIGNS))
        today = utcnow().date()
        first = today - datetime.timedelta(days=GROWTH_DAYS - 1)
        rows = AccountDayStats.since(account.id, first)
        days = [first + datetime.timedelta(days=n) for n in range(GROWTH_DAYS)]
        return cls([CampaignReport.of(campaign) for campaign in started], [(day, rows.get(day)) for day in days])

    def total(self, column):
        """The sum of a day counter over the days shown."""
        return sum(getattr(row, column) for _day, row in self.days if row is not None)

    def series(self, column):
        return [getattr(row, column) if row is not None else 0 for _day, row in self.days]

    @property
    def unsubscribe_rate(self):
        """Unsubscribes per message sent over the days shown."""
        return ratio(self.total("unsubscribes"), self.total("sent"))


@dataclasses.dataclass
class Moment:
    """One entry of a contact's timeline: when, what (a kind), in which campaign or list, and a link URL."""

    at: datetime.datetime
    kind: str
    subject: str
    url: str = ""


def timeline(contact, limit=TIMELINE_LIMIT):
    """The contact's subscriptions, messages received and events, oldest first (the newest `limit` of them)."""
    moments = []
    for membership in (Subscription.select(Subscription, MailingList).join(MailingList)
                       .where(Subscription.contact == contact.id)):
        name = membership.mailing_list.name
        moments.append(Moment(membership.created_at, "subscribed", name))
        if membership.confirmed_at:
            moments.append(Moment(membership.confirmed_at, "confirmed", name))
        if membership.unsubscribed_at:
            moments.append(Moment(membership.unsubscribed_at, "unsubscribed", name))
    received = (Delivery.select(Delivery.sent_at, Campaign.name).join(Campaign)
                .where((Delivery.contact == contact.id) & Delivery.sent_at.is_null(False))
                .order_by(Delivery.sent_at.desc()).limit(limit).tuples())
    moments += [Moment(sent_at, "received", name) for sent_at, name in received]
    events = (Event.select(Event.at, Event.kind, Campaign.name, Link.url)
              .join(Delivery, on=(Event.delivery == Delivery.id))
              .switch(Event).join(Campaign, on=(Event.campaign == Campaign.id))
              .switch(Event).join(Link, JOIN.LEFT_OUTER, on=(Event.link == Link.id))
              .where(Delivery.contact == contact.id).order_by(Event.at.desc()).limit(limit).tuples())
    moments += [Moment(at, kind, name, url or "") for at, kind, name, url in events]
    moments.sort(key=lambda moment: moment.at)
    return moments[-limit:]
