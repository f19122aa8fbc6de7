"""Throttling of password guessing and of reset mails, per address and per network."""
from flask import current_app

from sendtex.anon import anonymise_ip
from sendtex.crypto import keyed_digest
from sendtex.models.ratelimit import RateHit, minutes

# Reset mails: at most this many per address, and per network, within an hour.
RESETS_PER_ADDRESS, RESETS_PER_NETWORK = 3, 20


def _address_key(email):
    # A keyed digest: typed addresses are never stored, and the digest cannot be reversed by guessing.
    return keyed_digest(current_app.config["BLIND_INDEX_KEY"], "login:" + email.strip().lower())


def login_minutes_to_wait(email, ip):
    """0 if a login attempt may proceed, else the whole minutes until it may."""
    cfg = current_app.config
    limit, window = cfg["LOGIN_MAX_FAILURES"], minutes(cfg["LOGIN_WINDOW_MINUTES"])
    return max(
        RateHit.minutes_blocked("login-address", _address_key(email), limit, window),
        RateHit.minutes_blocked("login-network", anonymise_ip(ip), limit, window),
    )


def record_login_failure(email, ip):
    """Count a failed login for the address and for the network."""
    RateHit.hit("login-address", _address_key(email))
    RateHit.hit("login-network", anonymise_ip(ip))


def record_login_success(email):
    """Forget the failures of the address that just logged in."""
    RateHit.clear("login-address", _address_key(email))


def may_send_reset(email, ip):
    """Count a reset request; False when the address or the network asked too often this hour."""
    address, network = _address_key(email), anonymise_ip(ip)
    if RateHit.minutes_blocked("reset-address", address, RESETS_PER_ADDRESS, minutes(60)) or \
            RateHit.minutes_blocked("reset-network", network, RESETS_PER_NETWORK, minutes(60)):
        return False
    RateHit.hit("reset-address", address)
    RateHit.hit("reset-network", network)
    return True
