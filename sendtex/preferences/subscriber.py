"""Whom a preference link speaks for, and what a subscriber may do with their own data in one account.

Two kinds of link lead to the preference centre: the one in every campaign message (a per-message token that
never expires, like the unsubscribe link) and a fresh one mailed on request, valid for PREFERENCES_LINK_MAX_AGE.
Messages get forwarded and archived, so only a fresh link can download or erase the subscriber's data.
Everything here is scoped by the contact's own account: a link can never reach another account's rows.
"""

from flask import current_app
from peewee import JOIN, fn

from sendtex import audience
from sendtex.db import db
from sendtex.mail.links import PREFERENCES, read_token
from sendtex.mail.transport import outbox
from sendtex.models.base import iso_utc, utcnow
from sendtex.models.campaigns import Campaign, Delivery, Event, Link
from sendtex.models.contacts import Contact, MailingList, Subscription, Suppression
from sendtex.models.mail import OutboxMessage
from sendtex.models.subscribe import ConsentProof
from sendtex.tokens import TokenError, sign, unsign
from sendtex.web import external_url

FRESH_LINK = "preferences"  # the tokens.py purpose of links mailed on request
MAX_FRESH_TOKEN_CHARS = 300
MAX_ID = 2**63 - 1


class LinkProblem(Exception):
    """A preference link that leads nowhere: `reason` is invalid (forged, altered) or expired."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def fresh_link(contact):
    """The absolute URL of a new, expiring preference link for the contact."""
    return external_url("preferences.centre", token=sign(FRESH_LINK, {"u": contact.uid}))


class Subscriber:
    """The contact a preference link speaks for (None once erased), the campaign it came from, its freshness."""

    def __init__(self, contact_uid, campaign_id=0, fresh=False):
        self.is_test = not contact_uid
        self.contact = Contact.get_or_none(Contact.uid == contact_uid) if contact_uid else None
        self.campaign_id = campaign_id if 0 < campaign_id <= MAX_ID else 0
        self.fresh = fresh

    @classmethod
    def from_token(cls, token):
        """The Subscriber of a genuine message or mailed token; LinkProblem otherwise."""
        parts = read_token(PREFERENCES, token)
        if parts is not None:
            campaign_id, uid = parts
            return cls(uid, campaign_id)
        if "." not in token or len(token) > MAX_FRESH_TOKEN_CHARS:  # mailed tokens are itsdangerous's a.b.c
            raise LinkProblem("invalid")
        try:
            data = unsign(FRESH_LINK, token, current_app.config["PREFERENCES_LINK_MAX_AGE"])
        except TokenError as exc:
            raise LinkProblem("expired" if exc.expired else "invalid") from exc
        if not isinstance(data, dict) or not isinstance(data.get("u"), str) or not data["u"]:
            raise LinkProblem("invalid")
        return cls(data["u"], fresh=True)

    @property
    def account_id(self):
        return self.contact.account_id

    def memberships(self):
        """{list id: Subscription} of the contact."""
        return {row.mailing_list_id: row for row in Subscription.select().where(Subscription.contact == self.contact.id)}

    def lists(self):
        """The lists offered: the account's public lists and every list the contact is on, by name."""
        on = Subscription.select(Subscription.mailing_list).where(Subscription.contact == self.contact.id)
        return list(MailingList.for_account(self.account_id)
                    .where((MailingList.visibility == "public") | MailingList.id.in_(on))
                    .order_by(MailingList.name, MailingList.id))

    def set_lists(self, wanted_ids, visitor, consent_text):
        """Subscribe to the offered lists in wanted_ids and leave the others; returns how many changed.

        Joining a double opt-in list here counts as confirmed: the link was mailed to this address, which
        is the same proof a confirmation link gives. An unconfirmed signup left unticked stays as it is.
        Joining is recorded as a consent proof with the visitor (subscribe.signup.Visitor) and the text shown."""
        now, joined, left = utcnow(), [], 0
        current = self.memberships()
        with db.atomic():
            for mailing_list in self.lists():
                membership = current.get(mailing_list.id)
                status = membership.status if membership else None
                if mailing_list.id in wanted_ids and status != "subscribed":
                    audience.set_memberships([self.contact.id], [mailing_list.id], "subscribed")
                    joined.append(mailing_list)
                elif mailing_list.id not in wanted_ids and status == "subscribed":
                    left += audience.end_memberships([self.contact.id], [mailing_list.id], now)
            if left:
                self._record_unsubscribe(now)
            if joined:
                # Unsubscribed from everything earlier, and now joining a list again: mail may flow again.
                Contact.update(status="active", updated_at=now).where(
                    (Contact.id == self.contact.id) & (Contact.status == "unsubscribed")).execute()
                ConsentProof.record(self.contact.id, "preferences", visitor, joined, consent_text,
                                    "preference centre", at=now)
        return len(joined) + left


    def _record_unsubscribe(self, now):
        # Counted for the campaign whose message led here, as its unsubscribe link would count it: tied to
        # the delivery only where the account keeps individual tracking.
        if not Campaign.for_account(self.account_id).where(Campaign.id == self.campaign_id).exists():
            return
        delivery = None
        if self.contact.account.individual_tracking:
            delivery = (Delivery.select(Delivery.id)
                        .where((Delivery.campaign == self.campaign_id) & (Delivery.contact == self.contact.id)).scalar())
        Event.insert(account=self.account_id, campaign=self.campaign_id, delivery=delivery, kind="unsubscribe",
                     at=now).execute()

    def unsubscribe_all(self):
        """Leave every list and stop all mail of this account; True if anything changed."""
        now = utcnow()
        with db.atomic():
            changed = audience.unsubscribe_everywhere([self.contact.id], now)
            if changed:
                self._record_unsubscribe(now)
        return bool(changed)

    def is_unsubscribed(self):
        """True when the contact gets no mail from this account any more."""
        return self.contact.status != "active" and not any(
            row.status == "subscribed" for row in self.memberships().values())

    def export(self):
        """Everything the account holds about the contact, as JSON-ready data (encrypted fields decrypted)."""
        contact, fields = self.contact, audience.FieldSet(self.account_id)
        values, errors = audience.read_values(contact, fields)
        lists = {row.id: row.name for row in MailingList.for_account(self.account_id)}
        return {
            "exported_at": iso_utc(utcnow()),
            "sender": contact.account.name,
            "profile": values,
            "undecryptable_fields": sorted(errors),
            "contact": {"status": contact.status, "created_at": iso_utc(contact.created_at),
                        "updated_at": iso_utc(contact.updated_at)},
            "subscriptions": [
                {"list": lists.get(row.mailing_list_id), "status": row.status, "since": iso_utc(row.created_at),
                 "confirmed_at": iso_utc(row.confirmed_at), "unsubscribed_at": iso_utc(row.unsubscribed_at)}
                for row in self.memberships().values()],
            "consent_records": self._consent_records(),
            "campaigns": self._received(),
        }

    def _consent_records(self):
        return [proof.as_dict() for proof in ConsentProof.for_contact(self.contact.id)]

    def _received(self):
        deliveries = list(Delivery.select(Delivery, Campaign).join(Campaign)
                          .where((Delivery.contact == self.contact.id) & (Campaign.account == self.account_id))
                          .order_by(Delivery.id))
        events = {}
        query = (Event.select(Event.delivery, Event.kind, Event.at, Link.url)
                 .join(Link, JOIN.LEFT_OUTER, on=(Event.link == Link.id))
                 .where(Event.delivery.in_([row.id for row in deliveries]) & (Event.account == self.account_id))
                 .order_by(Event.at, Event.id))
        for delivery_id, kind, at, url in query.tuples():
            event = {"kind": kind, "at": iso_utc(at)}
            if kind == "click":
                event["url"] = url
            events.setdefault(delivery_id, []).append(event)
        return [{"campaign": row.campaign.name, "status": row.status, "sent_at": iso_utc(row.sent_at),
                 "events": events.get(row.id, [])} for row in deliveries]

    def erase(self):
        """Delete the contact and everything tied to it in its account; what stays (events, the ledger) is
        anonymous, and the address's keyed digest keeps the account from adding it again (a Suppression)."""
        contact = self.contact
        address = audience.read_values(contact, audience.FieldSet(self.account_id))[0].get("email")
        with db.atomic():
            # A relay's refusal may quote the address.
            Delivery.update(error="").where(Delivery.contact == contact.id).execute()
            # Subscriptions (and consent records) go with the contact; the ledger's rows lose their link to it.
            Contact.delete().where((Contact.id == contact.id) & (Contact.account == self.account_id)).execute()
            Suppression.add(self.account_id, contact.email_digest)
        if address:
            _discard_outbox_copies(self.account_id, address)
        self.contact = None


def _discard_outbox_copies(account_id, address):
    """Remove the local outbox's copies of the account's mail to this address (a fresh install keeps them)."""
    rows = list(OutboxMessage.for_account(account_id).where(fn.LOWER(OutboxMessage.recipient) == address.lower()))
    box = outbox()
    for row in rows:
        box.discard(row.maildir_key)
    OutboxMessage.delete().where(OutboxMessage.id.in_([row.id for row in rows])).execute()
