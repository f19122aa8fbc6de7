"""Counted events for rate limits, kept in the database so every process sees the same counts."""
import datetime
import math

from peewee import CharField, DateTimeField, fn

from sendtex.db import BaseModel
from sendtex.models.base import not_account_data, utcnow


class RateHit(BaseModel):
    """One counted event (a failed login, a reset mail, …) under a bucket and a non-identifying key."""

    data_policy = not_account_data("keyed digests and anonymised networks, kept only for the throttling window")
    bucket = CharField(max_length=40)
    key = CharField(max_length=80)
    at = DateTimeField(default=utcnow, index=True)

    class Meta:
        indexes = ((("bucket", "key", "at"), False),)

    @classmethod
    def hit(cls, bucket, key):
        """Count one event."""
        cls.create(bucket=bucket, key=key)

    @classmethod
    def take(cls, bucket, key, limit, window):
        """Count one event unless `limit` events of the key happened within window already: (taken, events
        in the window up to this one, the oldest's time). Counted first and checked after, so requests at
        the same moment in several processes cannot all slip under the limit; each looks only at the events
        counted before it, so of a burst the first `limit` get through. A refused one is not counted."""
        hit = cls.create(bucket=bucket, key=key)
        used, oldest = (cls.select(fn.COUNT(cls.id), fn.MIN(cls.at))
                        .where((cls.bucket == bucket) & (cls.key == key) & (cls.at > hit.at - window)
                               & (cls.id <= hit.id)).tuples().get())
        oldest = oldest if isinstance(oldest, datetime.datetime) else datetime.datetime.fromisoformat(oldest)
        if used > limit:
            hit.delete_instance()
            return False, used - 1, oldest
        return True, used, oldest

    @classmethod
    def minutes_blocked(cls, bucket, key, limit, window):
        """0 if fewer than limit events happened within window, else whole minutes until one expires."""
        times = [
            row.at
            for row in cls.select(cls.at)
            .where((cls.bucket == bucket) & (cls.key == key) & (cls.at > utcnow() - window))
            .order_by(cls.at.desc())
            .limit(limit)
        ]
        if len(times) < limit:
            return 0
        free_at = times[-1] + window
        return max(1, math.ceil((free_at - utcnow()).total_seconds() / 60))

    @classmethod
    def clear(cls, bucket, key):
        """Forget the events of one key."""
        cls.delete().where((cls.bucket == bucket) & (cls.key == key)).execute()

    @classmethod
    def purge_before(cls, moment):
        """Delete events older than moment; returns how many."""
        return cls.delete().where(cls.at < moment).execute()


def minutes(value):
    """A window of the given minutes."""
    return datetime.timedelta(minutes=value)
