"""Lists, contacts, their list memberships, the account's field definitions and saved segments."""
import json
import secrets

from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, TextField, fn

from sendtex.db import BaseModel, db
from sendtex.models.accounts import Account
from sendtex.models.base import AccountOwned, account_data, utcnow

CONTACT_STATUSES = ("active", "unsubscribed", "bounced", "complained", "blocklisted")
SUBSCRIPTION_STATUSES = ("unconfirmed", "subscribed", "unsubscribed")
FIELD_TYPES = ("text", "number", "date", "boolean", "choice")
BUILTIN_FIELDS = (
    # key, label, type
    ("email", "E-mail address", "text"),
    ("first_name", "First name", "text"),
    ("last_name", "Last name", "text"),
)
BUILTIN_KEYS = tuple(key for key, _, _ in BUILTIN_FIELDS)


class JSONField(TextField):
    """A JSON document stored as text (portable across SQLite and PostgreSQL)."""

    serialises = True  # db.bulk_insert converts only such fields

    def db_value(self, value):
        return None if value is None else json.dumps(value, separators=(",", ":"), ensure_ascii=False)

    def python_value(self, value):
        return None if value is None else json.loads(value)


def new_uid():
    """A random public identity for a contact; encrypted values are bound to it."""
    return secrets.token_urlsafe(16)


class MailingList(AccountOwned):
    data_policy = account_data()
    account = ForeignKeyField(Account, backref="lists", on_delete="CASCADE")
    name = CharField(max_length=200)
    description = TextField(default="")
    opt_in = CharField(max_length=10, default="double")  # single or double
    visibility = CharField(max_length=10, default="private")  # public or private
    created_at = DateTimeField(default=utcnow)

    class Meta:
        table_name = "mailing_list"
        indexes = ((("account", "name"), True),)

    def counts_by_status(self):
        """Number of memberships per subscription status, every status present."""
        counts = dict.fromkeys(SUBSCRIPTION_STATUSES, 0)
        query = (Subscription.select(Subscription.status, fn.COUNT(Subscription.id).alias("n"))
                 .where(Subscription.mailing_list == self.id).group_by(Subscription.status))
        counts.update({row.status: row.n for row in query})
        return counts

    @classmethod
    def counts_for(cls, list_ids):
        """counts_by_status of several lists in one query, as {list id: counts}."""
        result = {list_id: dict.fromkeys(SUBSCRIPTION_STATUSES, 0) for list_id in list_ids}
        query = (Subscription.select(Subscription.mailing_list, Subscription.status, fn.COUNT(Subscription.id).alias("n"))
                 .where(Subscription.mailing_list.in_(list_ids)).group_by(Subscription.mailing_list, Subscription.status))
        for row in query.tuples():
            result[row[0]][row[1]] = row[2]
        return result


class Field(AccountOwned):
    """A contact field of an account: the three built-in ones and those the marketer defines."""

    data_policy = account_data()
    account = ForeignKeyField(Account, backref="fields", on_delete="CASCADE")
    key = CharField(max_length=40)
    label = CharField(max_length=100)
    type = CharField(max_length=10, default="text")
    choices = JSONField(default=list)
    required = BooleanField(default=False)
    encrypted = BooleanField(default=False)
    builtin = BooleanField(default=False)
    subscriber_editable = BooleanField(default=False)  # the contact may change it in the preference centre
    position = IntegerField(default=0)
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("account", "key"), True),)

    @classmethod
    def ordered(cls, account_id):
        """The account's fields, built-in first, then in the marketer's order."""
        return cls.for_account(account_id).order_by(cls.builtin.desc(), cls.position, cls.id)

    @classmethod
    def ensure_builtins(cls, account_id):
        """Create the built-in field rows of an account if they are missing."""
        rows = [dict(account=account_id, key=key, label=label, type=kind, builtin=True, position=index,
                     required=key == "email")
                for index, (key, label, kind) in enumerate(BUILTIN_FIELDS)]
        cls.insert_many(rows).on_conflict_ignore().execute()


