"""The log of data-subject requests that reach the operator by e-mail or post, with their legal due dates."""
import calendar
import datetime

from peewee import CharField, DateField, DateTimeField, TextField

from sendtex.db import BaseModel
from sendtex.models.base import not_account_data, utcnow

REQUEST_KINDS = ("access", "rectification", "erasure", "restriction", "objection", "portability", "withdrawal",
                 "complaint")
CHANNELS = ("email", "post", "phone", "other")


def one_month_after(day):
    """The same day a calendar month later (the last day of that month when it is shorter), GDPR art. 12(3)."""
    year, month = (day.year + 1, 1) if day.month == 12 else (day.year, day.month + 1)
    return datetime.date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class DataRequest(BaseModel):
    """One request of a data subject: who, what, proof of identity received (a note), due date, outcome."""

    data_policy = not_account_data("the operator's own record of answering data-subject requests; it names no "
                                   "account row, so deleting an account keeps the proof that a request was answered")
    kind = CharField(max_length=20)
    requester_name = CharField(max_length=200)
    requester_email = CharField(max_length=254, default="")
    channel = CharField(max_length=10, default="email")
    identity_proof = TextField(default="")  # what was received, never the document itself
    details = TextField(default="")
    received_on = DateField()
    due_on = DateField(index=True)
    closed_at = DateTimeField(null=True, index=True)
    outcome = TextField(default="")
    actions = TextField(default="")  # one line per fulfilment step done from the log, with its time
    created_at = DateTimeField(default=utcnow)

    @classmethod
    def open_first(cls):
        """Open requests by due date, then closed ones newest first."""
        return cls.select().order_by(cls.closed_at.is_null(False), cls.due_on, cls.closed_at.desc())

    def note_action(self, text):
        """Append a fulfilment step to the request's record."""
        line = f"{utcnow():%Y-%m-%d %H:%M} UTC: {text}"
        self.actions = f"{self.actions}\n{line}".strip()
        self.save(only=[DataRequest.actions])

    def state(self, today):
        """"closed", "overdue", "due" (within 7 days) or "open"."""
        if self.closed_at:
            return "closed"
        if self.due_on < today:
            return "overdue"
        return "due" if (self.due_on - today).days <= 7 else "open"
