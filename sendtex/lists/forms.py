"""Forms of the audience area: lists, bulk actions, and contact values typed by the account's fields."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length, Regexp, ValidationError

from sendtex import audience
from sendtex.models.contacts import BUILTIN_KEYS, CONTACT_STATUSES, FIELD_TYPES
from sendtex.segments import CONTACT_STATUS_LABELS

OPT_IN_LABELS = {"single": _l("Single opt-in"), "double": _l("Double opt-in")}
VISIBILITY_LABELS = {"public": _l("Public: offered on signup forms"), "private": _l("Private")}
BULK_ACTIONS = {
    "add": _l("Add to list"),
    "remove": _l("Remove from list"),
    "unsubscribe": _l("Unsubscribe from everything"),
    "blocklist": _l("Blocklist"),
    "delete": _l("Delete"),
}
LIST_ACTIONS = ("add", "remove")


def _strip(value):
    return (value or "").strip()


def unique_ids(form, prefix):
    """Give the form's inputs ids unique on a page that shows several such forms (names stay as they are)."""
    for field in form:
        field.id = field.label.field_id = f"{prefix}-{field.name}"
    return form


class ListForm(FlaskForm):
    name = StringField(_l("Name"), filters=[_strip],
                       validators=[DataRequired(_l("Give the list a name.")), Length(max=200)])
    description = TextAreaField(_l("Description"), filters=[_strip], validators=[Length(max=2000)])
    opt_in = SelectField(_l("Opt-in"), choices=[SelectChoice(k, v) for k, v in OPT_IN_LABELS.items()], default="double")
    visibility = SelectField(_l("Visibility"), choices=[SelectChoice(k, v) for k, v in VISIBILITY_LABELS.items()],
                             default="private")


class ContactValues:
    """The raw and typed values of a contact form built from the account's fields (custom fields vary)."""

    def __init__(self, fields, raw=None, locked=()):
        self.fields = fields
        self.locked = set(locked)  # fields whose stored value cannot be decrypted: shown, never written
        self.raw = dict(raw or {})
        self.current = {}  # the stored typed values, to write only what changed
        self.submitted = {}
        self.errors = {}
        self.values = {}

    @property
    def editable(self):
        return [field for field in self.fields.fields if field.key not in self.locked]

    @classmethod
    def of_contact(cls, fields, contact):
        """A form holding the contact's current values as text."""
        values, errors = audience.read_values(contact, fields)
        raw = {key: _as_input(fields.by_key[key], value) for key, value in values.items() if key not in errors}
        form = cls(fields, raw, locked=errors)
        form.current = values
        return form

    def read(self, form_data):
        """Take the submitted text of the editable fields the form sent (an inline row sends only some)."""
        self.submitted = {field.key: form_data[field.key] for field in self.editable if field.key in form_data}
        self.raw.update(self.submitted)

    def validate(self, partial=False):
        """Typed values through FieldSet.coerce_all; True when every value is valid."""
        self.values, errors = self.fields.coerce_all(self.submitted, partial=partial)
        self.errors.update(errors)
        return not errors


def _as_input(field, value):
    if value is None:
        return ""
    if field.type == "boolean":
        return "yes" if value else "no"
    return str(value)


def status_choices():
    """The contact statuses as (value, label) for a select."""
    return [(status, CONTACT_STATUS_LABELS[status]) for status in CONTACT_STATUSES]


FIELD_TYPE_LABELS = {"text": _l("Text"), "number": _l("Number"), "date": _l("Date"), "boolean": _l("Yes or no"),
                     "choice": _l("Single choice")}
# Built-in keys, the contact's own columns and the names contact forms use for themselves: a custom key
# equal to one would be ambiguous in imports, segments and forms.
RESERVED_FIELD_KEYS = frozenset(BUILTIN_KEYS + ("id", "uid", "status", "created_at", "updated_at", "lists", "list",
                                                "email_digest", "attributes", "sealed", "account", "subscriptions",
                                                "csrf_token", "next", "action", "q", "sort"))
FIELD_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
MAX_CHOICES, CHOICE_MAX_LENGTH = 100, 100


def _choice_lines(text):
    return [line.strip() for line in (text or "").splitlines() if line.strip()]


class FieldEditForm(FlaskForm):
    label = StringField(_l("Label"), validators=[DataRequired(_l("Give the field a label.")), Length(max=100)],
                        filters=[lambda text: text.strip() if isinstance(text, str) else text])
    choices = TextAreaField(_l("Options (one per line, for a single choice field)"))
    required = BooleanField(_l("Required"))
    encrypted = BooleanField(_l("Encrypted"))
    subscriber_editable = BooleanField(_l("Subscribers may change it in their preferences"))
    field_type = "text"  # the type whose options are checked; a created field's type never changes

    def validate_choices(self, field):
        """A single choice field needs at least one option and no option twice."""
        options = _choice_lines(field.data)
        field.data = options if self.field_type == "choice" else []
        if self.field_type != "choice":
            return
        if not options:
            raise ValidationError(_l("A single choice field needs at least one option."))
        if len(options) > MAX_CHOICES or any(len(option) > CHOICE_MAX_LENGTH for option in options):
            raise ValidationError(_l("Give at most %(n)d options of at most %(length)d characters each.",
                                     n=MAX_CHOICES, length=CHOICE_MAX_LENGTH))
        seen = set()
        for option in options:
            if option.lower() in seen:
                raise ValidationError(_l("The option “%(option)s” is listed twice.", option=option))
            seen.add(option.lower())


class FieldForm(FieldEditForm):
    key = StringField(_l("Key"), validators=[
        InputRequired(_l("Give the field a key.")),
        Regexp(FIELD_KEY_PATTERN, message=_l("A key starts with a lower-case letter and has at most 40 lower-case "
                                             "letters, digits and underscores, like favourite_colour.")),
    ], filters=[lambda text: text.strip() if isinstance(text, str) else text])
    type = SelectField(_l("Type"), choices=[SelectChoice(k, v) for k, v in FIELD_TYPE_LABELS.items()],
                       validate_choice=False,
                       validators=[AnyOf(FIELD_TYPES, message=_l("Choose one of the offered types."))])

    def validate_key(self, field):
        """A key may not name a built-in field or a column of every contact."""
        if field.data in RESERVED_FIELD_KEYS:
            raise ValidationError(_l("“%(key)s” is a built-in field or contact column; choose another key.",
                                     key=field.data))

    def validate_choices(self, field):
        self.field_type = self.type.data
        super().validate_choices(field)


class BuiltinFieldForm(FlaskForm):
    encrypted = BooleanField(_l("Encrypted"))
    subscriber_editable = BooleanField(_l("Subscribers may change it in their preferences"))


class FieldMoveForm(FlaskForm):
    direction = StringField(validators=[AnyOf(("up", "down"))])


class FieldDeleteForm(FlaskForm):
    """Only the CSRF token: deleting a field needs nothing else."""


MATCH_LABELS = {"all": _l("all of the conditions"), "any": _l("any of the conditions")}


class SegmentForm(FlaskForm):
    """Name and match of a segment; its condition rows are read by sendtex.lists.segments."""

    name = StringField(_l("Name"), validators=[InputRequired(_l("Give the segment a name.")), Length(max=200)],
                       filters=[lambda text: text.strip() if isinstance(text, str) else text])
    match = SelectField(_l("Contacts must match"), choices=[SelectChoice(k, v) for k, v in MATCH_LABELS.items()],
                        default="all")
