"""CSV imports: the tracked import and the rows it rejected."""
from peewee import BooleanField, CharField, ForeignKeyField, IntegerField

from sendtex.db import BaseModel
from sendtex.models.accounts import Account, User
from sendtex.models.base import account_data
from sendtex.models.contacts import JSONField
from sendtex.models.jobs import LeasedWork

IMPORT_MODES = ("subscribe", "update", "blocklist")


class Import(LeasedWork):
    """One uploaded CSV file on its way into the contacts; `done`/`total` count bytes of the file."""

    data_policy = account_data(hidden=("upload_name", "lease_until"))
    account = ForeignKeyField(Account, backref="imports", on_delete="CASCADE")
    user = ForeignKeyField(User, null=True, on_delete="SET NULL")
    original_name = CharField(max_length=255)
    upload_name = CharField(max_length=100)  # file under instance/uploads, encrypted
    encoding = CharField(max_length=20, default="utf-8")
    delimiter = CharField(max_length=2, default=",")
    header = JSONField(default=list)
    mapping = JSONField(default=dict)  # column index -> field key
    mode = CharField(max_length=10, default="subscribe")
    list_ids = JSONField(default=list)
    confirmed = BooleanField(default=True)  # subscriptions confirmed, or double opt-in needed
    # Progress, committed with each chunk: a restarted import continues after resume_line.
    resume_line = IntegerField(default=0)
    resume_offset = IntegerField(default=0)
    rows_done = IntegerField(default=0)
    inserted = IntegerField(default=0)
    updated = IntegerField(default=0)
    skipped = IntegerField(default=0)


class ImportRejection(BaseModel):
    """A row the import could not take, and why (no cell values: they may be encrypted fields)."""

    data_policy = account_data(via="import_")
    import_ = ForeignKeyField(Import, backref="rejections", on_delete="CASCADE", column_name="import_id")
    line = IntegerField()
    column = CharField(max_length=200, default="")
    reason = CharField(max_length=300)

    class Meta:
        table_name = "import_rejection"
