"""Aggregating a campaign's events into its statistics (target: 100,000 deliveries and 300,000 events in < 10 s).

There is no baseline program for this target: the "baseline" is the target itself, so the ratio printed last
is ratio=<10 s target ÷ measured seconds> (≥ 1 meets it). Also printed: a second run with nothing new (it must
count nothing) and an incremental run over 3,000 late events.

Usage: python bench/bench_aggregate.py [deliveries] [events]   (default 100,000 and 300,000).
"""
import datetime
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_SECONDS = 10.0
LINKS = 6
# Kinds in the proportions of a typical newsletter: most events are opens (mail clients fetch the image again).
KINDS = (["open"] * 700 + ["click"] * 260 + ["unsubscribe"] * 18 + ["bounce"] * 12 + ["soft_bounce"] * 7
         + ["complaint"] * 3)


def populate(account_id, deliveries, events, rng):
    """One sent campaign with its ledger, links and events spread over three days after it started."""
    from sendtex.db import bulk_insert, db
    from sendtex.models.base import utcnow
    from sendtex.models.campaigns import Campaign, Delivery, Event, Link

    started = utcnow() - datetime.timedelta(days=3)
    campaign = Campaign.create(account=account_id, name="Bench", subject="Bench", status="sent", started_at=started,
                               finished_at=started)
    links = [Link.create(campaign=campaign, url=f"https://shop.example.com/item/{n}", position=n + 1).id
             for n in range(LINKS)]
    with db.atomic():
        bulk_insert(Delivery, [Delivery.campaign, Delivery.status, Delivery.attempts, Delivery.sent_at, Delivery.error],
                    [(campaign.id, "sent", 1, started, "") for _ in range(deliveries)])
    first = Delivery.select(Delivery.id).where(Delivery.campaign == campaign.id).order_by(Delivery.id).scalar()
    campaign.recount()
    add_events(account_id, campaign.id, first, deliveries, links, events, started, rng)
    return campaign


def add_events(account_id, campaign_id, first_delivery, deliveries, links, count, started, rng):
    """Events by a third of the recipients (they come back several times), at random moments in 72 hours."""
    from sendtex.db import bulk_insert, db
    from sendtex.models.campaigns import Event

    readers = max(deliveries // 3, 1)
    rows = []
    for _ in range(count):
        kind = rng.choice(KINDS)
        at = started + datetime.timedelta(seconds=int(rng.expovariate(1 / 40_000)) % (72 * 3600))
        rows.append((account_id, campaign_id, first_delivery + rng.randrange(readers), kind,
                     rng.choice(links) if kind == "click" else None, at))
    fields = [Event.account, Event.campaign, Event.delivery, Event.kind, Event.link, Event.at]
    with db.atomic():
        for start in range(0, len(rows), 50_000):
            bulk_insert(Event, fields, rows[start:start + 50_000])


def main():
    deliveries = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    events = int(sys.argv[2]) if len(sys.argv) > 2 else 300_000
    from sendtex import create_app
    from sendtex.db import db, upgrade
    from sendtex.models.accounts import Account
    from sendtex.models.campaigns import Delivery, Link
    from sendtex.models.stats import CampaignStats
    from sendtex.tasks.stats import aggregate

    rng = random.Random(5)
    with tempfile.TemporaryDirectory() as workdir:
        app = create_app({"INSTANCE_PATH": f"{workdir}/instance", "HUEY_IMMEDIATE": True,
                          "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8192})
        upgrade()
        with app.app_context(), db.connection_context():
            account_id = Account.register("Bench", "Bench", "bench@example.com", "a long bench password").account_id
            began = time.perf_counter()
            campaign = populate(account_id, deliveries, events, rng)
            print(f"populated {deliveries:,} deliveries and {events:,} events in {time.perf_counter() - began:.1f} s")

            began = time.perf_counter()
            counted = aggregate()
            elapsed = time.perf_counter() - began
            stats = CampaignStats.get(CampaignStats.campaign == campaign.id)
            assert counted == events, (counted, events)
            assert stats.opens + stats.clicks + stats.unsubscribes + stats.soft_bounces > 0
            print(f"first aggregation: {counted:,} events in {elapsed:.2f} s ({counted / elapsed:,.0f} events/s); "
                  f"sent {stats.sent:,}, opens {stats.opens:,} (unique {stats.unique_opens:,}), "
                  f"clicks {stats.clicks:,} (unique {stats.unique_clicks:,})")

            began = time.perf_counter()
            again = aggregate()
            print(f"second run, nothing new: {again} events in {time.perf_counter() - began:.3f} s")
            assert again == 0

            first = Delivery.select(Delivery.id).where(Delivery.campaign == campaign.id).order_by(Delivery.id).scalar()
            links = [link.id for link in Link.select(Link.id).where(Link.campaign == campaign.id)]
            add_events(account_id, campaign.id, first, deliveries, links, 3_000, campaign.started_at, rng)
            began = time.perf_counter()
            late = aggregate()
            print(f"incremental run: {late:,} late events in {time.perf_counter() - began:.3f} s")
    print(f"target {TARGET_SECONDS:.0f} s (the baseline is the target itself); measured {elapsed:.2f} s")
    print(f"ratio={TARGET_SECONDS / elapsed:.2f}")


if __name__ == "__main__":
    main()
