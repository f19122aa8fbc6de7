"""The `sendtex` command: serve, worker, init-db, create-user, rotate-keys, demo."""
import os
import secrets
from pathlib import Path

import click
from huey.consumer import Consumer

from sendtex import create_app
from sendtex.db import db, pending_migrations, upgrade
from sendtex.models.relays import RELAY_REGIONS, RELAY_SECURITY

DEMO_EMAIL = "demo@example.com"


@click.group(help="Sendtex: self-hosted, privacy-first e-mail marketing. Run `sendtex COMMAND --help` for details.")
def main():
    pass


@main.command("init-db")
def init_db():
    """Create the database, or bring it up to the newest schema. Safe to run again."""
    create_app()
    applied = upgrade()
    click.echo(f"Applied: {', '.join(applied)}" if applied else "The database schema is up to date.")


class EmbeddedConsumer(Consumer):
    """A Huey consumer that leaves signal handling to the web server it runs beside."""

    def _set_signal_handlers(self):
        pass


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, help="Port to listen on.")
@click.option("--threads", default=8, show_default=True, help="Web server threads.")
@click.option("--workers", default=4, show_default=True,
              help="Background worker threads (a campaign's sending lanes each take one, see SEND_LANES).")
def serve(host, port, threads, workers):
    """Run the web app and a background worker in one process (the single-command default)."""
    from waitress import serve as waitress_serve

    from sendtex.queue import huey

    app = create_app()
    _refuse_unmigrated()
    consumer = EmbeddedConsumer(huey, workers=workers, worker_type="thread", periodic=True)
    consumer.start()
    click.echo(f"Sendtex is running at http://{host}:{port}/ (Ctrl+C stops it)")
    try:
        waitress_serve(app, host=host, port=port, threads=threads, ident="Sendtex")
    finally:
        consumer.stop(graceful=True)


class WorkerConsumer(Consumer):
    """The standalone worker's consumer: with process workers, each child dies with the consumer (kill -9
    included) instead of running on orphaned beside the worker that replaces it."""

    def get_environment(self, worker_type):
        environment = super().get_environment(worker_type)
        if environment.forks:
            init_child = environment.init_child

            def init_child_dying_with_parent(process):
                _die_with_parent()
                init_child(process)

            environment.init_child = init_child_dying_with_parent
        return environment


def _die_with_parent():
    """Have the kernel kill this process when its parent exits (Linux; elsewhere nothing changes)."""
    import ctypes
    import signal
    import sys

    if sys.platform.startswith("linux"):
        parent = os.getppid()
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the request took effect
            os._exit(1)


@main.command()
@click.option("--workers", default=4, show_default=True,
              help="Worker processes (a campaign's sending lanes each take one, see SEND_LANES).")
@click.option("--threads", "use_threads", is_flag=True,
              help="Worker threads of one process instead of processes (lanes then share one CPU core).")
def worker(workers, use_threads):
    """Run a background worker alone (production: beside gunicorn)."""
    from sendtex.queue import huey

    create_app()
    _refuse_unmigrated()
    # Forked workers must not share the parent's SQLite connections: each opens its own.
    huey.storage.close()
    db.close()
    WorkerConsumer(huey, workers=workers, worker_type="thread" if use_threads else "process", periodic=True).run()


def _refuse_unmigrated():
    pending = pending_migrations()
    if pending:
        raise click.ClickException(f"The database needs `sendtex init-db` first (pending: {', '.join(pending)}).")


@main.command("make-migration")
@click.argument("name")
def make_migration(name):
    """Write the next migration from the difference between the migrated schema and the models."""
    import re
    import tempfile

    from playhouse.migrations import template
    from playhouse.schema_diff import diff_models

    from sendtex.db import migration_runner, open_database
    from sendtex.models import MODELS

    with tempfile.TemporaryDirectory() as scratch:
        open_database(f"sqlite:///{scratch}/schema.db")
        upgrade()
        with db.connection_context():
            diff = diff_models(db.obj, MODELS)
            if not diff:
                raise click.ClickException("The migrations already match the models.")
            # Python-side defaults live in the models; the frozen migration keeps plain column types.
            body = "\n".join(line for line in template(diff).splitlines() if not line.startswith("#"))
            body = body.replace("from sendtex.models.contacts import JSONField\n", "")
            body = re.sub(r"\bJSONField\(", "TextField(", body)
            path = migration_runner().create(name, body=f'"""{name}"""\n{body.lstrip()}\n')
    click.echo(f"Wrote {path}")


