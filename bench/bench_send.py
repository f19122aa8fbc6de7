"""A campaign end to end (ledger snapshot, render with merge tags, link rewriting, headers, ledger updates)
into postfix's smtp-sink on loopback, against a raw smtplib loop sending pre-built bytes to the same sink
over the same single connection, in the same run. With --dkim the campaign's domain has a DKIM key.

Usage: python bench/bench_send.py [recipients] [--dkim]   (default 20,000).
Prints ratio=<campaign msgs/s ÷ baseline msgs/s> last. Needs /usr/sbin/smtp-sink (Debian's postfix).
"""
import multiprocessing
import resource
import shutil
import smtplib
import socket
import subprocess
import sys
import tempfile
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


def make_campaign(port, recipients, dkim):
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
                 max_connections=1)
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
    """Size of one message of the campaign as sent, so the baseline sends bytes of the same size."""
    from sendtex import audience
    from sendtex.mail import render
    from sendtex.mail.message import MessageTemplate

    fields = audience.FieldSet(campaign.account_id)
    subject, html, text = render.compile_campaign(campaign, fields, for_sending=False).render({"first_name": "Ann"})
    template = MessageTemplate(campaign.from_name, campaign.from_email, "", "1.lists.shop.example", campaign.name,
                               "shop.example")
    return len(template.build("p1@example.com", subject, html, text, ["https://mail.shop.example/u/x"], "c1.d1")[0])


def run_campaign(instance, port, recipients, dkim, queue):
    """In a child process, so its peak memory is the sender's own."""
    from sendtex import create_app, sending
    from sendtex.db import db, upgrade
    from sendtex.models.campaigns import Campaign

    app = create_app({"INSTANCE_PATH": instance, "HUEY_IMMEDIATE": True, "BASE_URL": "https://mail.shop.example"})
    upgrade()
    with app.app_context(), db.connection_context():
        campaign = make_campaign(port, recipients, dkim)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        sending.start(campaign)
        elapsed = time.perf_counter() - started
        campaign = Campaign.get_by_id(campaign.id)
        queue.put({"elapsed": elapsed, "status": campaign.status, "sent": campaign.sent,
                   "message_bytes": message_size(campaign),
                   "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                   "rss_before_mb": rss_before / 1024})


def baseline(port, recipients, size):
    """A raw smtplib loop over one connection sending pre-built bytes of the same size."""
    body = (b"x" * 76 + b"\r\n") * (size // 78)
    messages = [b"From: news@shop.example\r\nTo: p%d@example.com\r\nSubject: Spring sale\r\n\r\n" % n + body
                for n in range(recipients)]
    client = smtplib.SMTP("127.0.0.1", port)
    started = time.perf_counter()
    for n, message in enumerate(messages):
        client.sendmail("news@shop.example", [f"p{n}@example.com"], message)
    elapsed = time.perf_counter() - started
    client.quit()
    return elapsed


def main():
    args = [arg for arg in sys.argv[1:] if not arg.startswith("--")]
    recipients = int(args[0]) if args else 20_000
    dkim = "--dkim" in sys.argv
    if not shutil.which("smtp-sink"):
        sys.exit("smtp-sink is missing: apt-get install postfix")
    port = free_port()
    sink = start_sink(port)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            context = multiprocessing.get_context("fork")
            queue = context.Queue()
            child = context.Process(target=run_campaign, args=(f"{workdir}/instance", port, recipients, dkim, queue))
            child.start()
            result = queue.get()
            child.join()
        assert result["status"] == "sent" and result["sent"] == recipients, result
        base = baseline(port, recipients, result["message_bytes"])
    finally:
        sink.terminate()
    ours, theirs = recipients / result["elapsed"], recipients / base
    print(f"recipients={recipients} dkim={'on' if dkim else 'off'} message={result['message_bytes']} bytes")
    print(f"sendtex campaign: {result['elapsed']:.1f} s, {ours:,.0f} msgs/s, peak RSS {result['peak_rss_mb']:.0f} MB "
          f"(before sending {result['rss_before_mb']:.0f} MB)")
    print(f"baseline smtplib loop, pre-built bytes, 1 connection: {base:.1f} s, {theirs:,.0f} msgs/s")
    print(f"ratio={ours / theirs:.3f}")


if __name__ == "__main__":
    main()
