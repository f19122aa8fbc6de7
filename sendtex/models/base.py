"""Shared model pieces: account ownership and time."""
import datetime

from sendtex.db import BaseModel


def utcnow():
    """The current UTC time without tzinfo, as stored in the database."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


class AccountOwned(BaseModel):
    """A row that belongs to one account (its `account` field); looked up through for_account()."""

    @classmethod
    def for_account(cls, account_id):
        """All rows of this model that belong to the account."""
        return cls.select().where(cls.account == account_id)
