"""Forms of the operator's website (the contact form, job applications) and how a sent one is taken in."""
from flask import current_app, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from sendtex import validation
from sendtex.anon import anonymise_ip
from sendtex.forms import Normalise, email_field
from sendtex.models.ratelimit import RateHit, minutes
from sendtex.models.website import NAME_MAX, PHONE_MAX
from sendtex.web import redirect_to, render, render_form

MESSAGE_MAX, ADDRESS_MAX, STORY_MAX, OPTIONAL_MAX = 5000, 500, 5000, 1000
TOO_LONG = _l("Write at most %(max)d characters.")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _text(label, max_length, required=None, field=TextAreaField, validators=()):
    """A text field, stripped and length-checked; required when `required` holds the message for an empty one."""
    presence = [DataRequired(required)] if required else []
    return field(label, filters=[_strip], validators=[*presence, Length(max=max_length, message=TOO_LONG),
                                                      *validators])


class WebsiteForm(FlaskForm):
    """Who is writing: the identification both forms ask, and the honeypot both carry."""

    last_name = _text(_l("Last name"), NAME_MAX, _l("Enter your last name."), StringField)
    first_name = _text(_l("First name"), NAME_MAX, _l("Enter your first name."), StringField)
    email = email_field()
    phone = _text(_l("Phone (optional)"), PHONE_MAX, field=StringField,
                  validators=[Normalise(validation.normalise_phone)])
    # Hidden from people (and screen readers); programs that fill in every field fill this one too.
    homepage = StringField(_l("Leave this field empty"))

    STORED = ("last_name", "first_name", "email", "phone")

    def is_spam(self):
        """True when the honeypot was filled in."""
        return bool((self.homepage.data or "").strip())

    def values(self):
        """The typed values as the model stores them."""
        return {name: self[name].data or "" for name in self.STORED}


class ContactForm(WebsiteForm):
    STORED = WebsiteForm.STORED + ("message",)
    message = _text(_l("Your message"), MESSAGE_MAX, _l("Write your message."))


class ApplicationForm(WebsiteForm):
    STORED = WebsiteForm.STORED + ("address", "education", "employment", "household", "interests")
    address = _text(_l("Address (optional)"), ADDRESS_MAX)
    education = _text(_l("Education and training"), STORY_MAX, _l("Describe your education and training."))
    employment = _text(_l("Profession and employment"), STORY_MAX, _l("Describe your profession and employment."))
    household = _text(_l("Household composition (optional)"), OPTIONAL_MAX)
    interests = _text(_l("Hobbies and interests (optional)"), OPTIONAL_MAX)
    consent = BooleanField(_l("I agree"), validators=[
        DataRequired(_l("We can only consider your application with your agreement."))])


def _network_minutes_to_wait(bucket):
    limit = current_app.config["WEBSITE_FORMS_LIMIT_PER_NETWORK"]
    return RateHit.minutes_blocked(bucket, anonymise_ip(request.remote_addr), limit, minutes(60))


def take_in(form, bucket, template, store, thanks_url, **context):
    """Serve a website form: per-network limit (429), honeypot, validation (422), store(form) and thank-you page."""
    if request.method == "POST" and (wait := _network_minutes_to_wait(bucket)):
        problem = _("Several forms were sent from your network in the last hour. Nothing was lost: please send "
                    "this again in %(minutes)d minutes.", minutes=wait)
        return render(template, template, form=form, problem=problem, **context), 429
    # A filled-in honeypot is a program, not a person: it gets the answer a person gets, so it does not learn
    # to avoid the trap, and nothing is stored. The one deliberate exception to "never a silent drop".
    if form.is_submitted() and form.is_spam():
        RateHit.hit(bucket, anonymise_ip(request.remote_addr))
        return redirect_to(thanks_url)
    if form.validate_on_submit():
        RateHit.hit(bucket, anonymise_ip(request.remote_addr))
        store(form)
        return redirect_to(thanks_url)
    return render_form(template, template, form, **context)
