"""Public signup in the background: the confirmation mail of double opt-in signups, and their expiry."""
import logging
from email.utils import formataddr, parseaddr

from flask import current_app
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _

from sendtex import audience, retention
from sendtex.mail.transport import PermanentFailure, build_system_message
from sendtex.models.base import utcnow
from sendtex.models.subscribe import Signup
from sendtex.queue import huey
from sendtex.subscribe.signup import confirmation_token, expire_unconfirmed, pending_lists
from sendtex.tasks.context import app_task
from sendtex.tasks.sending import mail_subscriber
from sendtex.web import external_url

log = logging.getLogger(__name__)
# A relay that is down for a while must not lose the mail: retry for about an hour.
MAIL_RETRIES, MAIL_RETRY_DELAY = 12, 300


@huey.task(retries=MAIL_RETRIES, retry_delay=MAIL_RETRY_DELAY)
@app_task
def mail_signup_confirmation(signup_id):
    """Mail the confirmation link of a double opt-in signup through the account's campaign transport."""
    signup = Signup.get_or_none(Signup.id == signup_id)
    if signup is None or signup.mailed_at is not None or not signup.is_open:
        return
    account = signup.contact.account
    address = audience.read_values(signup.contact, audience.FieldSet(account.id))[0].get("email")
    if not address:
        return _failed(signup, "the e-mail address cannot be decrypted")
    try:  # a TemporaryFailure propagates: Huey tries again later
        mail_subscriber(account, address, _confirmation_message(signup, account, address), kind="signup-confirmation")
    except (PermanentFailure, UnicodeError) as exc:
        return _failed(signup, str(exc) or "the address needs SMTPUTF8, which is not supported")
    Signup.update(mailed_at=utcnow(), mail_error="").where(Signup.id == signup.id).execute()


def _failed(signup, reason):
    log.warning("signup %s: confirmation mail not sent: %s", signup.id, reason)
    Signup.update(mail_error=reason[:500]).where(Signup.id == signup.id).execute()


def _confirmation_message(signup, account, address):
    """The confirmation mail as bytes, in the language the signup page was shown in."""
    lists = pending_lists(signup)
    days = max(1, current_app.config["SIGNUP_CONFIRM_MAX_AGE"] // 86400)
    sender = " ".join(account.name.split())  # no line break can reach a header
    with force_locale(signup.language):
        text = _("Someone, hopefully you, asked to receive e-mail from %(sender)s on these lists:\n%(lists)s\n\n"
                 "To confirm, open this link and press the button on the page:\n%(link)s\n",
                 sender=sender, lists="\n".join(f"- {lst.name}" for lst in lists),
                 link=external_url("subscribe.confirm", token=confirmation_token(signup)))
        text += ngettext("The link is valid for %(num)d day.", "The link is valid for %(num)d days.", days) + "\n\n"
        text += _("If it was not you, ignore this mail: nobody is subscribed without confirming.")
        message = build_system_message(address, _("Please confirm your subscription to %(sender)s", sender=sender),
                                       text, sender=formataddr((sender, parseaddr(current_app.config["MAIL_FROM"])[1])),
                                       account_id=account.id)
    return message.as_bytes(policy=message.policy.clone(linesep="\r\n"))


# The daily retention task (tasks/maintenance.py) removes signups nobody confirmed within
# RETENTION_UNCONFIRMED_SIGNUPS_DAYS, and the contacts only they had created.
retention.rule("unconfirmed_signups")(expire_unconfirmed)
