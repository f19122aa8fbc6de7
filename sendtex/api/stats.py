"""Statistics: a campaign's counters and links, and the account's counters per day (as aggregated by the
statistics task; `aggregated_at` says when it last ran)."""
import datetime

from flask_babel import gettext as _

from sendtex.api.auth import account_id, owned
from sendtex.api.errors import invalid
from sendtex.api.spec import TIMESTAMP, nullable, obj, component, operation, stamp
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign
from sendtex.models.stats import AccountDayStats, CampaignStats, LinkStats, StatsRun

CAMPAIGN_COUNTERS = ("sent", "failed", "delivered", "opens", "unique_opens", "clicks", "unique_clicks",
                     "unsubscribes", "bounces", "soft_bounces", "complaints")
DAY_COUNTERS = ("sent", "opens", "clicks", "unsubscribes", "bounces", "complaints", "subscribed", "unsubscribed")
MAX_DAYS, DEFAULT_DAYS = 366, 30
COUNT = {"type": "integer", "minimum": 0}
CAMPAIGN_STATS = component("CampaignStats", obj(
    ["campaign_id", *CAMPAIGN_COUNTERS, "uniques_known", "links", "updated_at", "aggregated_at"],
    campaign_id={"type": "integer"}, **{name: COUNT for name in CAMPAIGN_COUNTERS},
    uniques_known={"type": "boolean", "description": "False when individual tracking was off: unique counts "
                                                     "are then unknown."},
    links={"type": "array", "items": obj(["url", "clicks"], url={"type": "string"}, clicks=COUNT)},
    updated_at=nullable(TIMESTAMP), aggregated_at=nullable(TIMESTAMP),
))
DAY_STATS = component("DayStats", obj(["day", *DAY_COUNTERS], day={"type": "string", "format": "date"},
                                      **{name: COUNT for name in DAY_COUNTERS}))
DATE = {"type": "string", "maxLength": 10}


@operation("GET", "/campaigns/{campaign_id}/stats", scope="read", tag="Statistics", responses={200: CAMPAIGN_STATS})
def campaign_stats(campaign_id):
    """A campaign's counters (opens, clicks, bounces, …) and the clicks of each of its links."""
    campaign = owned(Campaign, campaign_id)
    stats = CampaignStats.of(campaign)
    data = {name: getattr(stats, name) for name in CAMPAIGN_COUNTERS}
    data.update(campaign_id=campaign.id, uniques_known=stats.uniques_known, updated_at=stamp(stats.updated_at),
                links=[{"url": url, "clicks": clicks} for url, clicks in LinkStats.of_campaign(campaign.id)],
                aggregated_at=stamp(StatsRun.last_run()))
    return data


@operation("GET", "/stats/daily", scope="read", tag="Statistics",
           query={"from": (DATE, "First day (YYYY-MM-DD, UTC); 30 days ago by default."),
                  "to": (DATE, f"Last day; today by default. At most {MAX_DAYS} days in all.")},
           responses={200: obj(["data"], data={"type": "array", "items": DAY_STATS})})
def daily_stats(query):
    """The account's counters per day (UTC), every day of the period, zero where nothing happened."""
    last = _day(query["to"], "to") or utcnow().date()
    first = _day(query["from"], "from") or last - datetime.timedelta(days=DEFAULT_DAYS - 1)
    if first > last or (last - first).days >= MAX_DAYS:
        raise invalid([("from", _("Choose a first day before the last one, at most %(n)d days apart.", n=MAX_DAYS))])
    rows = {row.day: row for row in AccountDayStats.for_account(account_id())
            .where((AccountDayStats.day >= first) & (AccountDayStats.day <= last))}
    days = [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]
    return {"data": [{"day": day.isoformat(), **{name: getattr(rows[day], name) if day in rows else 0
                                                 for name in DAY_COUNTERS}} for day in days]}


def _day(text, name):
    if not text:
        return None
    try:
        return datetime.date.fromisoformat(text)
    except ValueError:
        raise invalid([(name, _("Give a day as YYYY-MM-DD."))]) from None
