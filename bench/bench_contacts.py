"""Server time of the contacts pages with 1,000,000 contacts in one account (targets: every page < 100 ms,
exact e-mail search < 20 ms, segment count < 1 s). Each page is requested several times through the WSGI
app in this process and the median is reported.

Usage: python bench/bench_contacts.py [contacts]   (default 1,000,000).
Prints ratio=<target ÷ measured> for the slowest page relative to its target last (≥ 1 meets every target).
"""
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPEAT = 7


def populate(account_id, list_id, count):
    """Contacts with a plain e-mail, an encrypted last name and a custom city, all on one list."""
    from sendtex import audience
    from sendtex.db import bulk_insert, db
    from sendtex.models.base import utcnow
    from sendtex.models.contacts import Contact, new_uid
    from sendtex.tasks.imports import NEW_CONTACT_COLUMNS, SUBSCRIPTION_COLUMNS

    fields = audience.FieldSet(account_id)
    now = utcnow()
    statuses = ("active",) * 17 + ("unsubscribed", "bounced", "blocklisted")
    for start in range(0, count, 20_000):
        rows = []
        for n in range(start, min(start + 20_000, count)):
            uid, email = new_uid(), f"person{n}@example{n % 97}.com"
            columns = audience.storage_columns(account_id, uid, {"email": email, "first_name": f"First{n}",
                                                                 "last_name": f"Last{n}", "city": f"City{n % 500}"},
                                               fields)
            rows.append((account_id, uid, email, columns["email_digest"], columns["first_name"], None,
                         columns["attributes"], columns["sealed"], statuses[n % len(statuses)], now, now))
        with db.atomic():
            bulk_insert(Contact, NEW_CONTACT_COLUMNS, rows)
    with db.atomic():
        db.execute_sql(
            "INSERT INTO subscription (contact_id, mailing_list_id, status, created_at, updated_at, confirmed_at) "
            "SELECT id, ?, 'subscribed', created_at, created_at, created_at FROM contact WHERE account_id = ?",
            [list_id, account_id])
    db.execute_sql("ANALYZE")


def timed(client, url):
    """Median milliseconds of GET url (and the status of the last response)."""
    samples = []
    for _ in range(REPEAT):
        started = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (url, response.status_code, response.get_data(as_text=True)[:500])
    return statistics.median(samples)


def main():
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    from sendtex import audience, create_app
    from sendtex.db import db, upgrade
    from sendtex.models.contacts import Contact, Field, MailingList, Segment
    from sendtex.segments import count as segment_count

    with tempfile.TemporaryDirectory() as workdir:
        app = create_app({"INSTANCE_PATH": f"{workdir}/instance", "HUEY_IMMEDIATE": True,
                          "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8192})
        upgrade()
        from sendtex.models.accounts import Account

        with app.app_context(), db.connection_context():
            user = Account.register("Bench", "Bench", "bench@example.com", "a long bench password")
            account_id = user.account_id
            audience.FieldSet(account_id)
            Field.update(encrypted=True).where((Field.account == account_id) & (Field.key == "last_name")).execute()
            Field.create(account=account_id, key="city", label="City", type="text")
            news = MailingList.create(account=account_id, name="News")
            started = time.perf_counter()
            populate(account_id, news.id, count)
            print(f"populated {count:,} contacts in {time.perf_counter() - started:.0f} s")
            middle = Contact.select(Contact.id).where(Contact.account == account_id).order_by(Contact.id).offset(
                count // 2).limit(1).scalar()
            segment = Segment.create(account=account_id, name="City 7, active", match="all",
                                     conditions=[{"field": "city", "op": "eq", "value": "City7"},
                                                 {"field": "status", "op": "eq", "value": "active"}])
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.com", "password": "a long bench password",
                                    "csrf_token": _token(client)})
        n = count // 2
        pages = {
            "first page": ("/contacts", 100),
            "page in the middle": (f"/contacts?after={middle}", 100),
            "sorted by e-mail": ("/contacts?sort=email", 100),
            "exact e-mail search": (f"/contacts?q=person{n}@example{n % 97}.com", 20),
            "e-mail prefix search": (f"/contacts?q=person{n // 10}", 100),
            "filtered by list": (f"/contacts?list={news.id}", 100),
            "filtered by status": ("/contacts?status=bounced", 100),
            "filtered by segment": (f"/contacts?segment={segment.id}", 100),
        }
        untargeted = {"lists page (counts by status)": "/lists"}
        worst = None
        for label, (url, target) in pages.items():
            median = timed(client, url)
            print(f"{label:<24} {median:8.1f} ms  (target < {target} ms)  {url}")
            worst = max(worst or (0, 0, ""), (median / target, median, label))
        for label, url in untargeted.items():
            print(f"{label:<24} {timed(client, url):8.1f} ms  (no target)  {url}")
        with app.app_context(), db.connection_context():
            started = time.perf_counter()
            matched = segment_count(segment.match, segment.conditions, account_id)
            seconds = time.perf_counter() - started
        print(f"{'segment count':<24} {seconds * 1000:8.1f} ms  (target < 1000 ms)  {matched:,} contacts")
        worst = max(worst, (seconds / 1.0, seconds * 1000, "segment count"))
    print(f"slowest relative to its target: {worst[2]} ({worst[1]:.1f} ms)")
    print(f"ratio={1 / worst[0]:.2f}")


def _token(client):
    import re

    page = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


if __name__ == "__main__":
    main()
