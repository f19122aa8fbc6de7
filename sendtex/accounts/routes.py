"""The signed-in side of an account: dashboard, profile, billing details, team and outbox."""

from flask import Blueprint, abort, current_app, flash, request, session, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user
from peewee import IntegrityError

from sendtex import audit
from sendtex.accounts.forms import BillingForm, InviteForm, PasswordChangeForm, ProfileForm, RoleForm, SettingsForm
from sendtex.db import db
from sendtex.mail.transport import read_from_outbox, readable_text
from sendtex.models.accounts import Account, Invitation, User
from sendtex.models.audit import AuditEntry
from sendtex.models.mail import OutboxMessage
from sendtex.tasks.accounts import mail_invitation
from sendtex.tasks.stats import detach_tracking_events
from sendtex.web import owned_or_404, owner_required, redirect_to, render, render_form

bp = Blueprint("accounts", __name__)

PAGE_SIZE = 50
# Far beyond any real outbox or log; a larger page number would overflow the database's OFFSET (a 500).
MAX_PAGE = 10**6


@bp.before_request
@login_required
def _signed_in_only():
    """Every page of this blueprint needs a login."""


@bp.route("/app")
def dashboard():
    """The first page after logging in."""
    return render("accounts/dashboard.html", "accounts/dashboard.html", account=current_user.account)


@bp.route("/profile", methods=["GET", "POST"])
def profile():
    """Name, e-mail address and language of the signed-in user."""
    user = current_user._get_current_object()
    form = ProfileForm(obj=user)
    if form.validate_on_submit():
        form.populate_obj(user)
        user.language = form.language.data or None
        try:
            with db.atomic():
                user.save()
        except IntegrityError:
            form.email.errors.append(_("Another login already uses this e-mail address."))
        else:
            session.pop("lang", None)  # the saved setting (or the browser) decides from now on
            flash(_("Your profile is saved."), "success")
            return ("", 200, {"HX-Refresh": "true"}) if request.htmx else redirect_to(url_for("accounts.profile"))
    return render_form("accounts/profile.html", "accounts/_profile_form.html", form, password_form=PasswordChangeForm())


@bp.route("/profile/password", methods=["GET", "POST"])
def change_password():
    """Change the password; every other session of this user ends."""
    form = PasswordChangeForm()
    user = current_user._get_current_object()
    form.owner_email = user.email
    if form.validate_on_submit():
        if not user.check_password(form.current_password.data):
            form.current_password.errors.append(_("This is not your current password."))
        else:
            user.set_password(form.new_password.data)
            user.save()
            audit.record("password-changed", user.account_id, actor=user)
            login_user(user)
            flash(_("Your password is changed. Your other sessions have been logged out."), "success")
            if not request.htmx:
                return redirect_to(url_for("accounts.profile"))
            form = PasswordChangeForm(formdata=None)
    return render_form("accounts/password.html", "accounts/_password_form.html", form)


@bp.route("/account")
def account():
    """Billing details and the team, at a glance."""
    return render("accounts/account.html", "accounts/_billing.html", account=current_user.account)


@bp.route("/account/billing", methods=["GET", "POST"])
@bp.route("/account/billing/edit", methods=["GET"], endpoint="edit_billing")
def billing():
    """Show (GET /account/billing), edit (GET …/edit) or save (POST) the billing details."""
    return _account_section("billing", BillingForm, _("Billing details saved."))


@bp.route("/account/settings", methods=["GET", "POST"])
@bp.route("/account/settings/edit", methods=["GET"], endpoint="edit_settings")
def settings():
    """Show (GET /account/settings), edit (GET …/edit) or save (POST) tracking and bounce settings."""
    was_tracking_individually = current_user.account.individual_tracking
    response = _account_section("settings", SettingsForm, _("Settings saved."))
    if request.method == "POST" and was_tracking_individually \
            and not Account.get_by_id(current_user.account_id).individual_tracking:
        detach_tracking_events(current_user.account_id)  # only totals may be kept from now on
    return response


def _account_section(name, form_class, saved_message):
    """A section of the account page: shown to every member, edited and saved by owners only."""
    account = current_user.account
    shown = ("accounts/account.html", f"accounts/_{name}.html")
    if request.method == "GET" and request.endpoint == f"accounts.{name}":
        return render(*shown, account=account)
    if not current_user.is_owner:
        abort(403)
    form = form_class(obj=account)
    if form.validate_on_submit():
        form.populate_obj(account)
        account.save()
        flash(saved_message, "success")
        return render(*shown, account=account) if request.htmx else redirect_to(url_for("accounts.account"))
    return render_form(f"accounts/{name}_edit.html", f"accounts/_{name}_form.html", form, account=account)


