"""Signup forms: the marketer's editor, the public signup page and its embeddable snippet, confirmation links."""
from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from sendtex.audience import FieldSet, field_label
from sendtex.models.base import utcnow
from sendtex.models.contacts import MailingList
from sendtex.models.subscribe import SignupForm
from sendtex.subscribe import signup
from sendtex.subscribe.forms import HONEYPOT, editor_form
from sendtex.tasks.subscribe import mail_signup_confirmation
from sendtex.tokens import TokenError
from sendtex.web import csrf, error_response, external_url, owned_or_404, redirect_to, render, render_form

bp = Blueprint("subscribe", __name__)


# The marketer's pages


def public_lists(account_id):
    """The account's public lists, by name: the only ones a signup form can offer."""
    return list(MailingList.for_account(account_id).where(MailingList.visibility == "public")
                .order_by(MailingList.name, MailingList.id))


@bp.route("/signup-forms")
@login_required
def forms():
    """The account's signup forms with their public addresses."""
    rows = SignupForm.for_account(current_user.account_id).order_by(SignupForm.name, SignupForm.id)
    return render("subscribe/forms.html", "subscribe/forms.html", signup_forms=list(rows))


@bp.route("/signup-forms/new", methods=["GET", "POST"])
@login_required
def new_form():
    """Create a signup form; saving it opens its own page with the snippet."""
    return _editor(SignupForm(account=current_user.account_id, name="", consent_text=None))


@bp.route("/signup-forms/<int:form_id>", methods=["GET", "POST"])
@login_required
def edit_form(form_id):
    """A signup form's settings, its public address and the snippet to embed."""
    return _editor(owned_or_404(SignupForm, form_id))


@bp.route("/signup-forms/<int:form_id>/delete", methods=["POST"])
@login_required
def delete_form(form_id):
    """Delete a signup form: its page and snippet stop working; contacts and proofs of consent stay."""
    signup_form = owned_or_404(SignupForm, form_id)
    signup_form.delete_instance()
    flash(_("The signup form “%(name)s” is deleted. Its page and snippet no longer accept signups.",
            name=signup_form.name), "success")
    return redirect_to(url_for("subscribe.forms"))


def _editor(signup_form):
    offered = public_lists(current_user.account_id)
    form = editor_form(FieldSet(current_user.account_id), offered, signup_form)
    if form.validate_on_submit():
        created = signup_form.id is None
        form.store(signup_form, {lst.id for lst in offered})
        signup_form.updated_at = utcnow()
        signup_form.save()
        flash(_("The signup form “%(name)s” is saved.", name=signup_form.name), "success")
        if created or not request.htmx:
            return redirect_to(url_for("subscribe.edit_form", form_id=signup_form.id))
    return render_form("subscribe/form.html", "subscribe/_workspace.html", form, signup_form=signup_form,
                       public_lists=offered)


@bp.app_template_global()
def signup_forms_offering(mailing_list):
    """The account's signup forms that offer this list (for the list's page)."""
    return SignupForm.offering(mailing_list)


@bp.app_template_global()
def signup_page_url(signup_form):
    """The absolute address of a form's hosted signup page."""
    return external_url("subscribe.page", public_id=signup_form.public_id)


@bp.app_template_global()
def signup_snippet(signup_form):
    """The HTML a marketer pastes into their own site: a plain form posting to the public signup address."""
    html = render_template("subscribe/_snippet.html", **_page_context(signup_form, absolute=True))
    return "\n".join(line.strip() for line in html.splitlines() if line.strip())  # tidy to paste and read


# The public pages


def _page_context(signup_form, absolute=False, values=None, errors=None, picked=()):
    field_set = FieldSet(signup_form.account_id)
    asked = [(field_set.by_key[item["key"]], item["required"]) for item in signup_form.asked
             if item["key"] in field_set.by_key and item["key"] != "email"]
    action = (external_url if absolute else url_for)("subscribe.submit", public_id=signup_form.public_id)
    return dict(signup_form=signup_form, email_field=field_set.by_key["email"], asked=asked, action=action,
                offered=signup_form.public_lists(), field_label=field_label, honeypot=HONEYPOT,
                values=values or {}, errors=errors or {}, picked=set(picked), account=signup_form.account)


