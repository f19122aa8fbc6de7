"""Registration, login, logout, password reset and accepting an invitation."""
from flask import Blueprint, current_app, flash, request, url_for
from flask_babel import gettext as _
from flask_login import login_user, logout_user

from sendtex import audit
from sendtex.auth import throttle
from sendtex.auth.forms import AcceptInvitationForm, LoginForm, RegisterForm, ResetForm, ResetRequestForm
from sendtex.models.accounts import Account, EmailTaken, Invitation, User
from sendtex.models.base import utcnow
from sendtex.tasks.accounts import mail_password_reset
from sendtex.tokens import TokenError, unsign
from sendtex.web import error_response, redirect_to, render_form, safe_next

bp = Blueprint("auth", __name__)


def _start_session(user):
    login_user(user)
    user.last_login_at = utcnow()
    user.save(only=[User.last_login_at])


@bp.route("/register", methods=["GET", "POST"])
def register():
    """Create an account and its owner, then log in."""
    form = RegisterForm()
    if form.validate_on_submit():
        try:
            user = Account.register(form.account_name.data, form.name.data, form.email.data, form.password.data)
        except EmailTaken:
            form.email.errors.append(_("This e-mail address already has a login. Log in or reset your password."))
        else:
            _start_session(user)
            flash(_("Welcome to Sendtex, %(name)s.", name=user.name), "success")
            return redirect_to(url_for("accounts.dashboard"))
    return render_form("auth/register.html", "auth/_register_form.html", form)


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Log in with e-mail and password, throttled per address and per network."""
    form = LoginForm()
    if form.validate_on_submit():
        email, ip = form.email.data, request.remote_addr
        wait = throttle.login_minutes_to_wait(email, ip)
        if wait:
            form.form_errors.append(_("Too many failed attempts. Try again in %(n)d minutes.", n=wait))
            return render_form("auth/login.html", "auth/_login_form.html", form)[0], 429
        user = User.by_email(email.strip())
        if user is None:
            User.spend_a_password_check()
        elif user.check_password(form.password.data):
            throttle.record_login_success(email)
            _start_session(user)
            audit.record("login", user.account_id, actor=user)
            return redirect_to(safe_next(request.args.get("next"), url_for("accounts.dashboard")))
        else:
            audit.record("login-failed", user.account_id, target=user.email)
        throttle.record_login_failure(email, ip)
        form.form_errors.append(_("The e-mail address or the password is not right."))
    return render_form("auth/login.html", "auth/_login_form.html", form)


@bp.route("/logout", methods=["POST"])
def logout():
    """End this session."""
    logout_user()
    flash(_("You are logged out."), "success")
    return redirect_to(url_for("auth.login"))


@bp.route("/reset", methods=["GET", "POST"])
def reset_request():
    """Mail a password-reset link; the answer is the same whether the address is known or not."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        user = User.by_email(form.email.data)
        if throttle.may_send_reset(form.email.data, request.remote_addr) and user:
            mail_password_reset(user.id)
        flash(_("If that address has a login, a link to choose a new password is on its way."), "success")
        return redirect_to(url_for("auth.login"))
    return render_form("auth/reset_request.html", "auth/_reset_request_form.html", form)


def _user_from_reset_token(token):
    data = unsign("reset", token, current_app.config["PASSWORD_RESET_MAX_AGE"])
    user = User.get_or_none(User.id == data.get("u"))
    if user is None or user.password_hash[-16:] != data.get("h"):
        raise TokenError(expired=False)
    return user


@bp.route("/reset/<token>", methods=["GET", "POST"])
def reset(token):
    """Choose a new password from a mailed link; ends every other session."""
    try:
        user = _user_from_reset_token(token)
    except TokenError as exc:
        return _bad_link(exc)
    form = ResetForm()
    form.owner_email = user.email
    if form.validate_on_submit():
        user.set_password(form.password.data)
        user.save()
        audit.record("password-reset", user.account_id, actor=user)
        _start_session(user)
        flash(_("Your new password is set."), "success")
        return redirect_to(url_for("accounts.dashboard"))
    return render_form("auth/reset.html", "auth/_reset_form.html", form, token=token)


def _bad_link(exc):
    if exc.expired:
        return error_response(400, _("This link has expired. Ask for a new one."))
    return error_response(400, _("This link is not valid. Use the latest link we mailed you, or ask for a new one."))


def _invitation_from_token(token):
    data = unsign("invite", token, current_app.config["INVITATION_MAX_AGE"])
    invitation = Invitation.get_or_none((Invitation.id == data.get("i")) & (Invitation.nonce == data.get("n")))
    if invitation is None or invitation.accepted_at:
        raise TokenError(expired=False)
    return invitation


@bp.route("/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token):
    """Join an account from an invitation link by choosing a name and password."""
    try:
        invitation = _invitation_from_token(token)
    except TokenError as exc:
        return _bad_link(exc)
    form = AcceptInvitationForm()
    form.owner_email = invitation.email
    if form.validate_on_submit():
        try:
            user = invitation.accept(form.name.data, form.password.data)
        except EmailTaken:
            return error_response(409, _("%(email)s already has a Sendtex login.", email=invitation.email))
        _start_session(user)
        flash(_("Welcome to %(account)s.", account=invitation.account.name), "success")
        return redirect_to(url_for("accounts.dashboard"))
    return render_form("auth/accept.html", "auth/_accept_form.html", form, invitation=invitation, token=token)
