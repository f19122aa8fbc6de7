"""The open image, the click redirect and the unsubscribe page; no login, no session on the tracking paths."""
import base64

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from sendtex.mail.links import CLICK, OPEN, PATHS, UNSUBSCRIBE, read_token
from sendtex.preferences.forms import form_token, from_this_page, notice_page, refused_form
from sendtex.tracking import events
from sendtex.web import csrf

bp = Blueprint("tracking", __name__)

# A 1×1 transparent GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==")
NOT_CACHED = {"Cache-Control": "no-store, max-age=0", "Pragma": "no-cache", "Expires": "0"}


def _invalid_link():
    return notice_page(404, _("Link not valid"),
                  _("This link is not valid. Please use the link exactly as it appears in the e-mail."))


@bp.get(PATHS[OPEN] + "<token>")
def open_image(token):
    """Record an open and answer the transparent image."""
    parts = read_token(OPEN, token)
    if parts is None:
        return _invalid_link()
    events.record_open(parts[0])
    return Response(PIXEL, mimetype="image/gif", headers=NOT_CACHED)


@bp.get(PATHS[CLICK] + "<token>")
def click(token):
    """Record a click and redirect to the campaign's own link, never anywhere else."""
    parts = read_token(CLICK, token)
    url = events.record_click(*parts) if parts else None
    if url is None:
        return _invalid_link() if parts is None else notice_page(
            404, _("No longer exists"), _("This link no longer exists: the campaign it belongs to was removed."))
    return Response(status=302, headers={"Location": url, **NOT_CACHED})


def _recipient(token):
    parts = read_token(UNSUBSCRIBE, token)
    return None if parts is None else events.Recipient(*parts)


def _page(recipient, state, token):
    lists = recipient.lists() if recipient.contact is not None else []
    account = recipient.contact.account if recipient.contact is not None else None
    page = render_template("tracking/unsubscribe.html", state=state, token=token, lists=lists, account=account,
                           form_token=form_token(token))
    return Response(page, mimetype="text/html")


def _state(recipient):
    if recipient.is_test:
        return "test"
    if recipient.contact is None:
        return "gone"
    return "already" if recipient.is_unsubscribed() else "confirm"


@bp.get(PATHS[UNSUBSCRIBE] + "<token>")
def unsubscribe_page(token):
    """Ask for confirmation: link scanners fetch every URL in a message, so a GET never unsubscribes."""
    recipient = _recipient(token)
    if recipient is None:
        return _invalid_link()
    return _page(recipient, _state(recipient), token)


@bp.post(PATHS[UNSUBSCRIBE] + "<token>")
@csrf.exempt
def unsubscribe(token):
    """Unsubscribe: the page's button or an RFC 8058 one-click POST (no cookie, no form token)."""
    recipient = _recipient(token)
    if recipient is None:
        return _invalid_link()
    # Mail providers post one-click unsubscribes without cookies; the page's own button carries the page's
    # signed form token instead of a session's (the page sets no cookie, like the preference centre's).
    one_click = request.form.get("List-Unsubscribe") == "One-Click"
    if not one_click and not from_this_page(token):
        return refused_form()
    state = _state(recipient)
    if state == "confirm":
        recipient.unsubscribe()
        state = "done"
    if one_click:
        return Response(_("You are unsubscribed."), 200, mimetype="text/plain")
    return _page(recipient, state, token)
