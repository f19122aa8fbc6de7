"""Job applications: the careers page, the application form (optional fields say why), bad input, honeypot,
per-network limit; staff vacancies, review, closing procedures (which starts the retention period), deletion,
the audit log of staff actions, escaping; and that the purge never touches an open procedure."""
import datetime

import pytest

from sendtex import retention
from sendtex.models.audit import AuditEntry
from sendtex.models.base import utcnow
from sendtex.models.website import JobApplication, JobPosition
from sendtex.public.careers import WHY_ASKED
from tests.conftest import login, make_user, post
from tests.test_contact_form import HOSTILE

GOOD = {"last_name": "De Smet", "first_name": "Lore", "email": "lore@example.com", "phone": "0470 12 34 56",
        "address": "Kerkstraat 1\n9000 Gent", "education": "Master in computer science, 2019.",
        "employment": "Backend developer at a bakery chain since 2020.", "household": "", "interests": "",
        "consent": "y"}


def make_position(**fields):
    return JobPosition.create(**{"title": "Python developer", "description": "Build Sendtex.", "location": "Gent",
                                 **fields})


def make_application(position=None, **fields):
    values = {"last_name": "Peeters", "first_name": "Jan", "email": "jan@example.com", "education": "School",
              "employment": "Work", "consent_text": "I agree."}
    return JobApplication.create(position=position or make_position(), **{**values, **fields})


def apply(client, position, remote="198.51.100.10", **changes):
    return post(client, f"/careers/{position.id}", {**GOOD, **changes}, environ_base={"REMOTE_ADDR": remote})


def staff_actions():
    return [(entry.action, entry.target) for entry in AuditEntry.select().order_by(AuditEntry.id)
            if entry.action.startswith("job-")]


def test_the_careers_page_lists_only_open_vacancies(client):
    make_position(title="Support engineer")
    make_position(title="Former vacancy", is_open=False)
    page = client.get("/careers").get_data(as_text=True)
    assert "Support engineer" in page and "Former vacancy" not in page


def test_a_closed_vacancy_takes_no_applications_and_an_unknown_one_does_not_exist(client):
    closed = make_position(is_open=False)
    assert client.get(f"/careers/{closed.id}").status_code == 410
    response = apply(client, closed)
    assert response.status_code == 410 and "no longer takes applications" in response.get_data(as_text=True)
    assert client.get("/careers/999").status_code == 404 and client.get(f"/careers/{2**64}").status_code == 404
    assert JobApplication.select().count() == 0


def test_each_optional_field_says_why_it_is_asked(client):
    page = client.get(f"/careers/{make_position().id}").get_data(as_text=True)
    for label in ("Household composition (optional)", "Hobbies and interests (optional)", "Address (optional)",
                  "Education and training", "Profession and employment"):
        assert label in page
    for reason in WHY_ASKED.values():
        assert str(reason) in page
    assert "deleted 180 days after the application procedure ends" in page  # the consent text


def test_an_application_is_stored_with_the_consent_given(client):
    position = make_position()
    response = apply(client, position, household="Partner and two children", interests="Climbing")
    assert response.status_code == 303 and response.headers["Location"] == "/careers/thanks"
    assert "Your application has reached us" in client.get("/careers/thanks").get_data(as_text=True)
    stored = JobApplication.get()
    assert (stored.position_id, stored.last_name, stored.email, stored.address, stored.household, stored.interests) == (
        position.id, "De Smet", "lore@example.com", "Kerkstraat 1\n9000 Gent", "Partner and two children", "Climbing")
    assert stored.status == "received" and stored.closed_at is None
    assert "uses the information in this application to assess it" in stored.consent_text


def test_the_optional_fields_may_stay_empty(client):
    assert apply(client, make_position(), phone="", address="").status_code == 303
    stored = JobApplication.get()
    assert (stored.phone, stored.address, stored.household, stored.interests) == ("", "", "", "")


@pytest.mark.parametrize("changes, error", [
    ({"consent": ""}, "We can only consider your application with your agreement."),
    ({"education": ""}, "Describe your education and training."),
    ({"employment": " "}, "Describe your profession and employment."),
    ({"email": "lore.example.com"}, "This is not a valid e-mail address"),
    ({"phone": "<b>0470</b>"}, "Enter a phone number of 6 to 15 digits"),
    ({"household": "x" * 1001}, "Write at most 1000 characters."),
    ({"education": "x" * 5001}, "Write at most 5000 characters."),
    ({"address": "x" * 501}, "Write at most 500 characters."),
])
def test_bad_input_is_refused_with_its_reason_and_nothing_typed_is_lost(client, changes, error):
    response = apply(client, make_position(), **changes)
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and error in page
    assert "Backend developer at a bakery chain" in page or "employment" in changes
    assert JobApplication.select().count() == 0


