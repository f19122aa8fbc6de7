"""The operator's public website pages and the language switch."""
from flask import Blueprint, current_app, flash, request, session, url_for
from flask_babel import gettext as _
from flask_babel import refresh
from flask_login import current_user

from sendtex.models.accounts import User
from sendtex.web import error_response, redirect_to, render, safe_next

bp = Blueprint("public", __name__)


@bp.route("/")
def home():
    """The public front page."""
    return render("public/home.html", "public/home.html")


@bp.route("/language", methods=["POST"])
def set_language():
    """Switch the interface language; saved on the user when logged in, else in the session."""
    lang = request.form.get("lang", "")
    if lang not in current_app.config["LANGUAGES"]:
        return error_response(400, _("This language is not available."))
    session["lang"] = lang
    if current_user.is_authenticated:
        current_user.language = lang
        current_user.save(only=[User.language])
    refresh()
    flash(_("Language changed."), "success")
    back = safe_next(request.form.get("next"), url_for("public.home"))
    return ("", 200, {"HX-Refresh": "true"}) if request.htmx else redirect_to(back)


from sendtex.public import careers, contact  # noqa: E402,F401  (the website's forms register their views)
