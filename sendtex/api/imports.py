"""CSV imports: upload a file (encrypted as it arrives), start it with a column mapping, poll its progress."""
from flask import current_app, request
from flask_babel import gettext as _

from sendtex.api.auth import account_id, owned
from sendtex.api.errors import ApiError, invalid
from sendtex.api.pagination import id_page
from sendtex.api.spec import CURSOR_PARAMS, ID, TIMESTAMP, component, nullable, obj, operation, page_of, stamp
from sendtex.audience import FieldSet
from sendtex.csvimport import CsvProblem, guess_mapping
from sendtex.lists.imports import RESTRICTED, check_choices, draft_import, queue_import
from sendtex.models.imports import IMPORT_MODES, Import, ImportRejection
from sendtex.uploads import delete_upload

REJECTIONS_SHOWN = 100
MAPPING = {"type": "object", "additionalProperties": {"type": "string"}, "maxProperties": 200,
           "description": "Field key (or __full_name, __attributes) by column number, counted from 0."}
IMPORT = component("Import", obj(
    ["id", "status", "original_name", "header", "suggested_mapping", "mapping", "mode", "list_ids", "double_opt_in",
     "percent", "rows_done", "inserted", "updated", "skipped", "error", "created_at", "started_at", "finished_at",
     "rejections"],
    id=ID, status={"type": "string", "enum": ["draft", "queued", "running", "done", "failed", "cancelled"]},
    original_name={"type": "string"}, header={"type": "array", "items": {"type": "string"}},
    suggested_mapping=MAPPING, mapping=MAPPING, mode={"type": "string", "enum": list(IMPORT_MODES)},
    list_ids={"type": "array", "items": ID}, double_opt_in={"type": "boolean"},
    percent={"type": "integer", "minimum": 0, "maximum": 100},
    **{count: {"type": "integer", "minimum": 0} for count in ("rows_done", "inserted", "updated", "skipped")},
    error={"type": "string"}, created_at=TIMESTAMP, started_at=nullable(TIMESTAMP), finished_at=nullable(TIMESTAMP),
    rejections={"type": "array", "description": f"The first {REJECTIONS_SHOWN} refused rows, once finished.",
                "items": obj(["line", "column", "reason"], line={"type": "integer"}, column={"type": "string"},
                             reason={"type": "string"})},
))
START_INPUT = component("ImportStart", obj(
    ["mapping", "mode"], mapping=MAPPING, mode={"type": "string", "enum": list(IMPORT_MODES)},
    list_ids={"type": "array", "items": ID, "maxItems": 100, "uniqueItems": True},
    double_opt_in={"type": "boolean", "default": False,
                   "description": "Memberships wait for the contact's confirmation."},
))


def import_json(job):
    """An import as the API shows it."""
    rejections = []
    if job.finished:
        rejections = [{"line": row.line, "column": row.column, "reason": row.reason}
                      for row in job.rejections.order_by(ImportRejection.line).limit(REJECTIONS_SHOWN)]
    suggested = guess_mapping(job.header, FieldSet(job.account_id).fields) if job.status == "draft" else {}
    return {"id": job.id, "status": job.status, "original_name": job.original_name, "header": list(job.header),
            "suggested_mapping": {str(column): target for column, target in suggested.items()},
            "mapping": dict(job.mapping), "mode": job.mode, "list_ids": list(job.list_ids),
            "double_opt_in": not job.confirmed, "percent": job.percent, "rows_done": job.rows_done,
            "inserted": job.inserted, "updated": job.updated, "skipped": job.skipped, "error": job.error,
            "created_at": stamp(job.created_at), "started_at": stamp(job.started_at),
            "finished_at": stamp(job.finished_at), "rejections": rejections}


@operation("GET", "/imports", scope="read", tag="Imports", query=CURSOR_PARAMS, responses={200: page_of(IMPORT)})
def list_imports(query):
    """The account's imports, oldest first."""
    return id_page(Import.for_account(account_id()), Import, query, "imports", import_json)


@operation("POST", "/imports", scope="write", tag="Imports", responses={201: IMPORT},
           multipart=obj(["file"], file={"type": "string", "contentMediaType": "text/csv",
                                         "description": "The CSV file; its first line names the columns."}))
def upload_import():
    """Upload a CSV file (multipart/form-data, field `file`); answers the draft with its columns and a suggested
    mapping. Start it with /imports/{import_id}/start."""
    limit = current_app.config["IMPORT_MAX_BYTES"]
    if (request.content_length or 0) > limit:
        raise ApiError(413, _("The file is larger than %(mb)d MB.", mb=limit // 2**20))
    if request.mimetype != "multipart/form-data":
        raise ApiError(415, _("Send the file as multipart/form-data, in the field “file”."))
    request.max_content_length = limit
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise invalid([("file", _("Choose a CSV file to upload."))])
    try:
        job = draft_import(upload, account_id(), None)
    except CsvProblem as exc:
        raise invalid([("file", str(exc))]) from None
    return import_json(job), 201


@operation("GET", "/imports/{import_id}", scope="read", tag="Imports", responses={200: IMPORT})
def get_import(import_id):
    """An import: its progress while it runs, its counts and refused rows once finished."""
    return import_json(owned(Import, import_id))


@operation("POST", "/imports/{import_id}/start", scope="write", tag="Imports", body=START_INPUT,
           responses={202: IMPORT}, errors=(409,))
def start_import(import_id, body):
    """Check the mapping and options of a draft import, then queue it."""
    job = owned(Import, import_id)
    if job.status != "draft":
        raise ApiError(409, _("This import has already started."))
    if job.account.is_restricted:
        raise ApiError(409, RESTRICTED)
    mapping, details = {}, []
    for column, target in body["mapping"].items():
        if column.isdigit() and int(column) < len(job.header):
            mapping[int(column)] = target
        else:
            details.append((f"mapping.{column[:10]}", _("The file has no column %(column)s.", column=column[:10])))
    chosen, errors = check_choices(job, mapping, body["mode"], sorted(body.get("list_ids", [])),
                                   not body.get("double_opt_in", False))
    if details or errors:
        raise invalid(details + [("mapping", message) for message in errors])
    queue_import(job, chosen)
    return import_json(Import.get_by_id(job.id)), 202


@operation("POST", "/imports/{import_id}/cancel", scope="write", tag="Imports", responses={200: IMPORT, 204: None})
def cancel_import(import_id):
    """Stop a running import (rows already written stay), or discard a draft (204)."""
    job = owned(Import, import_id)
    if job.status == "draft":
        delete_upload(job.upload_name)
        job.delete_instance()
        return None, 204
    if not job.finished:
        Import.update(cancel_requested=True).where(Import.id == job.id).execute()
    return import_json(Import.get_by_id(job.id))
