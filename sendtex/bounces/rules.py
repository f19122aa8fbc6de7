"""Recording bounces and complaints: find the delivery a notice is about, record it once (with the Event the
statistics count), and apply the account's rules to the contact.

Rules: a hard bounce marks the contact bounced at once; soft bounces do when the account's soft_bounce_limit
of them arrive within soft_bounce_days; a complaint marks it complained and unsubscribes it from every list.
"""
import datetime

from peewee import JOIN, IntegrityError, fn

from sendtex import audience
from sendtex.bounces.parse import Notice, enhanced_status, severity, short
from sendtex.db import db
from sendtex.models.base import utcnow
from sendtex.models.bounces import Bounce
from sendtex.models.campaigns import Campaign, Delivery, Event
from sendtex.models.contacts import Contact
from sendtex.validation import Invalid

RECORDED, DUPLICATE, UNMATCHED = "recorded", "duplicate", "unmatched"
EVENT_KINDS = {"hard": "bounce", "soft": "soft_bounce", "complaint": "complaint"}


def record(notice, origin, source):
    """Record a notice from the mailbox or a webhook: RECORDED, DUPLICATE or UNMATCHED."""
    delivery = find_delivery(notice, origin)
    if delivery is None:
        return UNMATCHED
    return _store(delivery, notice, source)


def record_refusal(delivery_id, reply):
    """Record a relay's permanent refusal (5xx) of a delivery as a hard or soft bounce."""
    delivery = _deliveries().where(Delivery.id == delivery_id).first()
    if delivery is None:
        return UNMATCHED
    status = enhanced_status(reply)
    return _store(delivery, Notice(severity(status, reply), "", status, short(reply)), "smtp")


def _deliveries():
    return Delivery.select(Delivery, Campaign).join(Campaign)


def find_delivery(notice, origin):
    """The delivery a notice is about: by the tracking id of the returned message, else by the campaign (from
    its List-Id) and the failed address; None when nothing fits."""
    if origin.delivery_id and origin.campaign_id:
        delivery = _deliveries().where((Delivery.id == origin.delivery_id)
                                       & (Delivery.campaign == origin.campaign_id)).first()
        # A forged or garbled report must not bounce somebody else: an address it names has to be theirs.
        if delivery is not None and _consistent(delivery, notice, origin):
            return delivery
        return None
    if origin.campaign_id and notice.recipient:
        campaign = Campaign.get_or_none(Campaign.id == origin.campaign_id)
        if campaign is None or (origin.account_id and origin.account_id != campaign.account_id):
            return None
        contact = audience.find_by_email(campaign.account_id, notice.recipient)
        if contact is None:
            return None
        return _deliveries().where((Delivery.campaign == campaign.id) & (Delivery.contact == contact.id)).first()
    return None


def _consistent(delivery, notice, origin):
    account_id = delivery.campaign.account_id
    if origin.account_id and origin.account_id != account_id:
        return False
    if not notice.recipient or delivery.contact_id is None:
        return True  # nothing to compare with (a redacted complaint, a contact deleted since)
    digest = Contact.select(Contact.email_digest).where(Contact.id == delivery.contact_id).scalar()
    return any(_digest(account_id, address) == digest for address in (notice.recipient, *origin.addressed_to))


def _digest(account_id, address):
    try:
        return audience.email_digest(account_id, audience.fast_normalise_email(address))
    except Invalid:
        return None


def _store(delivery, notice, source):
    campaign, now = delivery.campaign, utcnow()
    try:
        with db.atomic():
            Bounce.create(account=campaign.account_id, campaign=campaign.id, delivery=delivery.id,
                          contact=delivery.contact_id, kind=notice.kind, status=notice.status[:12],
                          diagnostic=short(notice.diagnostic), source=source, received_at=now)
            Event.create(account=campaign.account_id, campaign=campaign.id, delivery=delivery.id,
                         kind=EVENT_KINDS[notice.kind], at=now)
            if delivery.contact_id is not None:
                apply_rules(campaign.account, delivery.contact_id, notice.kind, now)
    except IntegrityError:  # this delivery's bounce (or complaint) is recorded already
        return DUPLICATE
    return RECORDED


def apply_rules(account, contact_id, kind, now):
    """Change the contact as the account's rules say for a new bounce or complaint."""
    if kind == "complaint":
        Contact.update(status="complained", updated_at=now).where(
            (Contact.id == contact_id) & (Contact.status != "blocklisted")).execute()
        audience.end_memberships([contact_id], now=now)
        return
    if kind == "soft":
        since = now - datetime.timedelta(days=account.soft_bounce_days)
        soft = Bounce.select().where((Bounce.contact == contact_id) & (Bounce.kind == "soft")
                                     & (Bounce.received_at >= since)).count()
        if soft < account.soft_bounce_limit:
            return
    Contact.update(status="bounced", updated_at=now).where(
        (Contact.id == contact_id) & (Contact.status == "active")).execute()


def campaign_summary(campaign, latest=10):
    """A campaign's bounces and complaints: counts by kind and the latest ones with their contact's address."""
    counts = dict.fromkeys(EVENT_KINDS, 0)
    query = (Bounce.select(Bounce.kind, fn.COUNT(Bounce.id).alias("n")).where(Bounce.campaign == campaign.id)
             .group_by(Bounce.kind))
    counts.update({row.kind: row.n for row in query})
    rows = list(Bounce.select(Bounce, Contact).join(Contact, JOIN.LEFT_OUTER, on=(Bounce.contact == Contact.id))
                .where(Bounce.campaign == campaign.id).order_by(Bounce.received_at.desc(), Bounce.id.desc())
                .limit(latest))
    fields = audience.FieldSet(campaign.account_id)
    addresses = {row.contact.id: audience.read_values(row.contact, fields)[0].get("email", "")
                 for row in rows if row.contact_id is not None}
    return counts, [(row, addresses.get(row.contact_id)) for row in rows]
