"""The Peewee database: deferred initialisation, pragmas, per-request connections, migrations."""
from pathlib import Path

from peewee import DatabaseProxy, Model, SqliteDatabase
from playhouse.db_url import connect as connect_url
from playhouse.migrations import Runner

db = DatabaseProxy()

MIGRATIONS_DIR = Path(__file__).parent / "migrations"

# secure_delete overwrites deleted rows so account deletion leaves nothing in free pages.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "busy_timeout": 10000,
    "secure_delete": 1,
    "synchronous": "normal",
    "cache_size": -32000,
}


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


def open_database(url):
    """Point the shared proxy at the database named by url."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///"):]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        database = SqliteDatabase(path, pragmas=SQLITE_PRAGMAS, timeout=10)
    else:
        database = connect_url(url)
    db.initialize(database)
    return database


def init_app(app):
    """Open the configured database and connect/close it around each request."""
    open_database(app.config["DATABASE_URL"])

    @app.before_request
    def _connect():
        db.connect(reuse_if_open=True)

    @app.teardown_request
    def _close(exc):
        if not db.is_closed():
            db.close()


def migration_runner():
    """The migration runner over sendtex/migrations, recording versions in schema_migration."""
    return Runner(db.obj, directory=str(MIGRATIONS_DIR))


def upgrade():
    """Create or upgrade the schema; returns the names of the migrations applied now."""
    with db.connection_context():
        return migration_runner().up() or []


def pending_migrations():
    """Names of the migrations not yet applied."""
    with db.connection_context():
        return [m.name for m in migration_runner().status() if m.applied is None]
