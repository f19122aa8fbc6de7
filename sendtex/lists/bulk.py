"""Bulk actions from the contacts table: on the selected contacts at once, or as a tracked job."""
from flask import abort, flash, make_response, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from sendtex import audience
from sendtex.db import db
from sendtex.lists import bp, filters
from sendtex.lists.contacts import filter_params, parse_filter, table_context
from sendtex.lists.forms import BULK_ACTIONS
from sendtex.models.contacts import MailingList
from sendtex.models.jobs import Job
from sendtex.tasks import contacts as bulk_tasks
from sendtex.tasks.jobs import start_job
from sendtex.web import error_response, owned_or_404, redirect_to, render

# A page holds at most 50 contacts; more than this many ids come from a crafted request or "all matching".
AT_ONCE = 500


def _refuse(status, message):
    abort(make_response(error_response(status, message)))


class BulkRequest:
    """What a submitted bulk form asks: an action, a target list, and selected ids or the current filter."""

    def __init__(self, form, fields):
        self.form, self.fields, self.errors = form, fields, []
        self.action = form.get("action", "")
        self.everything = form.get("scope") == "all"
        self.list = None
        if self.action not in BULK_ACTIONS:
            self.errors.append(_("Choose what to do with the contacts."))
        elif self.action in bulk_tasks.LIST_ACTIONS:
            self.list = self._target_list(form.get("to_list", ""))
        self.ids = self._ids(form.getlist("ids"))
        self.filter = self._filter() if self.everything else None

    def _target_list(self, raw):
        if not raw:
            self.errors.append(_("Choose the list to add the contacts to or remove them from."))
            return None
        found = raw.isdigit() and MailingList.for_account(current_user.account_id).where(
            MailingList.id == int(raw)).first()
        if not found:
            _refuse(404, _("That list does not exist, or you have no access to it."))
        return found

    def _ids(self, raw_ids):
        if any(not raw.isdigit() or not 0 < int(raw) <= filters.MAX_ID for raw in raw_ids):
            _refuse(400, _("The selection is not valid. Reload the page and select again."))
        if not raw_ids and not self.everything:
            self.errors.append(_("Select one or more contacts, or choose all contacts matching the filter."))
        return sorted({int(raw) for raw in raw_ids})

    def _filter(self):
        contact_filter, _cursor, errors = parse_filter(self.form, self.fields)
        self.errors.extend(errors)
        return contact_filter

    def job_params(self):
        """The job's parameters: ids and filter settings only."""
        list_id = self.list.id if self.list else None
        if self.everything:
            max_id = filters.max_contact_id(current_user.account_id)
            return bulk_tasks.job_params(self.action, list_id, contact_filter=self.filter, max_id=max_id)
        return bulk_tasks.job_params(self.action, list_id, contact_ids=self.ids)


@bp.route("/contacts/bulk", methods=["POST"])
def bulk():
    """Do a bulk action: small selections at once, larger ones and "all matching" as a job; delete asks first."""
    fields = audience.FieldSet(current_user.account_id)
    wish = BulkRequest(request.form, fields)
    if wish.errors:
        return _bulk_errors(fields, wish)
    if wish.action == "delete" and request.form.get("confirmed") != "yes":
        count = wish.filter.count() if wish.everything else len(wish.ids)
        return render("lists/bulk_confirm.html", "lists/_bulk_confirm.html", wish=wish, count=count,
                      params=filter_params(request.form, fields))
    if wish.everything or len(wish.ids) > AT_ONCE:
        job = start_job(current_user.account_id, bulk_tasks.KIND, wish.job_params())
        return _job_started(job)
    with db.atomic():
        count = bulk_tasks.apply(current_user.account_id, wish.action, wish.ids, wish.list.id if wish.list else None)
    flash(bulk_tasks.done_message(wish.action, count, wish.list), "success")
    if request.htmx:
        return "", 200, {"HX-Trigger": "contacts-changed"}
    return redirect_to(url_for("lists.contacts", **filter_params(request.form, fields)))


def _bulk_errors(fields, wish):
    if request.htmx:
        return render("lists/contacts.html", "lists/_bulk_errors.html", errors=wish.errors), 422
    context, _status = table_context(fields, request.form, bulk_errors=wish.errors)
    return render("lists/contacts.html", "lists/contacts.html", **context), 422


def _job_started(job):
    job = Job.get_by_id(job.id)  # a worker may have made progress already (or finished, in immediate mode)
    if request.htmx:
        return _progress(job)
    return redirect_to(url_for("lists.bulk_job", job_id=job.id))


def _progress(job):
    """The progress fragment; once the job is finished it also tells the table to reload."""
    headers = {"HX-Trigger": "contacts-changed"} if job.finished else {}
    return render("lists/bulk_job.html", "lists/_bulk_progress.html", **bulk_tasks.describe(job)), 200, headers


def bulk_job_or_404(job_id):
    """The account's bulk job with this id, else 404."""
    job = owned_or_404(Job, job_id)
    if job.kind != bulk_tasks.KIND:
        abort(404)
    return job


@bp.route("/contacts/jobs/<int:job_id>")
def bulk_job(job_id):
    """The progress of a bulk job; the fragment polls itself until the job is finished."""
    job = bulk_job_or_404(job_id)
    if request.htmx:
        return _progress(job)
    return render("lists/bulk_job.html", "lists/_bulk_progress.html", **bulk_tasks.describe(job))


@bp.route("/contacts/jobs/<int:job_id>/cancel", methods=["POST"])
def cancel_bulk_job(job_id):
    """Ask a running bulk job to stop after its current chunk."""
    job = bulk_job_or_404(job_id)
    if not job.finished:
        Job.update(cancel_requested=True).where(Job.id == job.id).execute()
        job.cancel_requested = True
    if request.htmx:
        return _progress(job)
    return redirect_to(url_for("lists.bulk_job", job_id=job.id))
