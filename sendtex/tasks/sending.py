"""Sending a campaign: lanes claim ledger rows with a lease, render, hand to a relay, record at once.

A campaign sends over several connections at once: start() queues one task per lane (SEND_LANES, at most
what the relays' max_connections allow), each claiming its own batches. Each row is marked sent right
after the relay accepted its message (in the lane's mark file, settled into the ledger after each batch:
sendtex/sentmarks.py), so a lane killed at any moment re-sends at most the messages it had in flight (one
per connection); rows it had claimed but not sent are taken over by another lane when its lease runs out.
Nobody is skipped: a row only leaves "queued" as sent, failed (permanently, or after the retry period) or
skipped (contact gone or no longer active). The lane that finds nothing left to send marks the campaign
sent; a lane that finds only rows other lanes hold just ends.
"""
import collections
import datetime
import json
import logging
import math
import os
import secrets
import time
from email.utils import parseaddr

from flask import current_app
from peewee import JOIN

from sendtex import audience, sending, sentmarks
from sendtex.bounces.rules import record_refusal
from sendtex.db import db, update_by_id
from sendtex.domains import ascii_domain, signer_for
from sendtex.mail import render
from sendtex.mail.message import MessageTemplate
from sendtex.mail.transport import (DeliveryError, OutboxSession, PermanentFailure, RateLimiter, RelayUnavailable,
                                    SmtpSession, TemporaryFailure, send_and_wait, take_connection_slot)
from sendtex.bounces.parse import without_addresses
from sendtex.models.accounts import Account
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery
from sendtex.models.contacts import Contact
from sendtex.models.relays import Relay
from sendtex.queue import huey
from sendtex.tasks.context import app_task
from sendtex.tasks.jobs import resumer

log = logging.getLogger(__name__)
RECOUNT_SECONDS = 1.0

# A claimed ledger row and its contact as plain tuples: building Peewee objects for them cost ~35 µs a row.
Claimed = collections.namedtuple("Claimed", "id attempts contact_id")
Recipient = collections.namedtuple("Recipient", "id uid email first_name last_name attributes sealed status")
_CLAIMED_COLUMNS = (Delivery.id, Delivery.attempts, Delivery.contact, Contact.uid, Contact.email, Contact.first_name,
                    Contact.last_name, Contact.attributes, Contact.sealed, Contact.status)


@huey.task()
@app_task
def send_campaign(campaign_id, lane=0):
    """Send queued deliveries of a campaign in one lane until none is left for it."""
    campaign = Campaign.get_or_none(Campaign.id == campaign_id)
    if campaign is not None and campaign.status == "sending":
        Sender(campaign, lane).run()


def start_lanes(campaign):
    """Queue the campaign's sending lanes."""
    for lane in range(sending.lane_count(campaign.account)):
        send_campaign(campaign.id, lane)


@resumer
def _resume_sending():
    sentmarks.settle_abandoned()
    for campaign in Campaign.select().where((Campaign.status == "sending") & (Campaign.lease_until < utcnow())):
        start_lanes(campaign)
    for campaign in sending.due_campaigns():
        try:
            sending.start(campaign)
        except sending.CannotStart as exc:
            Campaign.update(status="failed", status_reason="; ".join(exc.reasons)).where(
                Campaign.id == campaign.id).execute()


