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


def _plain_address(address):
    """True for an address that can go in <...> as it is (what smtplib's quoteaddr() would give):
    anything else takes smtplib's own path."""
    return address.isascii() and not any(c in address for c in "<>\r\n\" ()") and "@" in address


def _dot_stuffed(message_bytes):
    """The DATA payload exactly as smtplib.SMTP.data() sends bytes: lines starting with a dot doubled,
    a final CRLF, then the terminating dot. The regex of smtplib's _quote_periods() costs ~30 µs on a
    6 KB message that, like almost all campaign mail, has no line starting with a dot: looking first
    makes it ~6 µs."""
    if message_bytes.startswith(b".") or b"\n." in message_bytes:
        message_bytes = smtplib._quote_periods(message_bytes)
    if not message_bytes.endswith(b"\r\n"):
        message_bytes += b"\r\n"
    return message_bytes + b".\r\n"


class SmtpSession:
    """One reusable connection to a relay, opened on first use and again after a failure."""

    def __init__(self, host, port, security="starttls", username="", password="", timeout=30):
        self.host, self.port, self.security = host, port, security
        self.username, self.password, self.timeout = username, password, timeout
        self._client = None
        self._pipelining = self._size = self._awaiting = False

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
        client.ehlo_or_helo_if_needed()
        self._pipelining = client.does_esmtp and client.has_extn("pipelining")
        self._size = client.does_esmtp and client.has_extn("size")
        return client

    def send(self, envelope_from, recipient, message_bytes):
        """Hand one message to the relay; TemporaryFailure or PermanentFailure if it does not take it."""
        self.submit(envelope_from, recipient, message_bytes)
        self.result()

    def submit(self, envelope_from, recipient, message_bytes):
        """Start handing one message to the relay; result() then says whether it took it.

        With PIPELINING this returns once the data is written, before the relay's final reply, so the
        caller can prepare the next message while the relay works on this one (~80 µs a message on the
        bench box, half of the wait on the relay); otherwise the whole transaction is done here.
        Raises TemporaryFailure or PermanentFailure when the relay refuses it before the data."""
        assert not self._awaiting, "result() of the message before first"
        try:
            if self._client is None:
                self._client = self._connect()
            if self._pipelining and _plain_address(envelope_from) and _plain_address(recipient):
                self._send_pipelined(envelope_from, recipient, message_bytes)
                self._awaiting = True
            else:
                self._client.sendmail(envelope_from, [recipient], message_bytes)
        except (smtplib.SMTPException, OSError) as exc:
            raise self._failure(exc) from exc

    def result(self):
        """Wait for the relay's final reply to the message submit() handed over (if it has not come yet):
        TemporaryFailure or PermanentFailure if the relay did not take it."""
        if not self._awaiting:
            return
        self._awaiting = False
        try:
            code, reply = self._client.getreply()
            if code != 250:
                raise smtplib.SMTPDataError(code, reply)
        except (smtplib.SMTPException, OSError) as exc:
            raise self._failure(exc) from exc

    def _failure(self, exc):
        """The DeliveryError for what went wrong; the connection is closed or reset to be usable again."""
        self._awaiting = False
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            self.close()
            return TemporaryFailure(f"the relay refused the login: {exc.smtp_code}")
        failure = _classify(exc)
        if isinstance(failure, TemporaryFailure) or isinstance(exc, smtplib.SMTPServerDisconnected):
            self.close()
        else:
            self._reset()
        return failure

    def _send_pipelined(self, envelope_from, recipient, message_bytes):
        """smtplib's sendmail() with MAIL FROM, RCPT TO and DATA in one write (RFC 2920 PIPELINING).

        smtplib waits for each reply before the next command: four round trips a message, each a
        context switch to the relay and back. On the 2-core bench box (bench/bench_send.py, smtp-sink)
        that was ~35% of the send loop's time; one write for the three commands and one for the data
        leave two round trips. Raises the same exceptions sendmail() would for the same replies, so
        _classify() sorts them the same way; all three replies are always read before raising, so the
        connection is left in step with the relay (RSET after a refusal, as before)."""
        client = self._client
        mail = f"MAIL FROM:<{envelope_from}> SIZE={len(message_bytes)}" if self._size else \
            f"MAIL FROM:<{envelope_from}>"
        client.send(f"{mail}\r\nRCPT TO:<{recipient}>\r\nDATA\r\n".encode("ascii"))
        mail_reply, rcpt_reply, data_reply = client.getreply(), client.getreply(), client.getreply()
        if data_reply[0] == 354 and (mail_reply[0] != 250 or rcpt_reply[0] not in (250, 251)):
            # A relay that accepted DATA after refusing the sender or the recipient (RFC 2920 says it
            # must not): end that recipient-less transaction with a lone dot, so the replies stay in step.
            client.send(b".\r\n")
            client.getreply()
        if mail_reply[0] != 250:
            raise smtplib.SMTPSenderRefused(mail_reply[0], mail_reply[1], envelope_from)
        if rcpt_reply[0] not in (250, 251):
            raise smtplib.SMTPRecipientsRefused({recipient: rcpt_reply})
        if data_reply[0] != 354:
            raise smtplib.SMTPDataError(*data_reply)
        client.send(_dot_stuffed(message_bytes))  # the final reply is read by result()

    def _reset(self):
        try:
            self._client.rset()
        except (smtplib.SMTPException, OSError):
            self.close()

    def close(self):
        """Say goodbye to the relay (or just drop the socket if it is gone)."""
        if self._client is not None:
            try:
                if self._awaiting:  # a message's final reply is still to come: read it before QUIT's
                    self._awaiting = False
                    self._client.getreply()
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
        self.submit(envelope_from, recipient, message_bytes)

    def submit(self, envelope_from, recipient, message_bytes):
        """Store the message and index it for the Outbox page (all at once: result() has nothing to wait for)."""
        key = self.box.add(message_bytes)
        subject = message_from_bytes(message_bytes[:4096], policy=policy.default).get("Subject", "")
        OutboxMessage.create(account=self.account_id, maildir_key=key, recipient=recipient,
                             subject=str(subject)[:400], kind="campaign")

    def result(self):
        """Nothing to wait for: submit() stored the message."""

    def close(self):
        """Nothing to close."""
