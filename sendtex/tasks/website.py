"""The operator's website forms in the background: telling staff about a contact message, and the retention purges."""
from flask import current_app
from flask_babel import force_locale
from flask_babel import gettext as _

from sendtex import retention
from sendtex.mail.transport import send_system_mail
from sendtex.models.base import utcnow
from sendtex.models.website import ContactMessage, JobApplication
from sendtex.queue import huey
from sendtex.tasks.accounts import MAIL_RETRIES, MAIL_RETRY_DELAY
from sendtex.tasks.context import app_task
from sendtex.web import external_url


@huey.task(retries=MAIL_RETRIES, retry_delay=MAIL_RETRY_DELAY)
@app_task
def notify_contact_message(message_id):
    """Tell CONTACT_FORM_NOTIFY that a message arrived, with a link to it in the staff area (once per message)."""
    to = current_app.config["CONTACT_FORM_NOTIFY"]
    message = ContactMessage.get_or_none(ContactMessage.id == message_id)
    if not to or message is None or message.notified_at is not None:
        return
    # Who wrote and what stay out of the mail: a mailbox keeps them beyond the retention period that
    # deletes the message here, and the relay would see them on the way.
    with force_locale(current_app.config["DEFAULT_LANGUAGE"]):
        text = _("A message arrived through the contact form on %(when)s UTC.\n\n"
                 "Read and answer it in the staff area:\n%(link)s\n\n"
                 "This mail does not say who wrote or what: that stays in Sendtex, which deletes the message "
                 "after its retention period.",
                 when=message.received_at.strftime("%Y-%m-%d %H:%M"),
                 link=external_url("staff.message", message_id=message.id))
        send_system_mail(to, _("New message through the contact form"), text, kind="contact-form")
    ContactMessage.update(notified_at=utcnow()).where(ContactMessage.id == message.id).execute()


retention.rule("contact_messages")(ContactMessage.purge_received_before)
retention.rule("job_applications")(JobApplication.purge_closed_before)
