"""Forms of the campaigns area: the campaign editor, layouts, test sends, scheduling, picking a contact."""
import datetime
import functools
import re
import zoneinfo

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, SelectField, SelectMultipleField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from sendtex import audience, validation
from sendtex.domains import unicode_name
from sendtex.forms import Normalise
from sendtex.lists.forms import unique_ids
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Layout, SendingDomain
from sendtex.models.contacts import MailingList, Segment

MAX_TEST_ADDRESSES = 5
CONTENT_SLOT = re.compile(r"\{\{-?\s*content\s*-?\}\}")
STATUS_LABELS = {
    "draft": _l("Draft"), "scheduled": _l("Scheduled"), "sending": _l("Sending"), "paused": _l("Paused"),
    "cancelled": _l("Cancelled"), "sent": _l("Sent"), "failed": _l("Failed"),
}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _one_line(value):
    # A line break in a header value would start a new header.
    return " ".join(value.split()) if isinstance(value, str) else value


def _optional_id(value):
    return int(value) if value not in (None, "", "None") else None


@functools.cache
def timezone_names():
    """Every time zone zoneinfo knows, sorted, for a select (read from disk once)."""
    return tuple(sorted(zoneinfo.available_timezones()))


class NewCampaignForm(FlaskForm):
    name = StringField(_l("Name"), filters=[_one_line],
                       validators=[DataRequired(_l("Give the campaign a name.")), Length(max=200)])


