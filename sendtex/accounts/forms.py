"""Forms of the accounts blueprint."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from sendtex import validation
from sendtex.forms import Normalise, email_field, new_password_field

LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands"}

# ISO 3166 codes of the EU member states, then the countries most often billed from outside it.
COUNTRY_NAMES = [
    ("", "—"), ("AT", _l("Austria")), ("BE", _l("Belgium")), ("BG", _l("Bulgaria")), ("HR", _l("Croatia")),
    ("CY", _l("Cyprus")), ("CZ", _l("Czechia")), ("DK", _l("Denmark")), ("EE", _l("Estonia")),
    ("FI", _l("Finland")), ("FR", _l("France")), ("DE", _l("Germany")), ("GR", _l("Greece")),
    ("HU", _l("Hungary")), ("IE", _l("Ireland")), ("IT", _l("Italy")), ("LV", _l("Latvia")),
    ("LT", _l("Lithuania")), ("LU", _l("Luxembourg")), ("MT", _l("Malta")), ("NL", _l("Netherlands")),
    ("PL", _l("Poland")), ("PT", _l("Portugal")), ("RO", _l("Romania")), ("SK", _l("Slovakia")),
    ("SI", _l("Slovenia")), ("ES", _l("Spain")), ("SE", _l("Sweden")), ("CH", _l("Switzerland")),
    ("NO", _l("Norway")), ("IS", _l("Iceland")), ("GB", _l("United Kingdom")), ("US", _l("United States")),
]
COUNTRIES = [SelectChoice(code, name) for code, name in COUNTRY_NAMES]
ROLE_CHOICES = [SelectChoice("member", _l("Member")), SelectChoice("owner", _l("Owner"))]


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)])
    email = email_field()
    language = SelectField(_l("Language"), choices=[SelectChoice("", _l("As my browser asks"))]
                           + [SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()])


class PasswordChangeForm(FlaskForm):
    current_password = PasswordField(_l("Current password"), validators=[InputRequired(), Length(max=1024)])
    new_password = new_password_field(_l("New password"))


class BillingForm(FlaskForm):
    name = StringField(_l("Account name"), validators=[InputRequired(), Length(max=200)])
    company_name = StringField(_l("Company name"), validators=[Optional(), Length(max=200)])
    street = StringField(_l("Street and number"), validators=[Optional(), Length(max=200)])
    postal_code = StringField(_l("Postal code"), validators=[Optional(), Length(max=20)])
    city = StringField(_l("City"), validators=[Optional(), Length(max=100)])
    country = SelectField(_l("Country"), choices=COUNTRIES, validate_choice=True)
    vat_number = StringField(_l("VAT number"), validators=[Length(max=30), Normalise(validation.normalise_vat)])
    phone = StringField(_l("Phone"), validators=[Length(max=30), Normalise(validation.normalise_phone)])


class InviteForm(FlaskForm):
    email = email_field()
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=ROLE_CHOICES)


class SettingsForm(FlaskForm):
    track_opens = BooleanField(_l("Track opens"))
    track_clicks = BooleanField(_l("Track clicks"))
    individual_tracking = BooleanField(_l("Keep opens and clicks per contact"))
    soft_bounce_limit = IntegerField(_l("Soft bounces before a contact counts as bounced"),
                                     validators=[InputRequired(), NumberRange(min=1, max=100)])
    soft_bounce_days = IntegerField(_l("within this many days"), validators=[InputRequired(), NumberRange(min=1, max=365)])
