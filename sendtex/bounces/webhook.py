"""Bounces and complaints that a relay posts as JSON, signed with the shared secret.

The relay sends the headers X-Sendtex-Timestamp (Unix seconds) and X-Sendtex-Signature, the hex HMAC-SHA256
under BOUNCE_WEBHOOK_SECRET of "<timestamp>.<raw body>". The timestamp is signed too, so an old request
cannot be replayed with a fresh one; requests older (or newer) than MAX_AGE_SECONDS are refused.
The body: {"events": [{"type": "bounce" | "complaint", "recipient": "...", "status": "5.1.1",
"diagnostic": "...", "sendtex_id": "c12.d345" (the X-Sendtex-ID header) or "message_id": "<...>"}]}.
"""
import hashlib
import hmac
import json
import re
import time

from flask_babel import gettext as _

from sendtex.bounces.parse import Notice, Origin, enhanced_status, severity, short, tracking_id
from sendtex.bounces.rules import record

SIGNATURE_HEADER, TIMESTAMP_HEADER = "X-Sendtex-Signature", "X-Sendtex-Timestamp"
MAX_AGE_SECONDS = 300
MAX_EVENTS = 1000
TYPES = ("bounce", "complaint")
TEXT_FIELDS = ("recipient", "status", "diagnostic", "sendtex_id", "message_id")


class BadRequest(ValueError):
    """The body is not what the webhook takes; the message says what is wrong."""


def signature(secret, timestamp, body):
    """The hex signature of a request body sent at timestamp."""
    return hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def is_signed(secret, timestamp, given, body, now=None):
    """True if the signature is right and the timestamp within MAX_AGE_SECONDS of now."""
    if not re.fullmatch(r"\d{1,12}", timestamp or "") or not given:
        return False
    if abs((now or time.time()) - int(timestamp)) > MAX_AGE_SECONDS:
        return False
    given = given.removeprefix("sha256=").strip().lower()
    return hmac.compare_digest(signature(secret, timestamp, body).encode(), given.encode())


def read_events(body):
    """The events of a request body, checked; BadRequest saying what is wrong (nothing is recorded then)."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(_("The body is not valid JSON.")) from exc
    events = document.get("events") if isinstance(document, dict) else None
    if not isinstance(events, list):
        raise BadRequest(_('The body must be an object with a list "events".'))
    if len(events) > MAX_EVENTS:
        raise BadRequest(_("At most %(n)d events per request.", n=MAX_EVENTS))
    for index, event in enumerate(events):
        _check(index, event)
    return events


def _check(index, event):
    if not isinstance(event, dict):
        raise BadRequest(_("Event %(i)d is not an object.", i=index))
    if event.get("type") not in TYPES:
        raise BadRequest(_('Event %(i)d: "type" must be "bounce" or "complaint".', i=index))
    for name in TEXT_FIELDS:
        value = event.get(name, "")
        if not isinstance(value, str) or len(value) > 1000:
            raise BadRequest(_('Event %(i)d: "%(field)s" must be a text of at most 1000 characters.',
                               i=index, field=name))


def record_events(events):
    """Record checked events; the number recorded, already known (duplicates) and matching no delivery."""
    counts = {"recorded": 0, "duplicates": 0, "unmatched": 0}
    names = {"recorded": "recorded", "duplicate": "duplicates", "unmatched": "unmatched"}
    for event in events:
        counts[names[record(_notice(event), _origin(event), "webhook")]] += 1
    return counts


def _notice(event):
    recipient = event.get("recipient", "").strip().lower()
    if event["type"] == "complaint":
        return Notice("complaint", recipient, "", short(event.get("diagnostic", "")))
    diagnostic = event.get("diagnostic", "")
    status = enhanced_status(event.get("status", "")) or enhanced_status(diagnostic)
    return Notice(severity(status, diagnostic), recipient, status, short(diagnostic))


def _origin(event):
    campaign_id, delivery_id = tracking_id(event.get("sendtex_id", ""))
    if delivery_id is None:
        campaign_id, delivery_id = tracking_id(event.get("message_id", ""))
    return Origin(campaign_id=campaign_id, delivery_id=delivery_id)
