"""Forms of the staff pages: accounts and the data-subject request log."""
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, NumberRange, Optional

from sendtex import validation
from sendtex.forms import Normalise


class QuotaForm(FlaskForm):
    daily_quota = IntegerField(_l("Messages per day"), validators=[InputRequired(), NumberRange(min=0, max=10**9)])


class ReasonForm(FlaskForm):
    reason = TextAreaField(_l("Reason"), validators=[InputRequired(message=_l("Give a reason: it is logged and the "
                                                                            "account's owners can read it.")),
                                                    Length(min=10, max=1000)])


class AccessForm(ReasonForm):
    ticket = StringField(_l("Ticket or request number (if any)"), validators=[Length(max=100)])


KIND_LABELS = {
    "access": _l("Access"), "rectification": _l("Rectification"), "erasure": _l("Erasure"),
    "restriction": _l("Restriction"), "objection": _l("Objection"), "portability": _l("Portability"),
    "withdrawal": _l("Withdrawal of consent"), "complaint": _l("Complaint"),
}
CHANNEL_LABELS = {"email": _l("E-mail"), "post": _l("Registered mail / post"), "phone": _l("Phone"), "other": _l("Other")}


class DataRequestForm(FlaskForm):
    kind = SelectField(_l("Request"), choices=[SelectChoice(key, label) for key, label in KIND_LABELS.items()])
    requester_name = StringField(_l("Requester's name"), validators=[InputRequired(), Length(max=200)])
    requester_email = StringField(_l("Requester's e-mail address"), validators=[Optional(), Length(max=254),
                                                                                  Normalise(validation.normalise_email)])
    channel = SelectField(_l("Received by"), choices=[SelectChoice(key, label) for key, label in CHANNEL_LABELS.items()])
    received_on = DateField(_l("Received on"), validators=[InputRequired()])
    identity_proof = TextAreaField(_l("Proof of identity received"), validators=[Length(max=2000)],
                                   description=_l("A note of what was checked, never a copy of the document."))
    details = TextAreaField(_l("What is asked"), validators=[Length(max=5000)])


class CloseRequestForm(FlaskForm):
    outcome = TextAreaField(_l("What was done"), validators=[InputRequired(), Length(max=5000)])


class AccountChoiceForm(FlaskForm):
    account_id = IntegerField(_l("Account number"), validators=[InputRequired(), NumberRange(min=1, max=2**63 - 1)])
