"""Getting a campaign out: test sends, scheduling, sending now, pause, resume, cancel and the live progress."""
import datetime
import zoneinfo

from flask import flash, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from sendtex import audience, sending
from sendtex.campaigns import bp
from sendtex.campaigns.campaigns import described, editable, recipient_count, refuse_change, status_page
from sendtex.campaigns.forms import ScheduleForm, TestSendForm
from sendtex.mail import render as templates
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign
from sendtex.models.ratelimit import RateHit, minutes
from sendtex.tasks.sending import send_test
from sendtex.web import error_response, owned_or_404, redirect_to, render

TEST_SEND_BUCKET, TEST_SENDS_PER_HOUR = "campaign_test", 50


def test_send_problems(campaign):
    """Why a test of the saved campaign cannot be sent (empty when it can)."""
    problems = []
    if not sending.sender_domain(campaign):
        problems.append(_("The from address must be on one of your verified sending domains."))
    if not campaign.subject.strip():
        problems.append(_("Write a subject."))
    if not campaign.html.strip():
        problems.append(_("Write the content of the message."))
    layout = templates.layout_html(campaign)
    return problems + described(templates.check_campaign(campaign, audience.FieldSet(campaign.account_id), layout))


@bp.route("/campaigns/<int:campaign_id>/test", methods=["GET", "POST"])
def test_send(campaign_id):
    """Send the saved campaign to at most five addresses, optionally as a chosen contact would get it."""
    campaign = owned_or_404(Campaign, campaign_id)
    form = TestSendForm(campaign.account_id, formdata=request.form if request.method == "POST" else None)
    problems, sent_to, status = [], None, 200
    if request.method == "POST":
        problems, sent_to, status = _send_test(campaign, form) if form.validate() else ([], None, 422)
    return render("campaigns/test.html", "campaigns/_test_form.html", campaign=campaign, form=form,
                  problems=problems, sent_to=sent_to), status


def _send_test(campaign, form):
    """(problems, addresses the test went to, HTTP status) for a valid test-send form."""
    problems = test_send_problems(campaign)
    if problems:
        return problems, None, 422
    # Tests go to any address and outside the daily quota: without a limit they would be a way to spam.
    wait = RateHit.minutes_blocked(TEST_SEND_BUCKET, str(campaign.account_id), TEST_SENDS_PER_HOUR, minutes(60))
    if wait:
        return [_("You sent many tests in the last hour. Try again in %(n)d minutes.", n=wait)], None, 429
    refused = send_test(campaign.id, form.addresses.data, form.contact.id if form.contact else None)
    for _address in form.addresses.data:
        RateHit.hit(TEST_SEND_BUCKET, str(campaign.account_id))
    problems = [_("%(address)s: %(reason)s", address=address, reason=reason) for address, reason in refused.items()]
    return problems, [address for address in form.addresses.data if address not in refused], 422 if problems else 200


def _schedule_form(campaign, formdata=None):
    if campaign.scheduled_at:
        local = campaign.scheduled_at.replace(tzinfo=datetime.UTC).astimezone(zoneinfo.ZoneInfo(campaign.timezone))
    else:  # tomorrow at nine, in the campaign's time zone
        local = (datetime.datetime.now(zoneinfo.ZoneInfo(campaign.timezone)) + datetime.timedelta(days=1)).replace(
            hour=9, minute=0, second=0, microsecond=0)
    return ScheduleForm(formdata=formdata, date=local.date(), time=local.time(), timezone=campaign.timezone)


@bp.route("/campaigns/<int:campaign_id>/schedule", methods=["GET", "POST"])
def schedule(campaign_id):
    """Choose a date, time and time zone to send at; the campaign must be able to start."""
    campaign = owned_or_404(Campaign, campaign_id)
    if not editable(campaign):
        return refuse_change(campaign)
    form = _schedule_form(campaign, request.form if request.method == "POST" else None)
    reasons = []
    if request.method == "POST" and form.validate():
        try:
            sending.schedule(campaign, form.when_utc)
        except sending.CannotStart as exc:
            reasons = exc.reasons
        else:
            Campaign.update(timezone=form.timezone.data, updated_at=utcnow()).where(
                Campaign.id == campaign.id).execute()
            flash(_("“%(name)s” will be sent on %(date)s at %(time)s (%(zone)s).", name=campaign.name,
                    date=form.date.data.isoformat(), time=form.time.data.strftime("%H:%M"), zone=form.timezone.data),
                  "success")
            return redirect_to(url_for("campaigns.campaign", campaign_id=campaign.id))
    return render("campaigns/schedule.html", "campaigns/_schedule_form.html", campaign=campaign, form=form,
                  reasons=reasons), 422 if form.errors or reasons else 200


