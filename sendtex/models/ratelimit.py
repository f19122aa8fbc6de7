"""Counted events for rate limits, kept in the database so every process sees the same counts."""
import datetime
import math

from peewee import CharField, DateTimeField

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
