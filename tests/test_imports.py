"""CSV import: upload, detection, mapping, modes, duplicates, bad input, report."""
import csv
import io
from pathlib import Path

import pytest

from sendtex import audience
from sendtex.models.contacts import Contact, Field, MailingList, Subscription
from sendtex.models.imports import Import, ImportRejection
from tests.conftest import csrf_token, make_app, post

MAILCHIMP = (
    '"Email Address","First Name","Last Name","Address","Phone Number","MEMBER_RATING","OPTIN_TIME","OPTIN_IP",'
    '"CONFIRM_TIME","CONFIRM_IP","LATITUDE","LONGITUDE","GMTOFF","DSTOFF","TIMEZONE","CC","REGION","LAST_CHANGED",'
    '"LEID","EUID","NOTES","TAGS"\n'
    '"ann@example.com","Ann","Peeters","","",2,"2024-01-02 10:00:00","","2024-01-02 10:01:00","198.51.100.4",'
    '"","","","","","BE","","2024-05-01 09:00:00","123","abc","","""vip"""\n'
    '"bob@example.com","Bob","Maes","","",3,"","","","","","","","","","","","","124","abd","",""\n'
)
LISTMONK = (
    "uuid,email,name,attributes,status,created_at,updated_at\n"
    '6f1c0f5e-1111-4c1e-9d41-1f0a0e6f0001,carla@example.com,Carla De Smet,"{""city"": ""Gent"", ""age"": 41}",'
    "enabled,2024-01-01 10:00:00+00,2024-01-01 10:00:00+00\n"
    '6f1c0f5e-1111-4c1e-9d41-1f0a0e6f0002,dirk@example.com,Dirk,"{}",enabled,2024-01-01 10:00:00+00,'
    "2024-01-01 10:00:00+00\n"
)
SPREADSHEET_NL = "E-mailadres;Voornaam;Achternaam;Stad\r\nelise@example.com;Élise;Dubois;Liège\r\nfrans@example.com;Frans;Janssen;Genk\r\n"


def upload(client, content, filename="contacts.csv", htmx=False):
    """Upload a CSV file; content as bytes or str (UTF-8)."""
    data = {"csrf_token": csrf_token(client, "/imports"),
            "file": (io.BytesIO(content.encode() if isinstance(content, str) else content), filename)}
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post("/imports", data=data, headers=headers, content_type="multipart/form-data")


def new_import(client, content, filename="contacts.csv"):
    response = upload(client, content, filename)
    assert response.status_code == 303, response.get_data(as_text=True)
    return Import.get_by_id(int(response.headers["Location"].rsplit("/", 1)[1]))


def start(client, job, mapping=None, mode="subscribe", lists=(), confirmed="yes"):
    """Start an import with the guessed mapping unless one is given; returns the response."""
    form = {"mode": mode, "list": [str(list_id) for list_id in lists], "confirmed": confirmed}
    if mapping is None:
        page = client.get(f"/imports/{job.id}").get_data(as_text=True)
        mapping = _selected_options(page, len(job.header))
    form.update({f"column-{column}": target for column, target in mapping.items()})
    return post(client, f"/imports/{job.id}/start", form)


def _selected_options(page, columns):
    import re

    mapping = {}
    for column in range(columns):
        select = re.search(rf'<select id="column-{column}".*?</select>', page, re.S).group(0)
        chosen = re.search(r'<option value="([^"]*)" selected', select)
        if chosen:
            mapping[column] = chosen.group(1)
    return mapping


@pytest.fixture
def news(owner):
    return MailingList.create(account=owner.account, name="News")


@pytest.fixture
def encrypted_last_name(owner):
    audience.FieldSet(owner.account_id)
    Field.update(encrypted=True).where((Field.account == owner.account_id) & (Field.key == "last_name")).execute()


def values_of(app, contact):
    with app.app_context():
        return audience.read_values(contact, audience.FieldSet(contact.account_id))[0]


def test_upload_shows_the_mapping_with_guesses_and_a_preview(owner_client, news):
    job = new_import(owner_client, MAILCHIMP)
    assert (job.status, job.encoding, job.delimiter) == ("draft", "utf-8", ",")
    page = owner_client.get(f"/imports/{job.id}").get_data(as_text=True)
    assert "ann@example.com" in page and "Peeters" in page  # the preview
    assert _selected_options(page, len(job.header)) == {0: "email", 1: "first_name", 2: "last_name"}