def test_a_filled_in_honeypot_looks_like_success_but_stores_nothing(client):
    response = apply(client, make_position(), homepage="buy now")
    assert response.status_code == 303 and response.headers["Location"] == "/careers/thanks"
    assert JobApplication.select().count() == 0


def test_a_burst_of_applications_from_one_network_gets_429(client):
    position = make_position()
    for number in range(5):
        assert apply(client, position, remote=f"2001:db8:1:{number}::1").status_code == 303
    response = apply(client, position, remote="2001:db8:1:ff::9")  # same /48
    assert response.status_code == 429
    assert "Nothing was lost" in response.get_data(as_text=True)
    assert JobApplication.select().count() == 5


STAFF_REQUESTS = [("get", "/staff/jobs"), ("get", "/staff/jobs/new"), ("post", "/staff/jobs/new"),
                  ("get", "/staff/jobs/{position}"), ("get", "/staff/jobs/{position}/edit"),
                  ("post", "/staff/jobs/{position}/edit"), ("post", "/staff/jobs/{position}/close-procedures"),
                  ("get", "/staff/jobs/applications/{application}"), ("post", "/staff/jobs/applications/{application}"),
                  ("post", "/staff/jobs/applications/{application}/close"),
                  ("post", "/staff/jobs/applications/{application}/delete")]


@pytest.mark.parametrize("method, path", STAFF_REQUESTS)
def test_staff_pages_do_not_exist_for_visitors_or_marketers(client, method, path):
    application = make_application()
    url = path.format(position=application.position_id, application=application.id)
    data = {"title": "Hacked", "description": "x", "status": "hired"}
    for who in ("visitor", "marketer"):
        if who == "marketer":
            login(client, make_user())
        assert (client.get(url) if method == "get" else post(client, url, data)).status_code == 404
    unchanged = JobApplication.get_by_id(application.id)
    assert unchanged.status == "received" and unchanged.closed_at is None
    assert JobPosition.select().count() == 1 and JobPosition.get().title == "Python developer"


def test_staff_create_edit_and_close_a_vacancy(staff_client):
    response = post(staff_client, "/staff/jobs/new", {"title": "", "description": ""})
    assert response.status_code == 422 and "Give the vacancy a title." in response.get_data(as_text=True)
    response = post(staff_client, "/staff/jobs/new", {"title": "Designer", "location": "Remote",
                                                      "description": "Make it pretty.\n\nReally.", "is_open": "y"})
    position = JobPosition.get()
    assert response.headers["Location"] == f"/staff/jobs/{position.id}"
    assert (position.title, position.location, position.is_open) == ("Designer", "Remote", True)
    link = f'href="/careers/{position.id}"'
    assert link in staff_client.get("/careers").get_data(as_text=True)
    post(staff_client, f"/staff/jobs/{position.id}/edit", {"title": "Designer", "description": "Filled."})
    assert JobPosition.get().is_open is False
    assert link not in staff_client.get("/careers").get_data(as_text=True)
    assert "Designer" in staff_client.get("/staff/jobs").get_data(as_text=True)


def test_staff_review_an_application_and_every_action_is_audited(staff_client):
    application = make_application(education="Bachelor of arts")
    page = staff_client.get(f"/staff/jobs/applications/{application.id}").get_data(as_text=True)
    assert "Bachelor of arts" in page and "Not given." in page
    post(staff_client, f"/staff/jobs/applications/{application.id}", {"status": "invited", "notes": "Strong."})
    stored = JobApplication.get_by_id(application.id)
    assert (stored.status, stored.notes) == ("invited", "Strong.")
    post(staff_client, f"/staff/jobs/applications/{application.id}", {"status": "invited", "notes": "Still."})
    response = post(staff_client, f"/staff/jobs/applications/{application.id}", {"status": "boss", "notes": ""})
    assert response.status_code == 422 and JobApplication.get_by_id(application.id).status == "invited"
    target = f"application {application.id}"
    assert staff_actions() == [("job-application-viewed", target),
                               ("job-application-status", f"{target}: received → invited")]
    entry = AuditEntry.get(AuditEntry.action == "job-application-status")
    assert entry.actor_label == "staff@operator.example" and entry.by_staff
    assert "Peeters" not in " ".join(target for _, target in staff_actions())  # the log outlives the application


