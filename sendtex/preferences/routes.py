"""The subscriber's own pages: the preference centre, asking for its link, and a campaign viewed in the browser.

No login and no cookie: the signed link is the key, and it only ever opens its own contact's rows in its own
account. Nothing here flashes or writes the session (either would set a cookie); forms carry a token bound
to the page instead of the session's CSRF token.
"""
import json

from flask import Blueprint, Response, abort, current_app, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _

from sendtex import audience
from sendtex.anon import anonymise_ip
from sendtex.crypto import keyed_digest
from sendtex.lists.forms import ContactValues
from sendtex.mail import render as templates
from sendtex.mail.links import PATHS, PREFERENCES, VIEW, read_token
from sendtex.models.campaigns import Campaign
from sendtex.models.contacts import Contact
from sendtex.models.ratelimit import RateHit, minutes
from sendtex.preferences.forms import ASK_PAGE, AddressForm, form_token, from_this_page, notice_page, refused_form
from sendtex.preferences.subscriber import LinkProblem, Subscriber
from sendtex.subscribe.signup import Visitor
from sendtex.tasks.preferences import mail_links_for_address, mail_preference_link
from sendtex.web import csrf, external_url

bp = Blueprint("preferences", __name__)

# Link mails: at most this many an hour per typed address (or contact), and per network.
LINKS_PER_ADDRESS, LINKS_PER_NETWORK = 3, 20
# Marketer HTML shown as a document of its own: no script, no form, no plugin, an opaque origin (sandbox).
VIEW_POLICY = ("sandbox allow-popups allow-popups-to-escape-sandbox; default-src 'none'; img-src * data:; "
               "style-src 'unsafe-inline' *; font-src * data:; base-uri 'none'; form-action 'none'; "
               "frame-ancestors 'none'")
VIEWABLE = ("sending", "paused", "sent", "cancelled", "failed")  # not draft or scheduled: nothing went out yet


NOTICES = {
    "invalid": lambda: notice_page(404, _("Link not valid"), _(
        "This link is not valid. Please use the link exactly as it appears in the e-mail."), ask_again=True),
    "expired": lambda: notice_page(410, _("Link expired"), _(
        "This link has expired. Ask for a new one: we mail it to your address."), ask_again=True),
    "gone": lambda: notice_page(410, _("No longer exists"), _(
        "The data this link belonged to no longer exists: the address was erased or removed from the sender's "
        "lists. You will not receive any more e-mails from them.")),
    "test": lambda: notice_page(200, _("Test message"), _(
        "This link comes from a test message or a preview, so there are no preferences to show. Nothing was "
        "changed.")),
    "not_fresh": lambda: notice_page(403, _("A new link is needed"), _(
        "To download or erase your data, use the link we mail you on request: the links in our newsletters "
        "may have been forwarded."), ask_again=True),
}


def _subscriber(token, post=False, fresh=False):
    """The Subscriber of a genuine link to an existing contact; otherwise abort with the page that says why."""
    try:
        subscriber = Subscriber.from_token(token)
    except LinkProblem as exc:
        abort(NOTICES[exc.reason]())
    reason = "test" if subscriber.is_test else "gone" if subscriber.contact is None else None
    if reason is None and fresh and not subscriber.fresh:
        reason = "not_fresh"
    if reason:
        abort(NOTICES[reason]())
    if post and not from_this_page(token):
        abort(refused_form())
    return subscriber


def consent_text(sender):
    """What ticking a list in the preference centre agrees to, as the page shows it and the proof quotes it."""
    return _("I want to receive the e-mails of the lists I ticked from %(sender)s. I can unsubscribe at any time.",
             sender=sender)


def _profile_form(subscriber, fields):
    form = ContactValues.of_contact(fields, subscriber.contact)
    # Only what the marketer lets subscribers change; the address is the identity the link proves.
    form.locked |= {field.key for field in fields.fields if not field.subscriber_editable or field.key == "email"}
    return form


