"""Custom fields: list, create, edit inline, reorder, delete, and turn encryption on or off per field."""
from flask import abort, flash, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from peewee import IntegrityError, fn

from sendtex.audience import FieldSet, field_label
from sendtex.db import db
from sendtex.lists import bp
from sendtex.lists.forms import (
    FIELD_TYPE_LABELS, BuiltinFieldForm, FieldDeleteForm, FieldEditForm, FieldForm, FieldMoveForm,
)
from sendtex.models.contacts import Field
from sendtex.models.jobs import Job
from sendtex.tasks.fields import (
    FIELD_JOB_KINDS, active_jobs, contacts_with_value, pending_job, start_field_deletion, start_field_encryption,
    stopped_changes,
)
from sendtex.web import error_response, owned_or_404, redirect_to, render, render_form

BUSY = _l("This field is busy with a background job. Wait until it is done, then try again.")


@bp.context_processor
def _field_helpers():
    return dict(field_label=field_label, field_type_labels=FIELD_TYPE_LABELS)


# Also a global: macros imported without context (lists/_contact_macros.html) show field labels too.
bp.add_app_template_global(field_label, "field_label")


def _new_field_form(**kwargs):
    # Prefixed: its inputs must not share ids with an inline edit form open on the same page.
    return FieldForm(prefix="new", **kwargs)


def _panel(account_id):
    jobs = list(active_jobs(account_id))
    deleting = {job.params["field_id"] for job in jobs if job.kind == "field_delete"}
    return dict(
        fields=[field for field in FieldSet(account_id).fields if field.id not in deleting],
        encrypting={job.params["field_id"]: job for job in jobs if job.kind == "field_encryption"},
        stopped=stopped_changes(account_id),
        deletions=[job for job in jobs if job.kind == "field_delete"],
    )


def _after_change():
    """The refreshed fields panel for htmx (wherever the request came from), else back to the page."""
    if not request.htmx:
        return redirect_to(url_for("lists.fields"))
    body = render("lists/fields.html", "lists/_fields.html", form=_new_field_form(formdata=None),
                  **_panel(current_user.account_id))
    return body, 200, {"HX-Retarget": "#fields", "HX-Reswap": "outerHTML"}


@bp.route("/fields")
def fields():
    """The account's contact fields: built-in ones first, then the custom ones in their order."""
    return render("lists/fields.html", "lists/_fields.html", form=_new_field_form(formdata=None),
                  **_panel(current_user.account_id))


@bp.route("/fields", methods=["POST"])
def create_field():
    """Add a custom field at the end of the list."""
    form, account_id = _new_field_form(), current_user.account_id
    if form.validate_on_submit() and add_field(account_id, form):
        flash(_("The field %(label)s was added.", label=form.label.data), "success")
        return _after_change()
    return render_form("lists/fields.html", "lists/_fields.html", form, **_panel(account_id))


def add_field(account_id, form):
    """Create the validated form's field at the end of the account's fields; None (the reason on the form) if not."""
    if _leftovers_of_deleted_field(account_id, form.key.data):
        form.key.errors.append(_("A deleted field with this key is still being removed. Try again in a minute."))
        return None
    try:
        with db.atomic():
            # A new field has no values yet: its encryption needs no job.
            return Field.create(account=account_id, key=form.key.data, label=form.label.data, type=form.type.data,
                                choices=form.choices.data, required=form.required.data,
                                encrypted=form.encrypted.data, position=_next_position(account_id),
                                subscriber_editable=form.subscriber_editable.data)
    except IntegrityError:
        form.key.errors.append(_("A field with this key already exists."))
        return None


def _leftovers_of_deleted_field(account_id, key):
    """True while values of an earlier field with this key remain; their removal starts if it had stopped."""
    if Field.for_account(account_id).where(Field.key == key).exists():
        return False  # the key is taken: the insert reports that
    # A new field must not inherit them: sealed values would even decrypt, being bound to the key.
    if not pending_job(account_id, key=key) and contacts_with_value(account_id, key).exists():
        start_field_deletion(Field(id=None, account=account_id, key=key, label=key))
    return pending_job(account_id, key=key) is not None


def _next_position(account_id):
    last = Field.for_account(account_id).select(fn.MAX(Field.position)).scalar()
    return (last or 0) + 1


