"""The marketer's editor of a signup form: name, lists offered, fields asked, consent and thank-you texts."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from sendtex.audience import field_label

ASK_CHOICES = [SelectChoice("", _l("Not asked")), SelectChoice("optional", _l("Asked, optional")),
               SelectChoice("required", _l("Asked, required"))]
DEFAULT_CONSENT = _l("Yes, send me the e-mails of the lists I chose. I can unsubscribe at any time with the link "
                     "in every e-mail.")
HONEYPOT = "homepage"  # a field people never see and programs fill in


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class SignupFormEditor(FlaskForm):
    name = StringField(_l("Name (the heading of the signup page)"), filters=[_strip],
                       validators=[DataRequired(_l("Give the form a name.")), Length(max=200)])
    lists = MultiCheckboxField(_l("Lists offered (the subscriber picks among them when there are several)"),
                               coerce=int, validate_choice=False)
    consent_text = TextAreaField(_l("Consent text (shown above the button and kept with every signup)"),
                                 filters=[_strip], validators=[DataRequired(_l("Write the consent text.")),
                                                               Length(max=5000)])
    thank_you_text = TextAreaField(_l("Thank-you text (shown after signing up)"), filters=[_strip],
                                   validators=[Length(max=2000)])

    def asked_fields(self):
        """The ask_<key> selects, in the account's field order."""
        return [field for field in self if field.name.startswith("ask_")]

    def asked(self):
        """What the form asks as stored on SignupForm.asked."""
        return [{"key": field.name[len("ask_"):], "required": field.data == "required"}
                for field in self.asked_fields() if field.data]

    def store(self, signup_form, public_list_ids):
        """Put the edited values on the signup form (only public lists of the account are kept)."""
        signup_form.name = self.name.data
        signup_form.list_ids = [list_id for list_id in self.lists.data or [] if list_id in public_list_ids]
        signup_form.asked = self.asked()
        signup_form.set_consent_text(self.consent_text.data)
        signup_form.thank_you_text = self.thank_you_text.data or ""


def editor_form(field_set, public_lists, signup_form):
    """The editor for a signup form: one select per field of the account (the e-mail address is always asked)."""

    class Editor(SignupFormEditor):
        pass

    for field in field_set.fields:
        if field.key != "email":
            setattr(Editor, "ask_" + field.key, SelectField(field_label(field), choices=ASK_CHOICES, default=""))
    asked = {item["key"]: "required" if item["required"] else "optional" for item in signup_form.asked}
    data = dict(name=signup_form.name, lists=signup_form.list_ids, thank_you_text=signup_form.thank_you_text,
                consent_text=signup_form.consent_text or str(DEFAULT_CONSENT),
                **{"ask_" + key: value for key, value in asked.items()})
    form = Editor(data=data)
    form.lists.choices = [SelectChoice(lst.id, lst.name) for lst in public_lists]
    return form
