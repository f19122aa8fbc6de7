"""Raw tracking events and unsubscribes: one indexed statement per open or click, nothing about the reader stored.

Opens and clicks are written with hand-written, portable SQL: they are the hottest writes of the application
(every recipient's mail client fetches the image), and building a Peewee query costs more than running it.
An account with individual tracking off gets its events without their delivery: only counts, no contact.
"""
from sendtex import audience
from sendtex.db import db
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery, Event
from sendtex.models.contacts import Contact, MailingList, Subscription

MAX_ID = 2**63 - 1


def _open_sql(param):
    return ('INSERT INTO "event" ("account_id", "campaign_id", "delivery_id", "kind", "link_id", "at") '
            f'SELECT c."account_id", d."campaign_id", CASE WHEN a."individual_tracking" THEN d."id" END, '
            f'\'open\', NULL, {param} FROM "delivery" d JOIN "campaign" c ON c."id" = d."campaign_id" '
            f'JOIN "account" a ON a."id" = c."account_id" WHERE d."id" = {param}')


def _link_sql(param):
    return ('SELECT l."id", l."url", d."campaign_id", c."account_id", a."individual_tracking" FROM "delivery" d '
            'JOIN "campaign" c ON c."id" = d."campaign_id" JOIN "account" a ON a."id" = c."account_id" '
            f'JOIN "link" l ON l."campaign_id" = d."campaign_id" AND l."position" = {param} WHERE d."id" = {param}')


def _click_sql(param):
    return ('INSERT INTO "event" ("account_id", "campaign_id", "delivery_id", "kind", "link_id", "at") '
            f"VALUES ({param}, {param}, {param}, 'click', {param}, {param})")


def _now():
    return Event.at.db_value(utcnow())


def record_open(delivery_id):
    """Store an open of a delivery (nothing when the delivery no longer exists)."""
    if 0 < delivery_id <= MAX_ID:
        db.execute_sql(_open_sql(db.obj.param), (_now(), delivery_id))


def record_click(delivery_id, position):
    """Store a click on a campaign's link and return its URL; None when there is no such link (any more)."""
    if not (0 < delivery_id <= MAX_ID and 0 < position <= MAX_ID):
        return None
    param = db.obj.param
    row = db.execute_sql(_link_sql(param), (position, delivery_id)).fetchone()
    if row is None:
        return None
    link_id, url, campaign_id, account_id, individual = row
    db.execute_sql(_click_sql(param), (account_id, campaign_id, delivery_id if individual else None, link_id, _now()))
    return url


class Recipient:
    """Whom an unsubscribe link speaks for: the contact (None once deleted) and the campaign (None once deleted)."""

    def __init__(self, campaign_id, contact_uid):
        self.contact = Contact.get_or_none(Contact.uid == contact_uid) if contact_uid else None
        self.campaign = None
        if self.contact is not None and 0 < campaign_id <= MAX_ID:
            self.campaign = (Campaign.for_account(self.contact.account_id)
                             .where(Campaign.id == campaign_id).first())
        self.is_test = not contact_uid

    def lists(self):
        """The account's lists the campaign went to; [] means the contact is unsubscribed from everything."""
        if self.campaign is None or not self.campaign.list_ids:
            return []
        ids = [list_id for list_id in self.campaign.list_ids if isinstance(list_id, int)]
        return list(MailingList.for_account(self.contact.account_id).where(MailingList.id.in_(ids))
                    .order_by(MailingList.name))

    def is_unsubscribed(self):
        """True when unsubscribing would change nothing."""
        lists = self.lists()
        memberships = Subscription.select().where(
            (Subscription.contact == self.contact.id) & (Subscription.status != "unsubscribed"))
        if lists:
            return not memberships.where(Subscription.mailing_list.in_([item.id for item in lists])).exists()
        return self.contact.status != "active" and not memberships.exists()

    def unsubscribe(self):
        """Unsubscribe from the campaign's lists, or from everything if it had none; True if anything changed."""
        now = utcnow()
        contact_id = self.contact.id
        with db.atomic():
            lists = self.lists()
            if lists:
                changed = audience.end_memberships([contact_id], [item.id for item in lists], now)
            else:
                changed = audience.unsubscribe_everywhere([contact_id], now)
            if changed and self.campaign is not None:
                delivery = None
                if self.contact.account.individual_tracking:
                    delivery = (Delivery.select(Delivery.id).where(
                        (Delivery.campaign == self.campaign.id) & (Delivery.contact == contact_id)).scalar())
                Event.insert(account=self.contact.account_id, campaign=self.campaign.id, delivery=delivery,
                             kind="unsubscribe", at=now).execute()
        return bool(changed)