def _centre(subscriber, token, notice=None, form=None, status=200):
    fields = audience.FieldSet(subscriber.account_id)
    form = form or _profile_form(subscriber, fields)
    page = render_template("preferences/centre.html", subscriber=subscriber, token=token, notice=notice,
                           account=subscriber.contact.account, lists=subscriber.lists(),
                           memberships=subscriber.memberships(), form=form, form_token=form_token(token),
                           failed=status >= 400, consent_text=consent_text(subscriber.contact.account.name))
    return Response(page, status, mimetype="text/html")


@bp.get(PATHS[PREFERENCES] + "<token>")
def centre(token):
    """The preference centre of the link's contact (a GET changes nothing: link scanners fetch it too)."""
    return _centre(_subscriber(token), token)


@bp.post(PATHS[PREFERENCES] + "<token>/lists")
@csrf.exempt  # public, cookie-less: from_this_page checks the page's own token and the origin instead
def save_lists(token):
    """Subscribe to the ticked lists and leave the others."""
    subscriber = _subscriber(token, post=True)
    wanted = {int(value) for value in request.form.getlist("list") if value.isdigit() and len(value) < 19}
    # The proof names the page without its token: the token is a key to the subscriber's data.
    visitor = Visitor.of(request, str(get_locale()))._replace(page_url=external_url("preferences.ask"))
    subscriber.set_lists(wanted, visitor, consent_text(subscriber.contact.account.name))
    return _centre(subscriber, token, notice=_("Your subscriptions are saved."))


@bp.post(PATHS[PREFERENCES] + "<token>/profile")
@csrf.exempt  # public, cookie-less: from_this_page checks the page's own token and the origin instead
def save_profile(token):
    """Store the changed values of the fields subscribers may edit (typed, encrypted where the field is)."""
    subscriber = _subscriber(token, post=True)
    fields = audience.FieldSet(subscriber.account_id)
    form = _profile_form(subscriber, fields)
    form.read(request.form)
    if not form.validate(partial=True):
        return _centre(subscriber, token, form=form, status=422)
    changed = {key: value for key, value in form.values.items() if value != form.current.get(key)}
    if changed:
        audience.update_contact(subscriber.contact, fields, changed)
    return _centre(subscriber, token, notice=_("Your details are saved."))


@bp.post(PATHS[PREFERENCES] + "<token>/unsubscribe")
@csrf.exempt  # public, cookie-less: from_this_page checks the page's own token and the origin instead
def unsubscribe_all(token):
    """Leave every list of the account at once."""
    subscriber = _subscriber(token, post=True)
    subscriber.unsubscribe_all()
    return _centre(subscriber, token, notice=_("You are unsubscribed from everything. You will not receive any "
                                               "more e-mails from %(sender)s.", sender=subscriber.contact.account.name))


@bp.post(PATHS[PREFERENCES] + "<token>/link")
@csrf.exempt  # public, cookie-less: from_this_page checks the page's own token and the origin instead
def mail_fresh_link(token):
    """Mail the contact a fresh link, the one that can download or erase their data."""
    subscriber = _subscriber(token, post=True)
    key = keyed_digest(current_app.config["BLIND_INDEX_KEY"], "preferences-contact:" + subscriber.contact.uid)
    if not _count_link_mail("preferences-contact", key):
        return _centre(subscriber, token, notice=_("We already mailed you several links this hour. Please use "
                                                   "one of those, or try again later."), status=429)
    mail_preference_link(subscriber.contact.id, str(get_locale()))
    return _centre(subscriber, token, notice=_("We mailed you a link. Open it to download or erase your data."))


@bp.post(PATHS[PREFERENCES] + "<token>/data")
@csrf.exempt  # public, cookie-less: from_this_page checks the page's own token and the origin instead
def download_data(token):
    """The subscriber's own data as a JSON file."""
    subscriber = _subscriber(token, post=True, fresh=True)
    body = json.dumps(subscriber.export(), ensure_ascii=False, indent=2)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": 'attachment; filename="my-data.json"', "Cache-Control": "no-store"})


@bp.get(PATHS[PREFERENCES] + "<token>/erase")
def confirm_erase(token):
    """Ask before erasing: it cannot be undone."""
    subscriber = _subscriber(token, fresh=True)
    page = render_template("preferences/erase.html", account=subscriber.contact.account, token=token,
                           form_token=form_token(token))
    return Response(page, mimetype="text/html")


