"""The account's API keys page (owners only): create a named key with scopes and an optional expiry, shown
once; see when each key was last used; revoke. Every change is in the audit log."""
import datetime

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from wtforms import DateField, SelectMultipleField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from sendtex import audit
from sendtex.api import pages
from sendtex.models.api import ApiKey
from sendtex.models.base import utcnow
from sendtex.web import owned_or_404, owner_required, redirect_to, render

SCOPE_LABELS = {"read": _l("read: lists, contacts, fields, segments, campaigns and statistics"),
                "write": _l("write: create, change and delete them, import contacts"),
                "send": _l("send: test sends, schedule, send, pause and cancel campaigns")}


class ApiKeyForm(FlaskForm):
    name = StringField(_l("Name"), filters=[lambda text: text.strip() if isinstance(text, str) else text],
                       validators=[DataRequired(_l("Give the key a name, like the system that will use it.")),
                                   Length(max=100)])
    scopes = SelectMultipleField(_l("Scopes"), choices=[SelectChoice(k, v) for k, v in SCOPE_LABELS.items()],
                                 default=["read"],
                                 widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    expires_on = DateField(_l("Expires on (optional)"), validators=[Optional()])

    def validate_scopes(self, field):
        """At least one scope."""
        if not field.data:
            raise ValidationError(_l("Choose at least one scope."))

    def validate_expires_on(self, field):
        """An expiry lies in the future."""
        if field.data and field.data <= utcnow().date():
            raise ValidationError(_l("Choose a day after today."))


@pages.before_request
@login_required
def _signed_in_only():
    """The keys page needs a login; the API reference too (it sits in the signed-in menu)."""


def _page(form, secret=None, status=200):
    keys = list(ApiKey.listed(current_user.account_id))
    return render("api/keys.html", "api/_keys.html", form=form, keys=keys, secret=secret, now=utcnow(),
                  scope_labels=SCOPE_LABELS), status


@pages.route("/account/api-keys")
@owner_required
def api_keys():
    """The account's API keys and a form to create one."""
    return _page(ApiKeyForm(formdata=None))


@pages.route("/account/api-keys", methods=["POST"])
@owner_required
def create_api_key():
    """Create a key and show its secret, this once."""
    form = ApiKeyForm()
    if not form.validate_on_submit():
        return _page(form, status=422)
    expires_at = datetime.datetime.combine(form.expires_on.data, datetime.time()) if form.expires_on.data else None
    key, secret = ApiKey.issue(current_user.account_id, form.name.data, form.scopes.data, expires_at,
                               created_by=current_user.id)
    audit.record("api-key-created", current_user.account_id, target=f"{key.label}: {', '.join(key.scopes)}")
    flash(_("The key “%(name)s” is created. Copy it now: it is not shown again.", name=key.name), "success")
    return _page(ApiKeyForm(formdata=None), secret=secret)


@pages.route("/account/api-keys/<int:key_id>/revoke", methods=["POST"])
@owner_required
def revoke_api_key(key_id):
    """Stop a key from working, for good."""
    key = owned_or_404(ApiKey, key_id)
    if not key.revoked:
        key.revoke()
        audit.record("api-key-revoked", current_user.account_id, target=key.label)
        flash(_("The key “%(name)s” is revoked. Requests with it are refused from now on.", name=key.name), "success")
    if request.htmx:
        return _page(ApiKeyForm(formdata=None))
    return redirect_to(url_for("api_pages.api_keys"))