@bp.route("/campaigns/<int:campaign_id>/unschedule", methods=["POST"])
def unschedule(campaign_id):
    """Take a scheduled campaign back to draft."""
    campaign = owned_or_404(Campaign, campaign_id)
    if campaign.status != "scheduled":
        return error_response(409, _("Only a scheduled campaign can be unscheduled."))
    sending.unschedule(campaign)
    flash(_("“%(name)s” is no longer scheduled; it is a draft again.", name=campaign.name), "success")
    return redirect_to(url_for("campaigns.campaign", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/send", methods=["GET", "POST"])
def send_now(campaign_id):
    """Confirm with the recipient count (GET), then start sending (POST); why it cannot start otherwise."""
    campaign = owned_or_404(Campaign, campaign_id)
    if not editable(campaign):
        return refuse_change(campaign)
    count = recipient_count(campaign) or 0
    reasons = sending.preflight(campaign, count) if request.method == "GET" else []
    if request.method == "POST":
        try:
            sending.start(campaign)
        except sending.CannotStart as exc:
            reasons = exc.reasons
        else:
            flash(_("“%(name)s” is being sent.", name=campaign.name), "success")
            return redirect_to(url_for("campaigns.campaign", campaign_id=campaign.id))
    return render("campaigns/send.html", "campaigns/_send_confirm.html", campaign=campaign, recipients=count,
                  reasons=reasons), 422 if reasons and request.method == "POST" else 200


def _after_action(campaign, done, message, refusal):
    """The status panel (htmx) or the campaign's page, with what happened."""
    flash(message if done else refusal, "success" if done else "error")
    if request.htmx or not done:
        return status_page(Campaign.get_by_id(campaign.id), 200 if done else 422)
    return redirect_to(url_for("campaigns.campaign", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>/pause", methods=["POST"])
def pause(campaign_id):
    """Stop sending after the messages in flight."""
    campaign = owned_or_404(Campaign, campaign_id)
    done = sending.pause(campaign, _("Paused by %(name)s.", name=current_user.name or current_user.email))
    return _after_action(campaign, done, _("The campaign is paused. Resume it to send the rest."),
                         _("Only a campaign that is sending can be paused."))


@bp.route("/campaigns/<int:campaign_id>/resume", methods=["POST"])
def resume(campaign_id):
    """Continue a paused campaign where it stopped."""
    campaign = owned_or_404(Campaign, campaign_id)
    if campaign.status != "paused":
        return _after_action(campaign, False, "", _("Only a paused campaign can be resumed."))
    try:
        sending.resume(campaign)
    except sending.CannotStart as exc:
        return _after_action(campaign, False, "", " ".join(exc.reasons))
    return _after_action(campaign, True, _("Sending resumes."), "")


@bp.route("/campaigns/<int:campaign_id>/cancel", methods=["POST"])
def cancel(campaign_id):
    """Stop for good; messages not sent yet are skipped."""
    campaign = owned_or_404(Campaign, campaign_id)
    done = sending.cancel(campaign)
    return _after_action(campaign, done, _("The campaign is cancelled. Messages not sent yet will not be sent."),
                         _("Only a scheduled, sending or paused campaign can be cancelled."))


@bp.route("/campaigns/<int:campaign_id>/progress")
def progress(campaign_id):
    """The progress panel, polling itself every second while sending; the actions too once the status changed."""
    campaign = owned_or_404(Campaign, campaign_id)
    return status_page(campaign, fragment="campaigns/_progress_poll.html",
                       changed=request.args.get("seen") != campaign.status)