class CampaignForm(FlaskForm):
    """The editor; choices (lists, segments, layouts, verified domains) come from the account, see for_account()."""

    name = StringField(_l("Name"), filters=[_one_line],
                       validators=[DataRequired(_l("Give the campaign a name.")), Length(max=200)])
    subject = StringField(_l("Subject"), filters=[_one_line], validators=[Length(max=998)])
    preheader = StringField(_l("Preheader"), filters=[_one_line], validators=[Length(max=300)])
    from_name = StringField(_l("From name"), filters=[_one_line], validators=[Length(max=200)])
    from_local = StringField(_l("From address"), filters=[_strip], validators=[Length(max=64)])
    from_domain = SelectField(_l("Domain"), validate_choice=False)
    reply_to = StringField(_l("Reply-to address"), filters=[_strip],
                           validators=[Optional(), Normalise(validation.normalise_email)])
    list_ids = SelectMultipleField(_l("Lists"), coerce=int, validate_choice=False,
                                   widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    segment = SelectField(_l("Segment"), coerce=_optional_id, validate_choice=False)
    layout = SelectField(_l("Layout"), coerce=_optional_id, validate_choice=False)
    html = TextAreaField(_l("Content (HTML)"))
    text = TextAreaField(_l("Plain-text part"))
    text_by_hand = BooleanField(_l("Write the plain-text part by hand"))
    track_opens = BooleanField(_l("Track opens"))
    track_clicks = BooleanField(_l("Track clicks"))

    def for_account(self, account_id, current_domain=""):
        """Offer the account's own lists, segments, layouts and verified domains (and keep a stored unverified one)."""
        self.verified_domains = [domain.domain for domain in SendingDomain.for_account(account_id).where(
            SendingDomain.verified_at.is_null(False)).order_by(SendingDomain.domain)]
        domains = list(self.verified_domains)
        if current_domain and current_domain not in domains:
            domains.append(current_domain)  # shown so saving keeps it and says why it cannot stay
        self.from_domain.choices = [(domain, unicode_name(domain) if domain in self.verified_domains
                                     else _l("%(domain)s (not verified)", domain=unicode_name(domain)))
                                    for domain in domains]
        self.list_ids.choices = [(lst.id, lst.name) for lst in
                                 MailingList.for_account(account_id).order_by(MailingList.name, MailingList.id)]
        self.segment.choices = [("", _l("— no segment —"))] + [
            (segment.id, segment.name) for segment in Segment.for_account(account_id).order_by(Segment.name)]
        self.layout.choices = [("", _l("— no layout —"))] + [
            (layout.id, layout.name) for layout in Layout.for_account(account_id).order_by(Layout.name)]
        return self

    @property
    def from_email(self):
        """The from address the form gives ("" when no local part was typed)."""
        return f"{self.from_local.data}@{self.from_domain.data}" if self.from_local.data else ""

    def validate_from_local(self, field):
        """The from address must be valid and on a verified sending domain of the account."""
        if not field.data:
            return
        if self.from_domain.data not in self.verified_domains:
            raise ValidationError(_l("The from address must be on one of your verified sending domains."))
        try:
            validation.normalise_email(self.from_email)
        except validation.Invalid as exc:
            raise ValidationError(str(exc)) from exc

    def validate_list_ids(self, field):
        """Only the account's own lists."""
        offered = {value for value, _label in field.choices}
        if any(list_id not in offered for list_id in field.data or ()):
            raise ValidationError(_l("Choose among your own lists."))

    def validate_segment(self, field):
        """Only one of the account's segments (or none)."""
        if field.data is not None and field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Choose one of your segments."))

    def validate_layout(self, field):
        """Only one of the account's layouts (or none)."""
        if field.data is not None and field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Choose one of your layouts."))


class LayoutForm(FlaskForm):
    name = StringField(_l("Name"), filters=[_one_line],
                       validators=[DataRequired(_l("Give the layout a name.")), Length(max=200)])
    html = TextAreaField(_l("HTML"), validators=[DataRequired(_l("Write the layout's HTML."))])

    def validate_html(self, field):
        """A layout needs the slot the campaign's content goes into."""
        if not CONTENT_SLOT.search(field.data or ""):
            raise ValidationError(_l("Put {{ content }} where the campaign's content goes."))


def _address_lines(text):
    return [part.strip() for part in re.split(r"[\s,;]+", text or "") if part.strip()]


class ContactLookup:
    """Finds the contact of a typed address among the account's contacts (kept in form.contact)."""

    id_prefix = "contact"  # the editor page shows several forms: their inputs need distinct ids

    def __init__(self, account_id, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.account_id, self.contact = account_id, None
        unique_ids(self, self.id_prefix)

    def find_contact(self, field):
        """The contact with the field's address; a ValidationError when the account has none."""
        self.contact = audience.find_by_email(self.account_id, field.data) if field.data else None
        if field.data and self.contact is None:
            raise ValidationError(_l("None of your contacts has this e-mail address."))


class TestSendForm(ContactLookup, FlaskForm):
    id_prefix = "test"
    addresses = TextAreaField(_l("Send a test to (at most 5 addresses, one per line)"),
                              validators=[InputRequired(_l("Give at least one address."))])
    contact_email = StringField(_l("Fill the merge tags with the values of the contact with this address (optional)"),
                                filters=[_strip])

    def validate_addresses(self, field):
        """At most five valid addresses, normalised into field.data as a list."""
        parts = _address_lines(field.data)
        if len(parts) > MAX_TEST_ADDRESSES:
            raise ValidationError(_l("Send a test to at most %(n)d addresses.", n=MAX_TEST_ADDRESSES))
        addresses = []
        for part in parts:
            try:
                addresses.append(validation.normalise_email(part))
            except validation.Invalid as exc:
                raise ValidationError(_l("“%(address)s”: %(reason)s", address=part, reason=str(exc))) from exc
        if not addresses:
            raise ValidationError(_l("Give at least one address."))
        field.data = list(dict.fromkeys(addresses))

    def validate_contact_email(self, field):
        """An optional contact whose values fill the merge tags."""
        self.find_contact(field)


class ScheduleForm(FlaskForm):
    date = DateField(_l("Date"), validators=[InputRequired(_l("Choose a date."))])
    time = TimeField(_l("Time"), validators=[InputRequired(_l("Choose a time."))])
    timezone = SelectField(_l("Time zone"), validate_choice=False, default="UTC")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = list(timezone_names())

    @property
    def when_utc(self):
        """The chosen moment in UTC (naive, as stored)."""
        local = datetime.datetime.combine(self.date.data, self.time.data, zoneinfo.ZoneInfo(self.timezone.data))
        return local.astimezone(datetime.UTC).replace(tzinfo=None)

    def validate_timezone(self, field):
        """A time zone from the list."""
        if field.data not in timezone_names():
            raise ValidationError(_l("Choose a time zone from the list."))

    def validate_time(self, field):
        """The moment must lie in the future."""
        if self.date.data and field.data and self.timezone.data in timezone_names() \
                and self.when_utc <= utcnow():
            raise ValidationError(_l("This moment has passed. Choose a moment in the future."))


class ContactPickForm(ContactLookup, FlaskForm):
    id_prefix = "as-contact"
    email = StringField(_l("E-mail address of the contact"), filters=[_strip],
                        validators=[InputRequired(_l("Give the contact's e-mail address."))])

    def validate_email(self, field):
        """One of the account's contacts."""
        self.find_contact(field)
