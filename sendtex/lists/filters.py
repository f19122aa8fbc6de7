"""Which contacts the contacts table shows: filters, e-mail search and keyset pages.

The same filter selects "all contacts matching" for a bulk action, so a background job re-creates it
from its parameters (ids and filter settings only, never a field value such as a searched address).
Every query runs on an index: pages continue after the last seen sort key and id (never OFFSET), and
nothing counts the whole account.
"""
import dataclasses

from flask_babel import lazy_gettext as _l

from sendtex import audience
from sendtex.models.contacts import CONTACT_STATUSES, SUBSCRIPTION_STATUSES, Contact, Segment, Subscription
from sendtex.segments import InvalidSegment, compile_conditions
from sendtex.validation import Invalid

PAGE_SIZE = 50
SORTS = ("newest", "oldest", "email")
MAX_ID = 2**63 - 1
# The highest character of the Basic Multilingual Plane closes the range of a prefix search.
PREFIX_END = "\uffff"


@dataclasses.dataclass
class ContactFilter:
    """A selection of one account's contacts, and the order of the table."""

    account_id: int
    list_id: int | None = None
    membership: str = ""  # subscription status on list_id; "" for any
    status: str = ""
    segment_id: int | None = None
    prefix: str = ""  # start of the e-mail address, only while it is stored in plain text
    contact_id: int | None = None  # the contact an exact e-mail search found
    no_match: bool = False  # an exact e-mail search that found nobody
    sort: str = "newest"

    JOB_FIELDS = ("list_id", "membership", "status", "segment_id", "prefix", "contact_id", "no_match")

    def job_params(self):
        """The filter as job parameters: ids and settings, no searched address."""
        return {name: getattr(self, name) for name in self.JOB_FIELDS}

    @classmethod
    def from_job_params(cls, account_id, params):
        """The filter a job was started with."""
        return cls(account_id, **{name: params.get(name) for name in cls.JOB_FIELDS if params.get(name) is not None})

    @property
    def id_column(self):
        # On a list, its (list, contact) index yields members in contact order: no sort, no scan.
        return Subscription.contact if self.list_id is not None else Contact.id

    def segment(self):
        """The filter's segment, if it still exists in the account."""
        return Segment.for_account(self.account_id).where(Segment.id == self.segment_id).first()

    def query(self, *columns):
        """The matching contacts (unordered); all Contact columns unless others are named."""
        query = Contact.select(*columns) if columns else Contact.select()
        if self.list_id is not None:
            query = query.join(Subscription, on=(Subscription.contact == Contact.id)).where(
                Subscription.mailing_list == self.list_id)
            if self.membership:
                query = query.where(Subscription.status == self.membership)
        query = query.where(Contact.account == self.account_id)
        if self.status:
            query = query.where(Contact.status == self.status)
        if self.segment_id is not None:
            query = query.where(self._segment_condition())
        if self.prefix:
            query = query.where((Contact.email >= self.prefix) & (Contact.email < self.prefix + PREFIX_END))
        if self.contact_id is not None:
            query = query.where(Contact.id == self.contact_id)
        if self.no_match:
            query = query.where(Contact.id.is_null())
        return query

    def _segment_condition(self):
        # The segment's own conditions rather than "id IN (its contacts)": SQLite would first collect every
        # member (~180 ms for 300,000 of them); inline, a page stops after 51 rows in id order.
        segment = self.segment()
        if segment is None:
            return Contact.id.is_null()
        try:
            return compile_conditions(segment.match, segment.conditions, self.account_id)
        except InvalidSegment:
            return Contact.id.is_null()  # fail closed, as contacts_in_segment does: never widen the audience

    def page(self, after=None, before=None, key=None, size=PAGE_SIZE):
        """The page after (or before) a cursor: a Page of at most size contacts in table order."""
        forward = before is None
        cursor = after if forward else before
        rows = list(self._ordered(forward, cursor, key).limit(size + 1))
        more = len(rows) > size
        rows = rows[:size]
        if not forward:
            rows.reverse()
        return Page(self, rows, has_previous=more if not forward else after is not None,
                    has_next=more if forward else True)

    def _ordered(self, forward, cursor_id, key):
        ascending = (self.sort != "newest") == forward
        query = self.query()
        if self.sort == "email":
            email, ident = Contact.email, Contact.id
            query = query.where(email.is_null(False))
            if cursor_id is not None and ascending:
                query = query.where((email >= key) & ((email > key) | (ident > cursor_id)))
            elif cursor_id is not None:
                query = query.where((email <= key) & ((email < key) | (ident < cursor_id)))
            return query.order_by(email.asc(), ident.asc()) if ascending else query.order_by(email.desc(), ident.desc())
        ident = self.id_column
        if cursor_id is not None:
            query = query.where(ident > cursor_id if ascending else ident < cursor_id)
        return query.order_by(ident.asc() if ascending else ident.desc())

    def ids_after(self, last_id, max_id, limit):
        """Ids of matching contacts above last_id and up to max_id, ascending, at most limit of them."""
        ident = self.id_column
        query = self.query(ident).where((ident > last_id) & (ident <= max_id)).order_by(ident.asc()).limit(limit)
        return [row[0] for row in query.tuples()]

    def count(self, max_id=MAX_ID):
        """How many contacts match (up to max_id): for a job's progress, never for a page load."""
        return self.query(self.id_column).where(self.id_column <= max_id).count()


