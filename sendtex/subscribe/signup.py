"""Public signup: reading a submission, subscribing at once or holding lists for confirmation, proof of consent,
confirming, and removing signups nobody confirmed.

The outcome of a signup never shows in the response: whether the address was new, subscribed already,
unsubscribed or blocklisted changes only what is stored and whether a mail goes to that address.
"""
from typing import NamedTuple

from flask import current_app
from flask_babel import lazy_gettext as _l

from sendtex import audience, sending
from sendtex.anon import anonymise_ip
from sendtex.crypto import keyed_digest
from sendtex.db import db
from sendtex.models.base import utcnow
from sendtex.models.contacts import Contact, MailingList, Subscription, Suppression
from sendtex.models.ratelimit import RateHit, minutes
from sendtex.models.subscribe import PAGE_URL_MAX, USER_AGENT_MAX, ConsentProof, Signup
from sendtex.tokens import TokenError, sign, unsign
from sendtex.validation import Invalid

# Only these contacts can sign up: bounced, complained or blocklisted addresses stay as they are.
SIGNUP_STATUSES = ("active", "unsubscribed")


class Visitor(NamedTuple):
    """Where a signup or confirmation came from, as the proof of consent keeps it."""

    ip_anon: str
    user_agent: str
    page_url: str
    language: str

    @classmethod
    def of(cls, request, language):
        """The visitor of a request: anonymised network, truncated user agent, the page it came from."""
        return cls(anonymise_ip(request.remote_addr), (request.user_agent.string or "")[:USER_AGENT_MAX],
                   (request.referrer or "")[:PAGE_URL_MAX], language)


# Rate limits


def _over_limit(bucket, key, limit):
    """True when key had `limit` events in the window already; counts this one otherwise."""
    return not RateHit.take(bucket, key, limit, minutes(current_app.config["SIGNUP_LIMIT_WINDOW_MINUTES"]))[0]


def network_blocked(ip):
    """True when the visitor's network sent too many signups in the window; counts this one otherwise."""
    return _over_limit("signup-network", anonymise_ip(ip), current_app.config["SIGNUP_LIMIT_PER_NETWORK"])


def address_blocked(email):
    """True when this address was signed up too often in the window (whoever did it); counts this one otherwise."""
    # A keyed digest, as for logins: the typed address is never stored and cannot be found by guessing.
    key = keyed_digest(current_app.config["BLIND_INDEX_KEY"], "signup:" + email)
    return _over_limit("signup-address", key, current_app.config["SIGNUP_LIMIT_PER_ADDRESS"])


# Reading a submission


def read_values(field_set, asked, formdata):
    """The typed values of the asked fields (e-mail always) and {key: message} for those that are not valid."""
    values, errors = {}, {}
    wanted = [("email", True)] + [(item["key"], item["required"]) for item in asked if item["key"] in field_set.by_key]
    for key, required in wanted:
        field, raw = field_set.by_key[key], formdata.get(key, "")
        label = audience.field_label(field)
        if key == "email" and not raw.strip():
            errors[key] = str(_l("Enter your e-mail address."))
            continue
        try:
            value = audience.coerce(field, raw)
        except Invalid as exc:
            errors[key] = str(exc)
            continue
        if required and field.type == "boolean" and value is not True:
            errors[key] = str(_l("%(label)s must be ticked.", label=label))
        elif required and value is None:
            errors[key] = str(_l("%(label)s is required.", label=label))
        else:
            values[key] = value
    return values, errors


def chosen_lists(offered, posted_ids):
    """The offered lists the visitor picked; with one list offered, that one. Anything else posted is ignored."""
    if len(offered) == 1:
        return offered
    picked = {value for value in posted_ids if value.isdigit()}
    return [lst for lst in offered if str(lst.id) in picked]


# Signing up


