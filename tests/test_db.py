"""The database layer: pragmas, migrations that match the models, idempotent init-db."""
from click.testing import CliRunner
from playhouse.schema_diff import diff_models

from sendtex.cli import main
from sendtex.db import db, pending_migrations, upgrade
from sendtex.models import MODELS
from sendtex.models.accounts import User


def test_sqlite_runs_with_wal_foreign_keys_and_secure_delete(app):
    with db.connection_context():
        assert db.execute_sql("pragma journal_mode").fetchone()[0] == "wal"
        assert db.execute_sql("pragma foreign_keys").fetchone()[0] == 1
        assert db.execute_sql("pragma secure_delete").fetchone()[0] == 1
        assert db.execute_sql("pragma busy_timeout").fetchone()[0] >= 5000


def test_migrations_create_exactly_the_schema_of_the_models(app):
    with db.connection_context():
        assert not diff_models(db.obj, MODELS), "a model changed without a migration"
        assert pending_migrations() == []


def test_upgrade_twice_is_harmless(app):
    assert upgrade() == []


def test_init_db_command_creates_then_reports_up_to_date(tmp_path, monkeypatch):
    monkeypatch.setenv("SENDTEX_INSTANCE_PATH", str(tmp_path / "instance"))
    runner = CliRunner()
    first = runner.invoke(main, ["init-db"])
    assert first.exit_code == 0 and "Applied: 0001_initial" in first.output
    second = runner.invoke(main, ["init-db"])
    assert second.exit_code == 0 and "up to date" in second.output


def test_deleting_an_account_cascades_to_its_users(app, owner):
    account_id = owner.account_id
    owner.account.delete_instance()
    assert User.for_account(account_id).count() == 0
