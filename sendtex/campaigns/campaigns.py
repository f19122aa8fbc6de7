"""Campaigns: the index, the editor with its live preview and recipient count, the message a contact
would receive, duplicating and deleting; the page of a campaign that is sending or done.

The preview route answers the campaign's own HTML as the response body (never through a template),
with a Content-Security-Policy that sandboxes it: no scripts, no forms, no same-origin access.
"""
import datetime
import zoneinfo

from flask import flash, make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from sendtex import audience, sending
from sendtex.campaigns import bp
from sendtex.campaigns.forms import STATUS_LABELS, CampaignForm, ContactPickForm, NewCampaignForm, TestSendForm
from sendtex.mail import render as templates
from sendtex.mail.text import html_to_text
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign
from sendtex.models.contacts import Contact, MailingList
from sendtex.web import error_response, owned_or_404, redirect_to, render

PREVIEW_POLICY = "sandbox; default-src 'none'; img-src * data:; style-src 'unsafe-inline'; frame-ancestors 'self'"
EDITED = ("name", "subject", "preheader", "from_name", "reply_to", "list_ids", "html", "text_by_hand",
          "track_opens", "track_clicks")
TEMPLATED = ("subject", "preheader", "html", "text")  # fields that may hold merge tags
PART_LABELS = {"subject": _l("Subject"), "preheader": _l("Preheader"), "html": _l("Content"),
               "text": _l("Plain-text part"), "layout": _l("Layout")}
COPIED = EDITED + ("from_email", "segment_id", "layout_id", "text", "timezone")


@bp.context_processor
def _campaign_helpers():
    return dict(status_labels=STATUS_LABELS, preview_url=preview_url, local_time=local_time, duration=duration)


def local_time(campaign):
    """The scheduled moment in the campaign's own time zone, as "YYYY-MM-DD HH:MM"."""
    moment = campaign.scheduled_at.replace(tzinfo=datetime.UTC).astimezone(zoneinfo.ZoneInfo(campaign.timezone))
    return moment.strftime("%Y-%m-%d %H:%M")


def duration(seconds):
    """A time left in words: "2 h 5 min", "4 min", "30 s"."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return _("%(h)d h %(m)d min", h=hours, m=minutes)
    return _("%(m)d min", m=minutes) if minutes else _("%(s)d s", s=seconds)


def editable(campaign):
    """True while the campaign may still be changed (draft or scheduled)."""
    return campaign.status in sending.EDITABLE


def preview_url(campaign, contact=None):
    """The sandboxed preview's URL; the query changes with every save so the iframe reloads."""
    version = campaign.updated_at.strftime("%Y%m%d%H%M%S%f")
    if contact is None:
        return url_for("campaigns.preview", campaign_id=campaign.id, v=version)
    return url_for("campaigns.preview", campaign_id=campaign.id, contact=contact.id, v=version)


def template_problems(source, fields, part="html"):
    """Template errors of one part ("html", "subject", "preheader", "text", "layout") as "Line 3: …"."""
    return [_("Line %(line)d: %(message)s", line=problem.line, message=problem.message)
            for problem in templates.check(source or "", fields, part)]


def described(problems):
    """Template problems of a whole campaign as "Subject, line 1: …"."""
    return [_("%(part)s, line %(line)d: %(message)s", part=PART_LABELS.get(problem.part, problem.part),
              line=problem.line, message=problem.message) for problem in problems]


def rendered(campaign, contact=None):
    """The campaign as the contact receives it (untracked), or with no contact values for the preview.

    Returns (message, problems): the render's RenderedMessage or None, and readable template problems.
    """
    fields = audience.FieldSet(campaign.account_id)
    values = audience.read_values(contact, fields)[0] if contact is not None else {}
    try:
        compiled = templates.compile_campaign(campaign, fields, for_sending=False)
        return compiled.render(values, None, contact.uid if contact is not None else None), []
    except templates.TemplateProblems as exc:
        return None, described(exc.problems)
    except templates.RenderError as exc:
        return None, [str(exc)]


def recipient_count(campaign):
    """How many contacts the campaign would go to now (None when no audience is chosen)."""
    if not campaign.list_ids and not campaign.segment_id:
        return None
    return sending.audience(campaign).count()


def _editor_form(campaign, formdata=None):
    local, _at, domain = campaign.from_email.rpartition("@")
    # Values as keywords, not obj=: obj would hand the selects Segment and Layout rows instead of ids.
    values = {name: getattr(campaign, name) for name in EDITED}
    values.update(text=campaign.text, from_local=local, from_domain=domain, segment=campaign.segment_id,
                  layout=campaign.layout_id)
    return CampaignForm(formdata=formdata, **values).for_account(campaign.account_id, domain)