class Contact(AccountOwned):
    data_policy = account_data(hidden=("email", "email_digest", "first_name", "last_name", "attributes", "sealed"))
    account = ForeignKeyField(Account, backref="contacts", on_delete="CASCADE")
    uid = CharField(max_length=32, unique=True, default=new_uid)
    # The normalised address, only while the e-mail field is not encrypted.
    email = CharField(max_length=254, null=True)
    # Keyed digest of the normalised address: uniqueness and exact search, encrypted or not.
    email_digest = CharField(max_length=32)
    first_name = CharField(max_length=200, null=True)
    last_name = CharField(max_length=200, null=True)
    attributes = JSONField(default=dict)  # custom fields stored in plain text
    sealed = JSONField(default=dict)  # encrypted values of any field, by key
    status = CharField(max_length=12, default="active")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = (
            (("account", "email_digest"), True),
            (("account", "email"), False),
            (("account", "status"), False),
        )


class Suppression(BaseModel):
    """An address the account may not add again: its subscriber asked to be erased. Only the address's keyed
    digest is kept (the blind index contacts use), so nothing here can be read back into an address; the
    subscriber signing up again lifts it."""

    data_policy = account_data(hidden=("email_digest",))
    account = ForeignKeyField(Account, on_delete="CASCADE", index=False)  # the unique index leads with it
    email_digest = CharField(max_length=32)
    reason = CharField(max_length=20, default="erased")
    created_at = DateTimeField(default=utcnow)

    class Meta:
        indexes = ((("account", "email_digest"), True),)

    @classmethod
    def add(cls, account_id, digest, reason="erased"):
        """Keep the account from adding this address again."""
        cls.insert(account=account_id, email_digest=digest, reason=reason).on_conflict_ignore().execute()

    @classmethod
    def among(cls, account_id, digests):
        """The digests among these that the account may not add."""
        return set(_by_digest("suppression", account_id, digests))

    @classmethod
    def lift(cls, account_id, digest):
        """The subscriber came back by themselves: the account may hold the address again."""
        cls.delete().where((cls.account == account_id) & (cls.email_digest == digest)).execute()


def contact_ids_by_digest(account_id, digests):
    """{digest: contact id} for the account's contacts among these digests."""
    return _by_digest("contact", account_id, digests)


def _by_digest(table, account_id, digests):
    """{digest: id} of the table's rows of the account among these address digests."""
    # Raw, parameterised SQL: Peewee renders a large IN list node by node, measured at a tenth of an import.
    found, param = {}, db.obj.param
    for start in range(0, len(digests), 900):
        part = digests[start:start + 900]
        cursor = db.execute_sql(
            f"SELECT email_digest, id FROM {table} WHERE account_id = {param} "
            f"AND email_digest IN ({', '.join([param] * len(part))})", [account_id, *part])
        found.update(cursor.fetchall())
    return found


class Subscription(BaseModel):
    """A contact's membership of one list."""

    data_policy = account_data(via="contact")
    contact = ForeignKeyField(Contact, backref="subscriptions", on_delete="CASCADE")
    mailing_list = ForeignKeyField(MailingList, backref="subscriptions", on_delete="CASCADE")
    status = CharField(max_length=12, default="subscribed")
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
    confirmed_at = DateTimeField(null=True)
    unsubscribed_at = DateTimeField(null=True)

    class Meta:
        indexes = (
            (("contact", "mailing_list"), True),
            # With the contact last, a list's members come in contact order: keyset pages need no sort.
            (("mailing_list", "status", "contact"), False),
            (("mailing_list", "contact"), False),
            # The statistics task recounts the subscriptions of the last days every minute.
            (("created_at",), False),
            (("unsubscribed_at",), False),
        )


class Segment(AccountOwned):
    """A saved filter: conditions combined with all (and) or any (or)."""

    data_policy = account_data()
    account = ForeignKeyField(Account, backref="segments", on_delete="CASCADE")
    name = CharField(max_length=200)
    match = CharField(max_length=3, default="all")
    conditions = JSONField(default=list)
    created_at = DateTimeField(default=utcnow)
    updated_at = DateTimeField(default=utcnow)
