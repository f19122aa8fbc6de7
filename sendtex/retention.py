"""Retention: every data category has a period (RETENTION_<CATEGORY>_DAYS) and a purge that deletes what is older.

Areas register their purge with @rule("category"); the daily task runs them all and records a RetentionRun,
and a test fails for a configured category without a purge, so a period in the privacy statement is never
a promise that nothing keeps.
"""
import datetime
import json
import logging

from flask import current_app

from sendtex.models.base import utcnow
from sendtex.models.retention import RetentionRun

log = logging.getLogger(__name__)
PURGES = {}


def rule(category):
    """Register purge(cutoff) -> number deleted for a category of config RETENTION_<CATEGORY>_DAYS."""

    def register(purge):
        PURGES[category] = purge
        return purge

    return register


def cutoff(category, now=None):
    """The moment before which data of the category has expired."""
    days = current_app.config[f"RETENTION_{category.upper()}_DAYS"]
    return (now or utcnow()) - datetime.timedelta(days=days)


def run(now=None):
    """Purge every category once; the run and what it deleted (or why a purge failed) are recorded."""
    now = now or utcnow()
    record = RetentionRun.create(started_at=now)
    deleted, failed = {}, {}
    for category, purge in sorted(PURGES.items()):
        try:
            deleted[category] = purge(cutoff(category, now))
        except Exception as exc:  # one broken purge must not keep the others from running
            log.exception("retention purge of %s failed", category)
            failed[category] = str(exc)[:200]
    RetentionRun.update(finished_at=utcnow(), deleted_json=json.dumps(deleted), failed_json=json.dumps(failed)).where(
        RetentionRun.id == record.id).execute()
    return deleted
