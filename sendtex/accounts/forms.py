"""Forms of the accounts blueprint."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, SelectField, StringField
from wtforms.validators import InputRequired, Length, Optional

from sendtex import validation
from sendtex.forms import Normalise, email_field, new_password_field

LANGUAGE_NAMES = {"en": "English", "nl": "Nederlands"}

# ISO 3166 codes of the EU member states, then the countries most often billed from outside it.
COUNTRIES = [
    ("", "—"), ("AT", "Austria"), ("BE", "Belgium"), ("BG", "Bulgaria"), ("HR", "Croatia"), ("CY", "Cyprus"),
    ("CZ", "Czechia"), ("DK", "Denmark"), ("EE", "Estonia"), ("FI", "Finland"), ("FR", "France"),
    ("DE", "Germany"), ("GR", "Greece"), ("HU", "Hungary"), ("IE", "Ireland"), ("IT", "Italy"), ("LV", "Latvia"),
    ("LT", "Lithuania"), ("LU", "Luxembourg"), ("MT", "Malta"), ("NL", "Netherlands"), ("PL", "Poland"),
    ("PT", "Portugal"), ("RO", "Romania"), ("SK", "Slovakia"), ("SI", "Slovenia"), ("ES", "Spain"),
    ("SE", "Sweden"), ("CH", "Switzerland"), ("NO", "Norway"), ("IS", "Iceland"), ("GB", "United Kingdom"),
    ("US", "United States"),
]


class ProfileForm(FlaskForm):
    name = StringField(_l("Name"), validators=[InputRequired(), Length(max=200)])
    email = email_field()
    language = SelectField(_l("Language"), choices=[("", _l("As my browser asks"))] + list(LANGUAGE_NAMES.items()))


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
    phone = StringField(_l("Phone"), validators=[Length(max=40), Normalise(validation.normalise_phone)])


class InviteForm(FlaskForm):
    email = email_field()
    role = SelectField(_l("Role"), choices=[("member", _l("Member")), ("owner", _l("Owner"))])


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), choices=[("member", _l("Member")), ("owner", _l("Owner"))])
