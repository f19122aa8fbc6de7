"""Housekeeping: the daily retention purge and the purges of the categories without an area of their own."""
import datetime

from flask import current_app
from huey import crontab

from sendtex import retention
from sendtex.db import checkpoint
from sendtex.models.api import IdempotencyRecord
from sendtex.models.audit import AuditEntry
from sendtex.models.base import utcnow
from sendtex.models.bounces import Bounce
from sendtex.models.campaigns import Event
from sendtex.models.privacy import ConsentRecord, DeletionRecord
from sendtex.models.ratelimit import RateHit
from sendtex.models.requests import DataRequest
from sendtex.queue import huey
from sendtex.tasks.context import app_task
from sendtex.tasks.privacy import expire_exports_before


@huey.periodic_task(crontab(minute="23", hour="3"))
@app_task
def purge_expired_data():
    """Delete what has passed its retention period in every category, and record the run."""
    deleted = retention.run()
    checkpoint()  # deleted rows must not linger in the write-ahead log either
    return deleted


@huey.periodic_task(crontab(minute="17"))
@app_task
def purge_rate_hits():
    """Login throttling keeps its window short: its events are purged every hour, not only daily."""
    return RateHit.purge_before(retention.cutoff("login_attempts"))


@huey.periodic_task(crontab(minute="47"))
@app_task
def purge_idempotency_records():
    """Stored API answers (sealed) are kept only as long as a retry may come: API_IDEMPOTENCY_HOURS."""
    hours = current_app.config["API_IDEMPOTENCY_HOURS"]
    return IdempotencyRecord.purge_before(utcnow() - datetime.timedelta(hours=hours))


retention.rule("login_attempts")(RateHit.purge_before)
retention.rule("exports")(expire_exports_before)


@retention.rule("tracking_events")
def _purge_tracking_events(cutoff):
    bounces = Bounce.delete().where(Bounce.received_at < cutoff).execute()
    return bounces + Event.delete().where(Event.at < cutoff).execute()


@retention.rule("audit_log")
def _purge_audit_log(cutoff):
    return AuditEntry.delete().where(AuditEntry.at < cutoff).execute()


@retention.rule("deletion_records")
def _purge_deletion_records(cutoff):
    return DeletionRecord.delete().where(DeletionRecord.finished_at < cutoff).execute()


@retention.rule("consent_records")
def _purge_cookie_consent(cutoff):
    return ConsentRecord.delete().where(ConsentRecord.created_at < cutoff).execute()


@retention.rule("data_requests")
def _purge_answered_requests(cutoff):
    return DataRequest.delete().where(DataRequest.closed_at < cutoff).execute()
