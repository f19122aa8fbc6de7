"""Contact fields: the built-in and custom fields, create, change (encryption by a job), delete (by a job)."""
from flask_babel import gettext as _

from sendtex.api.auth import account_id, owned
from sendtex.api.errors import ApiError, invalid
from sendtex.api.forms import filled, form_errors, formdata
from sendtex.api.spec import ID, JOB, job_json, nullable, obj, component, operation
from sendtex.audience import FieldSet, field_label
from sendtex.lists.fields import BUSY, _edit_form, _encryption_target, add_field, change_field
from sendtex.lists.forms import FieldForm
from sendtex.models.contacts import FIELD_TYPES, Field
from sendtex.models.jobs import Job
from sendtex.tasks.fields import FIELD_JOB_KINDS, pending_job, start_field_deletion

FLAGS = ("required", "encrypted", "subscriber_editable")
FIELD = component("Field", obj(
    ["id", "key", "label", "type", "choices", "builtin", "position", *FLAGS, "job"],
    id=ID, key={"type": "string"}, label={"type": "string"}, type={"type": "string", "enum": list(FIELD_TYPES)},
    choices={"type": "array", "items": {"type": "string"}}, builtin={"type": "boolean"},
    position={"type": "integer"}, job=nullable(JOB),
    **{flag: {"type": "boolean"} for flag in FLAGS},
))
FIELD_CHANGES = dict(
    label={"type": "string", "description": "At most 100 characters."},
    choices={"type": "array", "items": {"type": "string"},
             "description": "The options of a single choice field (at most 100, each at most 100 characters)."},
    **{flag: {"type": "boolean"} for flag in FLAGS},
)
FIELD_INPUT = component("FieldInput", obj(
    ["key", "label"], key={"type": "string", "description": "Lower-case letters, digits and underscores."},
    type={"type": "string", "enum": list(FIELD_TYPES), "default": "text"}, **FIELD_CHANGES))
FIELD_UPDATE = component("FieldUpdate", dict(
    obj(**FIELD_CHANGES), description="Built-in fields take only `encrypted` and `subscriber_editable`."))


def field_json(field, job=None):
    """A field as the API shows it; job is its unfinished encryption or deletion job."""
    return {"id": field.id, "key": field.key, "label": str(field_label(field)), "type": field.type,
            "choices": list(field.choices or []), "builtin": field.builtin, "position": field.position,
            "required": field.required, "encrypted": field.encrypted, "subscriber_editable": field.subscriber_editable,
            "job": job_json(job) if job else None}


def _form_values(body):
    values = dict(body)
    if "choices" in values:
        values["choices"] = "\n".join(values["choices"])
    return values


@operation("GET", "/fields", scope="read", tag="Fields",
           responses={200: obj(["data"], data={"type": "array", "items": FIELD})})
def list_fields():
    """Every field of the account: built-in ones first, then the custom ones in their order."""
    return {"data": [field_json(field, pending_job(field.account_id, field_id=field.id))
                     for field in FieldSet(account_id()).fields]}


@operation("POST", "/fields", scope="write", tag="Fields", body=FIELD_INPUT, responses={201: FIELD}, errors=(409,))
def create_field(body):
    """Add a custom field at the end (a new field has no values yet, so encrypting it needs no job)."""
    form = filled(FieldForm, _form_values({"type": "text", **body}))
    if not form.validate():
        raise invalid(form_errors(form))
    field = add_field(account_id(), form)
    if field is None:
        raise ApiError(409, details=form_errors(form))
    return field_json(field), 201


@operation("GET", "/fields/{field_id}", scope="read", tag="Fields", responses={200: FIELD})
def get_field(field_id):
    """One field, with its unfinished job if any."""
    field = owned(Field, field_id)
    return field_json(field, pending_job(field.account_id, field_id=field.id))


@operation("PATCH", "/fields/{field_id}", scope="write", tag="Fields", body=FIELD_UPDATE, responses={200: FIELD},
           errors=(409,))
def update_field(field_id, body):
    """Change a field's label, options and flags; turning encryption on or off starts a job (see `job`)."""
    field = owned(Field, field_id)
    if field.builtin and set(body) - {"encrypted", "subscriber_editable"}:
        raise invalid([(name, _("Built-in fields take only encrypted and subscriber_editable."))
                       for name in sorted(set(body) - {"encrypted", "subscriber_editable"})])
    values = {"label": field.label, "choices": field.choices, "required": field.required,
              "encrypted": _encryption_target(field), "subscriber_editable": field.subscriber_editable}
    values.update(body)
    form = _edit_form(field, formdata=formdata(_form_values(values)), meta={"csrf": False})
    if not form.validate():
        raise invalid(form_errors(form))
    if not change_field(field, form):
        raise ApiError(409, str(BUSY), form_errors(form))
    field = Field.get_by_id(field.id)
    return field_json(field, pending_job(field.account_id, field_id=field.id))


@operation("DELETE", "/fields/{field_id}", scope="write", tag="Fields", responses={202: JOB}, errors=(409,))
def delete_field(field_id):
    """Delete a custom field and every contact's value of it, by a job (poll it at /fields/jobs/{job_id})."""
    field = owned(Field, field_id)
    if field.builtin:
        raise invalid([("field_id", _("Built-in fields cannot be deleted; you can leave them empty."))])
    if pending_job(field.account_id, field_id=field.id):
        raise ApiError(409, str(BUSY))
    return job_json(start_field_deletion(field)), 202


@operation("GET", "/fields/jobs/{job_id}", scope="read", tag="Fields", responses={200: JOB})
def get_field_job(job_id):
    """The progress of a field's encryption or deletion job."""
    job = owned(Job, job_id)
    if job.kind not in FIELD_JOB_KINDS:
        raise ApiError(404)
    return job_json(job)
