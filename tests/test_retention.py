"""Retention: every configured category has a purge, and each purge deletes exactly what passed its period."""
import datetime

import pytest

from sendtex import retention
from sendtex.config import retention_periods
from sendtex.models.audit import AuditEntry
from sendtex.models.campaigns import Campaign, Event
from sendtex.models.privacy import AccountExport, ConsentRecord, DeletionRecord
from sendtex.models.base import utcnow
from sendtex.models.ratelimit import RateHit
from sendtex.models.requests import DataRequest
from sendtex.models.retention import RetentionRun
from sendtex.models.sitestats import PageCount
from sendtex.models.website import ContactMessage, JobApplication
from sendtex.tasks.maintenance import purge_expired_data
from tests.conftest import make_account, make_user
from tests.test_careers import make_application
from tests.test_contact_form import make_message

NOW = datetime.datetime(2030, 6, 15, 12, 0, 0)
SECOND = datetime.timedelta(seconds=1)


def _event(at):
    account = make_account()
    campaign = Campaign.create(account=account, name="c")
    return Event.create(account=account, campaign=campaign, kind="open", at=at)


def _export(at):
    user = make_user()
    return AccountExport.create(account=user.account_id, user=user, status="done", file_name="gone.zip.enc",
                                finished_at=at, expires_at=at + datetime.timedelta(days=7))


# category: (make a row dated `at`, is the row still there / still kept as it was)
ROWS = {
    "login_attempts": (lambda at: RateHit.create(bucket="login-address", key="k", at=at),
                       lambda row: RateHit.get_or_none(RateHit.id == row.id) is not None),
    "tracking_events": (_event, lambda row: Event.get_or_none(Event.id == row.id) is not None),
    "audit_log": (lambda at: AuditEntry.create(action="login", at=at),
                  lambda row: AuditEntry.get_or_none(AuditEntry.id == row.id) is not None),
    "deletion_records": (lambda at: DeletionRecord.create(requested_at=at, finished_at=at),
                         lambda row: DeletionRecord.get_or_none(DeletionRecord.id == row.id) is not None),
    "consent_records": (lambda at: ConsentRecord.create(categories_json="[]", policy_version="1", ip_anon="",
                                                        created_at=at),
                        lambda row: ConsentRecord.get_or_none(ConsentRecord.id == row.id) is not None),
    "exports": (_export, lambda row: AccountExport.get_by_id(row.id).status == "done"),
    "web_stats": (lambda at: PageCount.create(page="/", day=at.date(), hour=at.hour, visits=3),
                  lambda row: PageCount.get_or_none(PageCount.id == row.id) is not None),
    "data_requests": (lambda at: DataRequest.create(kind="access", requester_name="R", received_on=at.date(),
                                                    due_on=at.date(), closed_at=at),
                      lambda row: DataRequest.get_or_none(DataRequest.id == row.id) is not None),
    "contact_messages": (lambda at: make_message(received_at=at),
                         lambda row: ContactMessage.get_or_none(ContactMessage.id == row.id) is not None),
    # counted from the close of the procedure, not from receipt
    "job_applications": (lambda at: make_application(received_at=at - datetime.timedelta(days=400), closed_at=at),
                         lambda row: JobApplication.get_or_none(JobApplication.id == row.id) is not None),
}


def test_every_configured_category_has_a_purge(app):
    assert set(retention_periods(app.config)) == set(retention.PURGES)


@pytest.mark.parametrize("category", sorted(ROWS))
def test_each_category_expires_exactly_at_its_period(app, category):
    make_row, kept = ROWS[category]
    period = datetime.timedelta(days=app.config[f"RETENTION_{category.upper()}_DAYS"])
    with app.app_context():
        expired, young = make_row(NOW - period - SECOND), make_row(NOW - period + SECOND)
        deleted = retention.run(now=NOW)
    assert deleted[category] == 1
    assert not kept(expired) and kept(young)
    with app.app_context():
        assert retention.run(now=NOW + 2 * SECOND)[category] == 1  # a second later the young one has expired too
    assert not kept(young)


def test_a_run_is_recorded_with_its_counts_and_failures(app, monkeypatch):
    def broken(cutoff):
        raise RuntimeError("disk on fire")

    monkeypatch.setitem(retention.PURGES, "audit_log", broken)
    with app.app_context():
        purge_expired_data.call_local()
    run = RetentionRun.get()
    assert run.finished_at is not None and run.failed == {"audit_log": "disk on fire"}
    assert "login_attempts" in run.deleted and "audit_log" not in run.deleted


def test_stored_api_answers_are_purged_after_their_retry_window(app):
    from sendtex.models.api import ApiKey, IdempotencyRecord
    from sendtex.tasks.maintenance import purge_idempotency_records

    key, _secret = ApiKey.issue(make_account().id, "sync", ["read"])
    window = datetime.timedelta(hours=app.config["API_IDEMPOTENCY_HOURS"])
    old, fresh = [IdempotencyRecord.create(account=key.account_id, api_key=key, key=name, fingerprint="f",
                                           created_at=utcnow() - age)
                  for name, age in (("old", window + SECOND), ("fresh", window - datetime.timedelta(minutes=1)))]
    with app.app_context():
        assert purge_idempotency_records.call_local() == 1
    assert IdempotencyRecord.get_or_none(IdempotencyRecord.id == old.id) is None
    assert IdempotencyRecord.get_or_none(IdempotencyRecord.id == fresh.id) is not None
