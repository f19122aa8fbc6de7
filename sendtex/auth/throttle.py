"""Login throttling: too many failures for one address or one network blocks further attempts."""
import datetime
import math

from flask import current_app

from sendtex.anon import anonymise_ip
from sendtex.crypto import keyed_digest
from sendtex.models.accounts import LoginAttempt
from sendtex.models.base import utcnow


def _keys(email, ip):
    # A keyed digest: typed addresses are never stored, and the digest cannot be reversed by guessing.
    return keyed_digest(current_app.config["BLIND_INDEX_KEY"], "login:" + email.strip().lower()), anonymise_ip(ip)


def minutes_to_wait(email, ip):
    """0 if a login attempt may proceed, else the whole minutes until it may."""
    cfg = current_app.config
    window = datetime.timedelta(minutes=cfg["LOGIN_WINDOW_MINUTES"])
    digest, network = _keys(email, ip)
    attempts = LoginAttempt.recent(digest, network, window)
    by_email = [a.at for a in attempts if a.email_digest == digest]
    by_network = [a.at for a in attempts if a.ip_anon == network]
    blocked_since = [
        sorted(times)[-cfg["LOGIN_MAX_FAILURES"]] for times in (by_email, by_network) if len(times) >= cfg["LOGIN_MAX_FAILURES"]
    ]
    if not blocked_since:
        return 0
    free_at = max(blocked_since) + window
    return max(1, math.ceil((free_at - utcnow()).total_seconds() / 60))


def record_failure(email, ip):
    """Remember a failed attempt."""
    digest, network = _keys(email, ip)
    LoginAttempt.create(email_digest=digest, ip_anon=network)


def record_success(email):
    """Forget the failures of the address that just logged in."""
    LoginAttempt.clear_for(_keys(email, "")[0])