def sign_up(signup_form, field_set, values, lists, visitor):
    """Store a valid signup: the contact (found by address or created), memberships, the proof; the Signup,
    or None when the address may not sign up (bounced, complained, blocklisted). Mail is the caller's."""
    with db.atomic():
        contact, created = _contact_for(field_set, values)
        if contact.status not in SIGNUP_STATUSES:
            return None
        if not created:
            _fill_empty(contact, field_set, values)
        pending = _subscribe(contact, lists)
        # A signup with nothing to confirm (single opt-in, or subscribed already) is complete at once.
        signup = Signup.create(contact=contact, form=signup_form, pending=pending, created_contact=created,
                               language=visitor.language, confirmed_at=None if pending else utcnow())
        if not pending:  # they asked for it themselves: the account may hold the address again
            Suppression.lift(contact.account_id, contact.email_digest)
        record_proof("signup", signup, visitor, lists, signup_form.name, signup_form.consent_text,
                     signup_form.consent_version)
    return signup


def _contact_for(field_set, values):
    """(contact, created): the account's contact with this address, or a new one with the values."""
    contact = audience.find_by_email(field_set.account_id, values["email"])
    if contact is not None:
        return contact, False
    try:
        return audience.create_contact(field_set, values, by_subscriber=True), True
    except audience.DuplicateContact:  # the same address signed up at the same moment
        return audience.find_by_email(field_set.account_id, values["email"]), False


def _fill_empty(contact, field_set, values):
    # Anyone can type any address: a signup may complete a contact, never change what the marketer or the
    # subscriber stored before.
    current, unreadable = audience.read_values(contact, field_set)
    missing = {key: value for key, value in values.items()
               if value is not None and current.get(key) in (None, "") and key not in unreadable}
    if missing:
        audience.update_contact(contact, field_set, missing)


def _subscribe(contact, lists):
    """Subscribe at once where no confirmation is needed; the {list id: origin} left for confirmation."""
    current = {row.mailing_list_id: row.status for row in Subscription.select().where(
        (Subscription.contact == contact.id) & Subscription.mailing_list.in_([lst.id for lst in lists]))}
    held_before = _pending_of_open_signups(contact.id)
    pending, now = {}, utcnow()
    for lst in lists:
        status = current.get(lst.id)
        if status == "subscribed":
            continue
        # Someone who unsubscribed from everything comes back only by confirming, whatever the list's opt-in.
        if lst.opt_in == "double" or contact.status == "unsubscribed":
            if status is None:
                _add_membership(contact, lst, "unconfirmed", now)
            pending[str(lst.id)] = "created" if status is None else held_before.get(str(lst.id), "existing")
        elif status is None:
            _add_membership(contact, lst, "subscribed", now)
        else:
            _mark_subscribed(contact.id, [lst.id], now)
    return pending


def _add_membership(contact, lst, status, now):
    # Ignoring a conflict: the same address signing up twice at the same moment adds the membership once.
    Subscription.insert(contact=contact, mailing_list=lst, status=status, created_at=now, updated_at=now,
                        confirmed_at=now if status == "subscribed" else None).on_conflict_ignore().execute()


def _pending_of_open_signups(contact_id):
    """{list id: origin} of the contact's signups still waiting, so a repeated signup keeps who created what."""
    held = {}
    for signup in Signup.select().where((Signup.contact == contact_id) & Signup.confirmed_at.is_null()
                                        & Signup.expired_at.is_null()).order_by(Signup.id):
        held.update(signup.pending)
    return held


def _mark_subscribed(contact_id, list_ids, now):
    (Subscription.update(status="subscribed", confirmed_at=now, updated_at=now, unsubscribed_at=None)
     .where((Subscription.contact == contact_id) & Subscription.mailing_list.in_(list_ids)
            & (Subscription.status != "subscribed"))
     .execute())


def record_proof(event, signup, visitor, lists, form_name, consent_text, consent_version):
    """Store the proof of a consent event with the exact consent text the visitor agreed to."""
    return ConsentProof.record(signup.contact_id, event, visitor, lists, consent_text, form_name, signup=signup,
                               form=signup.form_id, consent_version=consent_version)


def can_mail(account):
    """True when confirmation mails of the account have a way out (a relay it may use, or the outbox)."""
    return sending.uses_outbox(account) or bool(sending.relays_for(account))


