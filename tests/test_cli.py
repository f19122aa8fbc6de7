"""The `sendtex` command line."""
import pytest
from click.testing import CliRunner

from sendtex.cli import DEMO_EMAIL, main
from sendtex.db import db
from sendtex.models.accounts import User
from tests.conftest import login, make_app


@pytest.fixture
def runner(tmp_path, monkeypatch):
    monkeypatch.setenv("SENDTEX_INSTANCE_PATH", str(tmp_path / "instance"))
    runner = CliRunner()
    assert runner.invoke(main, ["init-db"]).exit_code == 0
    return runner


def test_help_explains_every_command():
    output = CliRunner().invoke(main, ["--help"]).output
    for command in ("serve", "worker", "init-db", "create-user", "demo"):
        assert command in output
    assert "web app and a background worker in one process" in CliRunner().invoke(main, ["serve", "--help"]).output


def test_create_user_then_log_in(runner, tmp_path):
    result = runner.invoke(main, ["create-user", "boss@example.com", "--name", "Boss", "--password", "a fine long passphrase"])
    assert result.exit_code == 0, result.output
    app = make_app(tmp_path)
    user = User.by_email("boss@example.com")
    assert user.name == "Boss" and user.is_owner and not user.is_staff
    login(app.test_client(), user, "a fine long passphrase")


def test_create_user_staff_flag_and_bad_input(runner):
    assert runner.invoke(main, ["create-user", "ops@example.com", "--staff", "--password", "another long passphrase"]).exit_code == 0
    weak = runner.invoke(main, ["create-user", "x@example.com", "--password", "short"])
    assert weak.exit_code != 0 and "at least 10 characters" in weak.output
    taken = runner.invoke(main, ["create-user", "OPS@example.com", "--password", "another long passphrase"])
    assert taken.exit_code != 0 and "already has a login" in taken.output
    bad = runner.invoke(main, ["create-user", "not-an-address", "--password", "another long passphrase"])
    assert bad.exit_code != 0 and "not a valid e-mail address" in bad.output


def test_demo_prints_a_login_that_works_every_time(runner, tmp_path):
    first = runner.invoke(main, ["demo"])
    second = runner.invoke(main, ["demo"])
    assert first.exit_code == 0 and DEMO_EMAIL in first.output
    assert first.output == second.output  # the demo account is created once
    password = first.output.split(" / ")[1].split()[0]
    app = make_app(tmp_path)
    with db.connection_context():
        user = User.by_email(DEMO_EMAIL)
    login(app.test_client(), user, password)


def test_relays_are_added_listed_and_removed(runner, tmp_path):
    from sendtex import audience
    from sendtex.models.relays import Relay

    added = runner.invoke(main, ["relay", "add", "eu-1", "--host", "smtp.example.eu", "--region", "eu",
                                 "--username", "mailer"], env={"SENDTEX_RELAY_PASSWORD": "s3cret-relay"})
    assert added.exit_code == 0, added.output
    assert runner.invoke(main, ["relay", "add", "eu-1", "--host", "x", "--region", "eu"]).exit_code != 0
    bad = runner.invoke(main, ["relay", "add", "x", "--host", "x", "--region", "mars"])
    assert bad.exit_code != 0 and "mars" in bad.output
    assert "smtp.example.eu:587" in runner.invoke(main, ["relay", "list"]).output
    app = make_app(tmp_path)
    relay = Relay.get(Relay.name == "eu-1")
    assert "s3cret" not in relay.password_sealed
    with app.app_context():
        assert audience.cipher().open(relay.password_sealed, relay.password_aad()) == "s3cret-relay"
    assert runner.invoke(main, ["relay", "remove", "eu-1"]).exit_code == 0
    assert "No relay" in runner.invoke(main, ["relay", "list"]).output
    assert runner.invoke(main, ["relay", "remove", "eu-1"]).exit_code != 0
