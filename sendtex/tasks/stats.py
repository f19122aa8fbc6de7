"""Statistics: every minute, raw events and the delivery ledger become counters; and untying events from
contacts when an account switches individual tracking off.

The aggregation is incremental and idempotent. It counts the events after a high-water mark (the last event
id counted) and moves the mark in the same transaction that adds their counts, so every event is counted
exactly once, whatever crashes or runs twice. One worker at a time holds the lease; and the mark only moves
from the value the worker read (compare and set), so even a worker that outlived its lease counts nothing
twice. Unique counts stay exact across runs through EngagedDelivery, one row per delivery and kind seen.
"""
import collections
import datetime

from huey import crontab
from peewee import EXCLUDED, JOIN, PostgresqlDatabase, fn

from sendtex.db import bulk_insert, db
from sendtex.models.accounts import Account
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery, Event
from sendtex.models.contacts import MailingList, Subscription
from sendtex.models.stats import (CHART_HOURS, AccountDayStats, CampaignHourStats, CampaignStats, EngagedDelivery,
                                  LinkStats, StatsRun)
from sendtex.queue import huey
from sendtex.tasks.context import app_task

RUN = "events"
CHUNK = 50_000  # events per transaction: short enough not to hold up the tracking endpoints' writes
LEASE = datetime.timedelta(minutes=5)
ID_BATCH = 5_000  # ids per IN (...) list
# Per kind: the CampaignStats column that counts every event, and the one that counts each delivery once.
TOTALS = {"open": "opens", "click": "clicks", "unsubscribe": "unsubscribes", "soft_bounce": "soft_bounces"}
UNIQUES = {"open": "unique_opens", "click": "unique_clicks", "bounce": "bounces", "complaint": "complaints"}
DAY_COLUMNS = {"open": "opens", "click": "clicks", "unsubscribe": "unsubscribes", "bounce": "bounces",
               "complaint": "complaints"}
ENGAGEMENT = ("open", "click")
# What individual tracking off keeps away from contacts; bounces and complaints stay tied to their delivery
# because the bounce rules (and the law on complaints) act on the contact.
TRACKING_KINDS = ("open", "click", "unsubscribe")
CAMPAIGN_COLUMNS = tuple(TOTALS.values()) + tuple(UNIQUES.values())


@huey.periodic_task(crontab())
@app_task
def aggregate_statistics():
    """Every minute: count the new events and sends into the statistics."""
    return aggregate()


def aggregate():
    """Count everything new since the last run; the number of events counted, None while another worker runs."""
    previous_run = StatsRun.last_run()
    if not _take_lease():
        return None
    try:
        counted = 0
        while (chunk := _count_next_events()) is not None:
            counted += chunk
        _follow_ledger()
        _count_subscriptions(previous_run)
        StatsRun.update(ran_at=utcnow()).where(StatsRun.name == RUN).execute()
        return counted
    finally:
        StatsRun.update(lease_until=None).where(StatsRun.name == RUN).execute()


def _take_lease():
    now = utcnow()
    StatsRun.insert(name=RUN).on_conflict_ignore().execute()
    return StatsRun.update(lease_until=now + LEASE).where(
        (StatsRun.name == RUN) & (StatsRun.lease_until.is_null() | (StatsRun.lease_until < now))).execute() == 1


def _move_mark(old, new):
    """Move the mark from old to new (renewing the lease); False if someone else moved it meanwhile."""
    return StatsRun.update(last_event_id=new, lease_until=utcnow() + LEASE).where(
        (StatsRun.name == RUN) & (StatsRun.last_event_id == old)).execute() == 1


def _committed_event_id():
    """The highest event id such that no event with a lower or equal id can still appear."""
    with db.atomic():
        if isinstance(db.obj, PostgresqlDatabase):
            # A sequence hands out ids before commit: waiting for the inserts in flight keeps a lower id from
            # turning up after the mark has passed it. SQLite has one writer at a time, so no such gap.
            db.execute_sql('LOCK TABLE "event" IN SHARE MODE')
        return Event.select(fn.MAX(Event.id)).scalar() or 0


def _count_next_events():
    """Count the next chunk of events; their number, or None when there is nothing (left) to count."""
    mark = StatsRun.select(StatsRun.last_event_id).where(StatsRun.name == RUN).scalar()
    last = _committed_event_id()
    if last < mark:
        # The newest events went with a deleted account; SQLite would hand their ids out again.
        _move_mark(mark, last)
        return None
    query = (Event.select(Event.id, Event.account, Event.campaign, Event.delivery, Event.kind, Event.link, Event.at)
             .where((Event.id > mark) & (Event.id <= last)).order_by(Event.id).limit(CHUNK))
    rows = db.execute(query).fetchall()  # raw rows: converting 300,000 timestamps through Peewee is slow
    if not rows:
        return None
    tally = Tally(rows)
    with db.atomic():
        if not _move_mark(mark, rows[-1][0]):
            return None
        tally.store()
    return len(rows)


