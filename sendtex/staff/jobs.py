"""Staff pages for vacancies and job applications: positions, review, closing procedures, deletion.

Every staff action on an application is written to the audit log, opening one included: an applicant who asks
who saw their application gets an answer. Opening needs no typed reason (unlike a look into an account's data):
reviewing applications is the purpose they were sent for. Entries name the application by id only, never the
applicant, because the audit log outlives the application.
"""
import datetime

from flask import current_app, flash, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length

from sendtex import audit
from sendtex.models.base import utcnow
from sendtex.models.website import JobApplication, JobPosition
from sendtex.staff import NAV, NavItem, bp
from sendtex.web import redirect_to, render, render_form, row_or_404

NAV.append(NavItem("staff.jobs", _l("Vacancies and applications"),
                   _l("The careers page's vacancies, the applications to them, their review and deletion.")))
STATUS_LABELS = {"received": _l("Received"), "in_review": _l("In review"), "invited": _l("Invited"),
                 "rejected": _l("Rejected"), "hired": _l("Hired")}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class PositionForm(FlaskForm):
    title = StringField(_l("Title"), filters=[_strip], validators=[DataRequired(_l("Give the vacancy a title.")),
                                                                   Length(max=200)])
    location = StringField(_l("Location"), filters=[_strip], validators=[Length(max=200)])
    description = TextAreaField(_l("Description"), filters=[_strip], validators=[
        DataRequired(_l("Describe the job.")), Length(max=20_000)])
    is_open = BooleanField(_l("Open: shown on the careers page and taking applications"), default=True)


class ReviewForm(FlaskForm):
    status = SelectField(_l("Status"), choices=[SelectChoice(code, label) for code, label in STATUS_LABELS.items()])
    notes = TextAreaField(_l("Notes (staff only)"), filters=[_strip], validators=[Length(max=10_000)])


def deletion_date(application):
    """When the retention purge deletes a closed application (None while its procedure is open)."""
    if application.closed_at is None:
        return None
    return application.closed_at + datetime.timedelta(days=current_app.config["RETENTION_JOB_APPLICATIONS_DAYS"])


@bp.get("/jobs")
def jobs():
    """Every vacancy, open ones first, with its numbers of applications and of open procedures."""
    return render("staff/jobs.html", "staff/jobs.html", positions=list(JobPosition.with_counts()))


@bp.route("/jobs/new", methods=["GET", "POST"])
def new_position():
    """Create a vacancy."""
    return _position_editor(JobPosition(title="", description=""))


@bp.route("/jobs/<int:position_id>/edit", methods=["GET", "POST"])
def edit_position(position_id):
    """Edit a vacancy, or open or close it for applications."""
    return _position_editor(row_or_404(JobPosition, position_id))


def _position_editor(position):
    form = PositionForm(obj=position)
    if form.validate_on_submit():
        form.populate_obj(position)
        position.updated_at = utcnow()
        position.save()
        flash(_("The vacancy “%(title)s” is saved.", title=position.title), "success")
        return redirect_to(url_for("staff.position_applications", position_id=position.id))
    return render_form("staff/jobs_position_edit.html", "staff/jobs_position_edit.html", form, position=position)


@bp.get("/jobs/<int:position_id>")
def position_applications(position_id):
    """A vacancy's applications: open procedures first, newest first."""
    position = row_or_404(JobPosition, position_id)
    return render("staff/jobs_position.html", "staff/jobs_position.html", position=position,
                  applications=list(JobApplication.of_position(position.id)), status_labels=STATUS_LABELS,
                  deletion_date=deletion_date)


@bp.post("/jobs/<int:position_id>/close-procedures")
def close_position_procedures(position_id):
    """Close the procedure of every open application of the vacancy: each is deleted after the retention period."""
    position = row_or_404(JobPosition, position_id)
    closed = JobApplication.close_open_of_position(position.id, utcnow())
    audit.record("job-procedures-closed", target=f"position {position.id}: {closed} applications")
    flash(_("Closed the procedure of %(num)d applications.", num=closed), "success")
    return redirect_to(url_for("staff.position_applications", position_id=position.id))


@bp.route("/jobs/applications/<int:application_id>", methods=["GET", "POST"])
def application(application_id):
    """One application in full, with its review (status and notes); opening it is audited."""
    row = row_or_404(JobApplication, application_id)
    form = ReviewForm(obj=row)
    if form.validate_on_submit():
        if form.status.data != row.status:
            audit.record("job-application-status", target=f"application {row.id}: {row.status} → {form.status.data}")
        JobApplication.update(status=form.status.data, notes=form.notes.data or "").where(
            JobApplication.id == row.id).execute()
        flash(_("The review is saved."), "success")
        return redirect_to(url_for("staff.application", application_id=row.id))
    if not form.errors:
        audit.record("job-application-viewed", target=f"application {row.id}")
    return render_form("staff/jobs_application.html", "staff/jobs_application.html", form, application=row,
                       status_labels=STATUS_LABELS, deletion_date=deletion_date(row))


@bp.post("/jobs/applications/<int:application_id>/close")
def close_application(application_id):
    """Close the application's procedure (its retention period starts), or reopen it before it is deleted."""
    row = row_or_404(JobApplication, application_id)
    closing = row.closed_at is None
    JobApplication.update(closed_at=utcnow() if closing else None).where(JobApplication.id == row.id).execute()
    audit.record("job-application-closed" if closing else "job-application-reopened", target=f"application {row.id}")
    flash(_("The procedure is closed: the application will be deleted after the retention period.") if closing
          else _("The procedure is open again: the application is kept until it is closed."), "success")
    return redirect_to(url_for("staff.application", application_id=row.id))


@bp.post("/jobs/applications/<int:application_id>/delete")
def delete_application(application_id):
    """Delete an application for good now (e.g. when the applicant withdraws or asks for erasure)."""
    row = row_or_404(JobApplication, application_id)
    row.delete_instance()
    audit.record("job-application-deleted", target=f"application {row.id} (position {row.position_id})")
    flash(_("The application is deleted."), "success")
    return redirect_to(url_for("staff.position_applications", position_id=row.position_id))