class Sender:
    """Sends one campaign's deliveries in one lane."""

    def __init__(self, campaign, lane=0):
        cfg = current_app.config
        self.campaign, self.lane = campaign, lane
        self.account = campaign.account
        self.fields = audience.FieldSet(campaign.account_id)
        self.compiled = render.compile_campaign(campaign, self.fields)
        self.template = _message_template(campaign)
        self.signer = _signer_for(campaign)
        self.batch_size, self.lease = cfg["SEND_BATCH_SIZE"], datetime.timedelta(seconds=cfg["JOB_LEASE_SECONDS"])
        self.window = collections.deque(maxlen=cfg["SEND_PAUSE_WINDOW"])
        self.pause_failure_rate = cfg["SEND_PAUSE_FAILURE_RATE"]
        self._failures_in_window = 0
        self.unsubscribe_mailto = cfg["LIST_UNSUBSCRIBE_MAILTO"]
        self._last_recount = time.monotonic()
        self._claim_id, self._renew_at, self._claimed_up_to = None, 0.0, 0
        self.relays = RelayPool(self.account, lane, sending.lane_count(self.account))
        self.envelope_from = _envelope_from(campaign)
        self.marks = None  # this lane's sent marks (sendtex/sentmarks.py), while it runs

    def run(self):
        """Claim and send batches until the campaign is done, paused or cancelled, or no relay works."""
        if self.relays.no_relay:
            sending.pause(self.campaign, "No relay this account may use is configured (EU-only sending).")
            return
        self.marks = sentmarks.SentMarks()
        try:
            if not self.relays.routes:
                self._come_back_for_relays()
                return
            while self._still_sending():
                batch = self._claim()
                if not batch:
                    self._finish_or_wait()
                    return
                if not self._send(batch):
                    return
                self._record(self.relays.refresh())
                self.marks.settle()  # before the next claim, and for the counts
                if not self.relays.routes:
                    self._come_back_for_relays()
                    return
                self._recount_now_and_then()
        finally:
            try:
                self._record(self.relays.close())
            finally:  # always: a lane that keeps its file locked keeps its marks from every other lane
                if self.marks.close():  # marks settled after a pause or cancel recounted the ledger
                    self.campaign.recount()

    def _send(self, batch):
        """Send a claimed batch; False when this lane must stop (paused, or no relay can be reached)."""
        rest = collections.deque(batch)
        while rest:
            if time.monotonic() >= self._renew_at:
                rest = self._renew_lease(rest)
                continue
            delivery, contact = rest.popleft()
            prepared = self._prepare(delivery, contact)  # while the relays work on the message before
            self._record(self.relays.collect())
            if self._should_pause():
                self._release([(delivery, contact), *rest])
                return False
            if prepared is None:
                continue
            try:
                self.relays.submit(self.envelope_from, prepared[0], prepared[1], (delivery, contact))
            except RelayUnavailable as exc:  # none of the relays: try this one later, give back the rest
                self._retry_later(delivery, exc)
                self._release(rest)
                self._record(self.relays.flush())
                self._come_back_for_relays()
                return False
        self._record(self.relays.flush())
        return not self._should_pause()

    def _renew_lease(self, rest):
        """Extend the lease of the rows still to send (a slow or rate-limited relay may take longer than
        one lease for a batch); returns those still held by this lane, to send only those."""
        until = utcnow() + self.lease
        ours = {row[0] for row in Delivery.update(lease_until=until)
                .where(Delivery.id.in_([delivery.id for delivery, _contact in rest]) & (Delivery.claim == self._claim_id)
                       & (Delivery.status == "queued")).returning(Delivery.id).tuples().execute()}
        Campaign.update(lease_until=until).where(
            (Campaign.id == self.campaign.id) & (Campaign.status == "sending")).execute()
        self._renew_at = time.monotonic() + self.lease.total_seconds() / 3
        return collections.deque(item for item in rest if item[0].id in ours)

    def _record(self, outcomes):
        """Record each message the relay took as sent, at once, and the others as failed or to retry."""
        for (delivery, contact), failure in outcomes:
            if failure is None:
                self._note(True)
                self.marks.mark(delivery.id)
            else:
                self._failed(delivery, contact, failure)

    def _recount_now_and_then(self):
        # Counting the ledger costs a scan of the campaign's rows: per batch that grew with the campaign's
        # size; once a second keeps the progress page live at a fixed cost. The end of sending recounts too.
        now = time.monotonic()
        if now - self._last_recount >= RECOUNT_SECONDS:
            self.campaign.recount()
            self._last_recount = now

    def _still_sending(self):
        status = Campaign.select(Campaign.status).where(Campaign.id == self.campaign.id).scalar()
        if status == "sending" and Account.select().where(
                (Account.id == self.campaign.account_id) & Account.restricted_at.is_null(False)).exists():
            sending.pause(self.campaign, str(sending.RESTRICTED))
            return False
        if status == "sending":
            Campaign.update(lease_until=utcnow() + self.lease).where(Campaign.id == self.campaign.id).execute()
        return status == "sending"

    def _claim(self):
        """[(Claimed, Recipient or None)] of the next free rows, taken for this lane in one UPDATE."""
        sentmarks.settle_abandoned()  # rows a dead lane had sent are marked, not yet "sent": never take them again
        claim, now = secrets.token_hex(8), utcnow()
        self._claim_id, self._renew_at = claim, time.monotonic() + self.lease.total_seconds() / 3
        # Looking on from the last row taken keeps each claim's scan short: from the campaign's first row,
        # it went over every row already sent (quadratic: ~7 s of a 100,000-recipient campaign). Rows left
        # behind (retries due, leases run out, rows given back) are found by the scan from the start.
        taken = self._take(claim, now, self._claimed_up_to) or (self._claimed_up_to and self._take(claim, now, 0))
        if not taken:
            return []
        self._claimed_up_to = max(taken)
        # The claim within the ids' range, not `id IN (…)`: Peewee renders a 200-value list at ~10 µs a value.
        query = (Delivery.select(*_CLAIMED_COLUMNS).join(Contact, JOIN.LEFT_OUTER, on=(Delivery.contact == Contact.id))
                 .where(Delivery.id.between(min(taken), max(taken)) & (Delivery.claim == claim)).order_by(Delivery.id))
        # Raw rows: Peewee's per-column converters cost ~10 µs a row, and most JSON columns are empty.
        return [(Claimed(delivery_id, attempts, contact_id),
                 Recipient(contact_id, uid, email, first, last, _json(attributes), _json(sealed), status)
                 if uid is not None else None)
                for delivery_id, attempts, contact_id, uid, email, first, last, attributes, sealed, status
                in db.execute(query).fetchall()]

    def _take(self, claim, now, after):
        """Ids of up to a batch of free rows past id `after`, now claimed for this lane."""
        unclaimed = (Delivery.status == "queued") & (Delivery.lease_until.is_null() | (Delivery.lease_until < now))
        free = (Delivery.select(Delivery.id)
                .where((Delivery.campaign == self.campaign.id) & (Delivery.id > after) & unclaimed
                       & (Delivery.next_attempt_at.is_null() | (Delivery.next_attempt_at <= now)))
                .order_by(Delivery.id).limit(self.batch_size))
        # SQLite runs the subquery under the UPDATE's write lock; PostgreSQL re-checks `unclaimed` on a row
        # another lane just claimed: either way two lanes never take the same row. RETURNING names them.
        return [row[0] for row in Delivery.update(claim=claim, lease_until=now + self.lease)
                .where(Delivery.id.in_(free) & unclaimed).returning(Delivery.id).tuples().execute()]

    def _release(self, batch):
        """Give claimed rows back for any lane to take now."""
        if batch:
            Delivery.update(claim=None, lease_until=None).where(
                Delivery.id.in_([delivery.id for delivery, _contact in batch]) & (Delivery.status == "queued")).execute()

    def _finish_or_wait(self):
        queued = Delivery.select().where((Delivery.campaign == self.campaign.id) & (Delivery.status == "queued"))
        if not queued.exists():
            Campaign.update(status="sent", finished_at=utcnow(), lease_until=None).where(
                (Campaign.id == self.campaign.id) & (Campaign.status == "sending")).execute()
            self.campaign.recount()
            return
        waiting = queued.where(Delivery.next_attempt_at > utcnow()).order_by(Delivery.next_attempt_at).first()
        if waiting is not None:  # only retries later on: come back then
            self._come_back_at(waiting.next_attempt_at)
        # Otherwise the rest is held by other lanes: they finish it (or, if they died, the resumer does).

    def _come_back_for_relays(self):
        """No relay can take mail now (all cooling down, or their connections in use): come back when one
        may, or leave it to the other lanes and the resumer."""
        moment = self.relays.next_chance()
        if moment is not None:
            self._come_back_at(moment)

    def _come_back_at(self, moment):
        Campaign.update(lease_until=moment).where(Campaign.id == self.campaign.id).execute()
        send_campaign.schedule((self.campaign.id, self.lane), eta=moment.replace(tzinfo=datetime.timezone.utc))

    def _prepare(self, delivery, contact):
        """(address, message bytes) to send for the delivery, or None when it was marked skipped or failed
        without sending."""
        if contact is None or contact.status != "active":
            return _mark(delivery, status="skipped", error="contact deleted" if contact is None else
                         f"contact {contact.status}")
        values, errors = audience.read_values(contact, self.fields)
        if "email" in errors or not values.get("email"):
            return _mark(delivery, status="failed", error="the e-mail address cannot be decrypted")
        try:
            address = ascii_address(values["email"])
            return address, self._message(delivery, contact, values, address)
        except UnicodeError:
            return _mark(delivery, status="failed", error="the address needs SMTPUTF8, which is not supported")
        except render.RenderError as exc:  # this recipient's values break the template: the others still go
            return _mark(delivery, status="failed", error=str(exc))

    def _failed(self, delivery, contact, exc):
        self._note(False)
        if isinstance(exc, TemporaryFailure):
            return self._retry_later(delivery, exc)
        record_refusal(delivery.id, str(exc))  # a bounce: the account's rules decide about the contact
        return _mark(delivery, status="failed", error=str(exc), attempts=delivery.attempts + 1)

    def _message(self, delivery, contact, values, address):
        unsubscribe = [self.compiled.unsubscribe_url(contact.uid)]  # signed once, for the body and the header
        subject, html, text = self.compiled.render(values, delivery.id, contact.uid, unsubscribe[0])
        if self.unsubscribe_mailto:
            unsubscribe.append(f"mailto:{self.unsubscribe_mailto}?subject=unsubscribe-{delivery.id}")
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

    def _note(self, sent):
        """Add one outcome to the window of the last SEND_PAUSE_WINDOW messages (counted as it goes: counting
        the whole window for each message cost ~6 µs)."""
        window = self.window
        if len(window) == window.maxlen and not window[0]:
            self._failures_in_window -= 1
        window.append(sent)
        self._failures_in_window += not sent

    def _should_pause(self):
        window = self.window
        if len(window) < window.maxlen:
            return False
        failures = self._failures_in_window
        if failures / len(window) <= self.pause_failure_rate:
            return False
        sending.pause(self.campaign, f"Paused automatically: {failures} of the last {len(window)} messages failed. "
                                     "Check the relay and the list, then resume.")
        self.campaign.recount()
        return True


