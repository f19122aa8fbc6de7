"""Encrypted fields never reach the disk in plain text: not the database, its WAL, the queue file or the logs.
Key rotation keeps every value readable; the re-encryption job survives being killed; a missing key loses nothing."""
import json
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap

import pytest
from click.testing import CliRunner

from sendtex import audience
from sendtex.cli import main
from sendtex.config import read_keys_file, write_keys_file
from sendtex.crypto import new_key_text
from sendtex.db import db
from sendtex.models.audit import AuditEntry
from sendtex.models.contacts import Contact, Field
from sendtex.models.jobs import Job
from sendtex.tasks import fields as field_tasks
from sendtex.tasks.jobs import RESUMERS, run_job
from tests.conftest import login, make_account, make_app, make_user, post
from tests.test_fields import create_field

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Distinctive plain values: none of them may be found in a file once its field is encrypted.
ALWAYS_ENCRYPTED = {
    "email": "unique.person.4711@example.org",
    "ui_email": "unique.uiperson.4713@example.org",
    "last_name": "Zyxwvutsrq-Lastname-4711",
    "edited_last_name": "Mnbvcxwert-Edited-4712",
    "passport": "Qazwsxedc-Passport-4711",
}
PLAIN_FIRST = {  # written in plain text first, their fields encrypted afterwards
    "first_name": "Plokijuhy-Firstname-4711",
    "nickname": "Tgbyhnujm-Nickname-4711",
}
SECRETS = {**ALWAYS_ENCRYPTED, **PLAIN_FIRST}


def files_of(instance):
    """The database, queue and log files of an instance, as they are on disk now."""
    names = ["sendtex.db", "sendtex.db-wal", "huey.db", "huey.db-wal"]
    paths = [instance / name for name in names] + sorted(instance.rglob("*.log"))
    return {path.name: path.read_bytes() for path in paths if path.exists()}


def variants(secret):
    return {secret, secret.lower(), secret.upper()}


def assert_nowhere(instance, caplog):
    """No secret is in any file of the instance (its log file included) or in a log record."""
    files = files_of(instance)
    assert {"sendtex.db", "sendtex.log"} <= set(files)
    for secret in SECRETS.values():
        for variant in variants(secret):
            for name, data in files.items():
                assert variant.encode() not in data, f"{variant} found in {name}"
                assert variant.encode("utf-16-le") not in data, f"{variant} found in {name} (UTF-16)"
            assert not [r for r in caplog.records if r.levelno >= logging.INFO and variant in r.getMessage()]
    # Even peewee's DEBUG log of every SQL parameter never saw a value whose field was encrypted when written.
    for secret in ALWAYS_ENCRYPTED.values():
        assert not any(variant in caplog.text for variant in variants(secret)), secret


def set_encrypted(client, field, on=True):
    """Switch a field's encryption through its edit form (the job runs at once in tests)."""
    data = {"encrypted": "y" if on else ""}
    if not field.builtin:
        data.update(label=field.label, choices="\n".join(field.choices))
    response = post(client, f"/fields/{field.id}", data)
    assert response.status_code == 303, response.get_data(as_text=True)


def field(account_id, key):
    return Field.get(account=account_id, key=key)


def all_values(app, account_id):
    """{contact id: (values, errors)} read with the app's current key ring."""
    with app.app_context():
        fields = audience.FieldSet(account_id)
        return {contact.id: audience.read_values(contact, fields) for contact in Contact.for_account(account_id)}


def rotate(monkeypatch, instance, *args, env_keys=None):
    """Run `sendtex rotate-keys` as an operator would, against the instance."""
    if not db.is_closed():
        db.close()
    monkeypatch.setenv("SENDTEX_INSTANCE_PATH", str(instance))
    if env_keys:
        monkeypatch.setenv("SENDTEX_FIELD_KEYS", env_keys)
    else:
        monkeypatch.delenv("SENDTEX_FIELD_KEYS", raising=False)
    return CliRunner().invoke(main, ["rotate-keys", *args])