@bp.route("/fields/<int:field_id>")
def field_row(field_id):
    """One field's row (htmx: after cancelling an edit); the whole page otherwise."""
    field = owned_or_404(Field, field_id)
    return render("lists/fields.html", "lists/_field_row.html", field=field, form=_new_field_form(formdata=None),
                  **_panel(current_user.account_id))


def _encryption_target(field):
    """Whether the field is (or is being made) encrypted."""
    job = pending_job(field.account_id, field_id=field.id)
    return job.params["encrypted"] if job and job.kind == "field_encryption" else field.encrypted


def _edit_form(field, **kwargs):
    form_class = BuiltinFieldForm if field.builtin else FieldEditForm
    form = form_class(label=field.label, required=field.required, choices="\n".join(field.choices),
                      encrypted=_encryption_target(field), subscriber_editable=field.subscriber_editable, **kwargs)
    form.field_type = field.type
    return form


@bp.route("/fields/<int:field_id>/edit")
def edit_field(field_id):
    """The inline edit form of a field."""
    field = owned_or_404(Field, field_id)
    return render("lists/fields_edit.html", "lists/_field_edit.html", form=_edit_form(field, formdata=None),
                  field=field)


@bp.route("/fields/<int:field_id>", methods=["POST"])
def update_field(field_id):
    """Save a field's label, required flag and options; a change of encryption starts a job."""
    field = owned_or_404(Field, field_id)
    form = _edit_form(field)
    if form.validate_on_submit() and change_field(field, form):
        flash(_("The field %(label)s was saved.", label=field_label(field)), "success")
        return _after_change()
    return render_form("lists/fields_edit.html", "lists/_field_edit.html", form, field=field)


def change_field(field, form):
    """Save the validated edit form on the field, a change of encryption by a job; False (error on the form) if busy."""
    encrypt, target = form.encrypted.data, _encryption_target(field)
    if encrypt != target and pending_job(field.account_id, field_id=field.id):
        form.encrypted.errors.append(BUSY)
        return False
    _save_field(field, form)
    # Saving again also finishes a change of encryption that stopped half-way.
    if encrypt != target or field.id in stopped_changes(field.account_id):
        start_field_encryption(field, encrypt)
    return True


def _save_field(field, form):
    # The address is what a preference link proves: subscribers never change it themselves.
    field.subscriber_editable = form.subscriber_editable.data and field.key != "email"
    if field.builtin:
        field.save(only=[Field.subscriber_editable])
        return
    field.label, field.required, field.choices = form.label.data, form.required.data, form.choices.data
    field.save(only=[Field.label, Field.required, Field.choices, Field.subscriber_editable])


@bp.route("/fields/<int:field_id>/move", methods=["POST"])
def move_field(field_id):
    """Move a custom field one place up or down."""
    field, form = owned_or_404(Field, field_id), FieldMoveForm()
    if field.builtin or not form.validate_on_submit():
        return error_response(400, _("Only custom fields can be moved, up or down."))
    order = [row for row in Field.ordered(field.account_id) if not row.builtin]
    index = [row.id for row in order].index(field.id)
    other = index - 1 if form.direction.data == "up" else index + 1
    if 0 <= other < len(order):
        order[index], order[other] = order[other], order[index]
        with db.atomic():
            for position, row in enumerate(order, start=1):
                Field.update(position=position).where(Field.id == row.id).execute()
    return _after_change()


@bp.route("/fields/<int:field_id>/delete", methods=["GET", "POST"])
def delete_field(field_id):
    """Ask for confirmation (naming how many contacts have a value), then delete the field and its values."""
    field, form = owned_or_404(Field, field_id), FieldDeleteForm()
    if field.builtin:
        return error_response(400, _("Built-in fields cannot be deleted; you can leave them empty."))
    if pending_job(field.account_id, field_id=field.id):
        return error_response(409, str(BUSY))
    if form.validate_on_submit():
        start_field_deletion(field)
        flash(_("The field %(label)s is being deleted.", label=field.label), "success")
        return _after_change()
    count = contacts_with_value(field.account_id, field.key).count()
    return render("lists/fields_delete.html", "lists/_field_delete.html", field=field, form=form, count=count)


@bp.route("/fields/jobs/<int:job_id>")
def field_job(job_id):
    """The progress of a field job; the htmx fragment polls itself until the job is finished."""
    job = owned_or_404(Job, job_id)
    if job.kind not in FIELD_JOB_KINDS:
        abort(404)
    return render("lists/fields_job.html", "lists/_field_job.html", job=job)