def _public_form(public_id):
    signup_form = SignupForm.get_or_none(SignupForm.public_id == public_id)
    if signup_form is None:
        abort(404)
    return signup_form


@bp.get("/subscribe/<public_id>")
def page(public_id):
    """The hosted signup page of a form."""
    return render_template("subscribe/page.html", **_page_context(_public_form(public_id)))


# Signup forms are pasted into other sites and post here cross-site, where no CSRF token of ours can exist.
# Exempting them is safe: a forged post can do nothing an attacker could not do by submitting the form
# themselves, and the harm such posts could do is held off by the honeypot, the rate limits, and double
# opt-in (nobody is subscribed to a double opt-in list without the mailbox owner's click).
@bp.post("/subscribe/<public_id>")
@csrf.exempt
def submit(public_id):
    """Take a signup; the answer is the same whatever the address's state (subscribed, new, unsubscribed)."""
    signup_form = _public_form(public_id)
    if signup.network_blocked(request.remote_addr):
        return error_response(429, _("Too many signups from your network. Please try again in an hour."))
    if request.form.get(HONEYPOT):
        return error_response(400, _("The field “Leave this field empty” was filled in, so this looks like a "
                                     "program, not a person. Go back, empty it and try again."))
    offered, field_set = signup_form.public_lists(), FieldSet(signup_form.account_id)
    if not offered:
        return error_response(404, _("This signup form does not accept signups at the moment."))
    values, errors = signup.read_values(field_set, signup_form.asked, request.form)
    lists = signup.chosen_lists(offered, request.form.getlist("lists"))
    if not lists:
        errors["lists"] = _("Choose at least one list.")
    if errors:
        context = _page_context(signup_form, values=request.form, errors=errors, picked=request.form.getlist("lists"))
        return render_template("subscribe/page.html", **context), 422
    return _accept(signup_form, field_set, values, lists)


def _accept(signup_form, field_set, values, lists):
    if signup.address_blocked(values["email"]):
        return error_response(429, _("This address was signed up several times in a short while. "
                                     "Please check your inbox, or try again in an hour."))
    double = any(lst.opt_in == "double" for lst in lists)
    if double and not signup.can_mail(signup_form.account):
        return error_response(503, _("Signups cannot be confirmed by e-mail at the moment. Please try again later."))
    new = signup.sign_up(signup_form, field_set, values, lists, signup.Visitor.of(request, str(get_locale())))
    if new is not None and new.pending:
        mail_signup_confirmation(new.id)
    return render_template("subscribe/thanks.html", signup_form=signup_form, lists=lists, double=double,
                           account=signup_form.account)


@bp.route("/subscribe/confirm/<token>", methods=["GET", "POST"])
def confirm(token):
    """Ask to confirm (GET: link scanners fetch every link in a mail, so only the button's POST confirms)."""
    try:
        found = signup.signup_of_token(token)
    except TokenError as exc:
        if exc.expired:
            return error_response(410, _("This confirmation link has expired. Please sign up again."))
        return error_response(404, _("This link is not valid. Please use the link exactly as it appears in the "
                                     "e-mail."))
    if found is None:
        return error_response(404, _("This signup no longer exists. Please sign up again."))
    state = signup.confirmation_state(found)
    if state == "expired":
        return error_response(410, _("This signup has expired. Please sign up again."))
    if request.method == "POST" and state == "confirm":
        state = "done" if signup.confirm(found, signup.Visitor.of(request, str(get_locale()))) else "already"
    return render_template("subscribe/confirm.html", state=state, token=token, account=found.contact.account,
                           lists=signup.pending_lists(found))