@dataclasses.dataclass
class Page:
    """One page of the contacts table and the cursors of its neighbours."""

    filter: ContactFilter
    rows: list
    has_previous: bool
    has_next: bool

    def _cursor(self, direction, contact):
        cursor = {direction: contact.id}
        if self.filter.sort == "email":
            cursor["key"] = contact.email
        return cursor

    @property
    def previous_cursor(self):
        return self._cursor("before", self.rows[0]) if self.has_previous and self.rows else None

    @property
    def next_cursor(self):
        return self._cursor("after", self.rows[-1]) if self.has_next and self.rows else None


def max_contact_id(account_id):
    """The newest contact id of the account (0 if none): a bulk job leaves contacts added later alone."""
    row = Contact.for_account(account_id).order_by(Contact.id.desc()).first()
    return row.id if row else 0


def parse(args, account_id, fields):
    """The filter and cursor a request asks for, and messages about what in it cannot be done."""
    errors = []
    found = ContactFilter(account_id)
    found.list_id = _id_arg(args, "list", errors)
    found.segment_id = _id_arg(args, "segment", errors)
    found.membership = _choice_arg(args, "membership", SUBSCRIPTION_STATUSES, errors,
                                   _l("Choose a membership status from the list."))
    found.status = _choice_arg(args, "status", CONTACT_STATUSES, errors, _l("Choose a contact status from the list."))
    if found.membership and found.list_id is None:
        errors.append(_l("Choose a list to filter on membership status."))
    email_encrypted = fields.is_encrypted("email")
    found.sort = args.get("sort") or "newest"
    if found.sort not in SORTS:
        errors.append(_l("Choose a sort order from the list."))
    elif found.sort == "email" and email_encrypted:
        errors.append(_l("Sorting by e-mail address is not possible while the e-mail field is encrypted."))
    _search(found, args.get("q", "").strip(), email_encrypted, errors)
    cursor = dict(after=_id_arg(args, "after", errors), before=_id_arg(args, "before", errors),
                  key=args.get("key") or "")
    if found.sort == "email" and (cursor["after"] or cursor["before"]) and not cursor["key"]:
        errors.append(_l("This page link is not valid. Start again from the first page."))
    return found, cursor, errors


def _search(found, text, email_encrypted, errors):
    if not text:
        return
    if len(text) > 254:
        errors.append(_l("An e-mail address has at most 254 characters."))
        return
    try:
        audience.fast_normalise_email(text)
        complete = True
    except Invalid:
        complete = False
    contact = audience.find_by_email(found.account_id, text) if complete else None
    if contact is not None:
        found.contact_id = contact.id
    elif not email_encrypted:
        # In e-mail order the (account, email) index yields the matches in order: fast for any prefix.
        found.prefix, found.sort = text.lower(), "email"
    elif complete:
        found.no_match = True
    else:
        errors.append(_l("The e-mail field is encrypted, so only a complete e-mail address can be searched."))


def _id_arg(args, name, errors):
    raw = args.get(name) or ""
    if not raw:
        return None
    if raw.isdigit() and 0 < int(raw) <= MAX_ID:
        return int(raw)
    errors.append(_l("This link or form holds a value that is not valid. Start again from the contacts page."))
    return None


def _choice_arg(args, name, choices, errors, message):
    value = args.get(name) or ""
    if value and value not in choices:
        errors.append(message)
        return ""
    return value
