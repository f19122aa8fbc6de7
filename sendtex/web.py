"""Web plumbing shared by every blueprint: extensions, headers, flashes, errors, rendering, scoping."""
import datetime
import functools
from urllib.parse import urlsplit

import jinja2
from flask import abort, current_app, get_flashed_messages, has_request_context, redirect, render_template, request, session
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_babel.speaklater import LazyString
from flask_babel import lazy_gettext as _l
from flask_login import LoginManager, current_user, login_required
from flask_wtf.csrf import CSRFError, CSRFProtect
from htmx_flask import Htmx
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from sendtex.models.accounts import User

csrf = CSRFProtect()
babel = Babel()
login_manager = LoginManager()
login_manager.login_view = "auth.login"
login_manager.login_message = _l("Please log in to see this page.")
login_manager.session_protection = "basic"

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "frame-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'self'",
        "base-uri 'none'",
        "object-src 'none'",
    ]
)

ERROR_MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You are not allowed to do this."),
    404: _l("This page does not exist, or you have no access to it."),
    405: _l("This page does not accept that kind of request."),
    413: _l("What you sent is too large."),
    429: _l("Too many requests. Please wait a moment and try again."),
    500: _l("Something went wrong on our side. It has been logged; please try again later."),
}


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over HTTPS."""

    def get_cookie_secure(self, app):
        return app.config["SESSION_COOKIE_SECURE"] or request.is_secure


def init_app(app):
    """Install extensions, headers, error pages and template helpers on the app."""
    app.config.setdefault("SESSION_COOKIE_SECURE", False)
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=datetime.timedelta(hours=app.config["SESSION_LIFETIME_HOURS"]),
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=True,
        BABEL_TRANSLATION_DIRECTORIES=str(app.root_path + "/translations"),
    )
    if app.config["TRUSTED_PROXIES"]:
        hops = app.config["TRUSTED_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    app.session_interface = HttpsAwareSessionInterface()
    csrf.init_app(app)
    babel.init_app(app, locale_selector=select_locale)
    login_manager.init_app(app)
    Htmx(app)
    _override_templates_from_instance(app)
    app.after_request(_security_headers)
    app.after_request(_flashes_out_of_band)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.context_processor(_template_helpers)
    app.jinja_env.finalize = _escape_lazy_strings


def _escape_lazy_strings(value):
    # Flask-Babel's lazy strings claim to be HTML (__html__), so Jinja would print a lazy message that
    # quotes user input unescaped. Turned into plain text here, they are escaped like any other value.
    return str(value) if isinstance(value, LazyString) else value


# htmx settings: no injected inline styles (the CSP forbids them), no eval, no page copies in
# localStorage (pages can hold personal data), and 4xx answers swapped so forms show their errors.
HTMX_CONFIG = {
    "includeIndicatorStyles": False,
    "allowEval": False,
    "allowScriptTags": False,
    "historyCacheSize": 0,
    "refreshOnHistoryMiss": True,
    "responseHandling": [
        {"code": "204", "swap": False},
        {"code": "[23]..", "swap": True},
        {"code": "4..", "swap": True, "error": False},
        {"code": "...", "swap": False, "error": True},
    ],
}


def _template_helpers():
    from flask_babel import get_locale

    from sendtex.accounts.forms import LANGUAGE_NAMES
    from sendtex.privacy.consent import PURPOSE_LABELS, consent_given, current_choice

    return dict(
        htmx_config=HTMX_CONFIG,
        current_language=lambda: str(get_locale()),
        language_names=LANGUAGE_NAMES,
        consent_given=consent_given,
        consent_purposes=PURPOSE_LABELS,
        show_consent_banner=lambda: current_choice() is None and request.endpoint != "privacy.consent",
    )


@login_manager.user_loader
def _load_user(session_id):
    return User.from_session_id(session_id)


def select_locale():
    """The user's language, else the session's choice, else the browser's, else the default."""
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():  # a task (e.g. a template check in the worker) translates to the default
        return current_app.config["DEFAULT_LANGUAGE"]
    if current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    if session.get("lang") in languages:
        return session["lang"]
    return request.accept_languages.best_match(languages) or current_app.config["DEFAULT_LANGUAGE"]


