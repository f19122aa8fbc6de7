"""Forms of the auth blueprint."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import InputRequired, Length

from sendtex.forms import email_field, new_password_field


class RegisterForm(FlaskForm):
    account_name = StringField(_l("Organisation"), validators=[InputRequired(), Length(max=200)])
    name = StringField(_l("Your name"), validators=[InputRequired(), Length(max=200)])
    email = email_field()
    password = new_password_field()


class LoginForm(FlaskForm):
    email = StringField(_l("E-mail address"), validators=[InputRequired(), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[InputRequired(), Length(max=1024)])


class ResetRequestForm(FlaskForm):
    email = email_field()


class ResetForm(FlaskForm):
    password = new_password_field(_l("New password"))


class AcceptInvitationForm(FlaskForm):
    name = StringField(_l("Your name"), validators=[InputRequired(), Length(max=200)])
    password = new_password_field()
