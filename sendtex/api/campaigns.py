"""Campaigns: create, read, change, delete; test sends, scheduling, sending, pause, resume, cancel and status.

Changes are validated by the campaign editor's form and template check, so the API refuses what the editor
refuses, with the same messages; the life cycle is sendtex.sending, as for the buttons on the pages.
"""
from flask import g
from flask_babel import gettext as _

from sendtex import audit, sending, validation
from sendtex.api.auth import account_id, owned
from sendtex.api.errors import ApiError, invalid
from sendtex.api.forms import filled, form_errors
from sendtex.api.pagination import id_page
from sendtex.api.spec import CURSOR_PARAMS, ID, TIMESTAMP, component, nullable, obj, operation, page_of, stamp
from sendtex.campaigns.campaigns import EDITED, _changes, _check_templates, _store, editable
from sendtex.campaigns.forms import STATUS_LABELS, CampaignForm, ScheduleForm, TestSendForm
from sendtex.campaigns.launch import TEST_SEND_BUCKET, TEST_SENDS_PER_HOUR, _send_test
from sendtex.db import db
from sendtex.models.base import utcnow
from sendtex.models.campaigns import CAMPAIGN_STATUSES, Campaign
from sendtex.models.ratelimit import RateHit, minutes

TEXTS = ("name", "subject", "preheader", "from_name", "from_email", "reply_to", "html", "text")
FLAGS = ("text_by_hand", "track_opens", "track_clicks")
# Form field names that the API calls otherwise.
API_NAMES = {"from_local": "from_email", "from_domain": "from_email", "segment": "segment_id", "layout": "layout_id"}
COUNTS = ("total", "sent", "failed", "skipped")
CAMPAIGN = component("Campaign", obj(
    ["id", *TEXTS, *FLAGS, "list_ids", "segment_id", "layout_id", "status", "status_reason", "scheduled_at",
     "timezone", "started_at", "finished_at", "counts", "created_at", "updated_at"],
    id=ID, **{name: {"type": "string"} for name in TEXTS}, **{flag: {"type": "boolean"} for flag in FLAGS},
    list_ids={"type": "array", "items": ID}, segment_id=nullable(dict(ID)), layout_id=nullable(dict(ID)),
    status={"type": "string", "enum": list(CAMPAIGN_STATUSES)}, status_reason={"type": "string"},
    scheduled_at=nullable(TIMESTAMP), timezone={"type": "string"}, started_at=nullable(TIMESTAMP),
    finished_at=nullable(TIMESTAMP), created_at=TIMESTAMP, updated_at=TIMESTAMP,
    counts=obj(COUNTS, **{name: {"type": "integer", "minimum": 0} for name in COUNTS}),
))
CAMPAIGN_INPUT = component("CampaignInput", dict(obj(
    **{name: {"type": "string"} for name in TEXTS}, **{flag: {"type": "boolean"} for flag in FLAGS},
    list_ids={"type": "array", "items": ID, "maxItems": 100, "uniqueItems": True},
    segment_id=nullable(dict(ID)), layout_id=nullable(dict(ID)),
), description="`name` is required when creating. `from_email` must be on a verified sending domain; `text` is "
               "derived from `html` unless `text_by_hand`."))
PROGRESS = component("CampaignStatus", obj(
    ["status", "status_reason", "total", "sent", "failed", "skipped", "remaining", "percent", "rate", "eta_seconds"],
    status={"type": "string", "enum": list(CAMPAIGN_STATUSES)}, status_reason={"type": "string"},
    **{name: {"type": "integer", "minimum": 0} for name in (*COUNTS, "remaining")},
    percent={"type": "integer", "minimum": 0, "maximum": 100},
    rate={"type": "number", "minimum": 0, "description": "Messages a second over the last minute."},
    eta_seconds={"type": ["integer", "null"]},
))


def campaign_json(campaign):
    """A campaign as the API shows it."""
    data = {name: getattr(campaign, name) for name in TEXTS + FLAGS}
    data.update(id=campaign.id, list_ids=list(campaign.list_ids or []), segment_id=campaign.segment_id,
                layout_id=campaign.layout_id, status=campaign.status, status_reason=campaign.status_reason,
                scheduled_at=stamp(campaign.scheduled_at), timezone=campaign.timezone,
                started_at=stamp(campaign.started_at), finished_at=stamp(campaign.finished_at),
                counts={name: getattr(campaign, name) for name in COUNTS},
                created_at=stamp(campaign.created_at), updated_at=stamp(campaign.updated_at))
    return data