def _override_templates_from_instance(app):
    """Templates in instance/templates take precedence, so an operator can replace texts."""
    app.jinja_loader = jinja2.ChoiceLoader(
        [jinja2.FileSystemLoader(app.instance_path + "/templates"), jinja2.FileSystemLoader(app.template_folder)]
    )


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.vary.add("HX-Request")
        headers.setdefault("Cache-Control", "no-store")
    return response


def _flashes_out_of_band(response):
    """Deliver pending flash messages with any htmx HTML response, as an out-of-band swap."""
    # A form answered with errors (422) also clears an earlier action's message, like "saved".
    navigates = any(name in response.headers for name in ("HX-Redirect", "HX-Location", "HX-Refresh"))
    pending = session.get("_flashes") or response.status_code == 422
    if request.htmx and not navigates and response.mimetype == "text/html" and pending:
        fragment = render_template("_flashes.html", oob=True, messages=get_flashed_messages(with_categories=True))
        response.set_data(response.get_data() + fragment.encode())
    return response


def error_response(status, message=None):
    """The error page, or for htmx requests an out-of-band message that swaps nothing else (JSON under /api)."""
    if request.path == "/api" or request.path.startswith("/api/"):
        from sendtex.api.errors import json_error  # API clients get their error shape, never an HTML page

        return json_error(status)
    message = message or ERROR_MESSAGES.get(status, ERROR_MESSAGES[400])
    if request.htmx:
        body = render_template("_flashes.html", oob=True, messages=[("error", message)])
        return body, status, {"HX-Reswap": "none"}
    return render_template("error.html", status=status, message=message), status


def _http_error(exc):
    if exc.code is None or exc.code < 400:
        return exc
    return error_response(exc.code)


def _csrf_error(exc):
    return error_response(400, _l("This form has expired or did not come from this site. Reload the page and try again."))


def _unexpected_error(exc):
    current_app.logger.exception("Unhandled error on %s %s", request.method, request.path)
    return error_response(500)


def render(full_template, fragment_template, **context):
    """Render the full page, or just its fragment when htmx asks (not for history restores)."""
    if request.htmx and not request.htmx.history_restore_request and not request.htmx.boosted:
        return render_template(fragment_template, **context)
    return render_template(full_template, **context)


def render_form(full_template, fragment_template, form, **context):
    """Render a form page or fragment; 422 when the submitted form has errors."""
    return render(full_template, fragment_template, form=form, **context), 422 if form.errors else 200


def redirect_to(url):
    """Navigate to url: an HX-Redirect for htmx requests, a 303 otherwise."""
    if request.htmx:
        return "", 200, {"HX-Redirect": url}
    return redirect(url, 303)


def safe_next(target, fallback):
    """target if it is a path on this site, else fallback (no open redirect after login)."""
    # Control characters are refused: URL parsing drops tabs and newlines ("/\t/evil" becomes
    # "//evil"), and a newline in a header is a 500.
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target and target.isprintable():
        return target
    return fallback


def external_url(endpoint, **values):
    """An absolute URL on BASE_URL, for links in mail (never built from the request's Host header)."""
    base = urlsplit(current_app.config["BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme)
    return adapter.build(endpoint, values, force_external=True)


def owner_required(view):
    """Only a logged-in owner of the account may use the view: others log in first, members get 403."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args, **kwargs):
        if not current_user.is_owner:
            abort(403)
        return view(*args, **kwargs)

    return wrapper


def row_or_404(model, row_id):
    """The operator's own row of model with this id (not an account's: those go through owned_or_404), else 404."""
    row = model.get_or_none(model.id == row_id) if 0 < row_id < 2**63 else None
    if row is None:
        abort(404)
    return row


def owned_or_404(model, object_id):
    """The row of model with this id if it belongs to the current user's account; else 404."""
    row = model.owned_by(current_user.account_id, object_id)
    if row is None:
        abort(404)
    return row

