"""Sending a campaign: claim ledger rows with a lease, render, hand to the relay, record at once.

Each row is marked sent right after the relay accepted its message, so a worker killed at any moment
re-sends at most the messages it had in flight; rows it had claimed but not sent are taken over by
another worker when its lease runs out. Nobody is skipped: a row only leaves "queued" as sent,
failed (permanently, or after the retry period) or skipped (contact gone or no longer active).
"""
import collections
import datetime
import logging
import secrets
import time

from flask import current_app
from peewee import JOIN

from sendtex import audience, sending
from sendtex.db import db, update_by_id
from sendtex.domains import signer_for
from sendtex.mail import render
from sendtex.mail.message import MessageTemplate
from sendtex.mail.transport import OutboxSession, PermanentFailure, SmtpSession, TemporaryFailure, rate_limiter
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery
from sendtex.models.contacts import Contact
from sendtex.queue import huey
from sendtex.tasks.context import app_task
from sendtex.tasks.jobs import resumer

log = logging.getLogger(__name__)
RECOUNT_SECONDS = 1.0


@huey.task()
@app_task
def send_campaign(campaign_id):
    """Send queued deliveries of a campaign until none is left for this worker."""
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is not None and campaign.status == "sending":
        Sender(campaign).run()


@resumer
def _resume_sending():
    for campaign in Campaign.select().where((Campaign.status == "sending") & (Campaign.lease_until < utcnow())):
        send_campaign(campaign.id)
    for campaign in sending.due_campaigns():
        try:
            sending.start(campaign)
        except sending.CannotStart as exc:
            Campaign.update(status="failed", status_reason="; ".join(exc.reasons)).where(
                Campaign.id == campaign.id).execute()