def _changes(form):
    """The columns the editor's form sets."""
    changes = {name: getattr(form, name).data for name in EDITED}
    changes.update(reply_to=form.reply_to.data or "", from_email=form.from_email.lower(), segment=form.segment.data,
                   layout=form.layout.data, updated_at=utcnow(),
                   text=form.text.data if form.text_by_hand.data else html_to_text(form.html.data or ""))
    return changes


def _store(campaign, changes):
    """Write the changes unless the campaign left draft/scheduled meanwhile (a scheduled one may just have started)."""
    return Campaign.update(**changes).where(
        (Campaign.id == campaign.id) & Campaign.status.in_(sending.EDITABLE)).execute() == 1


def _check_templates(form, account_id):
    """Template errors of the subject, preheader, content (and hand-written text) as field errors; True if none."""
    checked, fields = TEMPLATED if form.text_by_hand.data else TEMPLATED[:-1], audience.FieldSet(account_id)
    for name in checked:
        field = getattr(form, name)
        field.errors = list(field.errors) + template_problems(field.data, fields, name)
    return not any(getattr(form, name).errors for name in checked)


def _editor(campaign, form, status=200):
    fields = audience.FieldSet(campaign.account_id).fields
    return render("campaigns/campaign.html", "campaigns/_editor.html", campaign=campaign, form=form,
                  recipients=recipient_count(campaign),
                  merge_fields=[(field.key, audience.field_label(field)) for field in fields],
                  test_form=TestSendForm(campaign.account_id, formdata=None),
                  pick_form=ContactPickForm(campaign.account_id, formdata=None)), status


def status_page(campaign, status=200, fragment="campaigns/_status.html", **context):
    """The page of a campaign that is sending or done (htmx: its status panel)."""
    return render("campaigns/report.html", fragment, campaign=campaign, progress=sending.progress(campaign),
                  layout=campaign.layout, lists=_list_names(campaign),
                  pick_form=ContactPickForm(campaign.account_id, formdata=None), **context), status


def _list_names(campaign):
    return [lst.name for lst in MailingList.for_account(campaign.account_id).where(
        MailingList.id.in_(campaign.list_ids or [])).order_by(MailingList.name)]


def refuse_change(campaign):
    """The answer to a change of a campaign that is no longer editable."""
    return error_response(409, _("“%(name)s” is %(status)s and can no longer be changed. Duplicate it to send a "
                                 "changed copy.", name=campaign.name, status=STATUS_LABELS[campaign.status].lower()))


@bp.route("/campaigns")
def campaigns():
    """The account's campaigns, newest first, with status and counts, and a form to start one."""
    return _index(NewCampaignForm(formdata=None))


def _index(form, status=200):
    rows = Campaign.for_account(current_user.account_id).order_by(Campaign.updated_at.desc(), Campaign.id.desc())
    return render("campaigns/campaigns.html", "campaigns/_campaigns.html", campaigns=list(rows), form=form), status


@bp.route("/campaigns", methods=["POST"])
def create_campaign():
    """Create a draft campaign and open its editor."""
    form = NewCampaignForm()
    if not form.validate_on_submit():
        return _index(form, 422)
    campaign = Campaign.create(account=current_user.account_id, name=form.name.data)
    flash(_("The campaign “%(name)s” is created. Write it below.", name=campaign.name), "success")
    return redirect_to(url_for("campaigns.campaign", campaign_id=campaign.id))


@bp.route("/campaigns/<int:campaign_id>")
def campaign(campaign_id):
    """The editor of a draft or scheduled campaign; the status page of any other."""
    campaign = owned_or_404(Campaign, campaign_id)
    if not editable(campaign):
        return status_page(campaign)
    return _editor(campaign, _editor_form(campaign))


@bp.route("/campaigns/<int:campaign_id>", methods=["POST"])
def save_campaign(campaign_id):
    """Save the editor; its errors (template errors with line numbers) inline at 422."""
    campaign = owned_or_404(Campaign, campaign_id)
    if not editable(campaign):
        return refuse_change(campaign)
    form = _editor_form(campaign, request.form)
    if form.validate_on_submit() and _check_templates(form, campaign.account_id):
        if not _store(campaign, _changes(form)):
            return refuse_change(Campaign.get_by_id(campaign.id))
        campaign = Campaign.get_by_id(campaign.id)
        flash(_("The campaign “%(name)s” is saved.", name=campaign.name), "success")
        if not request.htmx:
            return redirect_to(url_for("campaigns.campaign", campaign_id=campaign.id))
        form = _editor_form(campaign)
    return _editor(campaign, form, 422 if form.errors else 200)


