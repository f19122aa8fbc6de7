"""Form pieces shared by the blueprints: fields that validate through sendtex.validation."""
from flask_babel import lazy_gettext as _l
from wtforms import EmailField, PasswordField
from wtforms.validators import InputRequired, ValidationError

from sendtex import validation


class Normalise:
    """A WTForms validator that runs a validation.normalise_* function and keeps its result."""

    def __init__(self, func):
        self.func = func

    def __call__(self, form, field):
        try:
            field.data = self.func(field.data)
        except validation.Invalid as exc:
            raise ValidationError(str(exc)) from exc


class StrongPassword:
    """A WTForms validator for new passwords; compares with form.email or, if set, form.owner_email."""

    def __call__(self, form, field):
        email_field = getattr(form, "email", None)
        email = getattr(form, "owner_email", None) or (email_field.data if email_field else "")
        try:
            validation.check_password(field.data or "", email or "")
        except validation.Invalid as exc:
            raise ValidationError(str(exc)) from exc


def email_field(label=_l("E-mail address")):
    """A required e-mail field that stores the normalised address."""
    return EmailField(label, validators=[InputRequired(), Normalise(validation.normalise_email)])


def new_password_field(label=_l("Password")):
    """A required password field with the strength rules."""
    return PasswordField(label, validators=[InputRequired(), StrongPassword()])
