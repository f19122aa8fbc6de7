"""Import of a generated CSV (e-mail, first name, last name encrypted, one custom field) into an empty list,
against sqlite3.executemany of the very same rows into the same tables, in the same run.

Usage: python bench/bench_import.py [rows]   (default 1,000,000). Prints ratio=<import rows/s ÷ baseline rows/s> last.
"""
import multiprocessing
import os
import resource
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("email,first_name,last_name,city\n")
        for n in range(rows):
            handle.write(f"person{n}@example{n % 97}.com,First{n},Lastname{n},City{n % 500}\n")


def run_import(instance, csv_path, queue):
    """In a child process, so its peak memory is the import's own."""
    from sendtex import audience, create_app
    from sendtex.crypto import EncryptedFileWriter
    from sendtex.db import db, upgrade
    from sendtex.models.accounts import Account
    from sendtex.models.contacts import Field, MailingList
    from sendtex.models.imports import Import
    from sendtex.tasks.imports import _import_file
    from sendtex.tasks.jobs import run_tracked
    from sendtex.uploads import uploads_dir

    app = create_app({"INSTANCE_PATH": instance, "HUEY_IMMEDIATE": True})
    upgrade()
    with app.app_context(), db.connection_context():
        account = Account.create(name="Bench")
        news = MailingList.create(account=account, name="News")
        audience.FieldSet(account.id)
        Field.update(encrypted=True).where((Field.account == account.id) & (Field.key == "last_name")).execute()
        Field.create(account=account, key="city", label="City", type="text")
        name = "bench.upload"
        with EncryptedFileWriter(uploads_dir() / name, app.config["FIELD_KEYS"]) as writer, open(csv_path, "rb") as src:
            while chunk := src.read(1 << 20):
                writer.write(chunk)
        job = Import.create(account=account, original_name="bench.csv", upload_name=name, total=os.path.getsize(csv_path),
                            header=["email", "first_name", "last_name", "city"],
                            mapping={"0": "email", "1": "first_name", "2": "last_name", "3": "city"},
                            list_ids=[news.id], status="queued")
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        run_tracked(Import, job.id, _import_file)
        elapsed = time.perf_counter() - started
        job = Import.get_by_id(job.id)
        queue.put({"elapsed": elapsed, "status": job.status, "inserted": job.inserted, "skipped": job.skipped,
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "rss_before_mb": rss_before / 1024, "db": app.config["DATABASE_URL"][len("sqlite:///"):]})


def baseline(source_db, workdir):
    """sqlite3.executemany of the rows the import wrote into a fresh database with the same schema."""
    from sendtex.db import open_database, upgrade

    target = str(Path(workdir) / "baseline.db")
    open_database(f"sqlite:///{target}")
    upgrade()
    source = sqlite3.connect(source_db)
    parents = {table: source.execute(f"select * from {table}").fetchall() for table in ("account", "mailing_list")}
    contacts = source.execute("select * from contact").fetchall()
    subscriptions = source.execute("select * from subscription").fetchall()
    source.close()
    conn = sqlite3.connect(target)
    for pragma in ("journal_mode=wal", "synchronous=normal", "foreign_keys=1", "secure_delete=1"):
        conn.execute(f"pragma {pragma}")
    for table, parent_rows in parents.items():
        conn.executemany(f"insert into {table} values ({','.join('?' * len(parent_rows[0]))})", parent_rows)
    conn.commit()
    started = time.perf_counter()
    marks = ",".join("?" * len(contacts[0]))
    conn.executemany(f"insert into contact values ({marks})", contacts)
    marks = ",".join("?" * len(subscriptions[0]))
    conn.executemany(f"insert into subscription values ({marks})", subscriptions)
    conn.commit()
    elapsed = time.perf_counter() - started
    conn.close()
    return elapsed


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    with tempfile.TemporaryDirectory() as workdir:
        csv_path = Path(workdir) / "contacts.csv"
        write_csv(csv_path, rows)
        queue = multiprocessing.get_context("fork").Queue()
        child = multiprocessing.get_context("fork").Process(target=run_import, args=(str(Path(workdir) / "instance"), csv_path, queue))
        child.start()
        result = queue.get()
        child.join()
        assert result["status"] == "done" and result["inserted"] == rows, result
        base_elapsed = baseline(result["db"], workdir)
    ours, theirs = rows / result["elapsed"], rows / base_elapsed
    print(f"rows={rows} csv_mb={rows * 60 / 1e6:.0f}")
    print(f"sendtex import: {result['elapsed']:.1f} s, {ours:,.0f} rows/s, peak RSS {result['peak_rss_mb']:.0f} MB "
          f"(before import {result['rss_before_mb']:.0f} MB)")
    print(f"baseline sqlite3.executemany (same rows, same tables): {base_elapsed:.1f} s, {theirs:,.0f} rows/s")
    print(f"ratio={ours / theirs:.3f}")


if __name__ == "__main__":
    main()
