"""Public signup: the marketer's signup forms, each signup waiting for confirmation, and the proof of consent."""
import secrets

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField

from sendtex.db import BaseModel
from sendtex.models.accounts import Account
from sendtex.models.base import AccountOwned, account_data, iso_utc, utcnow
from sendtex.models.contacts import Contact, JSONField, MailingList

USER_AGENT_MAX, PAGE_URL_MAX = 300, 500


def new_public_id():
    """An unguessable id for a form's public URL (it names the account's form to the whole world)."""
    return secrets.token_urlsafe(16)


class SignupForm(AccountOwned):
    """A signup form of an account: the public lists it offers, the fields it asks, its consent text."""

    data_policy = account_data()
    account = ForeignKeyField(Account, backref="signup_forms", on_delete="CASCADE")
    public_id = CharField(max_length=32, unique=True, default=new_public_id)
    name = CharField(max_length=200)
    list_ids = JSONField(default=list)
    # [{"key": field key, "required": bool}] in the order asked; the e-mail address is always asked.
    asked = JSONField(default=list)
    consent_text = TextField()
    consent_version = IntegerField(default=1)
    thank_you_text = TextField(default="")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "signup_form"

    def public_lists(self):
        """The lists the form offers that are public now, by name (private or deleted ones drop out)."""
        if not self.list_ids:
            return []
        return list(MailingList.for_account(self.account_id)
                    .where(MailingList.id.in_(self.list_ids) & (MailingList.visibility == "public"))
                    .order_by(MailingList.name, MailingList.id))

    def set_consent_text(self, text):
        """Store the consent text; a changed text is a new version (proofs quote the version they saw)."""
        if self.consent_text is not None and text != self.consent_text:
            self.consent_version += 1
        self.consent_text = text

    @classmethod
    def offering(cls, mailing_list):
        """The account's forms that offer this list, by name."""
        forms = cls.for_account(mailing_list.account_id).order_by(cls.name, cls.id)
        return [form for form in forms if mailing_list.id in form.list_ids]


class Signup(BaseModel):
    """One submitted signup of a contact and what it still waits for: the lists to confirm."""

    data_policy = account_data(via="contact")
    contact = ForeignKeyField(Contact, backref="signups", on_delete="CASCADE")
    form = ForeignKeyField(SignupForm, null=True, backref="signups", on_delete="SET NULL")
    # {list id: "created" (this signup added the membership) or "existing"}: what confirming subscribes.
    pending = JSONField(default=dict)
    created_contact = BooleanField(default=False)
    language = CharField(max_length=5, default="en")
    created_at = DateTimeField(default=utcnow, index=True)
    mailed_at = DateTimeField(null=True)
    mail_error = CharField(max_length=500, default="")
    confirmed_at = DateTimeField(null=True)
    expired_at = DateTimeField(null=True)

    @property
    def is_open(self):
        """True while the signup can still be confirmed."""
        return self.confirmed_at is None and self.expired_at is None and bool(self.pending)


class ConsentProof(BaseModel):
    """Proof of one consent event (signup or confirmation): who, when, from where, to which exact text."""

    data_policy = account_data(via="contact")
    contact = ForeignKeyField(Contact, backref="consent_proofs", on_delete="CASCADE")
    signup = ForeignKeyField(Signup, null=True, backref="proofs", on_delete="SET NULL")
    event = CharField(max_length=12)  # signup or confirmation
    at = DateTimeField(default=utcnow)
    ip_anon = CharField(max_length=64, default="")
    user_agent = CharField(max_length=USER_AGENT_MAX, default="")
    form = ForeignKeyField(SignupForm, null=True, on_delete="SET NULL")
    form_name = CharField(max_length=200, default="")
    page_url = CharField(max_length=PAGE_URL_MAX, default="")
    consent_text = TextField(default="")
    consent_version = IntegerField(default=0)
    lists = JSONField(default=list)  # [{"id": ..., "name": ...}] as they were named then

    class Meta:
        table_name = "consent_proof"
        indexes = ((("contact", "at"), False),)

    @classmethod
    def record(cls, contact_id, event, visitor, lists, consent_text, form_name, **more):
        """Store the proof of a consent event: the visitor's anonymised network, user agent and page, the
        exact text agreed to, and the lists as they are named now (more: signup, form, consent_version)."""
        return cls.create(contact=contact_id, event=event, ip_anon=visitor.ip_anon, user_agent=visitor.user_agent,
                          page_url=visitor.page_url, consent_text=consent_text, form_name=form_name,
                          lists=[{"id": item.id, "name": item.name} for item in lists], **more)

    @classmethod
    def for_contact(cls, contact_id):
        """The contact's consent events, oldest first."""
        return cls.select().where(cls.contact == contact_id).order_by(cls.at, cls.id)

    def as_dict(self):
        """The event as plain data for a data export."""
        return {
            "event": self.event,
            "at": iso_utc(self.at),
            "ip_address_anonymised": self.ip_anon,
            "user_agent": self.user_agent,
            "form_id": self.form_id,
            "form_name": self.form_name,
            "page_url": self.page_url,
            "consent_text": self.consent_text,
            "consent_version": self.consent_version,
            "lists": [dict(item) for item in self.lists],
        }