def _editor(campaign, body):
    """The editor's form holding the campaign's values changed by body, validated with its template check."""
    values = {name: getattr(campaign, name) for name in EDITED}
    values.update(text=campaign.text, from_email=campaign.from_email, segment=campaign.segment_id,
                  layout=campaign.layout_id)
    values.update({{"segment_id": "segment", "layout_id": "layout"}.get(name, name): value
                   for name, value in body.items()})
    if body.get("from_email") and "@" not in body["from_email"]:
        try:
            validation.normalise_email(body["from_email"])
        except validation.Invalid as exc:
            raise invalid([("from_email", str(exc))]) from None
    local, _at, domain = (values.pop("from_email") or "").rpartition("@")
    values.update(from_local=local or "", from_domain=domain if local else "")
    form = filled(CampaignForm, values).for_account(account_id(), domain if local else "")
    if not form.validate() or not _check_templates(form, account_id()):
        raise invalid(form_errors(form, API_NAMES))
    return form


def _not_editable(campaign):
    status = STATUS_LABELS[campaign.status].lower()
    return ApiError(409, _("“%(name)s” is %(status)s and can no longer be changed. Duplicate it to send a changed "
                           "copy.", name=campaign.name, status=status), code="not_editable")


def _audit(action, campaign):
    key = g.api_key
    audit.record(action, key.account_id, target=f"{campaign.name} (key {key.label})"[:200], actor=key.created_by)


@operation("GET", "/campaigns", scope="read", tag="Campaigns", query=CURSOR_PARAMS, responses={200: page_of(CAMPAIGN)})
def list_campaigns(query):
    """The account's campaigns, oldest first."""
    return id_page(Campaign.for_account(account_id()), Campaign, query, "campaigns", campaign_json)


@operation("POST", "/campaigns", scope="write", tag="Campaigns", body=CAMPAIGN_INPUT, responses={201: CAMPAIGN})
def create_campaign(body):
    """Create a draft campaign; everything but `name` may follow later."""
    draft = Campaign(account=account_id(), name="")
    form = _editor(draft, body)
    campaign = Campaign.create(account=account_id(), **_changes(form))
    return campaign_json(campaign), 201


@operation("GET", "/campaigns/{campaign_id}", scope="read", tag="Campaigns", responses={200: CAMPAIGN})
def get_campaign(campaign_id):
    """One campaign with its content, audience and counts."""
    return campaign_json(owned(Campaign, campaign_id))


@operation("PATCH", "/campaigns/{campaign_id}", scope="write", tag="Campaigns", body=CAMPAIGN_INPUT,
           responses={200: CAMPAIGN}, errors=(409,))
def update_campaign(campaign_id, body):
    """Change a draft or scheduled campaign; what is left out stays (409 once it is sending or sent)."""
    campaign = owned(Campaign, campaign_id)
    if not editable(campaign):
        raise _not_editable(campaign)
    if not _store(campaign, _changes(_editor(campaign, body))):
        raise _not_editable(Campaign.get_by_id(campaign.id))
    return campaign_json(Campaign.get_by_id(campaign.id))


@operation("DELETE", "/campaigns/{campaign_id}", scope="write", tag="Campaigns", responses={204: None}, errors=(409,))
def delete_campaign(campaign_id):
    """Delete a draft or scheduled campaign (one that sent keeps its ledger and statistics)."""
    campaign = owned(Campaign, campaign_id)
    with db.atomic():
        deleted = Campaign.delete().where((Campaign.id == campaign.id) & Campaign.status.in_(sending.EDITABLE)).execute()
    if not deleted:
        raise _not_editable(Campaign.get_by_id(campaign.id))
    return None, 204


@operation("GET", "/campaigns/{campaign_id}/status", scope="read", tag="Campaigns", responses={200: PROGRESS})
def campaign_status(campaign_id):
    """The status and progress of a campaign: counts, current rate and estimated seconds left."""
    campaign = owned(Campaign, campaign_id)
    progress = sending.progress(campaign)
    return {"status": campaign.status, "status_reason": campaign.status_reason,
            **{name: progress[name] for name in (*COUNTS, "remaining", "percent", "rate", "eta_seconds")}}


@operation("POST", "/campaigns/{campaign_id}/test", scope="send", tag="Sending", errors=(422,),
           body=component("TestSendInput", obj(
               ["addresses"], addresses={"type": "array", "items": {"type": "string"}, "minItems": 1},
               contact_email={"type": "string", "description": "Fill the merge tags with this contact's values."})),
           responses={200: obj(["sent_to"], sent_to={"type": "array", "items": {"type": "string"}})})