class Sender:
    """Sends one campaign's deliveries for one worker."""

    def __init__(self, campaign):
        cfg = current_app.config
        self.campaign = campaign
        self.account = campaign.account
        self.fields = audience.FieldSet(campaign.account_id)
        self.compiled = render.compile_campaign(campaign, self.fields)
        domain = campaign.from_email.rpartition("@")[2]
        self.template = MessageTemplate(campaign.from_name, campaign.from_email, campaign.reply_to,
                                        f"{campaign.id}.{campaign.account_id}.lists.{domain}", campaign.name, domain)
        self.signer = _signer_for(campaign)
        self.batch_size, self.lease = cfg["SEND_BATCH_SIZE"], datetime.timedelta(seconds=cfg["JOB_LEASE_SECONDS"])
        self.window = collections.deque(maxlen=cfg["SEND_PAUSE_WINDOW"])
        self._last_recount = time.monotonic()
        self.session, self.limiter = transport_for(self.account)
        self.envelope_from = cfg.get("SEND_ENVELOPE_FROM") or campaign.from_email

    def run(self):
        """Claim and send batches until the campaign is done, paused or cancelled."""
        if self.session is None:
            sending.pause(self.campaign, "No relay this account may use is configured (EU-only sending).")
            return
        try:
            while self._still_sending():
                batch = self._claim()
                if not batch:
                    self._finish_or_wait()
                    return
                in_flight = None  # (delivery, contact) whose message the relay has, final reply still to come
                for delivery in batch:
                    try:
                        message = self._prepare(delivery)  # while the relay works on the message in flight
                    finally:
                        if in_flight is not None:  # recorded even when preparing this one failed
                            self._complete(*in_flight)
                            in_flight = None
                    if self._should_pause():
                        return
                    if message is not None:
                        in_flight = self._submit(delivery, *message)
                if in_flight is not None:
                    self._complete(*in_flight)
                    if self._should_pause():
                        return
                self._recount_now_and_then()
        finally:
            self.session.close()

    def _recount_now_and_then(self):
        # Counting the ledger costs a scan of the campaign's rows: per batch that grew with the campaign's
        # size; once a second keeps the progress page live at a fixed cost. The end of sending recounts too.
        now = time.monotonic()
        if now - self._last_recount >= RECOUNT_SECONDS:
            self.campaign.recount()
            self._last_recount = now

    def _still_sending(self):
        status = Campaign.select(Campaign.status).where(Campaign.id == self.campaign.id).scalar()
        if status == "sending":
            Campaign.update(lease_until=utcnow() + self.lease).where(Campaign.id == self.campaign.id).execute()
        return status == "sending"

    def _claim(self):
        claim, now = secrets.token_hex(8), utcnow()
        free = (Delivery.select(Delivery.id)
                .where((Delivery.campaign == self.campaign.id) & (Delivery.status == "queued")
                       & (Delivery.lease_until.is_null() | (Delivery.lease_until < now))
                       & (Delivery.next_attempt_at.is_null() | (Delivery.next_attempt_at <= now)))
                .order_by(Delivery.id).limit(self.batch_size))
        with db.atomic():
            Delivery.update(claim=claim, lease_until=now + self.lease).where(Delivery.id.in_(free)).execute()
        return list(Delivery.select(Delivery, Contact).join(Contact, on=(Delivery.contact == Contact.id),
                                                            join_type=JOIN.LEFT_OUTER)
                    .where(Delivery.claim == claim).order_by(Delivery.id))

    def _finish_or_wait(self):
        queued = Delivery.select().where((Delivery.campaign == self.campaign.id) & (Delivery.status == "queued"))
        if not queued.exists():
            Campaign.update(status="sent", finished_at=utcnow(), lease_until=None).where(
                (Campaign.id == self.campaign.id) & (Campaign.status == "sending")).execute()
            self.campaign.recount()
            return
        waiting = queued.where(Delivery.next_attempt_at > utcnow()).order_by(Delivery.next_attempt_at).first()
        if waiting is not None:  # only retries later on: come back then
            Campaign.update(lease_until=waiting.next_attempt_at).where(Campaign.id == self.campaign.id).execute()
            send_campaign.schedule((self.campaign.id,), eta=waiting.next_attempt_at.replace(
                tzinfo=datetime.timezone.utc))

    def _prepare(self, delivery):
        """(contact, address, message bytes) to send for the delivery, or None when it was marked
        skipped or failed without sending."""
        contact = delivery.contact if delivery.contact_id else None
        if contact is None or contact.status != "active":
            return _mark(delivery, status="skipped", error="contact deleted" if contact is None else
                         f"contact {contact.status}")
        values, errors = audience.read_values(contact, self.fields)
        if "email" in errors or not values.get("email"):
            return _mark(delivery, status="failed", error="the e-mail address cannot be decrypted")
        try:
            address = _ascii_address(values["email"])
            message = self._message(delivery, contact, values, address)
        except UnicodeError as exc:
            return self._failed(delivery, contact, exc)
        return contact, address, message

    def _submit(self, delivery, contact, address, message):
        """Hand the message to the relay: (delivery, contact) for _complete() once it is on its way,
        None when the relay refused it already (the delivery is then recorded)."""
        try:
            if self.limiter:
                self.limiter.wait()
            self.session.submit(self.envelope_from, address, message)
        except (TemporaryFailure, PermanentFailure, UnicodeError) as exc:
            return self._failed(delivery, contact, exc)
        return delivery, contact

    def _complete(self, delivery, contact):
        """Record the message as sent as soon as the relay said it took it (or why it did not)."""
        try:
            self.session.result()
        except (TemporaryFailure, PermanentFailure) as exc:
            return self._failed(delivery, contact, exc)
        self.window.append(True)
        _mark(delivery, status="sent", sent_at=utcnow(), attempts=delivery.attempts + 1)

    def _failed(self, delivery, contact, exc):
        if isinstance(exc, UnicodeError):
            return _mark(delivery, status="failed", error="the address needs SMTPUTF8, which is not supported")
        self.window.append(False)
        if isinstance(exc, TemporaryFailure):
            return self._retry_later(delivery, exc)
        if exc.hard_bounce:
            Contact.update(status="bounced").where(Contact.id == contact.id).execute()
        return _mark(delivery, status="failed", error=str(exc), attempts=delivery.attempts + 1)

    def _message(self, delivery, contact, values, address):
        subject, html, text = self.compiled.render(values, delivery.id, contact.uid)
        unsubscribe = [self.compiled.unsubscribe_url(contact.uid)]
        if current_app.config["LIST_UNSUBSCRIBE_MAILTO"]:
            unsubscribe.append(f"mailto:{current_app.config['LIST_UNSUBSCRIBE_MAILTO']}?subject=unsubscribe-{delivery.id}")
        message, _message_id = self.template.build(address, subject, html, text, unsubscribe,
                                                   f"c{self.campaign.id}.d{delivery.id}")
        return self.signer.sign(message) if self.signer else message

    def _retry_later(self, delivery, exc):
        attempts = delivery.attempts + 1
        started = self.campaign.started_at or utcnow()
        if utcnow() - started > sending.retry_period():
            return _mark(delivery, status="failed", error=f"gave up after {attempts} attempts: {exc}", attempts=attempts)
        delay = current_app.config["SEND_RETRY_FIRST_DELAY_SECONDS"] * 2 ** min(attempts - 1, 10)
        _mark(delivery, status="queued", attempts=attempts, error=str(exc)[:480],
              next_attempt_at=utcnow() + datetime.timedelta(seconds=delay))

    def _should_pause(self):
        window = self.window
        if len(window) < window.maxlen:
            return False
        failures = window.count(False)
        if failures / len(window) <= current_app.config["SEND_PAUSE_FAILURE_RATE"]:
            return False
        sending.pause(self.campaign, f"Paused automatically: {failures} of the last {len(window)} messages failed. "
                                     "Check the relay and the list, then resume.")
        self.campaign.recount()
        return True


