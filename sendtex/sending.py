"""Campaign life cycle: who receives it, whether it may start, the ledger snapshot, pause, resume, cancel.

The views and the API call these; the work of sending itself is in sendtex/tasks/sending.py.
"""
import datetime

from flask import current_app
from flask_babel import lazy_gettext as _l
from peewee import Value, fn

from sendtex import segments, sentmarks
from sendtex.db import db
from sendtex.models.base import utcnow
from sendtex.domains import verified_domain_for
from sendtex.models.accounts import Account
from sendtex.models.campaigns import Campaign, Delivery
from sendtex.models.contacts import Contact, MailingList, Subscription
from sendtex.models.relays import Relay

EDITABLE = ("draft", "scheduled")


class CannotStart(Exception):
    """The campaign cannot start; `reasons` says why, in words for the marketer."""

    def __init__(self, reasons):
        super().__init__("; ".join(str(reason) for reason in reasons))
        self.reasons = [str(reason) for reason in reasons]


def audience(campaign):
    """Ids of the contacts the campaign goes to: subscribed to one of its lists (or all active contacts of
    its segment), active, each once."""
    query = Contact.select(Contact.id).where((Contact.account == campaign.account_id) & (Contact.status == "active"))
    if campaign.list_ids:
        members = Subscription.select(Subscription.contact).where(
            Subscription.mailing_list.in_(campaign.list_ids) & (Subscription.status == "subscribed"))
        query = query.where(Contact.id.in_(members))
    if campaign.segment_id:
        query = query.where(segments.compile_conditions(campaign.segment.match, campaign.segment.conditions,
                                                        campaign.account_id))
    return query


def sender_domain(campaign):
    """The account's verified sending domain of the campaign's from address, or None."""
    return verified_domain_for(campaign.account_id, campaign.from_email)


def sent_today(account_id):
    """Messages the account sent since midnight UTC."""
    midnight = utcnow().replace(hour=0, minute=0, second=0, microsecond=0)
    return (Delivery.select(fn.COUNT(Delivery.id)).join(Campaign)
            .where((Campaign.account == account_id) & (Delivery.sent_at >= midnight)).scalar())


def relays_for(account):
    """The relays the account may send through (EU-only accounts: EU relays only; never a fallback)."""
    return list(Relay.usable(account.eu_only_sending).order_by(Relay.id))


def lane_count(account):
    """How many connections a campaign of the account sends over at once: SEND_LANES, at most the sum of
    its relays' max_connections (one for the outbox)."""
    if uses_outbox(account):
        return 1
    connections = sum(max(relay.max_connections, 0) for relay in relays_for(account))
    return max(1, min(current_app.config["SEND_LANES"], connections))


def uses_outbox(account):
    """True when no relay at all is configured: campaigns then go to the local outbox (a fresh install)."""
    return not account.eu_only_sending and not Relay.select().where(Relay.enabled == True).exists()  # noqa: E712


RESTRICTED = _l("Processing of this account is restricted: nothing is sent until the restriction is lifted.")


def preflight(campaign, recipients=None):
    """Every reason the campaign cannot start now (empty when it can); recipients if already counted."""
    reasons = []
    account = campaign.account
    if account.is_restricted:
        reasons.append(RESTRICTED)
    if recipients is None:
        recipients = audience(campaign).count()
    if not campaign.list_ids and not campaign.segment_id:
        reasons.append(_l("Choose the lists or the segment the campaign goes to."))
    elif recipients == 0:
        reasons.append(_l("Nobody would receive this campaign: its audience has no subscribed, active contacts."))
    if len(campaign.list_ids) != MailingList.for_account(account.id).where(MailingList.id.in_(campaign.list_ids)).count():
        reasons.append(_l("One of the campaign's lists no longer exists."))
    if not campaign.subject.strip():
        reasons.append(_l("Write a subject."))
    if not campaign.html.strip():
        reasons.append(_l("Write the content of the message."))
    if not sender_domain(campaign):
        reasons.append(_l("The from address must be on one of your verified sending domains."))
    if not relays_for(account) and not uses_outbox(account):
        reasons.append(_l("This account sends through EU relays only, and no EU relay is configured. "
                          "The campaign will not fall back to another relay."))
    left = account.daily_quota - sent_today(account.id)
    if recipients > left:
        reasons.append(_l("This campaign has %(n)d recipients, but the account may send %(left)d more messages "
                          "today (daily quota %(quota)d).", n=recipients, left=max(left, 0), quota=account.daily_quota))
    return reasons