@bp.route("/team")
def team():
    """Members of the account and pending invitations."""
    return render("accounts/team.html", "accounts/_team.html", **_team_context(InviteForm(formdata=None)))


def _team_context(invite_form):
    account = current_user.account
    return dict(
        account=account,
        members=account.users.order_by(User.created_at),
        invitations=Invitation.pending(account.id),
        invite_form=invite_form,
        role_form=RoleForm(formdata=None),
    )


@bp.route("/team/invitations", methods=["POST"])
@owner_required
def invite():
    """Invite someone by e-mail to join the account with a role."""
    form = InviteForm()
    if form.validate_on_submit():
        if User.by_email(form.email.data):
            form.email.errors.append(_("This address already has a Sendtex login."))
        else:
            invitation = Invitation.create(account=current_user.account_id, email=form.email.data,
                                           role=form.role.data, invited_by=current_user.id)
            mail_invitation(invitation.id, str(get_locale()))
            flash(_("Invitation sent to %(email)s.", email=form.email.data), "success")
            if not request.htmx:
                return redirect_to(url_for("accounts.team"))
            form = InviteForm(formdata=None)
    status = 422 if form.errors else 200
    return render("accounts/team.html", "accounts/_team.html", **_team_context(form)), status


@bp.route("/team/invitations/<int:invitation_id>/revoke", methods=["POST"])
@owner_required
def revoke_invitation(invitation_id):
    """Withdraw an invitation that was not accepted yet."""
    owned_or_404(Invitation, invitation_id).delete_instance()
    flash(_("Invitation withdrawn."), "success")
    return _team_after_change()


@bp.route("/team/members/<int:user_id>/role", methods=["POST"])
@owner_required
def change_role(user_id):
    """Make a member an owner or an owner a member; an account keeps at least one owner."""
    member, form = owned_or_404(User, user_id), RoleForm()
    if not form.validate_on_submit():
        abort(400)
    if member.is_owner and form.role.data != "owner" and member.account.owners().count() == 1:
        flash(_("An account needs at least one owner."), "error")
    else:
        member.role = form.role.data
        member.save(only=[User.role])
        flash(_("%(name)s is now %(role)s.", name=member.name, role=next(c.label for c in form.role.choices if c.value == member.role)), "success")
    return _team_after_change()


@bp.route("/team/members/<int:user_id>/remove", methods=["POST"])
@owner_required
def remove_member(user_id):
    """Remove someone else's login from the account."""
    member = owned_or_404(User, user_id)
    if member.id == current_user.id:
        flash(_("You cannot remove yourself."), "error")
    else:
        member.delete_instance()
        flash(_("%(name)s no longer has access.", name=member.name), "success")
    return _team_after_change()


def _team_after_change():
    if request.htmx:
        return render("accounts/team.html", "accounts/_team.html", **_team_context(InviteForm(formdata=None)))
    return redirect_to(url_for("accounts.team"))


@bp.route("/account/activity")
@owner_required
def activity():
    """The account's audit log: security events and every look of operator staff, newest first."""
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    entries = AuditEntry.of_account(current_user.account_id).paginate(page, PAGE_SIZE)
    return render("accounts/activity.html", "accounts/_activity_rows.html", entries=list(entries), page=page,
                  page_size=PAGE_SIZE, action_label=audit.label)


@bp.route("/outbox")
def outbox():
    """Mail held in the local outbox for this account (used when no relay is configured)."""
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    entries = OutboxMessage.newest_first(current_user.account_id).paginate(page, PAGE_SIZE)
    return render("accounts/outbox.html", "accounts/_outbox_rows.html", entries=list(entries), page=page,
                  page_size=PAGE_SIZE, relay=bool(current_app.config["SMTP_HOST"]))


@bp.route("/outbox/<int:entry_id>")
def outbox_message(entry_id):
    """One message from the outbox, with its headers and text."""
    entry = owned_or_404(OutboxMessage, entry_id)
    message = read_from_outbox(entry)
    if message is None:
        abort(404)
    return render("accounts/outbox_message.html", "accounts/_outbox_message.html", entry=entry, message=message,
                  text=readable_text(message))
