"""Runs of the daily retention purge: when, and how much of each category it deleted."""
import json

from peewee import DateTimeField, TextField

from sendtex.db import BaseModel
from sendtex.models.base import not_account_data


class RetentionRun(BaseModel):
    """One run of the retention purge (counts only, nothing about the deleted data)."""

    data_policy = not_account_data("counts of what the retention purge deleted, about no account")
    started_at = DateTimeField(index=True)
    finished_at = DateTimeField(null=True)
    deleted_json = TextField(default="{}")
    failed_json = TextField(default="{}")

    @property
    def deleted(self):
        return json.loads(self.deleted_json)

    @property
    def failed(self):
        return json.loads(self.failed_json)