def test_encrypted_values_never_reach_the_disk_and_survive_rotation(tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    instance = tmp_path / "instance"
    instance.mkdir()
    log_file = logging.FileHandler(instance / "sendtex.log")  # an operator's log file, at INFO as in production
    log_file.setLevel(logging.INFO)
    logging.getLogger().addHandler(log_file)
    try:
        _scenario(tmp_path, instance, monkeypatch, caplog)
    finally:
        logging.getLogger().removeHandler(log_file)
        log_file.close()


def _scenario(tmp_path, instance, monkeypatch, caplog):
    app = make_app(tmp_path)
    # Another process keeps the database open, as a running server does: SQLite then keeps its -wal file
    # (it removes it only when the last connection closes), so old row versions could linger there.
    server = sqlite3.connect(instance / "sendtex.db")
    server.execute("SELECT count(*) FROM contact").fetchall()
    try:
        _use_and_rotate(tmp_path, instance, monkeypatch, caplog, app)
    finally:
        server.close()


def _use_and_rotate(tmp_path, instance, monkeypatch, caplog, app):
    client = app.test_client()
    owner = make_user(make_account("Secretive"))
    account_id = owner.account_id
    login(client, owner)

    # The marketer encrypts e-mail and last name, and adds an encrypted and a plain custom field.
    response = create_field(client, {"key": "passport", "label": "Passport", "type": "text", "encrypted": "y"})
    assert response.status_code == 303
    assert create_field(client, {"key": "nickname", "label": "Nickname", "type": "text"}).status_code == 303
    client.get("/fields")
    for key in ("email", "last_name"):
        set_encrypted(client, field(account_id, key))

    with app.app_context():
        fields = audience.FieldSet(account_id)
        values, errors = fields.coerce_all({"email": SECRETS["email"], "first_name": SECRETS["first_name"],
                                            "last_name": SECRETS["last_name"], "passport": SECRETS["passport"],
                                            "nickname": SECRETS["nickname"]})
        assert not errors
        person = audience.create_contact(fields, values)
        audience.update_contact(person, fields, {"last_name": SECRETS["edited_last_name"]})
    if "lists.add_contact" in app.view_functions:
        response = post(client, "/contacts/new", {"email": SECRETS["ui_email"], "last_name": SECRETS["last_name"],
                                                  "passport": SECRETS["passport"], "_membership": "subscribed"})
        assert response.status_code == 303, response.get_data(as_text=True)
        with app.app_context():
            ui_person = audience.find_by_email(account_id, SECRETS["ui_email"])
        response = post(client, f"/contacts/{ui_person.id}/edit", {
            "email": SECRETS["ui_email"], "last_name": SECRETS["edited_last_name"], "passport": SECRETS["passport"],
            "_status": "active"})
        assert response.status_code == 303, response.get_data(as_text=True)
        page = client.get(f"/contacts/{ui_person.id}").get_data(as_text=True)
        assert SECRETS["edited_last_name"] in page  # decrypted in memory for the page

    # First name and nickname were stored in plain text; encrypting them must leave no plain copy behind.
    set_encrypted(client, field(account_id, "first_name"))
    set_encrypted(client, field(account_id, "nickname"))
    # Off and on again: the values pass through plain text and must be gone afterwards as well.
    set_encrypted(client, field(account_id, "nickname"), on=False)
    set_encrypted(client, field(account_id, "nickname"))

    stored = Contact.get_by_id(person.id)
    assert stored.email is None and stored.first_name is None and stored.last_name is None and stored.attributes == {}
    before = all_values(app, account_id)
    assert before[person.id] == ({"email": SECRETS["email"], "first_name": SECRETS["first_name"],
                                  "last_name": SECRETS["edited_last_name"], "passport": SECRETS["passport"],
                                  "nickname": SECRETS["nickname"]}, {})
    assert_nowhere(instance, caplog)

    # Rotation: a new key first in the ring, every value re-sealed under it, nothing under the old key.
    old_ring = read_keys_file(instance / "keys.json")["FIELD_KEYS"]
    sealed_count = sum(len(contact.sealed) for contact in Contact.select())
    result = rotate(monkeypatch, instance)
    assert result.exit_code == 0, result.output
    assert "Added key k2" in result.output and f"Re-encrypted {sealed_count} values" in result.output
    ring = read_keys_file(instance / "keys.json")["FIELD_KEYS"]
    assert ring.startswith("k2:") and ring.endswith(old_ring)
    assert os.stat(instance / "keys.json").st_mode & 0o777 == 0o600
    app = make_app(tmp_path)
    assert all_values(app, account_id) == before
    tokens = [token for contact in Contact.select() for token in contact.sealed.values()]
    assert tokens and all(token.startswith("k2$") for token in tokens)
    assert_nowhere(instance, caplog)
    rotation = AuditEntry.get(AuditEntry.action == "keys-rotated")
    assert rotation.account is None and f"{sealed_count} values re-encrypted, newest key k2" == rotation.target

    # Running it again re-seals what is under k2 with k3; --drop-old then leaves only the newest key.
    result = rotate(monkeypatch, instance, "--drop-old")
    assert result.exit_code == 0, result.output
    assert "Removed the older keys k2, k1" in result.output
    assert read_keys_file(instance / "keys.json")["FIELD_KEYS"].count(":") == 1
    app = make_app(tmp_path)
    assert all_values(app, account_id) == before
    assert_nowhere(instance, caplog)


def test_rotation_with_keys_from_the_environment_waits_until_the_new_ring_is_set(tmp_path, monkeypatch):
    first = "k1:" + new_key_text()
    app = make_app(tmp_path, FIELD_KEYS=first)
    account = make_account()
    with app.app_context():
        fields = audience.FieldSet(account.id)
        Field.update(encrypted=True).where(Field.account == account.id).execute()
        fields = audience.FieldSet(account.id)
        for n in range(3):
            audience.create_contact(fields, {"email": f"p{n}@example.com", "last_name": f"Name {n}"})
    before = all_values(app, account.id)
    instance = tmp_path / "instance"
    keys_file = read_keys_file(instance / "keys.json")

    refused = rotate(monkeypatch, instance, env_keys=first)
    assert refused.exit_code != 0 and "set SENDTEX_FIELD_KEYS to" in refused.output
    new_ring = next(line.strip() for line in refused.output.splitlines() if line.strip().startswith("k2:"))
    assert new_ring.endswith(first) and read_keys_file(instance / "keys.json") == keys_file
    assert all(token.startswith("k1$") for c in Contact.select() for token in c.sealed.values())

    done = rotate(monkeypatch, instance, env_keys=new_ring)
    assert done.exit_code == 0 and "Re-encrypted 6 values" in done.output, done.output
    assert all(token.startswith("k2$") for c in Contact.select() for token in c.sealed.values())
    dropped = rotate(monkeypatch, instance, "--drop-old", env_keys=new_ring)
    assert dropped.exit_code == 0 and new_ring.split(",")[0] in dropped.output
    assert all_values(make_app(tmp_path, FIELD_KEYS=new_ring.split(",")[0]), account.id) == before


def encrypted_contacts(app, account_id, count, key="nickname"):
    """count contacts with a plain nickname, last name and e-mail; the values each one should keep."""
    with app.app_context():
        Field.create(account=account_id, key=key, label="Nickname", position=1)
        fields = audience.FieldSet(account_id)
        for n in range(count):
            audience.create_contact(fields, {"email": f"k{n}@example.com", "last_name": f"Last {n}", key: f"Nick {n}"})
    return all_values(app, account_id)


def test_job_that_fails_half_way_loses_nothing_and_a_second_run_finishes(app, monkeypatch):
    account = make_account()
    expected = encrypted_contacts(app, account.id, 25)
    monkeypatch.setattr(field_tasks, "CHUNK", 4)
    real_step, calls = field_tasks.step, []

    def failing_step(job, done=None):
        calls.append(done)
        if len(calls) == 3:  # after two chunks were committed
            raise RuntimeError("worker lost")
        real_step(job, done)

    monkeypatch.setattr(field_tasks, "step", failing_step)
    with app.app_context():
        nickname = field(account.id, "nickname")
        job = field_tasks.start_field_encryption(nickname, True)
    assert Job.get_by_id(job.id).status == "failed"
    sealed = Contact.select().where(field_tasks.sealed_value("nickname")).count()
    assert 0 < sealed < 25  # half-way: some values moved, the rest still plain
    assert all_values(app, account.id) == expected  # and every value still reads back

    monkeypatch.setattr(field_tasks, "step", real_step)
    with app.app_context():
        again = field_tasks.start_field_encryption(nickname, True)
        run_job(again.id)  # a duplicate delivery of the task changes nothing
    assert Job.get_by_id(again.id).status == "done" and Job.get_by_id(again.id).result == {"moved": 25 - sealed}
    assert all("nickname" in c.sealed and "nickname" not in c.attributes for c in Contact.select())
    assert all_values(app, account.id) == expected


KILLED_WORKER = textwrap.dedent("""
    import os, signal, sys
    from tests.conftest import make_app
    from sendtex.tasks import fields as field_tasks
    from sendtex.tasks.jobs import run_job

    app = make_app(__import__("pathlib").Path(sys.argv[1]))
    field_tasks.CHUNK = 4
    real_step, calls = field_tasks.step, []

    def step(job, done=None):
        calls.append(done)
        if len(calls) == 4:
            os.kill(os.getpid(), signal.SIGKILL)  # no cleanup, no rollback handler: a worker killed with kill -9
        real_step(job, done)

    field_tasks.step = step
    with app.app_context():
        run_job.call_local(int(sys.argv[2]))
""")


def test_worker_killed_mid_job_then_resumed_converges(tmp_path):
    app = make_app(tmp_path, JOB_LEASE_SECONDS=60)
    account = make_account()
    expected = encrypted_contacts(app, account.id, 30)
    Field.update(encrypted=True).where(Field.account == account.id).execute()  # as a job would first do
    job = Job.create(account=account.id, kind="field_encryption", status="queued",
                     params={"field_id": field(account.id, "nickname").id, "key": "nickname", "encrypted": True})
    db.close()

    worker = subprocess.run([sys.executable, "-c", KILLED_WORKER, str(tmp_path), str(job.id)], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert worker.returncode == -signal.SIGKILL, worker.stderr
    job = Job.get_by_id(job.id)
    assert job.status == "running" and job.done == 8  # progress saved after the second chunk; the third was committed
    moved = Contact.select().where(field_tasks.sealed_value("nickname")).count()
    assert moved == 12 and all_values(app, account.id) == expected

    # Its lease runs out; the periodic resumer starts the job again and it finishes.
    Job.update(lease_until=Job.created_at).where(Job.id == job.id).execute()
    with app.app_context():
        for resume in RESUMERS:
            resume()
    assert Job.get_by_id(job.id).status == "done"
    assert all("nickname" in c.sealed and "nickname" not in c.attributes for c in Contact.select())
    assert all_values(app, account.id) == expected


def test_a_missing_key_is_reported_and_nothing_is_overwritten(tmp_path, monkeypatch):
    lost = "k1:" + new_key_text()
    app = make_app(tmp_path, FIELD_KEYS=lost)
    account = make_account()
    user = make_user(account)
    with app.app_context():
        audience.FieldSet(account.id)
        Field.create(account=account, key="passport", label="Passport", encrypted=True, position=1)
        Field.update(encrypted=True).where((Field.account == account.id) & (Field.key == "last_name")).execute()
        fields = audience.FieldSet(account.id)
        person = audience.create_contact(fields, {"email": "ann@example.com", "last_name": "Peeters",
                                                  "passport": "P-123"})
    sealed_before = Contact.get_by_id(person.id).sealed

    # The operator lost key k1: the ring only has a newer key.
    instance = tmp_path / "instance"
    keys = read_keys_file(instance / "keys.json")
    write_keys_file(instance / "keys.json", {**keys, "FIELD_KEYS": "k2:" + new_key_text()})
    app = make_app(tmp_path)
    values, errors = all_values(app, account.id)[person.id]
    assert values["email"] == "ann@example.com" and values["last_name"] is None and values["passport"] is None
    assert set(errors) == {"last_name", "passport"} and "not in the key ring" in errors["passport"]

    with app.app_context():
        fields = audience.FieldSet(account.id)
        with pytest.raises(audience.UndecryptableValue):
            audience.update_contact(Contact.get_by_id(person.id), fields, {"last_name": "Overwritten"})
        with pytest.raises(audience.UndecryptableValue):
            audience.update_contact(Contact.get_by_id(person.id), fields, {"passport": None})
        audience.update_contact(Contact.get_by_id(person.id), fields, {"first_name": "Ann"})  # others still change
    assert Contact.get_by_id(person.id).sealed == sealed_before

    client = app.test_client()
    login(client, user)
    if "lists.contact_detail" in app.view_functions:
        page = client.get(f"/contacts/{person.id}")
        assert page.status_code == 200 and "cannot be decrypted" in page.get_data(as_text=True)
    # Turning encryption off cannot decrypt them: they stay sealed, and the job says how many.
    set_encrypted(client, field(account.id, "passport"), on=False)
    job = Job.select().where(Job.kind == "field_encryption").order_by(Job.id.desc()).get()
    assert job.status == "done" and job.result == {"undecryptable": 1}
    assert "1 value cannot be decrypted" in client.get(f"/fields/jobs/{job.id}").get_data(as_text=True)
    assert Contact.get_by_id(person.id).sealed == sealed_before

    result = rotate(monkeypatch, instance)
    assert result.exit_code != 0 and "2 values cannot be decrypted" in result.output and "'k1': 2" in result.output
    assert Contact.get_by_id(person.id).sealed == sealed_before
    assert json.dumps(sealed_before).count("k1$") == 2


def test_rotation_also_reseals_dkim_keys_and_relay_passwords(tmp_path, monkeypatch):
    from sendtex import domains
    from sendtex.models.campaigns import SendingDomain
    from sendtex.models.relays import Relay

    app = make_app(tmp_path)
    account = make_account()
    with app.app_context():
        domain = domains.add_domain(account.id, "shop.example")
        relay = Relay(name="eu-1", host="127.0.0.1")
        relay.password_sealed = audience.cipher().seal("relay-secret-4711", relay.password_aad())
        relay.save()
    old_key_id = domain.dkim_private_key.partition("$")[0]

    result = rotate(monkeypatch, tmp_path / "instance", "--drop-old")
    assert result.exit_code == 0, result.output
    assert "Removed the older keys" in result.output  # only possible when nothing used them any more

    app = make_app(tmp_path)
    domain, relay = SendingDomain.get_by_id(domain.id), Relay.get_by_id(relay.id)
    assert not domain.dkim_private_key.startswith(old_key_id + "$")
    with app.app_context():
        assert domains.signer_for(domain).sign(b"From: a@shop.example\r\nTo: b@example.com\r\n\r\nHi\r\n")
        assert audience.cipher().open(relay.password_sealed, relay.password_aad()) == "relay-secret-4711"
