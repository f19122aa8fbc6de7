"""Housekeeping that keeps short-lived security data short-lived."""
import datetime

from huey import crontab
from flask import current_app

from sendtex.models.ratelimit import RateHit
from sendtex.models.base import utcnow
from sendtex.queue import huey
from sendtex.tasks.context import app_task


@huey.periodic_task(crontab(minute="17"))
@app_task
def purge_rate_hits():
    """Delete rate-limit events (failed logins, reset requests) older than their retention period."""
    days = current_app.config["RETENTION_LOGIN_ATTEMPTS_DAYS"]
    return RateHit.purge_before(utcnow() - datetime.timedelta(days=days))
