"""Proof of cookie consent, account deletion records and account data exports."""
import json
import secrets

from peewee import CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from sendtex.db import BaseModel
from sendtex.models.accounts import Account, User
from sendtex.models.base import AccountOwned, account_data, not_account_data, utcnow

# Purposes a visitor may consent to; strictly necessary cookies need no consent.
CONSENT_PURPOSES = ("analytics", "marketing")


class ConsentRecord(BaseModel):
    """One choice made in the cookie banner; never updated, a new choice is a new row."""

    data_policy = not_account_data("cookie choices of anonymous visitors, tied to no account")
    consent_id = CharField(max_length=64, default=lambda: secrets.token_urlsafe(16), index=True)
    categories_json = TextField(default="[]")
    policy_version = CharField(max_length=40)
    ip_anon = CharField(max_length=64)
    created_at = DateTimeField(default=utcnow)

    @property
    def categories(self):
        return json.loads(self.categories_json)

    @classmethod
    def record(cls, categories, policy_version, ip_anon, consent_id=None):
        """Store a choice; keeps the visitor's consent id when they change their mind."""
        fields = dict(
            categories_json=json.dumps(sorted(set(categories) & set(CONSENT_PURPOSES))),
            policy_version=policy_version,
            ip_anon=ip_anon,
        )
        if consent_id:
            fields["consent_id"] = consent_id
        return cls.create(**fields)


class DeletionRecord(BaseModel):
    """That an account was deleted, when and how much: nothing that identifies it or its people."""

    data_policy = not_account_data("the non-identifying proof that an account was deleted, kept for accountability")
    uid = CharField(max_length=32, unique=True, default=lambda: secrets.token_hex(8))
    requested_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True, index=True)
    counts_json = TextField(default="{}")
    # Only while the deletion runs, so a restarted worker can finish it; cleared when done.
    account_id = IntegerField(null=True)

    @property
    def counts(self):
        return json.loads(self.counts_json)


class AccountExport(AccountOwned):
    """A data export of an account, built by a worker into an encrypted file, downloadable by its requester."""

    data_policy = account_data(export=False, hidden=("file_name",))
    account = ForeignKeyField(Account, backref="exports", on_delete="CASCADE")
    user = ForeignKeyField(User, backref="exports", on_delete="CASCADE")
    status = CharField(max_length=10, default="queued")  # queued, done, failed, expired
    file_name = CharField(max_length=100, default="")
    size = IntegerField(default=0)
    error = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    finished_at = DateTimeField(null=True)
    expires_at = DateTimeField(null=True, index=True)