def transport_for(account):
    """(session, rate limiter) for the account: its first usable relay, or the outbox on a fresh install;
    (None, None) when it may use no relay (EU-only without an EU relay: never a fallback)."""
    if sending.uses_outbox(account):
        return OutboxSession(account.id), None
    relays = sending.relays_for(account)
    if not relays:
        return None, None
    relay = relays[0]
    session = SmtpSession(relay.host, relay.port, relay.security, relay.username, _relay_password(relay),
                          current_app.config["SMTP_TIMEOUT"])
    return session, rate_limiter(relay.name, relay.max_per_second)


def _mark(delivery, **changes):
    """Record the outcome of one delivery and release it."""
    update_by_id(Delivery, delivery.id, claim=None, lease_until=None, **changes)


def _ascii_address(address):
    local, _, domain = address.rpartition("@")
    local.encode("ascii")  # UnicodeError: a non-ASCII local part needs SMTPUTF8
    return f"{local}@{domain.encode('idna').decode('ascii')}"


def _relay_password(relay):
    if not relay.password_sealed:
        return ""
    return audience.cipher().open(relay.password_sealed, relay.password_aad())


def _signer_for(campaign):
    domain = sending.sender_domain(campaign)
    return signer_for(domain) if domain is not None and domain.dkim_private_key else None


def send_test(campaign_id, addresses, contact_id=None):
    """Send the campaign now to up to five addresses, as the chosen contact (or nobody) would get it;
    returns {address: problem} for those the relay did not take."""
    campaign = Campaign.get_by_id(campaign_id)
    fields = audience.FieldSet(campaign.account_id)
    compiled = render.compile_campaign(campaign, fields, for_sending=False)
    contact = Contact.for_account(campaign.account_id).where(Contact.id == contact_id).first() if contact_id else None
    values = audience.read_values(contact, fields)[0] if contact else {}
    subject, html, text = compiled.render(values)
    session, _limiter = transport_for(campaign.account)
    if session is None:
        return {address: "no relay this account may use is configured" for address in addresses}
    domain = campaign.from_email.rpartition("@")[2]
    template = MessageTemplate(campaign.from_name, campaign.from_email, campaign.reply_to,
                               f"{campaign.id}.{campaign.account_id}.lists.{domain}", campaign.name, domain)
    signer, problems = _signer_for(campaign), {}
    try:
        for address in addresses[:5]:
            message, _message_id = template.build(_ascii_address(address), f"[Test] {subject}", html, text,
                                                  [compiled.unsubscribe_url(contact.uid if contact else "test")],
                                                  f"c{campaign.id}.test")
            try:
                session.send(campaign.from_email, _ascii_address(address), signer.sign(message) if signer else message)
            except (TemporaryFailure, PermanentFailure, UnicodeError) as exc:
                problems[address] = str(exc)
    finally:
        session.close()
    return problems
