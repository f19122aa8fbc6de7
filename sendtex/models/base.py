"""Shared model pieces: account ownership and time."""
import datetime
from typing import NamedTuple

from sendtex.db import BaseModel


def utcnow():
    """The current UTC time without tzinfo, as stored in the database."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def iso_utc(moment):
    """A stored (naive UTC) moment in ISO 8601 with its offset, to the second, for exports; None stays None."""
    return moment.replace(tzinfo=datetime.UTC).isoformat(timespec="seconds") if moment else None


class AccountOwned(BaseModel):
    """A row that belongs to one account (its `account` field); looked up through for_account()."""

    @classmethod
    def for_account(cls, account_id):
        """All rows of this model that belong to the account."""
        return cls.select().where(cls.account == account_id)

    @classmethod
    def owned_by(cls, account_id, object_id):
        """The row with this id if it belongs to the account, else None (also for ids no 64-bit key can hold)."""
        if not 0 < object_id < 2**63:  # SQLite raises OverflowError on larger ones
            return None
        return cls.for_account(account_id).where(cls.id == object_id).first()


class DataPolicy(NamedTuple):
    """What happens to a model's rows when their account is deleted, and whether its data export holds them.

    Every model declares one as `data_policy`; a test fails for a model that does not, so a new table can
    never be forgotten by account deletion or export.
    - delete_via: the foreign key whose ON DELETE CASCADE takes the rows along — "account" for rows of an
      account, another key for rows hanging off such a row (a delivery off its campaign). None for rows that
      belong to no account; `reason` then says why they stay.
    - export: the rows go into the account's data export, every column but `hidden` (secrets, ciphertext).
    """

    delete_via: str | None
    export: bool
    hidden: tuple = ()
    reason: str = ""


def account_data(export=True, hidden=(), via="account"):
    """The policy of rows that belong to an account (through `via`): deleted with it, exported unless told."""
    return DataPolicy(via, export, tuple(hidden))


def not_account_data(reason):
    """The policy of rows that are no account's data (operator settings, anonymous counts): they stay."""
    return DataPolicy(None, False, (), reason)