def start(campaign):
    """Snapshot the audience into the ledger and queue the sending; CannotStart with the reasons otherwise."""
    with db.atomic():
        campaign = Campaign.select().where(Campaign.id == campaign.id).get()
        if campaign.status not in EDITABLE + ("paused",):
            raise CannotStart([_l("This campaign has already been sent or is sending.")])
        if campaign.account.is_restricted:
            raise CannotStart([RESTRICTED])
        if campaign.status != "paused":
            reasons = preflight(campaign)
            if reasons:
                raise CannotStart(reasons)
            # Defaults are spelled out: INSERT ... SELECT does not apply Peewee's Python-side defaults.
            snapshot = audience(campaign).select(Contact.id, campaign.id, Value("queued"), Value(0), Value(""))
            Delivery.insert_from(snapshot, fields=[Delivery.contact, Delivery.campaign, Delivery.status,
                                                   Delivery.attempts, Delivery.error]).on_conflict_ignore().execute()
        campaign.status, campaign.status_reason = "sending", ""
        campaign.started_at = campaign.started_at or utcnow()
        campaign.lease_until = utcnow()  # free for the first worker to take
        campaign.save()
        campaign.recount()
    from sendtex.tasks.sending import start_lanes

    start_lanes(campaign)
    return campaign


def schedule(campaign, when_utc):
    """Send the campaign at a moment (UTC) if it could start now; CannotStart otherwise."""
    reasons = preflight(campaign)
    if when_utc <= utcnow():
        reasons.append(_l("Choose a moment in the future."))
    if reasons:
        raise CannotStart(reasons)
    Campaign.update(status="scheduled", scheduled_at=when_utc).where(Campaign.id == campaign.id).execute()


def unschedule(campaign):
    """Take a scheduled campaign back to draft."""
    Campaign.update(status="draft", scheduled_at=None).where(
        (Campaign.id == campaign.id) & (Campaign.status == "scheduled")).execute()


def pause(campaign, reason=""):
    """Stop sending after the messages in flight; resume() continues where it stopped."""
    return Campaign.update(status="paused", status_reason=str(reason)).where(
        (Campaign.id == campaign.id) & (Campaign.status == "sending")).execute()


def resume(campaign):
    """Continue a paused campaign."""
    return start(campaign)


def cancel(campaign):
    """Stop for good: messages not yet sent are skipped."""
    with db.atomic():
        changed = Campaign.update(status="cancelled", finished_at=utcnow()).where(
            (Campaign.id == campaign.id) & Campaign.status.in_(("scheduled", "sending", "paused"))).execute()
        sentmarks.settle_abandoned()  # what the relays took before the cancel counts as sent, not skipped
        Delivery.update(status="skipped", error="cancelled").where(
            (Delivery.campaign == campaign.id) & (Delivery.status == "queued")).execute()
    Campaign.get_by_id(campaign.id).recount()
    return changed


def due_campaigns():
    """Scheduled campaigns whose moment has come (a restricted account's wait until the restriction is lifted)."""
    return (Campaign.select().join(Account)
            .where((Campaign.status == "scheduled") & (Campaign.scheduled_at <= utcnow())
                   & Account.restricted_at.is_null()))


def progress(campaign):
    """Counts, current rate (messages/s over the last minute) and the estimated time left."""
    counts = {"total": campaign.total, "sent": campaign.sent, "failed": campaign.failed, "skipped": campaign.skipped}
    counts["remaining"] = max(campaign.total - campaign.sent - campaign.failed - campaign.skipped, 0)
    since = utcnow() - datetime.timedelta(seconds=60)
    recent = Delivery.select(fn.COUNT(Delivery.id)).where(
        (Delivery.campaign == campaign.id) & (Delivery.sent_at >= since)).scalar()
    counts["rate"] = recent / 60
    counts["eta_seconds"] = int(counts["remaining"] / counts["rate"]) if counts["rate"] else None
    counts["percent"] = 100 if campaign.status == "sent" else (
        int(100 * (campaign.total - counts["remaining"]) / campaign.total) if campaign.total else 0)
    return counts


def retry_period():
    """How long temporary failures are retried before a delivery counts as failed."""
    return datetime.timedelta(seconds=current_app.config["SEND_RETRY_PERIOD_SECONDS"])

