"""Bulk upsert through the API (POST /api/v1/contacts/bulk, 10,000 contacts a request, through the WSGI app)
against the CSV import of the very same rows (e-mail, first name, last name encrypted, one custom field) into
an empty account, in the same run.

The machine is shared, so the two run alternately for several rounds (import first in odd rounds, API first in
even ones), each into fresh files; every round gives a ratio of wall-clock rows/s and one of CPU time.

Usage: python bench/bench_api_bulk.py [rows] [rounds]   (default 100,000 rows, 3 rounds).
Prints ratio=<median over the rounds of API rows/s ÷ import rows/s (wall clock)> last.
"""
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REQUEST_ROWS = 10_000


def row(n):
    return {"email": f"person{n}@example{n % 97}.com", "first_name": f"First{n}", "last_name": f"Lastname{n}",
            "city": f"City{n % 500}"}


def prepare(instance):
    """An app on its own files and an account with the benchmark's fields and list."""
    from sendtex import audience, create_app
    from sendtex.db import upgrade
    from sendtex.models.accounts import Account
    from sendtex.models.contacts import Field, MailingList

    app = create_app({"INSTANCE_PATH": instance, "HUEY_IMMEDIATE": True, "API_RATE_LIMIT": 10**6})
    upgrade()
    with app.app_context():
        account = Account.create(name="Bench")
        news = MailingList.create(account=account, name="News")
        audience.FieldSet(account.id)
        Field.update(encrypted=True).where((Field.account == account.id) & (Field.key == "last_name")).execute()
        Field.create(account=account, key="city", label="City", type="text")
    return app, account, news


def run_api(instance, rows):
    from sendtex.models.api import SCOPES, ApiKey

    app, account, news = prepare(instance)
    with app.app_context():
        secret = ApiKey.issue(account.id, "bench", SCOPES)[1]
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    bodies = [json.dumps({"contacts": [{"fields": row(n)} for n in range(start, min(start + REQUEST_ROWS, rows))],
                          "list_ids": [news.id]}) for start in range(0, rows, REQUEST_ROWS)]
    started, cpu = time.perf_counter(), time.process_time()
    for data in bodies:
        response = client.post("/api/v1/contacts/bulk", data=data, headers=headers)
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
    return time.perf_counter() - started, time.process_time() - cpu


def run_import(instance, rows):
    from sendtex.crypto import EncryptedFileWriter
    from sendtex.db import db
    from sendtex.models.imports import Import
    from sendtex.tasks.imports import _import_file
    from sendtex.tasks.jobs import run_tracked
    from sendtex.uploads import uploads_dir

    app, account, news = prepare(instance)
    text = "email,first_name,last_name,city\n" + "".join(
        ",".join(row(n).values()) + "\n" for n in range(rows))
    with app.app_context(), db.connection_context():
        with EncryptedFileWriter(uploads_dir() / "bench.upload", app.config["FIELD_KEYS"]) as writer:
            writer.write(text.encode())
        job = Import.create(account=account, original_name="bench.csv", upload_name="bench.upload", total=len(text),
                            header=["email", "first_name", "last_name", "city"],
                            mapping={"0": "email", "1": "first_name", "2": "last_name", "3": "city"},
                            list_ids=[news.id], status="queued")
        started, cpu = time.perf_counter(), time.process_time()
        run_tracked(Import, job.id, _import_file)
        elapsed = time.perf_counter() - started, time.process_time() - cpu
        assert Import.get_by_id(job.id).inserted == rows
    return elapsed


def main():
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    print(f"rows={rows:,} in requests of {REQUEST_ROWS:,}, {rounds} rounds")
    wall_ratios, cpu_ratios = [], []
    with tempfile.TemporaryDirectory() as workdir:
        for number in range(1, rounds + 1):
            runs = {}
            for name, run in sorted({"import": run_import, "api": run_api}.items(), reverse=number % 2 == 1):
                runs[name] = run(os.path.join(workdir, f"{name}{number}"), rows)
            (api_wall, api_cpu), (import_wall, import_cpu) = runs["api"], runs["import"]
            wall_ratios.append(import_wall / api_wall)
            cpu_ratios.append(import_cpu / api_cpu)
            print(f"round {number}: API {rows / api_wall:,.0f} rows/s ({api_wall:.1f} s, CPU {api_cpu:.1f} s), "
                  f"import {rows / import_wall:,.0f} rows/s ({import_wall:.1f} s, CPU {import_cpu:.1f} s), "
                  f"ratio {wall_ratios[-1]:.3f} (CPU time {cpu_ratios[-1]:.3f})")
    print(f"ratio of rows/s over the rounds: min {min(wall_ratios):.3f}, median {statistics.median(wall_ratios):.3f}; "
          f"by CPU time: min {min(cpu_ratios):.3f}, median {statistics.median(cpu_ratios):.3f}")
    print(f"ratio={statistics.median(wall_ratios):.3f}")


if __name__ == "__main__":
    main()
