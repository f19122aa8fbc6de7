"""The open image and the click redirect under wrk on loopback, against a hello-world route of the same app,
served by the same WSGI server as `sendtex serve` (waitress, same thread count), in the same run.

The hello-world route exists only here: this script adds it to its own app instance. The campaign is real:
contacts, a campaign with tracked links, deliveries, and the URLs taken from each recipient's rendered message.
Afterwards every endpoint's requests are compared with the events stored (and, if the statistics aggregation
exists, with the counts it makes of them).

Usage: python bench/bench_tracking.py [--rounds 3] [--duration 5] [--connections 8] [--threads 8] [--recipients 1000]
Runs hello, open, click in turn, `rounds` times, and prints ratio=<lower of the open/click medians of
requests/s ÷ the hello median> last. Needs wrk (Debian package wrk).
"""
import argparse
import logging
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HTML = """<html><body><p>Hello {{ contact.first_name }}, our autumn collection is here.</p>
<p><a href="https://shop.example/autumn">See the collection</a> · <a href="https://shop.example/outlet">Outlet</a>
· <a href="https://shop.example/p/jacket">Jacket</a> · <a href="https://shop.example/stores">Stores</a></p>
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>"""

# Each wrk thread walks through the recipients' URLs and counts what it sent; done() adds the counts up, so
# requests cut off in flight when wrk stops are known (the server may still have handled them).
LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
paths = {%(paths)s}
sent = 0
function request()
  sent = sent + 1
  return wrk.format("GET", paths[(sent %% #paths) + 1])
end
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do total = total + thread:get("sent") end
  local errors = summary.errors
  io.write(string.format("BENCH sent=%%d completed=%%d failed=%%d\\n", total, summary.requests,
    errors.connect + errors.read + errors.write + errors.timeout + errors.status))
end
"""


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def make_campaign(recipients):
    """A campaign with four tracked links sent to `recipients` contacts: the open and click paths of each message."""
    from sendtex import audience
    from sendtex.mail import render
    from sendtex.models.accounts import Account
    from sendtex.models.campaigns import Campaign, Delivery
    from sendtex.models.contacts import MailingList

    account = Account.create(name="Bench shop")
    news = MailingList.create(account=account, name="News")
    fields = audience.FieldSet(account.id)
    campaign = Campaign.create(account=account, name="Autumn", subject="Autumn", html=HTML, list_ids=[news.id],
                               status="sent")
    compiled = render.compile_campaign(campaign, fields)
    opens, clicks = [], []
    for n in range(recipients):
        contact = audience.create_contact(fields, {"email": f"p{n}@example.com", "first_name": f"P{n}"}, [news.id])
        delivery = Delivery.create(campaign=campaign, contact=contact, status="sent")
        html = compiled.render(audience.read_values(contact, fields)[0], delivery.id, contact.uid).html
        opens += re.findall(r'src="https?://[^/"]+(/t/o/[^"]+)"', html)
        clicks += re.findall(r'href="https?://[^/"]+(/t/c/[^"]+)"', html)
    return campaign, opens, clicks


def wrk(url, paths, duration, connections, workdir):
    """Run wrk over paths for duration seconds: requests/s, requests sent, requests completed, failures."""
    script = Path(workdir) / "paths.lua"
    script.write_text(LUA % {"paths": ",".join(f'"{path}"' for path in paths)})
    result = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script), url],
                            capture_output=True, text=True, check=True)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", result.stdout).group(1))
    sent, completed, failed = map(int, re.search(r"BENCH sent=(\d+) completed=(\d+) failed=(\d+)",
                                                 result.stdout).groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", result.stdout)
    return rate, sent, completed, failed + int(non_2xx.group(1) if non_2xx else 0)


def settled_count(count):
    """count() once the server has finished the requests still in flight when wrk stopped."""
    previous, current = -1, count()
    while current != previous:
        time.sleep(0.5)
        previous, current = current, count()
    return current


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per endpoint and round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of hello, open, click (medians compared)")
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--threads", type=int, default=8, help="waitress threads (sendtex serve's default)")
    parser.add_argument("--recipients", type=int, default=1000)
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")

    from waitress.server import create_server

    from sendtex import create_app
    from sendtex.db import db, upgrade
    from sendtex.models.campaigns import Event

    workdir = tempfile.mkdtemp(prefix="sendtex-bench-tracking-")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app({"INSTANCE_PATH": workdir + "/instance", "HUEY_IMMEDIATE": True, "BASE_URL": url})
    upgrade()
    app.add_url_rule("/bench/hello", "bench_hello", lambda: "Hello, world!")
    with app.app_context(), db.connection_context():
        campaign, opens, clicks = make_campaign(args.recipients)

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "queue depth" notes while all threads are busy
    server = create_server(app, host="127.0.0.1", port=port, threads=args.threads, ident="Sendtex")
    threading.Thread(target=server.run, daemon=True).start()
    print(f"waitress with {args.threads} threads; wrk with 1 thread, {args.connections} connections, "
          f"{args.rounds} rounds of {args.duration} s per endpoint; {args.recipients} recipients, "
          f"{len(opens)} open and {len(clicks)} click URLs")

    def events(kind):
        with app.app_context(), db.connection_context():
            return Event.select().where((Event.campaign == campaign.id) & (Event.kind == kind)).count()

    wrk(url, ["/bench/hello"], 2, args.connections, workdir)  # warm-up
    endpoints = [("hello", None, ["/bench/hello"]), ("open", "open", opens), ("click", "click", clicks)]
    rates, totals, problems = measure(url, endpoints, events, args, workdir)
    server.close()

    for kind, total in totals.items():
        print(f"{kind}: {total['stored']:,} events stored for {total['answered']:,} answered requests "
              f"(+ {total['sent'] - total['answered']} cut off in flight, which the server may still have handled)")
        if not total["answered"] <= total["stored"] <= total["sent"]:
            problems.append(f"{kind}: {total['stored']} events for {total['answered']} answered requests")
    aggregated = aggregate_and_read(app, campaign)
    if aggregated is not None:
        print(f"statistics aggregation counted {aggregated['open']:,} opens and {aggregated['click']:,} clicks")
        problems += [f"the aggregation counted {aggregated[kind]:,} {kind}s of {total['stored']:,} stored"
                     for kind, total in totals.items() if aggregated[kind] != total["stored"]]
    for problem in problems:
        print("PROBLEM:", problem)
    shutil.rmtree(workdir, ignore_errors=True)
    median = {name: statistics.median(values) for name, values in rates.items()}
    print("median requests/s: " + ", ".join(f"{name} {rate:,.0f}" for name, rate in median.items()))
    print(f"ratio={min(median['open'], median['click']) / median['hello']:.2f}")

def measure(url, endpoints, events, args, workdir):
    """Run wrk on each endpoint in turn, args.rounds times: requests/s per endpoint, request and event totals."""
    rates = {name: [] for name, _, _ in endpoints}
    totals = {kind: {"answered": 0, "sent": 0, "stored": 0} for _, kind, _ in endpoints if kind}
    problems = []
    for round_number in range(1, args.rounds + 1):
        for name, kind, paths in endpoints:
            before = events(kind) if kind else 0
            rate, sent, answered, failed = wrk(url, paths, args.duration, args.connections, workdir)
            rates[name].append(rate)
            line = f"round {round_number} {name:>5}: {rate:7,.0f} requests/s ({answered:,} answered"
            if kind:
                stored = settled_count(lambda: events(kind)) - before
                for key, value in (("answered", answered), ("sent", sent), ("stored", stored)):
                    totals[kind][key] += value
                line += f", {stored:,} events stored, {sent - answered} cut off in flight when wrk stopped"
            if failed:
                problems.append(f"{name}: {failed} requests failed")
            print(line + ")")
    return rates, totals, problems


def aggregate_and_read(app, campaign):
    """Run the statistics aggregation and read the campaign's open and click totals; None if it does not exist."""
    try:
        from sendtex.models.stats import CampaignStats
        from sendtex.tasks.stats import aggregate
    except ImportError:
        print("(no statistics aggregation in this version: events compared with requests only)")
        return None
    from sendtex.db import db

    with app.app_context(), db.connection_context():
        aggregate()
        stats = CampaignStats.get(CampaignStats.campaign == campaign.id)
        return {"open": stats.opens, "click": stats.clicks}


if __name__ == "__main__":
    main()