class Route:
    """One connection of a lane to one relay (or to the outbox), holding one of the relay's connection slots."""

    def __init__(self, relay, session, slot=None, limiter=None):
        self.relay, self.session, self.slot = relay, session, slot
        self.limiter = limiter or RateLimiter(None, 0)
        self.settings = _settings(relay)

    @classmethod
    def to_relay(cls, relay):
        """A route to the relay, or None when all of its max_connections are in use (by any worker)."""
        directory = os.path.join(current_app.instance_path, "relays")
        slot = take_connection_slot(directory, relay.uid, relay.max_connections)
        if slot is None:
            return None
        session = SmtpSession(relay.host, relay.port, relay.security, relay.username, _relay_password(relay),
                              current_app.config["SMTP_TIMEOUT"])
        limiter = RateLimiter(os.path.join(directory, f"{relay.uid}.rate"), relay.max_per_second)
        return cls(relay, session, slot, limiter)

    def close(self):
        """Finish the messages in flight (their outcomes are returned), hang up, give the slot back."""
        outcomes = self.session.close()
        self.limiter.close()
        if self.slot is not None:
            os.close(self.slot)
            self.slot = None
        return outcomes


class RelayPool:
    """A lane's connections to the relays the account may use (EU-only accounts: EU relays only, never a
    fallback; no relay configured at all: the local outbox).

    Messages go to the relays in turn, skipping one whose rate limit would make it wait while another can
    send. A relay that cannot be reached is cooled down for every worker and the message goes to the next
    relay at once. A lane takes at most its share of the relays' connections, so every lane gets some."""

    def __init__(self, account, lane=0, lanes=1, kind="campaign"):
        self.account, self.turn, self.lanes, self.kind = account, lane, lanes, kind
        self.outbox = sending.uses_outbox(account)
        self.routes = {}  # relay id (0: the outbox) -> Route
        self.no_relay = False
        self._order, self._outcomes = [], []
        self.refresh()

    def refresh(self):
        """Follow the relays as configured now: drop those disabled, changed or cooling down, connect to the
        others (as slots allow); returns the outcomes of messages in flight on dropped connections."""
        if self.outbox:
            self.routes = self.routes or {0: Route(None, OutboxSession(self.account.id, self.kind))}
            self._order = list(self.routes.values())
            return []
        relays = sending.relays_for(self.account)
        self.no_relay, now = not relays, utcnow()
        wanted = {relay.id: relay for relay in relays if relay.available(now)}
        for relay_id, route in list(self.routes.items()):
            if relay_id not in wanted or route.settings != _settings(wanted[relay_id]):
                self._drop(relay_id)
        share = math.ceil(sum(relay.max_connections for relay in relays) / max(self.lanes, 1))
        for relay in _rotated(list(wanted.values()), self.turn):
            if len(self.routes) >= share:
                break
            if relay.id not in self.routes:
                route = Route.to_relay(relay)
                if route is not None:
                    self.routes[relay.id] = route
        self._order = list(self.routes.values())
        return self.collect()

    def submit(self, envelope_from, recipient, message_bytes, ticket):
        """Hand the message to the next relay in turn; RelayUnavailable when none can be reached now."""
        while self._order:
            route = self._next_route()
            route.limiter.wait()
            try:
                return route.session.submit(envelope_from, recipient, message_bytes, ticket)
            except RelayUnavailable as exc:
                log.warning("relay %s is unavailable, cooling down: %s", route.relay.name, exc)
                Relay.cool_down(route.relay.id, current_app.config["SEND_RELAY_COOLDOWN_SECONDS"], exc)
                self._drop(route.relay.id)
        raise RelayUnavailable("no relay could be reached")

    def send(self, envelope_from, recipient, message_bytes):
        """Hand one message over and wait for the relay's answer; the DeliveryError if it did not take it."""
        send_and_wait(self, envelope_from, recipient, message_bytes)

    def _next_route(self):
        count = len(self._order)
        for step in range(count):
            route = self._order[(self.turn + step) % count]
            if route.limiter.ready_in() == 0:
                self.turn += step + 1
                return route
        self.turn += 1
        return min(self._order, key=lambda route: route.limiter.ready_in())

    def _drop(self, relay_id):
        self._outcomes += self.routes.pop(relay_id).close()
        self._order = list(self.routes.values())

    def collect(self):
        """[(ticket, None or the failure)] of the messages whose fate became known."""
        outcomes, self._outcomes = self._outcomes, []
        for route in self._order:
            outcomes += route.session.collect()
        return outcomes

    def flush(self):
        """Wait for the relays' replies to everything handed over; collect()."""
        outcomes, self._outcomes = self._outcomes, []
        for route in self._order:
            outcomes += route.session.flush()
        return outcomes

    def close(self):
        """Hang up every connection; the outcomes of messages that were still in flight."""
        for relay_id in list(self.routes):
            self._drop(relay_id)
        return self.collect()

    def next_chance(self):
        """When a relay that is cooling down may be tried again (None when none is cooling down)."""
        now = utcnow()
        moments = [relay.unavailable_until for relay in sending.relays_for(self.account) if not relay.available(now)]
        return min(moments) if moments else None


