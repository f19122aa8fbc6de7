"""Background work tracked by a row: status and progress for the page, a lease for crash recovery."""
import datetime

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from sendtex.models.accounts import Account
from sendtex.models.base import AccountOwned, account_data, utcnow
from sendtex.models.contacts import JSONField

JOB_STATUSES = ("draft", "queued", "running", "done", "failed", "cancelled")


class LeasedWork(AccountOwned):
    """Columns and behaviour shared by every tracked piece of background work."""

    status = CharField(max_length=10, default="queued")
    total = IntegerField(default=0)
    done = IntegerField(default=0)
    error = TextField(default="")
    cancel_requested = BooleanField(default=False)
    # A worker renews the lease while it works; an expired lease on running work means the worker died.
    lease_until = DateTimeField(null=True)
    created_at = DateTimeField(default=utcnow)
    started_at = DateTimeField(null=True)
    finished_at = DateTimeField(null=True)

    @property
    def finished(self):
        return self.status in ("done", "failed", "cancelled")

    @property
    def percent(self):
        if self.status == "done":
            return 100
        return min(99, int(100 * self.done / self.total)) if self.total else 0

    def renew_lease(self, seconds):
        """Mark the work as alive for another `seconds`."""
        self.lease_until = utcnow() + datetime.timedelta(seconds=seconds)

    @classmethod
    def stale(cls):
        """Running work whose worker stopped renewing its lease, and queued work never picked up."""
        now = utcnow()
        return cls.select().where((cls.status.in_(("running", "queued"))) & (cls.lease_until < now))


class Job(LeasedWork):
    """A generic background job: re-encrypting a field, a bulk action on contacts, an export."""

    data_policy = account_data(hidden=("lease_until",))
    account = ForeignKeyField(Account, backref="jobs", on_delete="CASCADE")
    kind = CharField(max_length=30)
    params = JSONField(default=dict)
    result = JSONField(default=dict)
