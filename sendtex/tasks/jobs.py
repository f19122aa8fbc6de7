"""Running tracked background work: claim with a lease, report progress, recover after a crash.

A handler registered with @job_handler("kind") does the work of a Job in small committed steps and
calls `step(job, done)` between them; that renews the lease and stops the job when it was cancelled.
If a worker dies, the lease runs out and resume_stale_work() starts the job again: handlers must
therefore be idempotent (doing a step twice changes nothing).
"""
import logging

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _
from huey import crontab

from sendtex.models.accounts import User
from sendtex.models.base import utcnow
from sendtex.models.jobs import Job
from sendtex.queue import huey
from sendtex.tasks.context import app_task

log = logging.getLogger(__name__)
HANDLERS = {}
RESUMERS = []


class Cancelled(Exception):
    """The user cancelled the work."""


class Stopped(Exception):
    """The work cannot go on; the message is shown to the user as the reason."""


def job_handler(kind):
    """Register the function that does the work of jobs of this kind."""

    def register(func):
        HANDLERS[kind] = func
        return func

    return register


def resumer(func):
    """Register a function that restarts stale work of another kind (imports, sendings)."""
    RESUMERS.append(func)
    return func


def lease_seconds():
    return current_app.config["JOB_LEASE_SECONDS"]


def claim(model, row_id):
    """Take the work for this worker: True if it was queued, or running with an expired lease."""
    now = utcnow()
    row = model.get_by_id(row_id)
    row.renew_lease(lease_seconds())
    claimed = (model.update(status="running", lease_until=row.lease_until, started_at=row.started_at or now)
               .where((model.id == row_id)
                      & ((model.status == "queued") | ((model.status == "running") & (model.lease_until < now))))
               .execute())
    return bool(claimed)


def step(work, done=None):
    """Save progress, renew the lease, and raise Cancelled if the user asked to stop."""
    if done is not None:
        work.done = done
    work.renew_lease(lease_seconds())
    type(work).update(done=work.done, total=work.total, lease_until=work.lease_until).where(
        type(work).id == work.id).execute()
    if type(work).select(type(work).cancel_requested).where(type(work).id == work.id).scalar():
        raise Cancelled()


def finish(work, status, error=""):
    """Record the end of the work."""
    type(work).update(status=status, error=error, finished_at=utcnow(), lease_until=None).where(
        type(work).id == work.id).execute()


def run_tracked(model, row_id, handler):
    """Claim the row, run the handler, and record how it ended."""
    if not claim(model, row_id):
        return
    work = model.get_by_id(row_id)
    try:
        handler(work)
    except Cancelled:
        finish(work, "cancelled")
    except Stopped as exc:
        finish(work, "failed", str(exc))
    except Exception:  # the page shows a failed job; the log keeps the details (never cell values)
        log.exception("%s %s failed", model.__name__, row_id)
        finish(work, "failed", _internal_error(work))
    else:
        finish(work, "done")


def _internal_error(work):
    """The reason an unexpected failure shows, in the language of whoever started the work."""
    language = (getattr(work, "params", None) or {}).get("language")
    try:
        if not language and getattr(work, "user_id", None):
            user = User.get_or_none(User.id == work.user_id)
            language = user.language if user else None
    except Exception:  # noqa: BLE001  (the message must never fail the error handling)
        language = None
    with force_locale(language or current_app.config["DEFAULT_LANGUAGE"]):
        return _("The job stopped because of an internal error. It has been logged.")


@huey.task()
@app_task
def run_job(job_id):
    """Do the work of a Job row."""
    job = Job.get_or_none(Job.id == job_id)
    if job is not None and not job.finished:
        run_tracked(Job, job_id, HANDLERS[job.kind])


def start_job(account_id, kind, params=None, total=0):
    """Create a tracked job and queue it."""
    job = Job.create(account=account_id, kind=kind, params=params or {}, total=total)
    job.renew_lease(lease_seconds())
    job.save()
    run_job(job.id)
    return job


@resumer
def _resume_jobs():
    for job in Job.stale():
        run_job(job.id)


@huey.periodic_task(crontab(minute="*"))
@app_task
def resume_stale_work():
    """Restart work whose worker died (its lease ran out)."""
    for resume in RESUMERS:
        resume()


@huey.on_startup()
def _resume_after_start():
    # Work left running by a killed worker becomes stale once its lease runs out.
    from sendtex.tasks.context import current_task_app

    resume_stale_work.schedule(delay=current_task_app().config["JOB_LEASE_SECONDS"] + 1)