@bp.route("/campaigns/<int:campaign_id>/draft", methods=["POST"])
def save_draft(campaign_id):
    """Save the content as the marketer types and answer a fresh preview (or the template's errors)."""
    campaign = owned_or_404(Campaign, campaign_id)
    if not editable(campaign):
        return refuse_change(campaign)
    form = _editor_form(campaign, request.form)
    form.validate()
    problems = form.layout.errors + form.csrf_token.errors + template_problems(
        form.html.data, audience.FieldSet(campaign.account_id))
    if not problems:
        changes = {"html": form.html.data or "", "layout": form.layout.data, "updated_at": utcnow()}
        if not campaign.text_by_hand:
            changes["text"] = html_to_text(changes["html"])
        if not _store(campaign, changes):
            return refuse_change(Campaign.get_by_id(campaign.id))
        campaign = Campaign.get_by_id(campaign.id)
    return render("campaigns/_preview.html", "campaigns/_preview.html", campaign=campaign,
                  problems=problems), 422 if problems else 200


@bp.route("/campaigns/<int:campaign_id>/preview")
def preview(campaign_id):
    """The rendered campaign as its own sandboxed document, for the editor's iframe."""
    campaign = owned_or_404(Campaign, campaign_id)
    contact = owned_or_404(Contact, request.args.get("contact", 0, type=int)) if "contact" in request.args else None
    message, problems = rendered(campaign, contact)
    response = make_response(message.html if message else render_template("campaigns/preview_problems.html",
                                                                            problems=problems))
    response.headers.update({"Content-Security-Policy": PREVIEW_POLICY, "X-Frame-Options": "SAMEORIGIN",
                             "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"})
    return response


@bp.route("/campaigns/recipients", methods=["POST"])
def recipients():
    """The live recipient count of the editor's lists and segment, as a small fragment."""
    form = CampaignForm().for_account(current_user.account_id)
    form.validate()
    problems = form.list_ids.errors + form.segment.errors
    draft = Campaign(account=current_user.account_id, list_ids=[] if problems else form.list_ids.data or [],
                     segment=None if problems else form.segment.data)
    count = None if problems else recipient_count(draft)
    return render("campaigns/_recipients.html", "campaigns/_recipients.html", recipients=count,
                  problems=problems), 422 if problems else 200


@bp.route("/campaigns/<int:campaign_id>/message", methods=["GET", "POST"])
def message(campaign_id):
    """The exact message the contact with a given e-mail address would receive."""
    campaign = owned_or_404(Campaign, campaign_id)
    form = ContactPickForm(campaign.account_id, formdata=request.form if request.method == "POST" else None)
    found = _as_received(campaign, form.contact) if request.method == "POST" and form.validate() else None
    return render("campaigns/message.html", "campaigns/_message.html", campaign=campaign, form=form,
                  contact=form.contact, found=found), 422 if form.errors else 200


def _as_received(campaign, contact):
    message, problems = rendered(campaign, contact)
    receives = contact.status == "active" and sending.audience(campaign).where(Contact.id == contact.id).exists()
    return {"message": message, "problems": problems, "receives": receives}


@bp.route("/campaigns/<int:campaign_id>/duplicate", methods=["POST"])
def duplicate_campaign(campaign_id):
    """A new draft with everything of the campaign but its sending; opens its editor."""
    original = owned_or_404(Campaign, campaign_id)
    copy = Campaign(account=original.account_id, **{name: getattr(original, name) for name in COPIED})
    copy.name = _("Copy of %(name)s", name=original.name)[:200]
    copy.save()
    flash(_("This is a copy of “%(name)s”. Change it and send it when ready.", name=original.name), "success")
    return redirect_to(url_for("campaigns.campaign", campaign_id=copy.id))


@bp.route("/campaigns/<int:campaign_id>/delete", methods=["POST"])
def delete_campaign(campaign_id):
    """Delete a draft or scheduled campaign (one that sent keeps its ledger and statistics)."""
    campaign = owned_or_404(Campaign, campaign_id)
    if not editable(campaign):
        return refuse_change(campaign)
    # Only while still editable: a scheduled campaign may have started since the page was shown.
    if not Campaign.delete().where((Campaign.id == campaign.id) & Campaign.status.in_(sending.EDITABLE)).execute():
        return refuse_change(Campaign.get_by_id(campaign.id))
    flash(_("The campaign “%(name)s” is deleted.", name=campaign.name), "success")
    return redirect_to(url_for("campaigns.campaigns"))