@bp.post(PATHS[PREFERENCES] + "<token>/erase")
@csrf.exempt  # public, cookie-less: from_this_page checks the page's own token and the origin instead
def erase(token):
    """Erase the subscriber from the account for good."""
    subscriber = _subscriber(token, post=True, fresh=True)
    sender = subscriber.contact.account.name
    subscriber.erase()
    return notice_page(200, _("Your data is erased"), _(
        "%(sender)s no longer holds your data: your address, your details and your subscriptions are erased. "
        "You will not receive any more e-mails from them.", sender=sender))


# Asking for a link


def _count_link_mail(bucket, key):
    """Count one link mail for the key; False when it asked too often this hour."""
    return RateHit.take(bucket, key, LINKS_PER_ADDRESS, minutes(60))[0]


def _ask_page(form, notice=None, status=200):
    page = render_template("preferences/ask.html", form=form, notice=notice, form_token=form_token(ASK_PAGE),
                           failed=status >= 400)
    return Response(page, status, mimetype="text/html")


@bp.get("/p")
def ask():
    """Enter your e-mail address to get a link to your preferences."""
    return _ask_page(AddressForm(formdata=None))


@bp.post("/p")
@csrf.exempt  # public, cookie-less: from_this_page checks the page's own token and the origin instead
def request_link():
    """Mail a link to every account's contact with this address; the answer never tells whether there is one."""
    if not from_this_page(ASK_PAGE):
        return refused_form()
    form = AddressForm()
    if not form.validate():
        return _ask_page(form, status=422)
    network = anonymise_ip(request.remote_addr)
    address_key = keyed_digest(current_app.config["BLIND_INDEX_KEY"], "preferences:" + form.email.data)
    if RateHit.minutes_blocked("preferences-network", network, LINKS_PER_NETWORK, minutes(60)) \
            or not _count_link_mail("preferences-address", address_key):
        return _ask_page(form, notice=_("Too many requests. Please wait an hour and try again."), status=429)
    RateHit.hit("preferences-network", network)
    # Digests only go into the queue, and the look-up runs there: the answer takes as long either way.
    mail_links_for_address(audience.digests_everywhere(form.email.data), str(get_locale()))
    return _ask_page(AddressForm(formdata=None), notice=_(
        "If this address is on a mailing list here, we have sent a link to it. Check your inbox (and your spam "
        "folder); the link is valid for a limited time."))


# The campaign in the browser


def _viewed(token):
    """(campaign, contact or None for a test message) of a genuine view link; 404 page otherwise."""
    parts = read_token(VIEW, token)
    if parts is None:
        abort(NOTICES["invalid"]())
    campaign_id, uid = parts
    contact = Contact.get_or_none(Contact.uid == uid) if uid else None
    campaign = None
    if contact is not None or not uid:
        query = Campaign.for_account(contact.account_id) if contact is not None else Campaign.select()
        campaign = query.where(Campaign.id == campaign_id).first() if 0 < campaign_id < 2**63 else None
    if campaign is None or campaign.status not in VIEWABLE:
        abort(notice_page(404, _("Message not available"), _(
            "This message is not available: it was removed, or it has not been sent.")))
    return campaign, contact


def _placeholders(fields):
    """Labels in brackets for the text fields of a test message's view, like [First name]."""
    return {field.key: f"[{audience.field_label(field)}]" for field in fields.fields if field.type == "text"}


@bp.get(PATHS[VIEW] + "<token>")
def view(token):
    """The campaign as the link's contact received it (untracked), as a sandboxed document of its own."""
    campaign, contact = _viewed(token)
    fields = audience.FieldSet(campaign.account_id)
    values = audience.read_values(contact, fields)[0] if contact is not None else _placeholders(fields)
    try:
        compiled = templates.compile_campaign(campaign, fields, for_sending=False)
        html = compiled.render(values, None, contact.uid if contact is not None else None).html
    except (templates.TemplateProblems, templates.RenderError):
        return notice_page(404, _("Message not available"), _("This message cannot be shown in the browser."))
    return Response(html, mimetype="text/html", headers={
        "Content-Security-Policy": VIEW_POLICY, "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})
