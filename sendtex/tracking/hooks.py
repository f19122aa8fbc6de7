"""Webhooks for relays: POST /hooks/bounces takes signed bounce and complaint events (sendtex.bounces.webhook).
Also the campaign page's bounce summary, which templates ask for by campaign."""
from flask import Blueprint, current_app, jsonify, request
from flask_babel import gettext as _

from sendtex.bounces import rules, webhook
from sendtex.web import csrf

bp = Blueprint("hooks", __name__)


def _error(status, message):
    return jsonify(error=message), status


@bp.post("/hooks/bounces")
@csrf.exempt  # called by a relay, not a browser: it has no session, the HMAC signature authenticates it
def bounces():
    """Record the bounces and complaints a relay posts; answers the counts, or a JSON error and records nothing."""
    secret = current_app.config["BOUNCE_WEBHOOK_SECRET"]
    if not secret:
        return _error(404, _("This webhook is not enabled."))
    body = request.get_data(cache=False)
    if not webhook.is_signed(secret, request.headers.get(webhook.TIMESTAMP_HEADER, ""),
                             request.headers.get(webhook.SIGNATURE_HEADER, ""), body):
        return _error(403, _("The signature is missing, wrong or too old."))
    try:
        events = webhook.read_events(body)
    except webhook.BadRequest as exc:
        return _error(400, str(exc))
    return jsonify(webhook.record_events(events))


@bp.app_template_global()
def bounce_summary(campaign):
    """Counts of a campaign's bounces and complaints by kind, and the latest ones."""
    return rules.campaign_summary(campaign)
