"""What visitors send the operator through its website: contact-form messages, and job applications to its vacancies."""
from peewee import JOIN, BooleanField, Case, CharField, DateTimeField, ForeignKeyField, TextField, fn

from sendtex.db import BaseModel
from sendtex.models.base import not_account_data, utcnow

NAME_MAX, EMAIL_MAX, PHONE_MAX = 100, 254, 40


class ContactMessage(BaseModel):
    """A message sent through the contact form; deleted RETENTION_CONTACT_MESSAGES_DAYS after it arrived."""

    data_policy = not_account_data("messages visitors sent the operator itself; purged after their retention period")
    received_at = DateTimeField(default=utcnow, index=True)
    last_name = CharField(max_length=NAME_MAX)
    first_name = CharField(max_length=NAME_MAX)
    email = CharField(max_length=EMAIL_MAX)
    phone = CharField(max_length=PHONE_MAX, default="")
    message = TextField()
    language = CharField(max_length=5, default="en")
    answered_at = DateTimeField(null=True)
    notified_at = DateTimeField(null=True)  # when staff were told by mail; a task run twice mails once

    @classmethod
    def for_staff(cls):
        """Unanswered messages first, each group newest first."""
        return cls.select().order_by(cls.answered_at.is_null(False), cls.received_at.desc(), cls.id.desc())

    @classmethod
    def unanswered_count(cls):
        """How many messages wait for an answer."""
        return cls.select().where(cls.answered_at.is_null()).count()

    @classmethod
    def purge_received_before(cls, cutoff):
        """Delete the messages that arrived before cutoff; returns how many."""
        return cls.delete().where(cls.received_at < cutoff).execute()


class JobPosition(BaseModel):
    """A vacancy of the operator; only open ones are on the careers page and take applications."""

    data_policy = not_account_data("the operator's own vacancies, no personal data")
    title = CharField(max_length=200)
    description = TextField()
    location = CharField(max_length=200, default="")
    is_open = BooleanField(default=True)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    @classmethod
    def open_positions(cls):
        """The open vacancies, newest first."""
        return cls.select().where(cls.is_open == True).order_by(cls.created_at.desc(), cls.id.desc())  # noqa: E712

    @classmethod
    def with_counts(cls):
        """Every vacancy (open ones first) with its number of applications and of open procedures."""
        total = fn.COUNT(JobApplication.id)
        pending = fn.COUNT(Case(None, [(JobApplication.closed_at.is_null(), JobApplication.id)]))
        return (cls.select(cls, total.alias("application_count"), pending.alias("open_count"))
                .join(JobApplication, JOIN.LEFT_OUTER, on=(JobApplication.position == cls.id))
                .group_by(cls.id).order_by(cls.is_open.desc(), cls.created_at.desc(), cls.id.desc()))


class JobApplication(BaseModel):
    """An application to a vacancy; deleted RETENTION_JOB_APPLICATIONS_DAYS after its procedure is closed."""


    data_policy = not_account_data("applications to the operator's own vacancies; purged after the procedure closes")
    position = ForeignKeyField(JobPosition, backref="applications", on_delete="CASCADE")
    received_at = DateTimeField(default=utcnow, index=True)
    last_name = CharField(max_length=NAME_MAX)
    first_name = CharField(max_length=NAME_MAX)
    email = CharField(max_length=EMAIL_MAX)
    phone = CharField(max_length=PHONE_MAX, default="")
    address = TextField(default="")
    education = TextField()
    employment = TextField()
    household = TextField(default="")
    interests = TextField(default="")
    consent_text = TextField()  # what the applicant agreed to, word for word: the proof of their consent
    language = CharField(max_length=5, default="en")
    status = CharField(max_length=12, default="received")
    notes = TextField(default="")
    closed_at = DateTimeField(null=True, index=True)  # the procedure's end; the retention period counts from here

    @classmethod
    def of_position(cls, position_id):
        """The position's applications: open procedures first, newest first."""
        return (cls.select().where(cls.position == position_id)
                .order_by(cls.closed_at.is_null(False), cls.received_at.desc(), cls.id.desc()))

    @classmethod
    def close_open_of_position(cls, position_id, when):
        """Close every open procedure of the position; returns how many."""
        return cls.update(closed_at=when).where((cls.position == position_id) & cls.closed_at.is_null()).execute()

    @classmethod
    def purge_closed_before(cls, cutoff):
        """Delete applications whose procedure closed before cutoff (open procedures never); returns how many."""
        return cls.delete().where(cls.closed_at < cutoff).execute()