def _settings(relay):
    """What a connection to the relay depends on: a change of any of it takes a new connection."""
    if relay is None:
        return None
    return (relay.host, relay.port, relay.security, relay.username, relay.password_sealed, relay.max_per_second,
            relay.max_connections)


def _rotated(items, turn):
    return items[turn % len(items):] + items[:turn % len(items)] if items else []


def _json(text):
    return {} if not text or text == "{}" else json.loads(text)


def _mark(delivery, **changes):
    """Record the outcome of one delivery and release it."""
    if "error" in changes:  # relays quote the recipient; the address may be an encrypted field
        changes["error"] = without_addresses(changes["error"])[:480]
    update_by_id(Delivery, delivery.id, claim=None, lease_until=None, **changes)


def ascii_address(address):
    """The address as SMTP carries it without SMTPUTF8: the domain in IDNA; UnicodeError for a non-ASCII local part."""
    local, _, domain = address.rpartition("@")
    local.encode("ascii")  # UnicodeError: a non-ASCII local part needs SMTPUTF8
    return f"{local}@{_ascii_domain(domain)}"


_ascii_domains = {}


def _ascii_domain(domain):
    # IDNA encoding costs several µs a call; a campaign's addresses share few domains.
    encoded = _ascii_domains.get(domain)
    if encoded is None:
        encoded = ascii_domain(domain)
        if len(_ascii_domains) < 10_000:
            _ascii_domains[domain] = encoded
    return encoded


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
    relays = RelayPool(campaign.account, kind="test")
    if relays.no_relay:
        return {address: str(NO_RELAY) for address in addresses}
    template, signer, problems = _message_template(campaign), _signer_for(campaign), {}
    try:
        for address in addresses[:5]:
            try:
                recipient = ascii_address(address)
                message, _message_id = template.build(recipient, f"[Test] {subject}", html, text,
                                                      [compiled.unsubscribe_url(contact.uid if contact else "test")],
                                                      f"c{campaign.id}.test")
                relays.send(_envelope_from(campaign), recipient, signer.sign(message) if signer else message)
            except (DeliveryError, UnicodeError) as exc:
                problems[address] = str(exc)
    finally:
        relays.close()
    return problems


