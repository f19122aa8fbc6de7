"""Forms of the privacy self-service pages."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length


class DeleteAccountForm(FlaskForm):
    password = PasswordField(_l("Your password"), validators=[InputRequired(), Length(max=1024)])
    account_name = StringField(_l("The account's name, exactly as shown"), validators=[InputRequired(), Length(max=200)])


class ExportRequestForm(FlaskForm):
    """Only the CSRF token: asking for an export takes no input."""


class RestrictForm(FlaskForm):
    reason = TextAreaField(_l("Why (for example: the accuracy of the data is disputed)"),
                           validators=[InputRequired(), Length(min=5, max=1000)])
