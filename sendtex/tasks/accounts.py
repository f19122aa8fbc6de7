"""System mails about logins, sent in the background so a slow or down relay never blocks a page."""
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from sendtex.mail.transport import send_system_mail
from sendtex.models.accounts import Invitation, User
from sendtex.queue import huey
from sendtex.tasks.context import app_task
from sendtex.tokens import sign
from sendtex.web import external_url

# A relay that is down for a while must not lose the mail: retry for about an hour.
MAIL_RETRIES, MAIL_RETRY_DELAY = 12, 300


@huey.task(retries=MAIL_RETRIES, retry_delay=MAIL_RETRY_DELAY)
@app_task
def mail_password_reset(user_id):
    """Mail the user a single-use link to choose a new password."""
    user = User.get_or_none(User.id == user_id)
    if user is None:
        return
    # The hash fingerprint makes the link single-use: it dies when the password changes.
    link = external_url("auth.reset", token=sign("reset", {"u": user.id, "h": user.password_hash[-16:]}))
    with force_locale(user.language or current_app.config["DEFAULT_LANGUAGE"]):
        text = _("Someone asked to reset the Sendtex password of %(email)s.\n\n"
                 "Choose a new password here (valid for %(minutes)d minutes):\n%(link)s\n\n"
                 "If it was not you, ignore this mail: your password stays as it is.",
                 email=user.email, minutes=current_app.config["PASSWORD_RESET_MAX_AGE"] // 60, link=link)
        send_system_mail(user.email, _("Reset your Sendtex password"), text, account_id=user.account_id,
                         kind="password-reset")


@huey.task(retries=MAIL_RETRIES, retry_delay=MAIL_RETRY_DELAY)
@app_task
def mail_invitation(invitation_id, language):
    """Mail an invitation link to join the account, in the inviter's language."""
    invitation = Invitation.get_or_none(Invitation.id == invitation_id)
    if invitation is None or invitation.accepted_at:
        return
    link = external_url("auth.accept_invitation", token=sign("invite", {"i": invitation.id, "n": invitation.nonce}))
    inviter = invitation.invited_by.name if invitation.invited_by else invitation.account.name
    with force_locale(language):
        text = _("%(inviter)s invites you to the Sendtex account %(account)s.\n\n"
                 "Accept within %(days)d days by choosing your password here:\n%(link)s\n",
                 inviter=inviter, account=invitation.account.name,
                 days=current_app.config["INVITATION_MAX_AGE"] // 86400, link=link)
        send_system_mail(invitation.email, _("You are invited to Sendtex"), text,
                         account_id=invitation.account_id, kind="invitation")
