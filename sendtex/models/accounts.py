"""Accounts, their users, invitations and login attempts."""
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from peewee import BooleanField, CharField, DateTimeField, ForeignKeyField, IntegerField, IntegrityError, TextField, fn

from sendtex.db import BaseModel, db
from sendtex.models.base import AccountOwned, account_data, utcnow

ROLES = ("owner", "member")

# argon2id with the library's RFC 9106 low-memory profile unless configured otherwise.
_hasher = PasswordHasher()


_dummy = {}


def configure_password_hashing(time_cost, memory_kib):
    """Set the argon2id cost of new hashes (old hashes are upgraded at their next login)."""
    global _hasher
    _hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    _dummy.clear()


def _dummy_hash():
    if "hash" not in _dummy:
        _dummy["hash"] = _hasher.hash(secrets.token_urlsafe(16))
    return _dummy["hash"]


class EmailTaken(Exception):
    """Another login already uses this e-mail address."""


class Account(BaseModel):
    data_policy = account_data(via="id")
    name = CharField(max_length=200)
    created_at = DateTimeField(default=utcnow)
    company_name = CharField(max_length=200, default="")
    street = CharField(max_length=200, default="")
    postal_code = CharField(max_length=20, default="")
    city = CharField(max_length=100, default="")
    country = CharField(max_length=2, default="")
    vat_number = CharField(max_length=20, default="")
    phone = CharField(max_length=30, default="")
    eu_only_sending = BooleanField(default=False)
    daily_quota = IntegerField(default=500)  # messages per day; new accounts start small, staff raise it
    # Set when an owner deletes the account: nobody logs in any more and a worker removes everything.
    deletion_requested_at = DateTimeField(null=True)
    # Restricted (GDPR art. 18, by its owner pending a dispute or by staff): data kept, nothing sent or imported.
    restricted_at = DateTimeField(null=True)
    restricted_by = CharField(max_length=10, default="")  # "owner" or "staff"
    restriction_reason = TextField(default="")
    # Tracking switches: a campaign tracks opens/clicks only when both it and its account allow it.
    track_opens = BooleanField(default=True)
    track_clicks = BooleanField(default=True)
    # Off: events are kept only as aggregate counts, never tied to a contact (no per-contact timeline).
    individual_tracking = BooleanField(default=True)
    # Bounce rules: a hard bounce marks the contact bounced at once, soft bounces after this many in the window.
    soft_bounce_limit = IntegerField(default=3)
    soft_bounce_days = IntegerField(default=7)

    @property
    def is_restricted(self):
        """True while processing is restricted: data is kept and viewable, nothing is sent or imported."""
        return self.restricted_at is not None

    def restrict(self, by, reason):
        """Restrict processing (by "owner" or "staff") with the reason shown to the account's users."""
        self.restricted_at, self.restricted_by, self.restriction_reason = utcnow(), by, reason
        self.save(only=[Account.restricted_at, Account.restricted_by, Account.restriction_reason])

    def lift_restriction(self):
        """End the restriction."""
        self.restricted_at, self.restricted_by, self.restriction_reason = None, "", ""
        self.save(only=[Account.restricted_at, Account.restricted_by, Account.restriction_reason])

    def owners(self):
        """The account's users with the owner role."""
        return self.users.where(User.role == "owner")

    @classmethod
    def register(cls, account_name, name, email, password):
        """Create an account with its owner; EmailTaken if the address has a login already."""
        with db.atomic():
            account = cls.create(name=account_name)
            return User.add(account, email=email, name=name, password=password, role="owner")


class User(AccountOwned):
    data_policy = account_data(hidden=("password_hash", "session_version"))
    account = ForeignKeyField(Account, backref="users", on_delete="CASCADE")
    email = CharField(max_length=254, unique=True)
    name = CharField(max_length=200, default="")
    password_hash = CharField(max_length=200)
    role = CharField(max_length=10, default="owner")
    language = CharField(max_length=5, null=True)
    # Part of the session id: bumping it ends every session of the user.
    session_version = IntegerField(default=1)
    is_staff = BooleanField(default=False)
    created_at = DateTimeField(default=utcnow)
    last_login_at = DateTimeField(null=True)

    # Flask-Login protocol
    is_authenticated = True
    is_active = True
    is_anonymous = False

    def get_id(self):
        """The session identity: user id and session version."""
        return f"{self.id}:{self.session_version}"

    @classmethod
    def add(cls, account, email, name, password, role):
        """Create a user in account; EmailTaken (nothing written) if the address is in use."""
        user = cls(account=account, email=email, name=name, role=role)
        user.set_password(password)
        try:
            with db.atomic():
                user.save(force_insert=True)
        except IntegrityError as exc:
            raise EmailTaken(email) from exc
        return user

    @classmethod
    def from_session_id(cls, session_id):
        """The user named by a session identity, if that session is still valid."""
        user_id, _, version = str(session_id).partition(":")
        if not (user_id.isdigit() and version.isdigit()):
            return None
        return cls.of_live_accounts().where((cls.id == int(user_id)) & (cls.session_version == int(version))).first()

    @classmethod
    def by_email(cls, email):
        """The user with this e-mail address (case-insensitive), or None (also while their account is deleted)."""
        return cls.of_live_accounts().where(fn.LOWER(cls.email) == email.lower()).first()

    @classmethod
    def of_live_accounts(cls):
        """Users whose account is not being deleted."""
        return cls.select().join(Account).where(Account.deletion_requested_at.is_null())

    def set_password(self, password):
        """Store an argon2id hash of the password and end the user's other sessions."""
        self.password_hash = _hasher.hash(password)
        self.session_version += 1

    @staticmethod
    def spend_a_password_check():
        """Verify against a dummy hash, so an unknown address costs the same time as a known one."""
        try:
            _hasher.verify(_dummy_hash(), "not the password")
        except VerificationError:
            pass

    def check_password(self, password):
        """True if the password matches; rehashes when the parameters changed."""
        try:
            _hasher.verify(self.password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
        if _hasher.check_needs_rehash(self.password_hash):
            self.password_hash = _hasher.hash(password)
            self.save(only=[User.password_hash])
        return True

    @property
    def is_owner(self):
        return self.role == "owner"


class Invitation(AccountOwned):
    data_policy = account_data(hidden=("nonce",))
    account = ForeignKeyField(Account, backref="invitations", on_delete="CASCADE")
    email = CharField(max_length=254)
    role = CharField(max_length=10, default="member")
    invited_by = ForeignKeyField(User, null=True, on_delete="SET NULL")
    nonce = CharField(max_length=64, default=lambda: secrets.token_urlsafe(24), unique=True)
    created_at = DateTimeField(default=utcnow)
    accepted_at = DateTimeField(null=True)

    def accept(self, name, password):
        """Create the invited user and mark the invitation used, in one transaction."""
        with db.atomic():
            user = User.add(self.account, email=self.email, name=name, password=password, role=self.role)
            self.accepted_at = utcnow()
            self.save()
        return user

    @classmethod
    def pending(cls, account_id):
        """Invitations of the account not yet accepted."""
        return cls.for_account(account_id).where(cls.accepted_at.is_null()).order_by(cls.created_at)
