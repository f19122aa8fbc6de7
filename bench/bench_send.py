"""A campaign end to end (ledger snapshot, render with merge tags, link rewriting, headers, ledger updates)
into postfix's smtp-sink on loopback, against a raw smtplib loop sending pre-built bytes to the same sink
over the same number of connections with the same parallelism, in the same run.

Lanes: the campaign sends over --lanes connections (default: SEND_LANES, 2); the relay allows as many.
Each lane runs in its own process (forked from a parent that holds no database connection), calling the
task a `sendtex worker` process worker runs for it, send_campaign(campaign id, lane); with --threads the
lanes are threads of one process instead. Timed: from sending.start() (audience snapshot into the ledger,
lanes queued) until every lane has ended and the campaign is "sent".
Baseline: as many processes as lanes, each with its own smtplib connection, sending its share of the
recipients as pre-built messages of the campaign's message size (built before the clock starts); timed
from the moment all are connected and released together until the last one is done.
Peak RSS: the largest ru_maxrss among the lane processes (each sends a share of the campaign).
CPU a message: user + system time of the lanes (or the baseline's clients) and of smtp-sink, per message;
on a busy machine the wall-clock ratio swings with other load, these figures much less.

Usage: python bench/bench_send.py [--recipients N] [--lanes N] [--runs N] [--dkim] [--threads]
Prints each run, then ratio=<median over the runs of campaign msgs/s ÷ baseline msgs/s> last.
Needs /usr/sbin/smtp-sink (Debian's postfix).
"""
import argparse
import multiprocessing
import os
import resource
import shutil
import smtplib
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HTML = """<html><body><h1>Spring sale, {{ contact.first_name | default("friend") }}!</h1>
<p>Dear {{ contact.first_name }} {{ contact.last_name }}, our spring collection is here.</p>
<p><a href="https://shop.example/spring">See the collection</a> or
<a href="https://shop.example/outlet?utm_source=newsletter">visit the outlet</a>.</p>
<table><tr><td><img src="https://shop.example/img/1.jpg" alt="Jacket"></td>
<td><a href="https://shop.example/p/jacket">Jacket</a> — € 89</td></tr></table>
""" + "<p>" + "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 40 + "</p>" + """
<p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · <a href="{{ preferences_url }}">Preferences</a></p>
</body></html>"""
FORK = multiprocessing.get_context("fork")


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_sink(port):
    sink = subprocess.Popen(["smtp-sink", "-u", "nobody", f"127.0.0.1:{port}", "1000"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return sink
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("smtp-sink did not start")


def make_campaign(port, recipients, dkim, lanes=1):
    """An account with `recipients` subscribed contacts, a verified domain, a relay to the sink, a campaign."""
    from sendtex import audience
    from sendtex.db import bulk_insert, db
    from sendtex.models.accounts import Account
    from sendtex.models.base import utcnow
    from sendtex.models.campaigns import Campaign, SendingDomain
    from sendtex.models.contacts import Contact, MailingList, new_uid
    from sendtex.models.relays import Relay
    from sendtex.tasks.imports import NEW_CONTACT_COLUMNS

    account = Account.create(name="Bench shop", daily_quota=10**9)
    news = MailingList.create(account=account, name="News")
    if dkim:
        from sendtex.domains import add_domain

        domain = add_domain(account.id, "shop.example")
        domain.verified_at = utcnow()
        domain.save()
    else:
        SendingDomain.create(account=account, domain="shop.example", verified_at=utcnow())
    Relay.create(name="sink", host="127.0.0.1", port=port, security="plain", max_per_second=0, region="eu",
                 max_connections=lanes)
    fields = audience.FieldSet(account.id)
    now, rows = utcnow(), []
    for n in range(recipients):
        uid, address = new_uid(), f"p{n}@example.com"
        columns = audience.storage_columns(account.id, uid, {"email": address, "first_name": f"First{n}",
                                                             "last_name": f"Last{n}"}, fields)
        rows.append((account.id, uid, address, columns["email_digest"], columns["first_name"], columns["last_name"],
                     columns["attributes"], columns["sealed"], "active", now, now))
    with db.atomic():
        bulk_insert(Contact, NEW_CONTACT_COLUMNS, rows)
        db.execute_sql("INSERT INTO subscription (contact_id, mailing_list_id, status, created_at, updated_at) "
                       "SELECT id, ?, 'subscribed', created_at, created_at FROM contact WHERE account_id = ?",
                       [news.id, account.id])
    return Campaign.create(account=account, name="Spring sale", subject="Spring sale for {{ contact.first_name }}",
                           from_name="Bench Shop", from_email="news@shop.example", list_ids=[news.id], html=HTML)


def message_size(campaign):
    """Size of one message of the campaign as sent (DKIM-signed with --dkim), so the baseline sends bytes of
    the same size."""
    from sendtex import audience
    from sendtex.mail import render
    from sendtex.mail.message import MessageTemplate
    from sendtex.tasks.sending import _signer_for

    fields = audience.FieldSet(campaign.account_id)
    subject, html, text = render.compile_campaign(campaign, fields, for_sending=False).render({"first_name": "Ann"})
    template = MessageTemplate(campaign.from_name, campaign.from_email, "", "1.lists.shop.example", campaign.name,
                               "shop.example")
    message = template.build("p1@example.com", subject, html, text, ["https://mail.shop.example/u/x"], "c1.d1")[0]
    signer = _signer_for(campaign)
    return len(signer.sign(message) if signer else message)


def open_app(instance, lanes):
    from sendtex import create_app

    return create_app({"INSTANCE_PATH": instance, "HUEY_IMMEDIATE": False, "BASE_URL": "https://mail.shop.example",
                       "SEND_LANES": lanes})


def set_up(instance, port, recipients, dkim, lanes, results):
    """In a child process, so the parent the lanes fork from stays small: (campaign id, message size)."""
    from sendtex.db import db, upgrade

    app = open_app(instance, lanes)
    upgrade()
    with app.app_context(), db.connection_context():
        campaign = make_campaign(port, recipients, dkim, lanes)
        results.put((campaign.id, message_size(campaign)))


def cpu_seconds(pid="self"):
    """User + system CPU time of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_lane(campaign_id, lane, results):
    """One lane, as a worker process runs it; reports its peak RSS and the CPU time it used."""
    from sendtex.tasks.sending import send_campaign

    began = time.thread_time()  # this lane's own CPU time, also when lanes are threads of one process
    send_campaign.call_local(campaign_id, lane)
    results.put((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, time.thread_time() - began))


