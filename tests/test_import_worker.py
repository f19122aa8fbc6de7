"""A real Huey consumer process imports a file; killed with SIGKILL half-way and restarted, it finishes
the import with every row imported exactly once."""
from sendtex import audience
from sendtex.db import db
from sendtex.models.contacts import Contact, Field, MailingList, Subscription
from sendtex.models.imports import Import
from tests.conftest import login, make_app, make_user
from tests.test_imports import new_import, start
from tests.workers import kill_mid_work_then_finish

ROWS = 60_000


def test_import_survives_a_killed_worker(tmp_path):
    app = make_app(tmp_path, HUEY_IMMEDIATE=False, JOB_LEASE_SECONDS=2, IMPORT_CHUNK_ROWS=500)
    client = app.test_client()
    owner = make_user()
    login(client, owner)
    news = MailingList.create(account=owner.account, name="News")
    audience.FieldSet(owner.account_id)
    Field.update(encrypted=True).where((Field.account == owner.account_id) & (Field.key == "last_name")).execute()
    content = "email,first_name,last_name\n" + "".join(
        f"person{n}@example.com,First{n},Last{n}\n" for n in range(ROWS))
    job = new_import(client, content)
    assert start(client, job, lists=[news.id]).status_code == 303
    db.close()

    def killed_mid_import():
        killed = Import.get_by_id(job.id)
        assert killed.status == "running" and 0 < killed.rows_done < ROWS, "the kill did not land mid-import"

    kill_mid_work_then_finish(app.instance_path, tmp_path / "worker.log",
                              started=lambda: Import.get_by_id(job.id).rows_done >= 500, check_killed=killed_mid_import,
                              finished=lambda: Import.get_by_id(job.id).status in ("done", "failed"))

    with db.connection_context():
        done = Import.get_by_id(job.id)
        assert done.status == "done", (tmp_path / "worker.log").read_text()[-3000:]
        assert (done.rows_done, done.inserted, done.updated, done.skipped) == (ROWS, ROWS, 0, 0)
        assert Contact.select().count() == ROWS
        assert Subscription.select().where(Subscription.mailing_list == news.id).count() == ROWS
        with app.app_context():
            sample = audience.find_by_email(owner.account_id, f"person{ROWS - 1}@example.com")
            assert audience.read_values(sample, audience.FieldSet(owner.account_id))[0]["last_name"] == f"Last{ROWS - 1}"