def test_closing_the_procedure_schedules_deletion_and_can_be_undone(staff_client, app):
    application = make_application()
    post(staff_client, f"/staff/jobs/applications/{application.id}/close")
    closed_at = JobApplication.get_by_id(application.id).closed_at
    assert closed_at is not None
    deleted_on = (closed_at + datetime.timedelta(days=app.config["RETENTION_JOB_APPLICATIONS_DAYS"])).date()
    page = staff_client.get(f"/staff/jobs/applications/{application.id}").get_data(as_text=True)
    assert f"the application is deleted on {deleted_on.isoformat()}" in page
    post(staff_client, f"/staff/jobs/applications/{application.id}/close")
    assert JobApplication.get_by_id(application.id).closed_at is None
    changes = [action for action, _ in staff_actions() if action != "job-application-viewed"]
    assert changes == ["job-application-closed", "job-application-reopened"]


def test_closing_every_open_procedure_of_a_vacancy(staff_client):
    position, other = make_position(), make_position(title="Other")
    earlier = utcnow() - datetime.timedelta(days=3)
    done = make_application(position, closed_at=earlier)
    pending = [make_application(position), make_application(position)]
    elsewhere = make_application(other)
    response = post(staff_client, f"/staff/jobs/{position.id}/close-procedures")
    assert response.status_code == 303
    assert all(JobApplication.get_by_id(row.id).closed_at is not None for row in pending)
    assert JobApplication.get_by_id(done.id).closed_at == earlier  # its period keeps counting from then
    assert JobApplication.get_by_id(elsewhere.id).closed_at is None
    assert staff_actions() == [("job-procedures-closed", f"position {position.id}: 2 applications")]


def test_staff_delete_an_application_now(staff_client):
    application, kept = make_application(), make_application()
    response = post(staff_client, f"/staff/jobs/applications/{application.id}/delete")
    assert response.headers["Location"] == f"/staff/jobs/{application.position_id}"
    assert [row.id for row in JobApplication.select()] == [kept.id]
    assert staff_actions() == [("job-application-deleted",
                                f"application {application.id} (position {application.position_id})")]


def test_the_vacancy_list_counts_applications_and_open_procedures(staff_client):
    position = make_position(title="Counted")
    make_position(title="Empty")
    make_application(position), make_application(position, closed_at=utcnow())
    page = staff_client.get("/staff/jobs").get_data(as_text=True)
    counted_row = page[page.index("Counted"):page.index("</tr>", page.index("Counted"))]
    empty_row = page[page.index("Empty"):page.index("</tr>", page.index("Empty"))]
    assert "<td>2</td>" in counted_row and "<td>1</td>" in counted_row
    assert empty_row.count("<td>0</td>") == 2


def test_hostile_html_in_every_field_is_shown_as_text(staff_client):
    fields = ("last_name", "first_name", "email", "phone", "address", "education", "employment", "household",
              "interests", "notes", "consent_text")
    position = make_position(title=f"title{HOSTILE}", description=f"description{HOSTILE}", location=f"loc{HOSTILE}")
    application = make_application(position, **{name: f"{name}{HOSTILE}" for name in fields})
    pages = {url: staff_client.get(url).get_data(as_text=True) for url in (
        "/staff/jobs", f"/staff/jobs/{position.id}", f"/staff/jobs/applications/{application.id}",
        f"/staff/jobs/{position.id}/edit", "/careers", f"/careers/{position.id}")}
    for url, page in pages.items():
        assert "<script>alert" not in page and "<img src=x" not in page, url
        assert "&lt;script&gt;" in page, url
    for name in fields:
        assert f"{name}&lt;script&gt;alert(" in pages[f"/staff/jobs/applications/{application.id}"]


def test_the_purge_never_deletes_an_open_procedure_however_old(app):
    ancient = utcnow() - datetime.timedelta(days=10 * 365)
    still_open = make_application(received_at=ancient)
    closed_long_ago = make_application(received_at=ancient, closed_at=ancient)
    with app.app_context():
        assert retention.run()["job_applications"] == 1
    assert [row.id for row in JobApplication.select()] == [still_open.id]
    assert JobApplication.get_or_none(JobApplication.id == closed_long_ago.id) is None
