"""Delivery of system mail: through the configured SMTP relay, or into the local Maildir outbox."""
import mailbox
import smtplib
import ssl
import threading
import time
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


class TemporaryFailure(DeliveryError):
    """The relay could not take the message now (4xx, a dropped connection, a timeout): try again later."""


class PermanentFailure(DeliveryError):
    """The relay refused the message for good (5xx); `hard_bounce` when the address does not exist (5.1.x)."""

    def __init__(self, message, hard_bounce=False):
        super().__init__(message)
        self.hard_bounce = hard_bounce


def _classify(exc):
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, text = next(iter(exc.recipients.values()))
    elif isinstance(exc, smtplib.SMTPResponseException):
        code, text = exc.smtp_code, exc.smtp_error
    else:  # disconnects, timeouts, refused connections
        return TemporaryFailure(str(exc) or exc.__class__.__name__)
    text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    message = f"{code} {text}"[:480]
    if 400 <= code < 500:
        return TemporaryFailure(message)
    return PermanentFailure(message, hard_bounce=text.lstrip().startswith("5.1."))


class SmtpSession:
    """One reusable connection to a relay, opened on first use and again after a failure."""

    def __init__(self, host, port, security="starttls", username="", password="", timeout=30):
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self._client = None

    def _connect(self):
        context = ssl.create_default_context()
        if self.security == "tls":
            client = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=context)
        else:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
            if self.security == "starttls":
                client.starttls(context=context)
        if self.username:
            client.login(self.username, self.password)
        return client

    def send(self, envelope_from, recipient, message_bytes):
        """Hand one message to the relay; TemporaryFailure or PermanentFailure if it does not take it."""
        try:
            if self._client is None:
                self._client = self._connect()
            self._client.sendmail(envelope_from, [recipient], message_bytes)
        except smtplib.SMTPAuthenticationError as exc:
            self.close()
            raise TemporaryFailure(f"the relay refused the login: {exc.smtp_code}") from exc
        except (smtplib.SMTPException, OSError) as exc:
            failure = _classify(exc)
            if isinstance(failure, TemporaryFailure) or isinstance(exc, smtplib.SMTPServerDisconnected):
                self.close()
            else:
                self._reset()
            raise failure from exc

    def _reset(self):
        try:
            self._client.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self):
        """Say goodbye to the relay (or just drop the socket if it is gone)."""
        if self._client is not None:
            try:
                self._client.quit()
            except (smtplib.SMTPException, OSError):
                self._client.close()
            self._client = None


class RateLimiter:
    """At most `per_second` sends a second from this process (a token bucket)."""

    def __init__(self, per_second):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = time.monotonic()
        self._lock = threading.Lock()

    def wait(self):
        """Block until the next send is allowed."""
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            delay = self._next - now
            self._next = max(now, self._next) + self.interval
        if delay > 0:
            time.sleep(delay)


_limiters = {}
_limiters_lock = threading.Lock()


def rate_limiter(name, per_second):
    """The process-wide limiter of one relay."""
    with _limiters_lock:
        limiter = _limiters.get(name)
        if limiter is None or limiter.interval != (1.0 / per_second if per_second > 0 else 0.0):
            limiter = _limiters[name] = RateLimiter(per_second)
        return limiter


class OutboxSession:
    """Delivers campaign messages into the local outbox when no relay is configured."""

    def __init__(self, account_id):
        self.account_id = account_id
        self.box = outbox()

    def send(self, envelope_from, recipient, message_bytes):
        """Store the message and index it for the Outbox page."""
        key = self.box.add(message_bytes)
        subject = message_from_bytes(message_bytes[:4096], policy=policy.default).get("Subject", "")
        OutboxMessage.create(account=self.account_id, maildir_key=key, recipient=recipient,
                             subject=str(subject)[:400], kind="campaign")

    def close(self):
        """Nothing to close."""
