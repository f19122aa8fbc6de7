"""The careers pages: the operator's open vacancies and an application form for each."""
from flask import current_app, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from sendtex.models.website import JobApplication, JobPosition
from sendtex.public.forms import ApplicationForm, take_in
from sendtex.public.routes import bp
from sendtex.web import error_response, render, row_or_404

# Why each optional field is asked, shown next to it: nobody should guess what an answer is used for.
WHY_ASKED = {
    "phone": _l("So we can call you to plan an interview if you prefer that to e-mail. You may leave it empty."),
    "address": _l("Only if you would rather get letters by post. We do not need it to assess your application. "
                  "You may leave it empty."),
    "household": _l("If you would move for this job, knowing who moves with you lets us offer relocation help "
                    "that fits (housing, schools, childcare). It plays no part in deciding on your application. "
                    "You may leave it empty."),
    "interests": _l("It helps us get to know you beyond your work and gives us something to talk about when you "
                    "meet the team. Leaving it empty never counts against you."),
}


def consent_text():
    """The agreement an applicant gives, in the current language; stored word for word with the application."""
    cfg = current_app.config
    return _("I agree that %(controller)s uses the information in this application to assess it. It is deleted "
             "%(days)d days after the application procedure ends, and the optional answers I give are used only "
             "for the purpose stated next to them. I can withdraw my agreement at any time by writing to "
             "%(email)s.", controller=cfg["CONTROLLER_NAME"], days=cfg["RETENTION_JOB_APPLICATIONS_DAYS"],
             email=cfg["CONTROLLER_EMAIL"])


@bp.get("/careers")
def careers():
    """The open vacancies."""
    return render("public/careers.html", "public/careers.html", positions=list(JobPosition.open_positions()))


@bp.route("/careers/<int:position_id>", methods=["GET", "POST"])
def position(position_id):
    """A vacancy and its application form; a sent application waits for staff review."""
    vacancy = row_or_404(JobPosition, position_id)
    if not vacancy.is_open:
        return error_response(410, _("This vacancy is closed and no longer takes applications."))
    agreement = consent_text()

    def store(form):
        JobApplication.create(position=vacancy, consent_text=agreement, language=str(get_locale()), **form.values())

    return take_in(ApplicationForm(), "apply-network", "public/careers_position.html", store,
                   url_for("public.application_thanks"), position=vacancy, consent_text=agreement, why=WHY_ASKED)


@bp.get("/careers/thanks")
def application_thanks():
    """What an applicant sees after sending an application."""
    return render("public/careers_thanks.html", "public/careers_thanks.html")