@main.command("create-user")
@click.argument("email")
@click.option("--name", default="", help="The user's name.")
@click.option("--account", "account_name", default="", help="Name of the new account (default: the e-mail address).")
@click.option("--staff", is_flag=True, help="Make the user operator staff.")
@click.password_option(help="The password (asked when left out).")
def create_user(email, name, account_name, staff, password):
    """Create an account with EMAIL as its owner."""
    from sendtex import validation
    from sendtex.models.accounts import Account, EmailTaken, User

    create_app()
    try:
        email = validation.normalise_email(email)
        validation.check_password(password, email)
    except validation.Invalid as exc:
        raise click.ClickException(str(exc)) from exc
    with db.connection_context():
        try:
            user = Account.register(account_name or email, name or email.split("@")[0], email, password)
        except EmailTaken as exc:
            raise click.ClickException(f"{email} already has a login.") from exc
        if staff:
            User.update(is_staff=True).where(User.id == user.id).execute()
    click.echo(f"Created {email}{' (staff)' if staff else ''}.")


@main.command("rotate-keys")
@click.option("--drop-old", is_flag=True,
              help="Afterwards remove the older keys from the ring if no value uses them any more.")
def rotate_keys(drop_old):
    """Encrypt every encrypted contact value under a new field key; older keys stay in the ring until dropped."""
    from sendtex.config import KEYS_FILE, read_keys_file
    from sendtex.crypto import parse_key_ring
    from sendtex.tasks.fields import sealed_key_counts

    app = create_app()
    _refuse_unmigrated()
    path = Path(app.instance_path) / KEYS_FILE
    stored = read_keys_file(path) if path.exists() else {}
    in_file = stored.get("FIELD_KEYS") == app.config["FIELD_KEYS"]
    with app.app_context(), db.connection_context():
        ring_ids, counts = list(parse_key_ring(app.config["FIELD_KEYS"])), sealed_key_counts()
        missing = _missing_keys(counts, ring_ids)
        if missing:
            click.echo(f"Warning: {sum(missing.values())} values use keys that are not in the ring {missing}; "
                       "they cannot be decrypted and are left unchanged.")
        if in_file:
            _add_key_to_file(app, path, stored, _next_key_id(ring_ids + list(counts)))
        elif not any(counts[key_id] for key_id in ring_ids[1:]) and not drop_old:
            new_ring = _ring_with_new_key(app.config["FIELD_KEYS"], _next_key_id(ring_ids + list(counts)))
            raise click.ClickException(
                "The field keys come from SENDTEX_FIELD_KEYS (or instance/config.py), which this command cannot "
                "change. Every encrypted value already uses its first key. To rotate, set SENDTEX_FIELD_KEYS to\n\n"
                f"  {new_ring}\n\nrestart Sendtex (web and workers), then run `sendtex rotate-keys` again.")
        _reseal_and_report(app, path if in_file else None, drop_old)


def _missing_keys(counts, ring_ids):
    return {key_id: count for key_id, count in counts.items() if key_id not in ring_ids}


def _next_key_id(used_ids):
    numbers = [int(key_id[1:]) for key_id in used_ids if key_id[:1] == "k" and key_id[1:].isdigit()]
    return f"k{max(numbers, default=0) + 1}"


def _ring_with_new_key(ring_text, key_id):
    from sendtex.crypto import format_key_ring, new_key_text

    return format_key_ring(ring_text, key_id, new_key_text())


def _add_key_to_file(app, path, stored, key_id):
    from sendtex.config import write_keys_file

    ring_text = _ring_with_new_key(app.config["FIELD_KEYS"], key_id)
    write_keys_file(path, {**stored, "FIELD_KEYS": ring_text})
    app.config["FIELD_KEYS"] = ring_text
    app.extensions.pop("sendtex.cipher", None)
    click.echo(f"Added key {key_id} to {path}; it encrypts from now on. Restart Sendtex (web and workers) "
               "so they use it too.")


