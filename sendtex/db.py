"""The Peewee database: deferred initialisation, pragmas, per-request connections, migrations."""
import re
from pathlib import Path

from peewee import Cast, DatabaseProxy, Expression, Model, PostgresqlDatabase, SqliteDatabase, fn
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


def checkpoint():
    """Copy the SQLite write-ahead log into the database file and empty it (a no-op on other databases)."""
    # Old versions of rewritten rows (a value before it was encrypted) would otherwise linger in the -wal file.
    if isinstance(db.obj, SqliteDatabase):
        db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")


class BaseModel(Model):
    class Meta:
        database = db
        legacy_table_names = False


JSON_KEY = re.compile(r"[A-Za-z0-9_-]{1,40}")
POSTGRES_CASTS = {"number": "numeric", "boolean": "boolean"}


def json_value(column, key, cast=None):
    """The value under key in a JSON text column as an SQL expression; cast is None (text), "number" or "boolean"."""
    # The key becomes part of a JSON path on SQLite, so it must be a plain slug, never free text.
    if not isinstance(key, str) or not JSON_KEY.fullmatch(key):
        raise ValueError(f"not a field key: {key!r}")
    if isinstance(db.obj, PostgresqlDatabase):
        value = Expression(Cast(column, "jsonb"), "->>", key)
        return Cast(value, POSTGRES_CASTS[cast]) if cast else value
    # SQLite's json_extract already answers numbers as numbers and true/false as 1/0.
    return fn.json_extract(column, f'$."{key}"')


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


def bulk_insert(model, fields, rows, on_conflict=""):
    """Insert many rows (tuples in the order of fields) with one prepared statement.

    Peewee's insert_many renders SQL for every row: measured at 60 % of an import's time, so the hot
    bulk paths use DB-API executemany here. on_conflict is an optional portable ON CONFLICT clause.
    """
    if not rows:
        return
    database = db.obj
    opening, closing = database.quote
    columns = ", ".join(f"{opening}{field.column_name}{closing}" for field in fields)
    marks = ", ".join([database.param] * len(fields))
    table = f"{opening}{model._meta.table_name}{closing}"
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks}) {on_conflict}"
    # Plain values go to the driver as they are; only columns that serialise (JSON) are converted.
    converting = [(index, field.db_value) for index, field in enumerate(fields) if getattr(field, "serialises", False)]
    prepared = rows
    if converting:
        prepared = [list(row) for row in rows]
        for row in prepared:
            for index, convert in converting:
                row[index] = convert(row[index])
    database.cursor().executemany(sql, prepared)


def update_by_id(model, row_id, **changes):
    """UPDATE one row by id with plain values, through a statement rendered once per set of columns."""
    # Per-message bookkeeping of a campaign: Peewee rendering its UPDATE cost ~250 µs a message.
    database = db.obj
    opening, closing = database.quote
    columns = tuple(sorted(changes))
    key = (model._meta.table_name, columns, database.param)
    sql = _update_statements.get(key)
    if sql is None:
        fields = model._meta.fields
        assignments = ", ".join(f"{opening}{fields[name].column_name}{closing} = {database.param}" for name in columns)
        sql = _update_statements[key] = (f"UPDATE {opening}{model._meta.table_name}{closing} SET {assignments} "
                                         f"WHERE {opening}id{closing} = {database.param}")
    database.execute_sql(sql, [changes[name] for name in columns] + [row_id])


_update_statements = {}