def _message_template(campaign):
    domain = campaign.from_email.rpartition("@")[2]
    return MessageTemplate(campaign.from_name, campaign.from_email, campaign.reply_to,
                           f"{campaign.id}.{campaign.account_id}.lists.{domain}", campaign.name, domain)


def _envelope_from(campaign):
    """The Return-Path: the bounce mailbox when one is configured (test sends too), else the From address."""
    return current_app.config["SEND_ENVELOPE_FROM"] or campaign.from_email


class NoUsableRelay(PermanentFailure):
    """The account may use no relay (EU-only sending without an EU relay): nothing was sent."""


NO_RELAY = NoUsableRelay("no relay this account may use is configured")


def mail_subscriber(account, address, message_bytes, kind):
    """Send one mail to a subscriber of the account (a confirmation, a preference link) through the
    account's campaign relays, EU-only honoured, or the outbox, from MAIL_FROM, and wait for the relay.

    Raises NoUsableRelay, the relay's TemporaryFailure or PermanentFailure, or UnicodeError for an
    address that needs SMTPUTF8."""
    relays = RelayPool(account, kind=kind)
    if relays.no_relay:
        raise NO_RELAY
    try:
        relays.send(parseaddr(current_app.config["MAIL_FROM"])[1], ascii_address(address), message_bytes)
    finally:
        relays.close()
