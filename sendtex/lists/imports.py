"""CSV imports: upload, map columns, watch progress, read the report."""
import csv
import io

from flask import Response, abort, current_app, flash, request, stream_with_context, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from sendtex.audience import FieldSet
from sendtex.csvimport import ATTRIBUTES_JSON, FULL_NAME, CsvProblem, guess_mapping, inspect
from sendtex.lists import bp
from sendtex.models.contacts import MailingList
from sendtex.models.imports import IMPORT_MODES, Import, ImportRejection
from sendtex.tasks.imports import run_import
from sendtex.tasks.jobs import lease_seconds
from sendtex.uploads import delete_upload, keep_upload
from sendtex.web import error_response, owned_or_404, redirect_to, render

PAGE_SIZE = 20


@bp.route("/imports", methods=["GET"])
def imports():
    """Earlier imports and the upload form."""
    history = Import.for_account(current_user.account_id).order_by(Import.id.desc()).limit(PAGE_SIZE)
    return render("lists/imports.html", "lists/_import_upload.html", history=list(history), error=None)


@bp.route("/imports", methods=["POST"])
def upload_import():
    """Receive a CSV file (encrypted as it arrives) and check that it can be read."""
    limit = current_app.config["IMPORT_MAX_BYTES"]
    if (request.content_length or 0) > limit:
        return error_response(413, _("The file is larger than %(mb)d MB.", mb=limit // 2**20))
    request.max_content_length = limit
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _upload_refused(_("Choose a CSV file to upload."))
    try:
        job = draft_import(upload, current_user.account_id, current_user.id)
    except CsvProblem as exc:
        return _upload_refused(str(exc))
    return redirect_to(url_for("lists.import_detail", import_id=job.id))


def draft_import(upload, account_id, user_id=None):
    """Keep an uploaded CSV file that can be read, as a draft import; CsvProblem (the file deleted) otherwise."""
    name, size = keep_upload(upload)
    try:
        encoding, delimiter, header, _preview = inspect(name)
    except CsvProblem:
        delete_upload(name)
        raise
    return Import.create(account=account_id, user=user_id, original_name=upload.filename[:255], upload_name=name,
                         total=size, encoding=encoding, delimiter=delimiter, header=header, status="draft")


def _upload_refused(message):
    history = Import.for_account(current_user.account_id).order_by(Import.id.desc()).limit(PAGE_SIZE)
    return render("lists/imports.html", "lists/_import_upload.html", history=list(history), error=message), 422


@bp.route("/imports/<int:import_id>")
def import_detail(import_id):
    """The mapping step of a new import, or the progress and report of a started one."""
    job = owned_or_404(Import, import_id)
    if job.status == "draft":
        return _mapping_page(job)
    fragment = "lists/_import_report.html" if job.finished else "lists/_import_progress.html"
    return render("lists/import.html", fragment, job=job, rejections=_first_rejections(job))


def _first_rejections(job):
    return list(job.rejections.order_by(ImportRejection.line).limit(100)) if job.finished else []


def _mapping_page(job, errors=(), status=200, chosen=None):
    fields = FieldSet(job.account_id)
    try:
        preview = inspect(job.upload_name)[3]
    except CsvProblem:
        preview = []
    chosen = chosen or {"mapping": guess_mapping(job.header, fields.fields), "mode": "subscribe",
                        "list_ids": [], "confirmed": True}
    lists = MailingList.for_account(job.account_id).order_by(MailingList.name)
    return render("lists/import_mapping.html", "lists/_import_mapping.html", job=job, preview=preview,
                  fields=fields.fields, lists=list(lists), errors=list(errors), chosen=chosen,
                  special={FULL_NAME: _("Full name (split into first and last)"),
                           ATTRIBUTES_JSON: _("Custom fields as JSON")}), status


@bp.route("/imports/<int:import_id>/start", methods=["POST"])
def start_import(import_id):
    """Check the mapping and options, then queue the import."""
    job = owned_or_404(Import, import_id)
    if job.status != "draft":
        return error_response(409, _("This import has already started."))
    if current_user.account.is_restricted:
        return error_response(409, str(RESTRICTED))
    chosen, errors = _read_choices(job)
    if errors:
        return _mapping_page(job, errors, 422, chosen)
    queue_import(job, chosen)
    return redirect_to(url_for("lists.import_detail", import_id=job.id))


RESTRICTED = _l("Processing of this account is restricted: no import runs until the restriction is lifted.")


def queue_import(job, chosen):
    """Store the checked mapping and options on a draft import and queue it."""
    job.mapping, job.mode, job.list_ids, job.confirmed = (
        {str(column): target for column, target in chosen["mapping"].items()}, chosen["mode"],
        chosen["list_ids"], chosen["confirmed"])
    job.status = "queued"
    job.renew_lease(lease_seconds())
    job.save()
    run_import(job.id)


def _read_choices(job):
    """The mapping and options posted for an import, and what is wrong with them."""
    mapping = {index: request.form.get(f"column-{index}", "") for index in range(len(job.header))}
    list_ids = sorted({int(value) for value in request.form.getlist("list") if value.isdigit()})
    return check_choices(job, mapping, request.form.get("mode", ""), list_ids,
                         request.form.get("confirmed") != "double")


def check_choices(job, mapping, mode, list_ids, confirmed):
    """The mapping ({column index: target}) and options chosen for an import, and what is wrong with them."""
    fields = FieldSet(job.account_id)
    allowed = set(fields.by_key) | {FULL_NAME, ATTRIBUTES_JSON}
    mapping = {index: target for index, target in mapping.items() if target}
    errors = [_("“%(target)s” is not a field of this account.", target=target)
              for target in mapping.values() if target not in allowed]
    targets = list(mapping.values())
    errors += [_("“%(target)s” is chosen for more than one column.", target=target)
               for target in sorted(set(targets)) if targets.count(target) > 1]
    if "email" not in targets:
        errors.append(_("Choose the column that holds the e-mail address."))
    if mode not in IMPORT_MODES:
        errors.append(_("Choose what the import should do."))
    if len(list_ids) != MailingList.for_account(job.account_id).where(MailingList.id.in_(list_ids)).count():
        errors.append(_("One of the chosen lists does not exist."))
    if mode == "subscribe" and not list_ids:
        errors.append(_("Choose at least one list to subscribe the contacts to."))
    chosen = {"mapping": mapping, "mode": mode, "list_ids": list_ids, "confirmed": confirmed}
    return chosen, errors


@bp.route("/imports/<int:import_id>/progress")
def import_progress(import_id):
    """The progress bar of a running import, or its report once it has finished."""
    job = owned_or_404(Import, import_id)
    fragment = "lists/_import_report.html" if job.finished else "lists/_import_progress.html"
    return render("lists/import.html", fragment, job=job, rejections=_first_rejections(job))


@bp.route("/imports/<int:import_id>/cancel", methods=["POST"])
def cancel_import(import_id):
    """Stop a running import (rows already written stay) or discard one not started."""
    job = owned_or_404(Import, import_id)
    if job.status == "draft":
        delete_upload(job.upload_name)
        job.delete_instance()
        flash(_("The upload was discarded."), "success")
        return redirect_to(url_for("lists.imports"))
    if not job.finished:
        Import.update(cancel_requested=True).where(Import.id == job.id).execute()
        flash(_("The import is stopping. Rows already imported stay."), "success")
    return redirect_to(url_for("lists.import_detail", import_id=job.id))


@bp.route("/imports/<int:import_id>/rejections.csv")
def import_rejections(import_id):
    """Every refused row of an import with its line, column and reason, as CSV."""
    job = owned_or_404(Import, import_id)
    if not job.finished:
        abort(404)

    def generate():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow([_("line"), _("column"), _("reason")])
        for rejection in job.rejections.order_by(ImportRejection.line).iterator():
            writer.writerow([rejection.line, rejection.column, rejection.reason])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    filename = f"import-{job.id}-rejected-rows.csv"
    return Response(stream_with_context(generate()), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