def _reseal_and_report(app, keys_path, drop_old):
    from sendtex.config import read_keys_file, write_keys_file
    from sendtex.crypto import parse_key_ring
    from sendtex import audit
    from sendtex.tasks.fields import reseal_all, sealed_key_counts

    result = reseal_all()
    audit.record("keys-rotated", target=f"{result['resealed']} values re-encrypted, newest key "
                                        f"{next(iter(parse_key_ring(app.config['FIELD_KEYS'])))}")
    click.echo(f"Re-encrypted {result['resealed']} values; {result['current']} already used the newest key.")
    ring_text = app.config["FIELD_KEYS"]
    ring_ids, counts = list(parse_key_ring(ring_text)), sealed_key_counts()
    if drop_old:
        still_used = {key_id: counts[key_id] for key_id in ring_ids[1:] if counts[key_id]}
        newest_only = ring_text.split(",")[0].strip()
        if still_used:
            click.echo(f"Kept the older keys: values still use them {still_used}. Run this command again later.")
        elif keys_path is not None:
            write_keys_file(keys_path, {**read_keys_file(keys_path), "FIELD_KEYS": newest_only})
            click.echo(f"Removed the older keys {', '.join(ring_ids[1:]) or '(none)'} from {keys_path}.")
        else:
            click.echo(f"No value uses the older keys any more. Set SENDTEX_FIELD_KEYS to\n\n  {newest_only}\n")
    if result["undecryptable"]:
        raise click.ClickException(
            f"{result['undecryptable']} values cannot be decrypted (values per key missing from the ring: "
            f"{_missing_keys(counts, ring_ids)}; others were altered). They were left unchanged; put the missing "
            "key back in the ring and run this command again.")


@main.group()
def relay():
    """The SMTP relays campaigns go out through (without any, campaigns land in the local outbox)."""


@relay.command("add")
@click.argument("name")
@click.option("--host", required=True, help="Host name of the relay.")
@click.option("--port", default=587, show_default=True, help="Port of the relay.")
@click.option("--security", type=click.Choice(RELAY_SECURITY), default="starttls", show_default=True,
              help="STARTTLS, implicit TLS, or plain (meant for a relay on loopback: the login would travel unencrypted).")
@click.option("--username", default="", help="Login at the relay, if it needs one.")
@click.option("--password", default="", help="Its password (stored encrypted); prefer SENDTEX_RELAY_PASSWORD.",
              envvar="SENDTEX_RELAY_PASSWORD")
@click.option("--max-connections", default=4, show_default=True, help="Connections open at once.")
@click.option("--max-per-second", default=50, show_default=True, help="Messages a second (0: no limit).")
@click.option("--region", type=click.Choice(RELAY_REGIONS), required=True,
              help="Where the relay is: EU-only accounts use only eu relays.")
def relay_add(name, password, **settings):
    """Add a relay NAME."""
    from peewee import IntegrityError

    from sendtex.audience import cipher
    from sendtex.models.relays import Relay

    app = create_app()
    with app.app_context(), db.connection_context():
        new = Relay(name=name, **settings)
        if password:
            new.password_sealed = cipher().seal(password, new.password_aad())
        try:
            new.save()
        except IntegrityError as exc:
            raise click.ClickException(f"A relay named {name} exists already.") from exc
    click.echo(f"Added relay {name} ({settings['host']}:{settings['port']}, {settings['region']}).")


@relay.command("list")
def relay_list():
    """Show the relays."""
    from sendtex.models.base import utcnow
    from sendtex.models.relays import Relay

    create_app()
    with db.connection_context():
        rows = list(Relay.select().order_by(Relay.name))
    for row in rows:
        cooling = "" if row.available(utcnow()) else \
            f"\tskipped until {row.unavailable_until:%Y-%m-%d %H:%M:%S} UTC: {row.unavailable_reason}"
        click.echo(f"{row.name}\t{row.host}:{row.port}\t{row.security}\t{row.region}\t"
                   f"{row.max_connections} conn\t{row.max_per_second}/s\t{'enabled' if row.enabled else 'disabled'}"
                   f"{cooling}")
    if not rows:
        click.echo("No relay: campaigns go to the local outbox (accounts with EU-only sending cannot send).")


@relay.command("remove")
@click.argument("name")
def relay_remove(name):
    """Remove the relay NAME."""
    from sendtex.models.relays import Relay

    create_app()
    with db.connection_context():
        if not Relay.delete().where(Relay.name == name).execute():
            raise click.ClickException(f"There is no relay named {name}.")
    click.echo(f"Removed relay {name}.")


@main.command()
def demo():
    """Create the demo account if there is none and print a working login for it."""
    from sendtex.models.accounts import Account, User

    app = create_app()
    secret_file = Path(app.instance_path) / "demo-login.txt"
    with db.connection_context():
        user = User.by_email(DEMO_EMAIL)
        password = secret_file.read_text().strip() if secret_file.exists() else ""
        if user is None or not password or not user.check_password(password):
            password = secrets.token_urlsafe(12)
            if user is None:
                user = Account.register("Demo account", "Demo", DEMO_EMAIL, password)
            else:
                user.set_password(password)
                user.save()
            fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(password)
    click.echo(f"Demo login: {DEMO_EMAIL} / {password}  at {app.config['BASE_URL']}/login")