def test_mailchimp_export_imports_without_editing(app, owner_client, news, encrypted_last_name):
    job = new_import(owner_client, MAILCHIMP)
    response = start(owner_client, job, lists=[news.id])
    assert response.status_code == 303
    job = Import.get_by_id(job.id)
    assert (job.status, job.inserted, job.updated, job.skipped, job.rows_done) == ("done", 2, 0, 0, 2)
    with app.app_context():
        ann = audience.find_by_email(job.account_id, "ann@example.com")
    assert ann.last_name is None and "last_name" in ann.sealed  # stored encrypted
    assert values_of(app, ann)["last_name"] == "Peeters"
    assert Subscription.select().where(Subscription.mailing_list == news.id,
                                       Subscription.status == "subscribed").count() == 2
    report = owner_client.get(f"/imports/{job.id}").get_data(as_text=True)
    assert "Contacts added" in report and "hx-trigger" not in report


def test_listmonk_export_splits_names_and_reads_attributes(app, owner_client, owner, news):
    Field.create(account=owner.account, key="city", label="City", type="text")
    Field.create(account=owner.account, key="age", label="Age", type="number")
    job = new_import(owner_client, LISTMONK)
    start(owner_client, job, lists=[news.id])
    with app.app_context():
        carla = audience.find_by_email(owner.account_id, "carla@example.com")
    values = values_of(app, carla)
    assert (values["first_name"], values["last_name"], values["city"], values["age"]) == ("Carla", "De Smet", "Gent", 41)


def test_windows_spreadsheet_with_semicolons(app, owner_client, owner, news):
    Field.create(account=owner.account, key="stad", label="Stad", type="text")
    job = new_import(owner_client, SPREADSHEET_NL.encode("cp1252"))
    assert (job.encoding, job.delimiter) == ("cp1252", ";")
    start(owner_client, job, lists=[news.id])
    with app.app_context():
        elise = audience.find_by_email(owner.account_id, "elise@example.com")
    assert values_of(app, elise)["first_name"] == "Élise" and values_of(app, elise)["stad"] == "Liège"


def test_utf8_with_bom_and_tabs(owner_client, news):
    job = new_import(owner_client, "\ufeffemail\tfirst_name\nx@example.com\tXavier\n".encode())
    assert (job.encoding, job.delimiter, job.header) == ("utf-8-sig", "\t", ["email", "first_name"])
    start(owner_client, job, lists=[news.id])
    assert Import.get_by_id(job.id).inserted == 1


@pytest.mark.parametrize("content, message", [
    (b"", "The file is empty."),
    (b"   \n\n", "The file is empty."),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary data"),
    (b"email,name\n", "header line but no rows"),
])
def test_unreadable_files_are_refused_and_not_kept(app, owner_client, content, message):
    response = upload(owner_client, content)
    assert response.status_code == 422 and message in response.get_data(as_text=True)
    assert Import.select().count() == 0
    assert list((Path(app.instance_path) / "uploads").glob("*")) == []


def test_no_file_chosen(owner_client):
    response = owner_client.post("/imports", data={"csrf_token": csrf_token(owner_client, "/imports")},
                                 content_type="multipart/form-data")
    assert response.status_code == 422 and "Choose a CSV file" in response.get_data(as_text=True)


def test_too_large_file_gets_413(tmp_path):
    app = make_app(tmp_path, IMPORT_MAX_BYTES=1000)
    from tests.conftest import login, make_user

    client = app.test_client()
    login(client, make_user())
    response = upload(client, "email\n" + "someone@example.com\n" * 200)
    assert response.status_code == 413 and "larger than" in response.get_data(as_text=True)
    assert list((Path(app.instance_path) / "uploads").glob("*")) == []


def test_the_email_column_must_be_mapped(owner_client, news):
    job = new_import(owner_client, "address,name\nann@example.com,Ann\n")
    response = start(owner_client, job, mapping={1: "first_name"}, lists=[news.id])
    assert response.status_code == 422
    assert "Choose the column that holds the e-mail address." in response.get_data(as_text=True)
    assert Import.get_by_id(job.id).status == "draft" and Contact.select().count() == 0


@pytest.mark.parametrize("mapping, message", [
    ({0: "email", 1: "email"}, "is chosen for more than one column"),
    ({0: "email", 1: "no_such_field"}, "is not a field of this account"),
])
def test_bad_mappings_are_refused(owner_client, news, mapping, message):
    job = new_import(owner_client, "a,b\nann@example.com,x\n")
    response = start(owner_client, job, mapping=mapping, lists=[news.id])
    assert response.status_code == 422 and message in response.get_data(as_text=True)


def test_another_accounts_list_cannot_be_a_target(owner_client, news):
    from tests.conftest import make_account

    other = MailingList.create(account=make_account("Other"), name="Theirs")
    job = new_import(owner_client, "email\nann@example.com\n")
    response = start(owner_client, job, lists=[other.id])
    assert response.status_code == 422 and "does not exist" in response.get_data(as_text=True)