# Confirming


def pending_lists(signup):
    """The lists a signup holds for confirmation that still exist, by name."""
    return list(MailingList.select().where(MailingList.id.in_([int(key) for key in signup.pending]))
                .order_by(MailingList.name, MailingList.id))


def confirmation_state(signup):
    """What a confirmation link can do: confirm, already (confirmed), or expired."""
    if signup.confirmed_at is not None:
        return "already"
    return "expired" if signup.expired_at is not None else "confirm"


def confirm(signup, visitor):
    """Subscribe the contact to the lists the signup held; False if it was confirmed (or expired) already."""
    now = utcnow()
    with db.atomic():
        # The conditional update makes a double click (or two tabs) confirm once.
        if not Signup.update(confirmed_at=now).where((Signup.id == signup.id) & Signup.confirmed_at.is_null()
                                                     & Signup.expired_at.is_null()).execute():
            return False
        lists = pending_lists(signup)
        _mark_subscribed(signup.contact_id, [lst.id for lst in lists], now)
        Suppression.lift(signup.contact.account_id, signup.contact.email_digest)
        Contact.update(status="active", updated_at=now).where(
            (Contact.id == signup.contact_id) & (Contact.status == "unsubscribed")).execute()
        # Confirming confirms the consent given at signup: the proof quotes that text, even if it changed since.
        given = signup.proofs.where(ConsentProof.event == "signup").get()
        record_proof("confirmation", signup, visitor, lists, given.form_name, given.consent_text,
                     given.consent_version)
    return True


# Expiry


def expire_unconfirmed(cutoff):
    """Remove what signups older than cutoff held unconfirmed, and the contacts they created that have nothing
    else; returns how many signups expired."""
    expired = 0
    for signup in Signup.select().where(Signup.confirmed_at.is_null() & Signup.expired_at.is_null()
                                        & (Signup.created_at < cutoff)).order_by(Signup.id):
        with db.atomic():
            _expire(signup)
        expired += 1
    return expired


def _expire(signup):
    newer = Signup.select().where((Signup.contact == signup.contact_id) & (Signup.id > signup.id)
                                  & Signup.confirmed_at.is_null() & Signup.expired_at.is_null())
    still_held = {key for other in newer for key in other.pending}
    created = [int(key) for key, origin in signup.pending.items() if origin == "created" and key not in still_held]
    if created:
        Subscription.delete().where((Subscription.contact == signup.contact_id) & Subscription.mailing_list.in_(created)
                                    & (Subscription.status == "unconfirmed")).execute()
    Signup.update(expired_at=utcnow()).where(Signup.id == signup.id).execute()
    if _left_behind(signup.contact_id):
        Contact.delete().where(Contact.id == signup.contact_id).execute()


def _left_behind(contact_id):
    """True for a contact a signup created that has no membership, no confirmed and no waiting signup left."""
    signups = list(Signup.select().where(Signup.contact == contact_id))
    return (any(signup.created_contact for signup in signups)
            and not any(signup.confirmed_at or not signup.expired_at for signup in signups)
            and not Subscription.select().where(Subscription.contact == contact_id).exists())


# Confirmation links


TOKEN_PURPOSE = "signup-confirm"


def confirmation_token(signup):
    """The signed token of a signup's confirmation link (it expires after SIGNUP_CONFIRM_MAX_AGE)."""
    return sign(TOKEN_PURPOSE, {"s": signup.id, "c": signup.contact.uid})


def signup_of_token(token):
    """The signup a confirmation token names, or None when it is gone; TokenError if forged or expired."""
    data = unsign(TOKEN_PURPOSE, token, current_app.config["SIGNUP_CONFIRM_MAX_AGE"])
    if not isinstance(data, dict) or not isinstance(data.get("s"), int):
        raise TokenError(expired=False)
    # The contact's uid must match too: the signup id alone is not proof the link was mailed for it.
    return (Signup.select(Signup, Contact).join(Contact)
            .where((Signup.id == data["s"]) & (Contact.uid == str(data.get("c")))).first())
