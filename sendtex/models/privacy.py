"""Proof of cookie consent."""
import json
import secrets

from peewee import CharField, DateTimeField, TextField

from sendtex.db import BaseModel
from sendtex.models.base import utcnow

# Purposes a visitor may consent to; strictly necessary cookies need no consent.
CONSENT_PURPOSES = ("analytics", "marketing")


class ConsentRecord(BaseModel):
    """One choice made in the cookie banner; never updated, a new choice is a new row."""

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