def test_bad_rows_are_refused_with_line_column_and_reason(app, owner_client, owner, news):
    Field.create(account=owner.account, key="age", label="Age", type="number")
    Field.create(account=owner.account, key="member", label="Member", type="boolean")
    long_line = "long@example.com," + "x" * 100_000 + ",3,yes"
    content = "\n".join([
        "email,first_name,age,member",
        "good@example.com,Good,30,yes",
        "not-an-address,Bad,30,yes",
        "info@bücher.example,Idn,22,no",  # an internationalised domain is valid
        "typed@example.com,Typed,thirty,maybe",
        long_line,
        "GOOD@example.com,Again,31,no",  # the same address as line 2
        "",
    ])
    job = new_import(owner_client, content)
    start(owner_client, job, lists=[news.id])
    job = Import.get_by_id(job.id)
    assert (job.status, job.inserted, job.skipped) == ("done", 2, 5)
    reasons = {(r.line, r.column): r.reason for r in ImportRejection.select()}
    assert "not a valid e-mail address" in reasons[(3, "email")]
    assert reasons[(5, "age")] == "Age must be a number." and reasons[(5, "member")] == "Member must be yes or no."
    assert "longer than 10000 characters" in reasons[(6, "")]
    assert reasons[(7, "email")] == "This address is on an earlier row of the file."
    rows = list(csv.reader(io.StringIO(owner_client.get(f"/imports/{job.id}/rejections.csv").get_data(as_text=True))))
    assert rows[0] == ["line", "column", "reason"] and len(rows) == 6


def test_subscribe_mode_updates_existing_contacts_and_never_resubscribes(app, owner_client, owner, news):
    with app.app_context():
        fields = audience.FieldSet(owner.account_id)
        known = audience.create_contact(fields, {"email": "known@example.com", "first_name": "Old"})
        gone = audience.create_contact(fields, {"email": "gone@example.com"})
        audience.set_memberships([gone.id], [news.id], "unsubscribed")
    job = new_import(owner_client, "email,first_name\nknown@example.com,New\ngone@example.com,\nnew@example.com,N\n")
    start(owner_client, job, lists=[news.id])
    job = Import.get_by_id(job.id)
    assert (job.inserted, job.updated, job.skipped) == (1, 2, 0)
    assert values_of(app, Contact.get_by_id(known.id))["first_name"] == "New"
    assert Subscription.get(Subscription.contact == gone.id).status == "unsubscribed"
    assert Contact.select().count() == 3


def test_update_mode_adds_no_one(app, owner_client, owner):
    with app.app_context():
        audience.create_contact(audience.FieldSet(owner.account_id), {"email": "known@example.com"})
    job = new_import(owner_client, "email,first_name\nknown@example.com,Kim\nstranger@example.com,S\n")
    start(owner_client, job, mode="update")
    job = Import.get_by_id(job.id)
    assert (job.inserted, job.updated, job.skipped) == (0, 1, 1)
    assert Contact.select().count() == 1


def test_blocklist_mode(app, owner_client, owner, news):
    with app.app_context():
        known = audience.create_contact(audience.FieldSet(owner.account_id), {"email": "known@example.com"},
                                        list_ids=[news.id])
    job = new_import(owner_client, "email\nknown@example.com\nspam@example.com\n")
    start(owner_client, job, mode="blocklist")
    assert {c.status for c in Contact.select()} == {"blocklisted"}
    assert Subscription.get(Subscription.contact == known.id).status == "unsubscribed"


def test_double_opt_in_import_adds_unconfirmed_members(owner_client, news):
    job = new_import(owner_client, "email\nann@example.com\n")
    start(owner_client, job, lists=[news.id], confirmed="double")
    assert Subscription.get().status == "unconfirmed" and Subscription.get().confirmed_at is None


def test_a_list_deleted_during_the_import_stops_it_and_keeps_what_was_done(tmp_path, monkeypatch):
    from sendtex.tasks import imports as import_task
    from tests.conftest import login, make_user

    app = make_app(tmp_path, IMPORT_CHUNK_ROWS=2)
    client = app.test_client()
    owner = make_user()
    login(client, owner)
    target = MailingList.create(account=owner.account, name="Target")
    original_step = import_task.step
    monkeypatch.setattr(import_task, "step", lambda job, done=None: (original_step(job, done), target.delete_instance()))
    job = new_import(client, "email\n" + "".join(f"p{n}@example.com\n" for n in range(6)))
    start(client, job, lists=[target.id])
    job = Import.get_by_id(job.id)
    assert job.status == "failed" and "deleted while it ran" in job.error
    assert job.inserted == 2 and Contact.select().count() == 2


def test_cancel_a_draft_discards_the_upload(app, owner_client):
    job = new_import(owner_client, "email\nann@example.com\n")
    response = post(owner_client, f"/imports/{job.id}/cancel")
    assert response.status_code == 303 and Import.select().count() == 0
    assert list((Path(app.instance_path) / "uploads").glob("*")) == []


