"""Forms of the public preference pages, protected against forgery without a session cookie.

These pages set no cookie, so Flask-WTF's session-bound CSRF token does not apply. Instead every form carries
a signed, expiring token bound to the page's own link, and a POST must come from this origin (the browser's
Origin and Sec-Fetch-Site headers, when it sends them): another site can neither read the token nor post
from its own pages.
"""
from urllib.parse import urlsplit

from flask import Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField
from wtforms.validators import InputRequired, ValidationError

from sendtex.tokens import TokenError, sign, unsign
from sendtex.validation import Invalid, normalise_email

FORM_PURPOSE = "preferences.form"
FORM_MAX_AGE = 12 * 3600
ASK_PAGE = ""  # what the "enter your e-mail" page's forms are bound to: it has no link


def notice_page(status, title, message, ask_again=False):
    """A cookie-free page with one message, for the subscriber's pages and their links."""
    page = render_template("preferences/notice.html", title=title, message=message, ask_again=ask_again)
    return Response(page, status, mimetype="text/html")


def refused_form():
    """The 400 page of a form that did not come from its own page (or came too late)."""
    return notice_page(400, _("Form expired"), _("This form has expired or did not come from this site. "
                                            "Reload the page and try again."))


def form_token(link_token):
    """The token the page of link_token puts in its forms."""
    return sign(FORM_PURPOSE, link_token)


def _same_origin():
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    # BASE_URL too: behind a TLS proxy that is not declared in TRUSTED_PROXIES the request looks like http.
    return origin is None or origin in (request.host_url.rstrip("/"), _origin_of(current_app.config["BASE_URL"]))


def _origin_of(url):
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def from_this_page(link_token):
    """True when a POST was sent by a form of link_token's own page, on this site, not too long ago."""
    if not _same_origin():
        return False
    try:
        return unsign(FORM_PURPOSE, request.form.get("csrf_token", ""), FORM_MAX_AGE) == link_token
    except TokenError:
        return False


class AddressForm(FlaskForm):
    """The address to mail a preference link to (forgery is checked by from_this_page)."""

    class Meta:
        csrf = False

    email = EmailField(_l("Your e-mail address"), validators=[InputRequired(_l("Enter your e-mail address."))])

    def validate_email(self, field):
        """Normalise the address; a malformed one gets the reason."""
        try:
            field.data = normalise_email(field.data)
        except Invalid as exc:
            raise ValidationError(str(exc)) from exc