def test_send(campaign_id, body):
    """Send the saved campaign to at most five addresses, as it is or as a contact would receive it."""
    campaign = owned(Campaign, campaign_id)
    form = filled(TestSendForm, {"addresses": "\n".join(body["addresses"]),
                                 "contact_email": body.get("contact_email", "")}, campaign.account_id)
    if not form.validate():
        raise invalid(form_errors(form))
    problems, sent_to, status = _send_test(campaign, form)
    if status == 429:
        wait = RateHit.minutes_blocked(TEST_SEND_BUCKET, str(campaign.account_id), TEST_SENDS_PER_HOUR, minutes(60))
        raise ApiError(429, problems[0], headers={"Retry-After": str(max(wait, 1) * 60)})
    if problems:
        raise ApiError(422, details=[("campaign", problem) for problem in problems])
    return {"sent_to": sent_to}


@operation("POST", "/campaigns/{campaign_id}/schedule", scope="send", tag="Sending", errors=(409, 422),
           body=component("ScheduleInput", obj(
               ["date", "time"], date={"type": "string", "description": "YYYY-MM-DD"},
               time={"type": "string", "description": "HH:MM"},
               timezone={"type": "string", "default": "UTC", "description": "An IANA time zone name."})),
           responses={200: CAMPAIGN})
def schedule_campaign(campaign_id, body):
    """Send the campaign at a moment in the future, if it could start now (422 with the reasons if not)."""
    campaign = owned(Campaign, campaign_id)
    if not editable(campaign):
        raise _not_editable(campaign)
    form = filled(ScheduleForm, {"timezone": "UTC", **body})
    if not form.validate():
        raise invalid(form_errors(form))
    try:
        sending.schedule(campaign, form.when_utc)
    except sending.CannotStart as exc:
        raise ApiError(422, details=[("campaign", reason) for reason in exc.reasons]) from None
    Campaign.update(timezone=form.timezone.data, updated_at=utcnow()).where(Campaign.id == campaign.id).execute()
    _audit("api-campaign-scheduled", campaign)
    return campaign_json(Campaign.get_by_id(campaign.id))


@operation("POST", "/campaigns/{campaign_id}/unschedule", scope="send", tag="Sending", errors=(409,),
           responses={200: CAMPAIGN})
def unschedule_campaign(campaign_id):
    """Take a scheduled campaign back to draft."""
    campaign = owned(Campaign, campaign_id)
    if campaign.status != "scheduled":
        raise ApiError(409, _("Only a scheduled campaign can be unscheduled."))
    sending.unschedule(campaign)
    return campaign_json(Campaign.get_by_id(campaign.id))


@operation("POST", "/campaigns/{campaign_id}/send", scope="send", tag="Sending", errors=(409, 422),
           responses={202: CAMPAIGN})
def send_campaign(campaign_id):
    """Start sending now; 422 with every reason it cannot start (no verified domain, quota, …)."""
    campaign = owned(Campaign, campaign_id)
    if not editable(campaign):
        raise _not_editable(campaign)
    try:
        sending.start(campaign)
    except sending.CannotStart as exc:
        raise ApiError(422, details=[("campaign", reason) for reason in exc.reasons]) from None
    _audit("api-campaign-sent", campaign)
    return campaign_json(Campaign.get_by_id(campaign.id)), 202


@operation("POST", "/campaigns/{campaign_id}/pause", scope="send", tag="Sending", errors=(409,),
           responses={200: CAMPAIGN})
def pause_campaign(campaign_id):
    """Stop sending after the messages in flight; resume continues where it stopped."""
    campaign = owned(Campaign, campaign_id)
    if not sending.pause(campaign, _("Paused through the API (key %(key)s).", key=g.api_key.label)):
        raise ApiError(409, _("Only a campaign that is sending can be paused."))
    return campaign_json(Campaign.get_by_id(campaign.id))


@operation("POST", "/campaigns/{campaign_id}/resume", scope="send", tag="Sending", errors=(409, 422),
           responses={202: CAMPAIGN})
def resume_campaign(campaign_id):
    """Continue a paused campaign where it stopped."""
    campaign = owned(Campaign, campaign_id)
    if campaign.status != "paused":
        raise ApiError(409, _("Only a paused campaign can be resumed."))
    try:
        sending.resume(campaign)
    except sending.CannotStart as exc:
        raise ApiError(422, details=[("campaign", reason) for reason in exc.reasons]) from None
    return campaign_json(Campaign.get_by_id(campaign.id)), 202


@operation("POST", "/campaigns/{campaign_id}/cancel", scope="send", tag="Sending", errors=(409,),
           responses={200: CAMPAIGN})
def cancel_campaign(campaign_id):
    """Stop for good: messages not sent yet are skipped."""
    campaign = owned(Campaign, campaign_id)
    if not sending.cancel(campaign):
        raise ApiError(409, _("Only a scheduled, sending or paused campaign can be cancelled."))
    _audit("api-campaign-cancelled", campaign)
    return campaign_json(Campaign.get_by_id(campaign.id))

