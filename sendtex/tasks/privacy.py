"""Account deletion and account data exports, run by the worker and resumed after a crash."""
import datetime
import logging
import secrets
import time

from flask import current_app
from huey import crontab

from sendtex import accountdata
from sendtex.crypto import EncryptedFileWriter
from sendtex.db import update_by_id
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery
from sendtex.models.privacy import AccountExport, DeletionRecord
from sendtex.queue import huey
from sendtex.tasks.context import app_task
from sendtex.tasks.jobs import resumer
from sendtex.uploads import exports_dir

log = logging.getLogger(__name__)

@huey.task()
@app_task
def delete_account(record_id):
    """Delete everything of the account behind a deletion record once no worker sends for it any more."""
    record = DeletionRecord.get_or_none(DeletionRecord.id == record_id)
    if record is None or record.account_id is None:
        return  # done already (a retried or duplicated task)
    _wait_for_senders(record.account_id)
    accountdata.delete_everything(record.account_id)
    update_by_id(DeletionRecord, record.id, account_id=None, finished_at=utcnow())


def _wait_for_senders(account_id):
    """Campaigns were stopped when deletion was asked; a worker may still finish the message in its hands."""
    campaigns = Campaign.select(Campaign.id).where(Campaign.account == account_id)
    deadline = time.monotonic() + current_app.config["JOB_LEASE_SECONDS"]
    while time.monotonic() < deadline and Delivery.select().where(
            Delivery.campaign.in_(campaigns) & Delivery.lease_until.is_null(False)
            & (Delivery.lease_until > utcnow())).exists():
        time.sleep(0.2)


@resumer
def _resume_deletions():
    for record in DeletionRecord.select().where(DeletionRecord.account_id.is_null(False)):
        delete_account(record.id)


@huey.task()
@app_task
def build_export(export_id):
    """Write the account's data export into an encrypted file (decrypted values never reach the disk in plain)."""
    export = AccountExport.get_or_none(AccountExport.id == export_id)
    if export is None or export.status != "queued":
        return
    name = f"{secrets.token_hex(16)}.zip.enc"
    path = exports_dir() / name
    writer = EncryptedFileWriter(path, current_app.config["FIELD_KEYS"])
    try:
        accountdata.write_export(export.account_id, writer)
        writer.close()
    except Exception:
        log.exception("account export %s failed", export.id)
        writer.close()
        path.unlink(missing_ok=True)
        update_by_id(AccountExport, export.id, status="failed", finished_at=utcnow(),
                     error="the export could not be written; the operator has been told")
        raise
    now = utcnow()
    update_by_id(AccountExport, export.id, status="done", file_name=name, size=path.stat().st_size,
                 finished_at=now, expires_at=now + datetime.timedelta(days=current_app.config["RETENTION_EXPORTS_DAYS"]))


@huey.periodic_task(crontab(minute="*/10"))
@app_task
def expire_exports():
    """Delete the files of exports past their expiry; the row stays as "expired" so the page can say so."""
    return expire_exports_before(utcnow(), field=AccountExport.expires_at)


def expire_exports_before(cutoff, field=AccountExport.finished_at):
    """Delete the files of finished exports whose `field` is before cutoff; returns how many."""
    expired = list(AccountExport.select().where((AccountExport.status == "done") & (field <= cutoff)))
    for export in expired:
        (exports_dir() / export.file_name).unlink(missing_ok=True)
        update_by_id(AccountExport, export.id, status="expired", file_name="")
    return len(expired)