def run_lanes_in_threads(campaign_id, lanes, results):
    threads = [threading.Thread(target=run_lane, args=(campaign_id, lane, results)) for lane in range(lanes)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def run_campaign(instance, port, recipients, dkim, lanes, in_threads):
    """Seconds from start() to the campaign sent, seconds of start() itself, the lanes' peak RSS (MB), their
    CPU seconds, the message size."""
    from sendtex import sending
    from sendtex.db import db
    from sendtex.models.campaigns import Campaign

    results = FORK.Queue()
    child = FORK.Process(target=set_up, args=(instance, port, recipients, dkim, lanes, results))
    child.start()
    campaign_id, size = results.get()
    child.join()
    app = open_app(instance, lanes)
    with app.app_context():
        started = time.perf_counter()
        with db.connection_context():
            sending.start(Campaign.get_by_id(campaign_id))  # snapshot; the queued lane tasks are run below
        snapshot = time.perf_counter() - started
        if in_threads:
            processes = [FORK.Process(target=run_lanes_in_threads, args=(campaign_id, lanes, results))]
        else:
            processes = [FORK.Process(target=run_lane, args=(campaign_id, lane, results)) for lane in range(lanes)]
        for process in processes:
            process.start()
        peaks, cpu = zip(*[results.get() for _ in range(lanes)])
        for process in processes:
            process.join()
        elapsed = time.perf_counter() - started
        with db.connection_context():
            campaign = Campaign.get_by_id(campaign_id)
    assert campaign.status == "sent" and campaign.sent == recipients, (campaign.status, campaign.sent)
    return elapsed, snapshot, max(peaks), sum(cpu), size


def baseline_connection(port, first, count, size, ready, go, results):
    body = (b"x" * 76 + b"\r\n") * (size // 78)
    messages = [b"From: news@shop.example\r\nTo: p%d@example.com\r\nSubject: Spring sale\r\n\r\n" % n + body
                for n in range(first, first + count)]
    client = smtplib.SMTP("127.0.0.1", port)
    ready.release()
    go.wait()
    began = cpu_seconds()
    for n, message in enumerate(messages, first):
        client.sendmail("news@shop.example", [f"p{n}@example.com"], message)
    results.put((time.perf_counter(), cpu_seconds() - began))
    client.quit()


def baseline(port, recipients, size, connections):
    """Seconds for `connections` processes, each with its own smtplib connection, to send their share, and
    the CPU seconds they used."""
    ready, go, results = FORK.Semaphore(0), FORK.Event(), FORK.Queue()
    share = [recipients // connections + (n < recipients % connections) for n in range(connections)]
    processes = [FORK.Process(target=baseline_connection,
                              args=(port, sum(share[:n]), share[n], size, ready, go, results))
                 for n in range(connections)]
    for process in processes:
        process.start()
    for _ in processes:
        ready.acquire()
    started = time.perf_counter()
    go.set()
    finished, cpu = zip(*[results.get() for _ in processes])
    for process in processes:
        process.join()
    return max(finished) - started, sum(cpu)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=20_000)
    parser.add_argument("--lanes", type=int, default=2)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--dkim", action="store_true")
    parser.add_argument("--threads", action="store_true", help="lanes as threads of one process")
    args = parser.parse_args()
    if not shutil.which("smtp-sink"):
        sys.exit("smtp-sink is missing: apt-get install postfix")
    port = free_port()
    sink = start_sink(port)
    ratios = []
    print(f"recipients={args.recipients} lanes={args.lanes} ({'threads' if args.threads else 'processes'}) "
          f"dkim={'on' if args.dkim else 'off'}")
    try:
        for run in range(args.runs):
            with tempfile.TemporaryDirectory() as workdir:
                sink_cpu = cpu_seconds(sink.pid)
                elapsed, snapshot, peak_mb, cpu, size = run_campaign(
                    f"{workdir}/instance", port, args.recipients, args.dkim, args.lanes, args.threads)
                sink_cpu, base_sink_cpu = cpu_seconds(sink.pid) - sink_cpu, cpu_seconds(sink.pid)
            base, base_cpu = baseline(port, args.recipients, size, args.lanes)
            base_sink_cpu = cpu_seconds(sink.pid) - base_sink_cpu
            ours, theirs = args.recipients / elapsed, args.recipients / base
            ratios.append(ours / theirs)
            per_message = 1e6 / args.recipients
            print(f"run {run + 1}: sendtex {elapsed:.1f} s {ours:,.0f} msgs/s (start() {snapshot:.1f} s, "
                  f"peak RSS of a lane {peak_mb:.0f} MB, CPU a message: lanes {cpu * per_message:.0f} µs + sink "
                  f"{sink_cpu * per_message:.0f} µs); baseline {base:.1f} s {theirs:,.0f} msgs/s over {args.lanes} "
                  f"connections (CPU a message: clients {base_cpu * per_message:.0f} µs + sink "
                  f"{base_sink_cpu * per_message:.0f} µs); message {size} bytes; ratio {ours / theirs:.3f}", flush=True)
    finally:
        sink.terminate()
    print(f"ratio min={min(ratios):.3f} median={statistics.median(ratios):.3f} max={max(ratios):.3f}")
    print(f"ratio={statistics.median(ratios):.3f}")


if __name__ == "__main__":
    main()
