"""Privacy statement, cookie statement and the cookie-consent banner."""
from flask import Blueprint, current_app, flash, make_response, redirect, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from sendtex.config import retention_periods
from sendtex.privacy.consent import COOKIES, PURPOSE_LABELS, categories_for, current_choice, record_choice
from sendtex.web import error_response, render, safe_next

bp = Blueprint("privacy", __name__)

CONSENT_ACTIONS = ("accept", "reject", "save")


def _statement_context():
    cfg = current_app.config
    return dict(cfg=cfg, retention=retention_periods(cfg), cookies=COOKIES, lang=str(get_locale()))


@bp.route("/privacy")
def statement():
    """The privacy statement, filled in from configuration."""
    return render("privacy/statement.html", "privacy/statement.html", **_statement_context())


@bp.route("/cookies")
def cookie_statement():
    """The cookie statement: every cookie, why, and for how long."""
    return render("privacy/cookies.html", "privacy/cookies.html", **_statement_context())


@bp.route("/privacy/consent", methods=["GET", "POST"])
def consent():
    """Show the cookie choice (banner fragment or settings page) or record a choice."""
    if request.method == "GET":
        return render("privacy/consent.html", "privacy/_banner.html", choice=current_choice(),
                      purposes=PURPOSE_LABELS, open_choices=True)
    action = request.form.get("action")
    if action not in CONSENT_ACTIONS:
        return error_response(400, _("Choose accept all, reject all, or save your choice."))
    back = safe_next(request.form.get("next"), url_for("public.home"))
    response = make_response("" if request.htmx else redirect(back, 303))
    record_choice(response, categories_for(action, request.form.getlist("purpose")))
    flash(_("Your cookie choice is saved. You can change it at any time from the page footer."), "success")
    return response
from sendtex.privacy import newsletter, selfservice  # noqa: E402,F401  (registers the self-service views)
