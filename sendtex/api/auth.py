"""Who is calling: the API key from the Authorization header, its scopes, its rate limit, its account's rows."""
import datetime
import math

from flask import current_app, g, request
from flask_babel import lazy_gettext as _l

from sendtex.api import bp
from sendtex.api.errors import ApiError, from_exception
from sendtex.api.spec import PUBLIC_ENDPOINTS
from sendtex.models.api import ApiKey
from sendtex.models.base import utcnow
from sendtex.models.ratelimit import RateHit

RATE_BUCKET = "api"


@bp.before_request
def _authenticate():
    """Every API request but the public document needs a usable key within its rate limit."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    try:
        g.api_key = key_of_request()
        g.rate = count_request(g.api_key)
    except ApiError as exc:
        return from_exception(exc)
    g.api_key.touch()
    return None


@bp.after_request
def _rate_headers(response):
    rate = g.get("rate")
    if rate is not None:
        limit, remaining, reset = rate
        response.headers.update({"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(remaining),
                                 "RateLimit-Reset": str(reset)})
    return response


def key_of_request():
    """The usable API key the request authenticates with; a 401 that says why otherwise."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    challenge = {"WWW-Authenticate": 'Bearer realm="sendtex"'}
    key = ApiKey.authenticate(token.strip()) if scheme.lower() == "bearer" else None
    if key is None:
        raise ApiError(401, headers=challenge)
    if key.revoked:
        raise ApiError(401, _l("This API key was revoked."), code="key_revoked", headers=challenge)
    if key.expired:
        raise ApiError(401, _l("This API key has expired."), code="key_expired", headers=challenge)
    return key


def count_request(key):
    """Count the request against the key's limit: (limit, remaining, seconds to reset); a 429 when used up."""
    limit = current_app.config["API_RATE_LIMIT"]
    window = datetime.timedelta(seconds=current_app.config["API_RATE_WINDOW_SECONDS"])
    # Counted in the database, so every web process and thread shares one count per key.
    taken, used, oldest = RateHit.take(RATE_BUCKET, str(key.id), limit, window)
    reset = max(1, math.ceil((oldest + window - utcnow()).total_seconds()))
    if not taken:
        raise ApiError(429, headers={"Retry-After": str(reset), "RateLimit-Limit": str(limit),
                                     "RateLimit-Remaining": "0", "RateLimit-Reset": str(reset)})
    return limit, limit - used, reset


def require_scope(scope):
    """A 403 unless the request's key has the scope."""
    if scope not in g.api_key.scopes:
        raise ApiError(403, _l("This API key lacks the “%(scope)s” scope.", scope=scope), code="missing_scope")


def account_id():
    """The account of the request's key."""
    return g.api_key.account_id


def owned(model, object_id):
    """The row of model with this id if it belongs to the key's account; a 404 otherwise (never another's)."""
    row = model.owned_by(account_id(), object_id)
    if row is None:
        raise ApiError(404)
    return row
