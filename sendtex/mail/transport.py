"""Delivery of system mail: through the configured SMTP relay, or into the local Maildir outbox."""
import mailbox
import smtplib
import ssl
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from flask import current_app

from sendtex.models.mail import OutboxMessage


class DeliveryError(Exception):
    """The relay refused or could not be reached; the message was not sent."""


def build_system_message(to, subject, text, sender=None, account_id=None):
    """A plain-text system mail with the headers every mail needs."""
    msg = EmailMessage()
    msg["From"] = sender or current_app.config["MAIL_FROM"]
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain="sendtex.local")
    msg["Auto-Submitted"] = "auto-generated"
    if account_id is not None:
        msg["X-Sendtex-Account"] = str(account_id)
    msg.set_content(text)
    return msg


def send_system_mail(to, subject, text, account_id=None, kind="system"):
    """Send one system mail through the relay, or put it in the outbox when none is configured."""
    msg = build_system_message(to, subject, text, account_id=account_id)
    if current_app.config["SMTP_HOST"]:
        _send_smtp(msg)
    else:
        write_to_outbox(msg, account_id=account_id, kind=kind)
    return msg


def _send_smtp(msg):
    cfg = current_app.config
    security = cfg["SMTP_SECURITY"]
    context = ssl.create_default_context()
    try:
        if security == "tls":
            client = smtplib.SMTP_SSL(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=cfg["SMTP_TIMEOUT"], context=context)
        else:
            client = smtplib.SMTP(cfg["SMTP_HOST"], cfg["SMTP_PORT"], timeout=cfg["SMTP_TIMEOUT"])
        with client:
            if security == "starttls":
                client.starttls(context=context)
            if cfg["SMTP_USER"]:
                client.login(cfg["SMTP_USER"], cfg["SMTP_PASSWORD"])
            client.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(str(exc)) from exc


def outbox():
    """The Maildir that holds mail when no relay is configured."""
    return mailbox.Maildir(current_app.config["OUTBOX_DIR"], create=True)


def write_to_outbox(msg, account_id=None, kind="system"):
    """Store the message in the Maildir and index it for the Outbox page."""
    key = outbox().add(msg)
    return OutboxMessage.create(
        account=account_id, maildir_key=key, recipient=msg["To"], subject=str(msg["Subject"]), kind=kind
    )


def read_from_outbox(entry):
    """The stored message behind an outbox index row, or None if the file is gone."""
    try:
        return message_from_bytes(outbox().get_bytes(entry.maildir_key), policy=policy.default)
    except KeyError:
        return None


def readable_text(message):
    """The plain-text part of a message (or its HTML source when it has none)."""
    body = message.get_body(preferencelist=("plain", "html"))
    return body.get_content() if body is not None else ""