def as_datetime(value):
    """A stored timestamp as a datetime (SQLite answers text, PostgreSQL a datetime)."""
    return value if isinstance(value, datetime.datetime) else datetime.datetime.fromisoformat(value)


def as_date(value):
    """A stored day as a date (SQLite's DATE() answers text)."""
    return value if isinstance(value, datetime.date) else datetime.date.fromisoformat(value)


class Tally:
    """The counts of one chunk of events, added in memory and then to the counters in one transaction."""

    def __init__(self, rows):
        self.campaigns = collections.defaultdict(collections.Counter)
        self.account_of = {}
        self.hours = collections.defaultdict(collections.Counter)
        self.links = collections.Counter()
        self.days = collections.defaultdict(collections.Counter)
        self.firsts = {}  # (delivery, kind) -> campaign
        self.uniques_lost = set()
        self._count(rows)

    def _count(self, rows):
        starts = self._starts({row[2] for row in rows})
        for _id, account_id, campaign_id, delivery_id, kind, link_id, at in rows:
            at = as_datetime(at)
            self.account_of[campaign_id] = account_id
            counts = self.campaigns[campaign_id]
            if kind in TOTALS:
                counts[TOTALS[kind]] += 1
            if kind in UNIQUES:
                if delivery_id is not None:
                    self.firsts.setdefault((delivery_id, kind), campaign_id)
                elif kind in ENGAGEMENT:
                    self.uniques_lost.add(campaign_id)
                else:
                    counts[UNIQUES[kind]] += 1
            if kind in DAY_COLUMNS:
                self.days[(account_id, at.date())][DAY_COLUMNS[kind]] += 1
            if kind == "click" and link_id is not None:
                self.links[(link_id, campaign_id)] += 1
            start = starts.get(campaign_id)
            if kind in ENGAGEMENT and start is not None:
                hour = int((at - start).total_seconds() // 3600)
                if 0 <= hour < CHART_HOURS:
                    self.hours[(campaign_id, hour)][TOTALS[kind]] += 1

    @staticmethod
    def _starts(campaign_ids):
        query = Campaign.select(Campaign.id, Campaign.started_at).where(Campaign.id.in_(list(campaign_ids)))
        return dict(query.tuples())

    def store(self):
        """Add the counts to the counters (inside the caller's transaction)."""
        self._count_firsts()
        now = utcnow()
        _add(CampaignStats, [CampaignStats.campaign], CAMPAIGN_COLUMNS, [
            dict(dict.fromkeys(CAMPAIGN_COLUMNS, 0), **counts, campaign=campaign_id,
                 account=self.account_of[campaign_id], updated_at=now)
            for campaign_id, counts in self.campaigns.items()], also_set=("updated_at",))
        if self.uniques_lost:
            CampaignStats.update(uniques_known=False).where(
                CampaignStats.campaign.in_(list(self.uniques_lost))).execute()
        _add(CampaignHourStats, [CampaignHourStats.campaign, CampaignHourStats.hour], ("opens", "clicks"), [
            dict(campaign=campaign_id, hour=hour, opens=counts["opens"], clicks=counts["clicks"])
            for (campaign_id, hour), counts in self.hours.items()])
        _add(LinkStats, [LinkStats.link], ("clicks",), [
            dict(link=link_id, campaign=campaign_id, clicks=clicks)
            for (link_id, campaign_id), clicks in self.links.items()])
        day_columns = tuple(DAY_COLUMNS.values())
        _add(AccountDayStats, [AccountDayStats.account, AccountDayStats.day], day_columns, [
            dict(dict.fromkeys(day_columns, 0), **counts, account=account_id, day=day)
            for (account_id, day), counts in self.days.items()])

    def _count_firsts(self):
        """Count the deliveries that had no event of a kind before; opens and clicks of accounts that keep no
        individual tracking (switched off meanwhile) leave no trace and make unique counts unknown."""
        untracked = {row[0] for row in Account.select(Account.id).where(
            Account.id.in_(list(set(self.account_of.values()))) & (Account.individual_tracking == False)  # noqa: E712
        ).tuples()}
        firsts = {}
        for (delivery_id, kind), campaign_id in self.firsts.items():
            if kind in ENGAGEMENT and self.account_of[campaign_id] in untracked:
                self.uniques_lost.add(campaign_id)
            else:
                firsts[(delivery_id, kind)] = campaign_id
        for key in _engaged(list({delivery_id for delivery_id, _kind in firsts})):
            firsts.pop(key, None)
        bulk_insert(EngagedDelivery, [EngagedDelivery.delivery, EngagedDelivery.kind], list(firsts))
        for (_delivery_id, kind), campaign_id in firsts.items():
            self.campaigns[campaign_id][UNIQUES[kind]] += 1


def _engaged(delivery_ids):
    """(delivery, kind) pairs already counted among these deliveries."""
    # Hand-written: Peewee rendering IN lists of thousands of ids took half of a run's time (measured).
    param = db.obj.param
    for start in range(0, len(delivery_ids), ID_BATCH):
        batch = delivery_ids[start:start + ID_BATCH]
        yield from db.execute_sql('SELECT "delivery_id", "kind" FROM "engaged_delivery" '
                                  f'WHERE "delivery_id" IN ({", ".join([param] * len(batch))})', batch)


def _add(model, conflict_target, columns, rows, also_set=()):
    """Insert counter rows, or add their counts to the rows already there (and overwrite also_set columns)."""
    fields = model._meta.fields
    update = {fields[name]: fields[name] + getattr(EXCLUDED, fields[name].column_name) for name in columns}
    update.update({fields[name]: getattr(EXCLUDED, fields[name].column_name) for name in also_set})
    for start in range(0, len(rows), 500):
        model.insert_many(rows[start:start + 500]).on_conflict(conflict_target=conflict_target, update=update).execute()


def _follow_ledger():
    """Take each campaign's sent and failed counts from its ledger counters; new sends count for today."""
    had_sent, had_failed = fn.COALESCE(CampaignStats.sent, 0), fn.COALESCE(CampaignStats.failed, 0)
    changed = (Campaign.select(Campaign.id, Campaign.account, Campaign.sent, Campaign.failed, had_sent, had_failed)
               .join(CampaignStats, JOIN.LEFT_OUTER, on=(CampaignStats.campaign == Campaign.id))
               .where((Campaign.sent != had_sent) | (Campaign.failed != had_failed)).tuples())
    for campaign_id, account_id, sent, failed, sent_before, failed_before in list(changed):
        now = utcnow()
        with db.atomic():
            CampaignStats.insert(account=account_id, campaign=campaign_id,
                                 updated_at=now).on_conflict_ignore().execute()
            moved = CampaignStats.update(sent=sent, failed=failed, updated_at=now).where(
                (CampaignStats.campaign == campaign_id) & (CampaignStats.sent == sent_before)
                & (CampaignStats.failed == failed_before)).execute()
            if moved and sent != sent_before:
                _add(AccountDayStats, [AccountDayStats.account, AccountDayStats.day], ("sent",),
                     [dict(account=account_id, day=now.date(), sent=sent - sent_before)])


def _count_subscriptions(previous_run):
    """Recount subscriptions created and ended per account and day, from the day before the last run on
    (everything on the first run); a recount, so running it twice changes nothing."""
    since = None if previous_run is None else (previous_run - datetime.timedelta(days=1)).date()
    counts = collections.defaultdict(lambda: {"subscribed": 0, "unsubscribed": 0})
    for column, moment in (("subscribed", Subscription.created_at), ("unsubscribed", Subscription.unsubscribed_at)):
        day = fn.DATE(moment)
        query = (Subscription.select(MailingList.account, day, fn.COUNT(Subscription.id)).join(MailingList)
                 .where(moment.is_null(False)).group_by(MailingList.account, day).tuples())
        if since is not None:
            query = query.where(moment >= datetime.datetime.combine(since, datetime.time()))
        for account_id, when, number in query:
            counts[(account_id, as_date(when))][column] = number
    rows = [dict(account=account_id, day=day, **numbers) for (account_id, day), numbers in counts.items()]
    with db.atomic():
        reset = AccountDayStats.update(subscribed=0, unsubscribed=0)
        (reset if since is None else reset.where(AccountDayStats.day >= since)).execute()
        for start in range(0, len(rows), 500):
            AccountDayStats.insert_many(rows[start:start + 500]).on_conflict(
                conflict_target=[AccountDayStats.account, AccountDayStats.day],
                update={AccountDayStats.subscribed: EXCLUDED.subscribed,
                        AccountDayStats.unsubscribed: EXCLUDED.unsubscribed}).execute()


@huey.task()
@app_task
def detach_tracking_events(account_id):
    """Untie the account's opens, clicks and unsubscribes from deliveries (individual tracking switched off):
    only their counts remain, and unique counts of its campaigns become unknown."""
    account = Account.get_or_none(Account.id == account_id)
    if account is None or account.individual_tracking:
        return 0
    deliveries = Delivery.select(Delivery.id).join(Campaign).where(Campaign.account == account_id)
    with db.atomic():
        CampaignStats.update(uniques_known=False).where(CampaignStats.account == account_id).execute()
        EngagedDelivery.delete().where(EngagedDelivery.kind.in_(ENGAGEMENT)
                                       & EngagedDelivery.delivery.in_(deliveries)).execute()
    detached, last_id = 0, 0
    while True:
        ids = [row[0] for row in Event.select(Event.id).where(
            (Event.account == account_id) & (Event.id > last_id) & Event.kind.in_(TRACKING_KINDS)
            & Event.delivery.is_null(False)).order_by(Event.id).limit(ID_BATCH).tuples()]
        if not ids:
            return detached
        with db.atomic():
            detached += Event.update(delivery=None).where(Event.id.in_(ids)).execute()
        last_id = ids[-1]