def test_upload_is_encrypted_at_rest_and_deleted_after_the_import(app, owner_client, news):
    job = new_import(owner_client, "email,last_name\nsecret.person@example.com,Verysecretname\n")
    files = list((Path(app.instance_path) / "uploads").glob("*"))
    assert len(files) == 1
    assert b"Verysecretname" not in files[0].read_bytes() and b"secret.person" not in files[0].read_bytes()
    start(owner_client, job, lists=[news.id])
    assert list((Path(app.instance_path) / "uploads").glob("*")) == []


def test_pages_plain_and_htmx(owner_client, news):
    assert "<html" in owner_client.get("/imports").get_data(as_text=True)
    fragment = owner_client.get("/imports", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and 'id="import-upload"' in fragment
    response = upload(owner_client, "email\nann@example.com\n", htmx=True)
    assert response.status_code == 200 and "/imports/" in response.headers["HX-Redirect"]
    job = Import.get()
    progress = owner_client.get(f"/imports/{job.id}/progress", headers={"HX-Request": "true"})
    assert "<html" not in progress.get_data(as_text=True)


def test_progress_partial_polls_until_finished(owner_client, news):
    job = new_import(owner_client, "email\nann@example.com\n")
    Import.update(status="running", total=100, done=40).where(Import.id == job.id).execute()
    running = owner_client.get(f"/imports/{job.id}/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in running and 'value="40"' in running
    Import.update(status="done").where(Import.id == job.id).execute()
    finished = owner_client.get(f"/imports/{job.id}/progress", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in finished and 'value="100"' in finished


def test_imported_encrypted_values_never_reach_disk_in_plain_text(tmp_path, caplog):
    """Through a real queue file (not immediate mode) and a worker run in this process."""
    from sendtex.queue import huey
    from tests.conftest import login, make_user

    app = make_app(tmp_path, HUEY_IMMEDIATE=False)
    client = app.test_client()
    owner = make_user()
    login(client, owner)
    news = MailingList.create(account=owner.account, name="News")
    audience.FieldSet(owner.account_id)
    Field.update(encrypted=True).where((Field.account == owner.account_id)
                                       & Field.key.in_(["email", "last_name"])).execute()
    Field.create(account=owner.account, key="iban", label="IBAN", type="text", encrypted=True)
    secrets = ["hidden.person.4711@example.org", "Zyxwvutsrq", "BE71096123456769"]
    job = new_import(client, "email,last_name,iban\n" + ",".join(secrets) + "\nbad-address,Qwertzuiopa,X\n")
    start(client, job, lists=[news.id])
    while (task := huey.dequeue()) is not None:  # what a consumer would do
        huey.execute(task)
    assert Import.get_by_id(job.id).status == "done"
    contact = Contact.get()
    assert contact.email is None and set(contact.sealed) == {"email", "last_name", "iban"}
    instance = Path(app.instance_path)
    files = [path for path in instance.rglob("*") if path.is_file()]
    assert any(path.name == "huey.db" for path in files) and any(path.name.endswith("-wal") for path in files)
    for path in files:
        data = path.read_bytes()
        for secret in secrets + ["Qwertzuiopa"]:
            assert secret.encode() not in data, f"{secret} found in {path.name}"
    assert not any(secret in caplog.text for secret in secrets)


def test_an_undecryptable_stored_value_is_left_alone_and_reported(app, owner_client, owner):
    audience.FieldSet(owner.account_id)
    Field.update(encrypted=True).where((Field.account == owner.account_id) & (Field.key == "last_name")).execute()
    with app.app_context():
        known = audience.create_contact(audience.FieldSet(owner.account_id),
                                        {"email": "known@example.com", "last_name": "Old"})
    lost = "k9$" + known.sealed["last_name"].split("$", 1)[1]  # sealed under a key the ring no longer has
    Contact.update(sealed={"last_name": lost}).where(Contact.id == known.id).execute()
    job = new_import(owner_client, "email,last_name\nknown@example.com,New\n")
    start(owner_client, job, mode="update")
    job = Import.get_by_id(job.id)
    assert (job.status, job.updated, job.skipped) == ("done", 0, 1)
    assert "cannot be decrypted" in ImportRejection.get().reason
    assert Contact.get_by_id(known.id).sealed == {"last_name": lost}


def test_an_upload_that_vanished_fails_the_import_with_a_reason(app, owner_client, news):
    job = new_import(owner_client, "email\nann@example.com\n")
    (Path(app.instance_path) / "uploads" / job.upload_name).unlink()
    page = owner_client.get(f"/imports/{job.id}").get_data(as_text=True)
    assert "Start the import" in page  # the mapping still shows, without a preview
    start(owner_client, job, mapping={0: "email"}, lists=[news.id])
    job = Import.get_by_id(job.id)
    assert job.status == "failed" and "could not be read" in job.error
