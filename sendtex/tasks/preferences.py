"""Preference-centre links mailed on request, through the transport of the account that holds the address."""
import logging
from email import policy

from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from sendtex import audience
from sendtex.mail.transport import PermanentFailure, build_system_message
from sendtex.models.contacts import Contact, contact_ids_by_digest
from sendtex.preferences.subscriber import fresh_link
from sendtex.queue import huey
from sendtex.tasks.accounts import MAIL_RETRIES, MAIL_RETRY_DELAY
from sendtex.tasks.context import app_task
from sendtex.tasks.sending import NoUsableRelay, mail_subscriber

log = logging.getLogger(__name__)


@huey.task()
@app_task
def mail_links_for_address(digests, language):
    """Mail a preference link to each contact among [account id, e-mail blind index] pairs (the queue
    carries digests only: the typed address may be an encrypted field's value)."""
    for account_id, digest in digests:
        for contact_id in contact_ids_by_digest(account_id, [digest]).values():
            mail_preference_link(contact_id, language)


@huey.task(retries=MAIL_RETRIES, retry_delay=MAIL_RETRY_DELAY)
@app_task
def mail_preference_link(contact_id, language):
    """Mail the contact a fresh, expiring link to their preference centre (nothing if the contact is gone)."""
    contact = Contact.get_or_none(Contact.id == contact_id)
    if contact is None:
        return
    account = contact.account
    address = audience.read_values(contact, audience.FieldSet(account.id))[0].get("email")
    if not address:
        log.warning("no preference link for contact %s: the address cannot be read", contact_id)
        return
    with force_locale(language):
        text = _("Someone, hopefully you, asked for a link to the e-mail preferences of this address at "
                 "%(sender)s.\n\nChange your subscriptions, your details, download or erase your data here "
                 "(valid for %(hours)d hours):\n%(link)s\n\nIf it was not you, ignore this mail: nothing changes.",
                 sender=account.name, hours=max(1, current_app.config["PREFERENCES_LINK_MAX_AGE"] // 3600),
                 link=fresh_link(contact))
        subject = _("Your e-mail preferences at %(sender)s", sender=account.name)
    message = build_system_message(address, subject, text, account_id=account.id)
    try:  # a TemporaryFailure propagates: Huey tries again later
        mail_subscriber(account, address, message.as_bytes(policy=policy.SMTP), kind="preference-link")
    except UnicodeError:
        log.warning("no preference link for contact %s: the address needs SMTPUTF8", contact_id)
    except NoUsableRelay:
        log.warning("no preference link for contact %s: no relay the account may use", contact_id)
    except PermanentFailure:
        # Not the relay's text: it may quote the address, which may be an encrypted field's value.
        log.warning("the relay refused the preference link for contact %s", contact_id)
