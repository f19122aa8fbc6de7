"""Anonymous website statistics: raw page hits and the per-page, per-hour counters they are folded into.

Neither table holds anything about a visitor: no address, no user agent, no cookie, no identifier.
"""
import datetime

from peewee import EXCLUDED, CharField, DateField, IntegerField, SmallIntegerField, chunked, fn

from sendtex.db import BaseModel, db
from sendtex.models.base import not_account_data

PAGE_MAX_CHARS = 200


class PageHit(BaseModel):
    """One counted visit of a public page, waiting to be added to its hour's counter."""

    data_policy = not_account_data("anonymous visits of the operator's website, tied to no one")

    page = CharField(max_length=PAGE_MAX_CHARS)
    day = DateField()
    hour = SmallIntegerField()

    @classmethod
    def record(cls, page, moment):
        """Count a visit of page at moment (UTC)."""
        cls.insert(page=page[:PAGE_MAX_CHARS], day=moment.date(), hour=moment.hour).execute()


class PageCount(BaseModel):
    """Visits of one page within one hour of one day (UTC)."""

    data_policy = not_account_data("anonymous visit counts of the operator's website, tied to no one")

    page = CharField(max_length=PAGE_MAX_CHARS)
    day = DateField()
    hour = SmallIntegerField()
    visits = IntegerField(default=0)

    class Meta:
        indexes = ((("day", "hour", "page"), True),)

    @classmethod
    def add_hits(cls):
        """Fold every raw hit into the counters and delete it, in one transaction; returns how many."""
        # Hits arriving meanwhile have higher ids and wait for the next run: each hit counts exactly once.
        with db.atomic():
            last = PageHit.select(fn.MAX(PageHit.id)).scalar()
            if last is None:
                return 0
            groups = list(PageHit.select(PageHit.page, PageHit.day, PageHit.hour, fn.COUNT(PageHit.id))
                          .where(PageHit.id <= last).group_by(PageHit.page, PageHit.day, PageHit.hour).tuples())
            for rows in chunked(groups, 100):
                (cls.insert_many(rows, fields=[cls.page, cls.day, cls.hour, cls.visits])
                 .on_conflict(conflict_target=[cls.day, cls.hour, cls.page],
                              update={cls.visits: cls.visits + EXCLUDED.visits})
                 .execute())
            PageHit.delete().where(PageHit.id <= last).execute()
        return sum(row[3] for row in groups)

    @classmethod
    def purge_before(cls, moment):
        """Delete the counters and raw hits of hours that began before moment; returns how many."""
        # An hour that began exactly at moment is kept; one that began a second earlier is not.
        first_kept = moment.hour + (moment != moment.replace(minute=0, second=0, microsecond=0))
        deleted = 0
        for model in (cls, PageHit):
            deleted += model.delete().where(
                (model.day < moment.date()) | ((model.day == moment.date()) & (model.hour < first_kept))).execute()
        return deleted

    @classmethod
    def per_day(cls, first, last):
        """Visits of each day from first to last (dates, inclusive), zero-filled, oldest first."""
        totals = dict(cls.select(cls.day, fn.SUM(cls.visits)).where(cls.day.between(first, last))
                      .group_by(cls.day).tuples())
        days = [first + datetime.timedelta(days=n) for n in range((last - first).days + 1)]
        return [(day, int(totals.get(day) or 0)) for day in days]

    @classmethod
    def per_hour(cls, first, last):
        """Visits in each hour of the day (0–23, UTC) over the days first to last."""
        totals = dict(cls.select(cls.hour, fn.SUM(cls.visits)).where(cls.day.between(first, last))
                      .group_by(cls.hour).tuples())
        return [(hour, int(totals.get(hour) or 0)) for hour in range(24)]

    @classmethod
    def top_pages(cls, first, last, limit=20):
        """The most visited pages over the days first to last: (page, visits), most visited first."""
        total = fn.SUM(cls.visits)
        query = (cls.select(cls.page, total).where(cls.day.between(first, last)).group_by(cls.page)
                 .order_by(total.desc(), cls.page).limit(limit))
        return [(page, int(visits)) for page, visits in query.tuples()]

