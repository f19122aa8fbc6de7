"""Bounces and complaints: the parser over reports in several MTAs' styles, the account's rules, synchronous
refusals while sending, the signed webhook, the campaign page, and the mailbox poller against a real IMAP
server (Debian's dovecot) on loopback."""
import datetime
import email
import grp
import hashlib
import hmac
import json
import os
import pwd
import random
import re
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from pathlib import Path

import imaplib
import pytest

from sendtex import audience
from sendtex.bounces import mailbox, rules
from sendtex.bounces.parse import ACTIONABLE, OTHER, parse, severity
from sendtex.db import db
from sendtex.models.base import utcnow
from sendtex.models.bounces import Bounce, MailboxCursor
from sendtex.models.campaigns import Campaign, Delivery, Event
from sendtex.models.contacts import Contact, Field, MailingList, Subscription
from sendtex.tasks.bounces import poll_bounce_mailbox
from tests.conftest import free_port, login, make_account, make_app, make_user, post
from tests.test_sending import Relaying, make_campaign, run, serving

SAMPLES = Path(__file__).parent / "mail_samples"
SECRET = "a-shared-webhook-secret"
DOVECOT = "/usr/sbin/dovecot"
ANN, BOB = "ann@example.org", "bob@example.org"


APP_SETTINGS = {"BOUNCE_WEBHOOK_SECRET": SECRET}


class Sent:
    """A campaign of an account sent to some contacts, each on every one of two lists."""

    def __init__(self, app, addresses=(ANN, BOB), account=None, encrypted=False):
        self.account = account or make_account("Shop")
        with app.app_context():
            fields = audience.FieldSet(self.account.id)
            if encrypted:
                Field.update(encrypted=True).where((Field.account == self.account.id) & (Field.key == "email")).execute()
                fields = audience.FieldSet(self.account.id)
            self.lists = [MailingList.create(account=self.account, name=name) for name in ("News", "Deals")]
            self.contacts = {address: audience.create_contact(fields, {"email": address},
                                                              [item.id for item in self.lists])
                             for address in addresses}
        self.campaign, self.deliveries = self.another_campaign()

    def another_campaign(self):
        """One more campaign sent to the same contacts: (campaign, {address: delivery})."""
        campaign = Campaign.create(account=self.account, name="Winter sale", subject="Winter sale", status="sent",
                                   list_ids=[item.id for item in self.lists], started_at=utcnow(), finished_at=utcnow())
        return campaign, {address: Delivery.create(campaign=campaign, contact=contact, status="sent", sent_at=utcnow())
                          for address, contact in self.contacts.items()}

    def status(self, address):
        return Contact.get_by_id(self.contacts[address].id).status


def sample(name, delivery=None, recipient=ANN, report_id=None, account_id=None):
    """A sample report about the delivery, filled in."""
    raw = (SAMPLES / name).read_bytes()
    campaign_id = delivery.campaign_id if delivery else 999
    values = {"@CAMPAIGN@": campaign_id, "@DELIVERY@": delivery.id if delivery else 999,
              "@ACCOUNT@": account_id or (delivery.campaign.account_id if isinstance(delivery, Delivery) else 7),
              "@RECIPIENT@": recipient, "@REPORT_ID@": report_id or secrets.token_hex(8)}
    for placeholder, value in values.items():
        raw = raw.replace(placeholder.encode(), str(value).encode())
    return raw


def feed(app, raw, source="imap"):
    """Parse a message and record what it reports, as the poller does: the outcome of each notice."""
    with app.app_context():
        report = parse(raw)
        return [rules.record(notice, report.origin, source) for notice in report.notices]


def bounces(**where):
    query = Bounce.select()
    for name, value in where.items():
        query = query.where(getattr(Bounce, name) == value)
    return list(query)


def events(kind):
    return list(Event.select().where(Event.kind == kind))


class FakeDelivery:
    """Ids for parsing samples without a database."""

    def __init__(self, campaign_id, delivery_id):
        self.campaign_id, self.id = campaign_id, delivery_id


# The parser

MTA_SAMPLES = ["postfix_user_unknown.eml", "exim_failed.eml", "gmail_style_address_not_found.eml",
               "microsoft_style_recipient_not_found.eml"]


@pytest.mark.parametrize("name", MTA_SAMPLES)
def test_reports_of_several_mtas_are_hard_bounces_of_their_delivery(name):
    report = parse(sample(name, FakeDelivery(12, 345), account_id=7))
    assert report.category == "bounce" and report.actionable
    [notice] = report.notices
    assert (notice.kind, notice.recipient) == ("hard", ANN)
    assert (report.origin.campaign_id, report.origin.delivery_id) == (12, 345)
    assert notice.diagnostic and ANN not in notice.diagnostic and "@" not in notice.diagnostic
    assert len(notice.diagnostic) <= 200


def test_the_status_code_and_reply_tell_hard_from_soft():
    full = parse(sample("mailbox_full.eml", FakeDelivery(1, 2)))
    assert [(n.kind, n.status) for n in full.notices] == [("soft", "5.2.2")]
    # A generic 5.0.0 status is made precise by the relay's own reply
    generic = parse(sample("dsn_list_id_only.eml", None))
    assert [(n.kind, n.status) for n in generic.notices] == [("hard", "5.1.1")]


@pytest.mark.parametrize("status, reply, kind", [
    ("5.1.1", "", "hard"), ("5.1.10", "", "hard"), ("5.2.1", "", "hard"), ("5.4.4", "", "hard"),
    ("5.2.2", "", "soft"), ("5.7.1", "550 5.7.1 spam", "soft"), ("4.4.7", "", "soft"),
    ("", "550 No such user here", "hard"), ("", "554 Message rejected", "soft"), ("", "451 user unknown", "soft"),
])
def test_severity(status, reply, kind):
    assert severity(status, reply) == kind


def test_delays_and_other_feedback_are_not_acted_on():
    delayed = parse(sample("delayed.eml", FakeDelivery(1, 2)))
    not_spam = parse(sample("arf_not_spam.eml", FakeDelivery(1, 2)))
    assert (delayed.category, delayed.actionable) == ("delay", False)
    assert (not_spam.category, not_spam.actionable) == ("feedback", False)


def test_feedback_loop_reports_are_complaints():
    full = parse(sample("arf_abuse.eml", FakeDelivery(12, 345), account_id=7))
    assert full.category == "complaint"
    assert [(n.kind, n.recipient) for n in full.notices] == [("complaint", ANN)]
    assert (full.origin.campaign_id, full.origin.delivery_id, full.origin.account_id) == (12, 345, 7)
    redacted = parse(sample("arf_redacted_headers_only.eml", FakeDelivery(12, 345)))
    assert [(n.kind, n.recipient) for n in redacted.notices] == [("complaint", "")]
    assert redacted.origin.delivery_id == 345


@pytest.mark.parametrize("name, category", [
    ("vacation_rfc3834.eml", "autoreply"), ("vacation_out_of_office.eml", "autoreply"),
    ("vacation_x_autoreply.eml", "autoreply"), ("human_reply.eml", "unrelated"),
    ("malformed_truncated.eml", "unrecognised"), ("malformed_binary.eml", "unrecognised"),
    ("malformed_header_soup.eml", "unrecognised"),
])
def test_auto_replies_people_and_broken_mail_are_left_alone(name, category):
    report = parse(sample(name, FakeDelivery(12, 345)))
    assert (report.category, report.actionable, report.notices) == (category, False, [])


def test_the_parser_never_raises_on_mangled_mail():
    generator = random.Random(5)
    for path in sorted(SAMPLES.glob("*.eml")):
        raw = sample(path.name, FakeDelivery(3, 4))
        variants = [raw[:cut] for cut in range(0, len(raw), max(1, len(raw) // 25))]
        for _ in range(25):
            mangled = bytearray(raw)
            for _ in range(8):
                mangled[generator.randrange(len(mangled))] = generator.randrange(256)
            variants.append(bytes(mangled))
        for variant in variants:
            assert parse(variant).category in ACTIONABLE + OTHER


# Recording and the rules

def test_a_hard_bounce_bounces_the_contact_once(app):
    sent = Sent(app)
    ann = sent.deliveries[ANN]
    assert feed(app, sample("postfix_user_unknown.eml", ann)) == ["recorded"]
    assert sent.status(ANN) == "bounced" and sent.status(BOB) == "active"
    [bounce] = bounces()
    assert (bounce.kind, bounce.status, bounce.source, bounce.contact_id, bounce.campaign_id) == (
        "hard", "5.1.1", "imap", ann.contact_id, sent.campaign.id)
    assert "Recipient address rejected" in bounce.diagnostic and ANN not in bounce.diagnostic
    assert [(e.delivery_id, e.account_id) for e in events("bounce")] == [(ann.id, sent.account.id)]
    # The same report again, another MTA's report of the same failure, the relay's webhook: counted once
    assert feed(app, sample("gmail_style_address_not_found.eml", ann)) == ["duplicate"]
    assert feed(app, sample("postfix_user_unknown.eml", ann), source="webhook") == ["duplicate"]
    assert len(bounces()) == 1 and len(events("bounce")) == 1


def test_the_same_report_processed_twice_counts_once(app):
    sent = Sent(app)
    raw = sample("mailbox_full.eml", sent.deliveries[ANN], report_id="once")
    assert feed(app, raw) == ["recorded"]
    assert feed(app, raw) == ["duplicate"]
    assert len(bounces(kind="soft")) == 1 and len(events("soft_bounce")) == 1


def test_soft_bounces_bounce_the_contact_at_the_accounts_limit_within_its_window(app):
    sent = Sent(app, account=make_account("Shop", soft_bounce_limit=3, soft_bounce_days=7))
    first, deliveries = sent.campaign, [sent.deliveries[ANN]]
    deliveries += [sent.another_campaign()[1][ANN] for _ in range(3)]
    assert feed(app, sample("mailbox_full.eml", deliveries[0])) == ["recorded"]
    Bounce.update(received_at=utcnow() - datetime.timedelta(days=8)).where(
        Bounce.campaign == first.id).execute()  # long ago: outside the window
    for delivery in deliveries[1:3]:
        assert feed(app, sample("mailbox_full.eml", delivery)) == ["recorded"]
    assert sent.status(ANN) == "active"  # two within seven days
    assert feed(app, sample("mailbox_full.eml", deliveries[3])) == ["recorded"]
    assert sent.status(ANN) == "bounced"
    assert len(events("soft_bounce")) == 4 and sent.status(BOB) == "active"


def test_the_owner_sets_the_soft_bounce_rule_on_the_account_page(app, client):
    owner = make_user(make_account("Shop"))
    member = make_user(owner.account, role="member")
    form = {"soft_bounce_limit": "1", "soft_bounce_days": "30", "track_opens": "y", "track_clicks": "y"}
    member_client = app.test_client()
    login(member_client, member)
    assert post(member_client, "/account/settings", form).status_code == 403
    login(client, owner)
    assert post(client, "/account/settings", form).status_code == 303
    account = type(owner.account).get_by_id(owner.account_id)
    assert (account.soft_bounce_limit, account.soft_bounce_days) == (1, 30)
    sent = Sent(app, account=account)
    assert feed(app, sample("mailbox_full.eml", sent.deliveries[ANN])) == ["recorded"]
    assert sent.status(ANN) == "bounced"


def test_a_complaint_marks_the_contact_and_unsubscribes_it_from_every_list(app):
    sent = Sent(app)
    assert feed(app, sample("arf_abuse.eml", sent.deliveries[ANN])) == ["recorded"]
    assert sent.status(ANN) == "complained"
    memberships = Subscription.select().where(Subscription.contact == sent.contacts[ANN].id)
    assert sorted(m.status for m in memberships) == ["unsubscribed", "unsubscribed"]
    assert all(m.unsubscribed_at for m in memberships)
    bob = Subscription.select().where(Subscription.contact == sent.contacts[BOB].id)
    assert sorted(m.status for m in bob) == ["subscribed", "subscribed"]
    # A provider that hides the address: the tracking id alone names the delivery
    assert feed(app, sample("arf_redacted_headers_only.eml", sent.deliveries[BOB], recipient="x")) == ["recorded"]
    assert sent.status(BOB) == "complained" and len(events("complaint")) == 2


def test_a_report_naming_somebody_else_changes_nothing(app):
    sent = Sent(app)
    # A forged or garbled report: the tracking id of Ann's message, another address
    assert feed(app, sample("postfix_user_unknown.eml", sent.deliveries[ANN], recipient="mallory@example.net")) == [
        "unmatched"]
    assert sent.status(ANN) == "active" and bounces() == [] and events("bounce") == []


def test_without_the_tracking_header_the_list_id_and_address_find_the_delivery(app, tmp_path):
    sent = Sent(app, encrypted=True)
    assert Contact.get_by_id(sent.contacts[ANN].id).email is None  # the address is stored encrypted only
    raw = sample("dsn_list_id_only.eml", sent.deliveries[ANN])
    assert parse(raw).origin.delivery_id is None
    assert feed(app, raw) == ["recorded"]
    assert sent.status(ANN) == "bounced" and bounces()[0].delivery_id == sent.deliveries[ANN].id
    db.execute_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    stored = b"".join(path.read_bytes() for path in (tmp_path / "instance").glob("sendtex.db*"))
    assert ANN.encode() not in stored  # matched by the blind index; the diagnostic kept no address


def test_a_list_id_of_another_account_matches_nothing(app):
    sent = Sent(app)
    other = make_account("Other")
    raw = sample("dsn_list_id_only.eml", sent.deliveries[ANN], account_id=other.id)
    assert feed(app, raw) == ["unmatched"] and sent.status(ANN) == "active"


def test_a_bounce_of_some_other_mail_matches_nothing(app):
    sent = Sent(app)
    assert feed(app, sample("unrelated_bounce_of_other_mail.eml")) == ["unmatched"]
    assert bounces() == [] and sent.status(ANN) == "active"


# Synchronous refusals while sending

class Refusing(Relaying):
    """A relay that refuses one address as unknown and another as spam."""

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("blocked@"):
            return "550 5.7.1 Message rejected as spam by policy"
        return await super().handle_RCPT(server, session, envelope, address, rcpt_options)


def test_a_relay_refusing_a_recipient_records_a_hard_or_soft_bounce(tmp_path):
    app = make_app(tmp_path, SEND_RETRY_FIRST_DELAY_SECONDS=0, BASE_URL="https://mail.sendtex.example")
    relay = Refusing()
    relay.refuse = ("gone@example.com",)
    with serving(relay):
        campaign = run(app, make_campaign(app, ["ann@example.com", "gone@example.com", "blocked@example.com"],
                                          relay.port))
    assert (campaign.sent, campaign.failed) == (1, 2)
    kinds = {Contact.get_by_id(b.contact_id).status: (b.kind, b.status, b.source) for b in bounces()}
    assert kinds == {"bounced": ("hard", "5.1.1", "smtp"), "active": ("soft", "5.7.1", "smtp")}
    assert len(events("bounce")) == 1 and len(events("soft_bounce")) == 1
    assert all("@" not in b.diagnostic for b in bounces())


# The webhook

def signed(body, secret=SECRET, timestamp=None):
    timestamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"X-Sendtex-Timestamp": timestamp, "X-Sendtex-Signature": f"sha256={signature}",
            "Content-Type": "application/json"}


def hook(client, document, **signing):
    body = document if isinstance(document, bytes) else json.dumps(document).encode()
    return client.post("/hooks/bounces", data=body, headers=signed(body, **signing))


def test_the_webhook_is_off_without_a_secret(tmp_path):
    client = make_app(tmp_path).test_client()
    response = hook(client, {"events": []})
    assert response.status_code == 404 and response.json["error"]


def test_a_signed_webhook_records_bounces_and_complaints(app, client):
    sent = Sent(app)
    ann, bob = sent.deliveries[ANN], sent.deliveries[BOB]
    document = {"events": [
        {"type": "bounce", "recipient": ANN, "status": "5.1.1", "diagnostic": "550 5.1.1 user unknown",
         "sendtex_id": f"c{ann.campaign_id}.d{ann.id}"},
        {"type": "complaint", "recipient": BOB, "message_id": f"<c{bob.campaign_id}.d{bob.id}.0f0f0f0f@shop.example>"},
        {"type": "bounce", "recipient": "nobody@example.org", "sendtex_id": "c999.d999"},
    ]}
    response = hook(client, document)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json == {"recorded": 2, "duplicates": 0, "unmatched": 1}
    assert "Set-Cookie" not in response.headers
    assert (sent.status(ANN), sent.status(BOB)) == ("bounced", "complained")
    assert {(b.kind, b.source) for b in bounces()} == {("hard", "webhook"), ("complaint", "webhook")}
    again = hook(client, document)  # a retry of the relay within the five minutes
    assert again.json == {"recorded": 0, "duplicates": 2, "unmatched": 1}
    assert len(bounces()) == 2


def test_a_soft_bounce_by_webhook_counts_towards_the_limit(app, client):
    sent = Sent(app, account=make_account("Shop", soft_bounce_limit=2))
    second = sent.another_campaign()[1][ANN]
    for delivery in (sent.deliveries[ANN], second):
        event = {"type": "bounce", "recipient": ANN, "status": "4.2.2", "diagnostic": "452 mailbox full",
                 "sendtex_id": f"c{delivery.campaign_id}.d{delivery.id}"}
        assert hook(client, {"events": [event]}).json["recorded"] == 1
    assert [b.kind for b in bounces()] == ["soft", "soft"] and sent.status(ANN) == "bounced"


@pytest.mark.parametrize("headers", [
    {},
    {"X-Sendtex-Timestamp": "{now}"},
    {"X-Sendtex-Timestamp": "{now}", "X-Sendtex-Signature": "sha256=" + "0" * 64},
    {"X-Sendtex-Timestamp": "{old}", "X-Sendtex-Signature": "{old_signature}"},
    {"X-Sendtex-Timestamp": "{future}", "X-Sendtex-Signature": "{future_signature}"},
    {"X-Sendtex-Timestamp": "{now}", "X-Sendtex-Signature": "{wrong_secret}"},
    {"X-Sendtex-Timestamp": "{now}", "X-Sendtex-Signature": "{other_body}"},
    {"X-Sendtex-Timestamp": "soon", "X-Sendtex-Signature": "{now_signature}"},
    {"X-Sendtex-Timestamp": "{now}", "X-Sendtex-Signature": "ünïcode"},
])
def test_bad_signatures_are_refused_and_record_nothing(app, client, headers):
    sent = Sent(app)
    ann = sent.deliveries[ANN]
    body = json.dumps({"events": [{"type": "bounce", "recipient": ANN, "status": "5.1.1",
                                   "sendtex_id": f"c{ann.campaign_id}.d{ann.id}"}]}).encode()
    now = int(time.time())
    values = {"now": now, "old": now - 301, "future": now + 301,
              "now_signature": signed(body, timestamp=now)["X-Sendtex-Signature"],
              "old_signature": signed(body, timestamp=now - 301)["X-Sendtex-Signature"],
              "future_signature": signed(body, timestamp=now + 301)["X-Sendtex-Signature"],
              "wrong_secret": signed(body, secret="guess", timestamp=now)["X-Sendtex-Signature"],
              "other_body": signed(b'{"events": []}', timestamp=now)["X-Sendtex-Signature"]}
    sent_headers = {name: value.format(**values) for name, value in headers.items()}
    response = client.post("/hooks/bounces", data=body, headers={"Content-Type": "application/json", **sent_headers})
    assert response.status_code == 403 and "signature" in response.json["error"]
    assert bounces() == [] and sent.status(ANN) == "active"


@pytest.mark.parametrize("body, says", [
    (b"{not json", "not valid JSON"),
    (b"\xff\xfe{}", "not valid JSON"),
    (b"[]", '"events"'),
    (b'{"events": "all"}', '"events"'),
    (b'{"events": [{"type": "delivered"}]}', '"type"'),
    (b'{"events": [7]}', "not an object"),
    (b'{"events": [{"type": "bounce", "sendtex_id": "c1.d1"}, {"type": "bounce", "recipient": 5}]}', '"recipient"'),
])
def test_malformed_bodies_get_400_and_record_nothing(app, client, body, says):
    sent = Sent(app)
    ann = sent.deliveries[ANN]
    body = body.replace(b"c1.d1", f"c{ann.campaign_id}.d{ann.id}".encode())
    response = hook(client, body)
    assert response.status_code == 400 and says in response.json["error"]
    assert bounces() == [] and sent.status(ANN) == "active"


def test_ids_beyond_any_row_are_unmatched_not_errors(app, client):
    response = hook(client, {"events": [{"type": "bounce", "sendtex_id": "c99999999999999999999.d1"},
                                        {"type": "complaint", "message_id": "c9223372036854775807.d9223372036854775807.ab@x"}]})
    assert response.status_code == 200 and response.json["unmatched"] == 2


# The campaign page

def test_the_campaign_page_shows_its_bounces_escaped(app, client):
    owner = make_user(make_account("Shop"))
    sent = Sent(app, account=owner.account)
    feed(app, sample("postfix_user_unknown.eml", sent.deliveries[ANN]))
    bob = sent.deliveries[BOB]
    hook(client, {"events": [{"type": "complaint", "recipient": BOB, "diagnostic": "<script>alert(1)</script>",
                              "sendtex_id": f"c{bob.campaign_id}.d{bob.id}"}]})
    login(client, owner)
    page = client.get(f"/campaigns/{sent.campaign.id}").get_data(as_text=True)
    section = page[page.index('id="campaign-bounces"'):]
    assert re.search(r"Hard bounces</dt><dd>1<", section) and re.search(r"Complaints</dt><dd>1<", section)
    assert ANN in section and BOB in section and "5.1.1" in section
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section and "<script>alert" not in page


# The mailbox poller against dovecot

class Dovecot:
    """Debian's dovecot as a foreground process on loopback: IMAPS and IMAP with STARTTLS, one passwd-file user,
    a self-signed certificate; its files in a temporary folder."""

    USER, PASSWORD = "bounces", "a-mailbox-password"

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="sendtex-dovecot-"))
        os.chmod(self.root, 0o755)  # dovecot's own users (when started as root) read the passwd file
        self.ca_file = self._certificate()
        self.tls_port, self.starttls_port = free_port(), free_port()
        (self.root / "passwd").write_text(f"{self.USER}:{{PLAIN}}{self.PASSWORD}\n")
        (self.root / "dovecot.conf").write_text(self._config())
        self.process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            self._wait()
        except RuntimeError:
            self.stop()
            raise

    def _certificate(self):
        import datetime
        import ipaddress

        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Sendtex test IMAP")])
        now = datetime.datetime.now(datetime.timezone.utc)
        certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
                       .serial_number(x509.random_serial_number())
                       .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
                       .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
                       .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
                       .sign(key, hashes.SHA256()))
        (self.root / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))
        (self.root / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        return str(self.root / "cert.pem")

    def _config(self):
        uid, gid = os.getuid(), os.getgid()
        if uid == 0:  # dovecot refuses mail access as root: the mail belongs to its own user then
            mail_user = pwd.getpwnam("dovecot")
            mail_uid, mail_gid, users = mail_user.pw_uid, mail_user.pw_gid, ""
        else:  # an ordinary user runs every part of it as itself (and cannot chroot: no process does here)
            mail_uid, mail_gid = uid, gid
            me, group = pwd.getpwuid(uid).pw_name, grp.getgrgid(gid).gr_name
            users = f"default_internal_user = {me}\ndefault_internal_group = {group}\ndefault_login_user = {me}\n"
        home = self.root / "home"
        home.mkdir()
        os.chown(home, mail_uid, mail_gid)
        return f"""{users}base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
protocols = imap
listen = 127.0.0.1
first_valid_uid = {mail_uid}
ssl = required
ssl_cert = <{self.root}/cert.pem
ssl_key = <{self.root}/key.pem
auth_mechanisms = plain
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={home}/%u
}}
namespace inbox {{
  inbox = yes
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.starttls_port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
    ssl = yes
  }}
}}
"""

    def _wait(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"dovecot stopped: {self.process.stdout.read().decode()} {self.log()}")
            try:
                socket.create_connection(("127.0.0.1", self.tls_port), timeout=0.5).close()
                socket.create_connection(("127.0.0.1", self.starttls_port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not start: {self.log()}")

    def log(self):
        path = self.root / "dovecot.log"
        return path.read_text() if path.exists() else ""

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)

    def client(self):
        imap = imaplib.IMAP4_SSL("127.0.0.1", self.tls_port, ssl_context=ssl.create_default_context(cafile=self.ca_file))
        imap.login(self.USER, self.PASSWORD)
        return imap


@pytest.fixture(scope="module")
def dovecot():
    if not os.path.exists(DOVECOT):
        if os.environ.get("CI"):
            pytest.fail(f"{DOVECOT} is missing in CI: `make test` should have installed dovecot-imapd")
        pytest.skip("the IMAP tests need Debian's dovecot-imapd (apt-get install dovecot-imapd)")
    server = Dovecot()
    yield server
    server.stop()


class Mailbox:
    """One test's folders on the IMAP server, and what the app needs to read them."""

    def __init__(self, server):
        self.server = server
        suffix = secrets.token_hex(4)
        self.folder, self.processed = f"Bounces {suffix}", f"Processed {suffix}"
        self.imap = server.client()
        self.imap.create(f'"{self.folder}"')

    def config(self, **overrides):
        settings = dict(BOUNCE_IMAP_HOST="127.0.0.1", BOUNCE_IMAP_PORT=self.server.tls_port,
                        BOUNCE_IMAP_USER=Dovecot.USER, BOUNCE_IMAP_PASSWORD=Dovecot.PASSWORD,
                        BOUNCE_IMAP_FOLDER=self.folder, BOUNCE_IMAP_PROCESSED_FOLDER=self.processed,
                        BOUNCE_IMAP_CA_FILE=self.server.ca_file, SMTP_TIMEOUT=10)
        settings.update(overrides)
        return settings

    def append(self, *messages):
        for raw in messages:
            status, _ = self.imap.append(f'"{self.folder}"', None, None, raw)
            assert status == "OK"

    def contents(self, folder):
        """{Message-ID: flags} of the folder's messages (their stored flags: \\Seen, \\Deleted, keywords)."""
        status, count = self.imap.select(f'"{folder}"', readonly=True)
        if status != "OK" or count[0] == b"0":
            return {}
        _, data = self.imap.fetch("1:*", "(FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        found = {}
        for item in data:
            if isinstance(item, tuple):
                message_id = item[1].decode().partition(":")[2].strip()
                flags = re.search(r"FLAGS \(([^)]*)\)", item[0].decode()).group(1).split()
                found[message_id] = " ".join(flag for flag in flags if flag != "\\Recent")  # a session state
        return found


@pytest.fixture
def imap_box(dovecot):
    box = Mailbox(dovecot)
    yield box
    box.imap.logout()


def test_the_poller_records_reports_moves_them_and_leaves_the_rest_untouched(tmp_path, imap_box):
    app = make_app(tmp_path, **imap_box.config())
    sent = Sent(app)
    ann, bob = sent.deliveries[ANN], sent.deliveries[BOB]
    kept = {name: sample(name, ann, report_id=name.split(".")[0]) for name in (
        "vacation_rfc3834.eml", "vacation_out_of_office.eml", "human_reply.eml", "malformed_truncated.eml",
        "delayed.eml", "unrelated_bounce_of_other_mail.eml", "arf_not_spam.eml")}
    imap_box.append(sample("postfix_user_unknown.eml", ann, report_id="hard"), *kept.values(),
                    sample("arf_abuse.eml", bob, recipient=BOB, report_id="complaint"))
    assert poll_bounce_mailbox.call_local() == {"recorded": 2, "duplicates": 0, "unmatched": 1, "left alone": 6}
    assert (sent.status(ANN), sent.status(BOB)) == ("bounced", "complained")
    processed = imap_box.contents(imap_box.processed)
    assert sorted(processed) == ["<complaint@fbl.isp.example.net>", "<hard@mx1.relay.example.net>"]
    left = imap_box.contents(imap_box.folder)
    assert len(left) == len(kept) and all(flags == "" for flags in left.values())  # not even marked read
    # The next run reads only what arrived since
    with app.app_context():
        assert mailbox.poll(app.config) == {"recorded": 0, "duplicates": 0, "unmatched": 0, "left alone": 0}
        imap_box.append(sample("mailbox_full.eml", bob, recipient=BOB, report_id="later"))
        assert mailbox.poll(app.config)["recorded"] == 1
    assert imap_box.contents(imap_box.folder) == left
    assert len(bounces()) == 3


def test_a_report_recorded_before_a_crash_is_moved_and_counted_once(tmp_path, imap_box):
    app = make_app(tmp_path, **imap_box.config())
    sent = Sent(app)
    raw = sample("exim_failed.eml", sent.deliveries[ANN], report_id="crash")
    assert feed(app, raw) == ["recorded"]  # the record was committed, then the worker died before moving it
    imap_box.append(raw)
    with app.app_context():
        assert mailbox.poll(app.config)["duplicates"] == 1
    assert imap_box.contents(imap_box.folder) == {} and list(imap_box.contents(imap_box.processed)) == [
        "<crash@smtp.hosting.example.net>"]
    assert len(bounces()) == 1 and len(events("bounce")) == 1


def test_starttls_works_too_and_the_interval_is_kept(tmp_path, imap_box):
    app = make_app(tmp_path, **imap_box.config(BOUNCE_IMAP_SECURITY="starttls",
                                               BOUNCE_IMAP_PORT=imap_box.server.starttls_port))
    sent = Sent(app)
    imap_box.append(sample("gmail_style_address_not_found.eml", sent.deliveries[ANN]))
    assert poll_bounce_mailbox.call_local()["recorded"] == 1
    imap_box.append(sample("gmail_style_address_not_found.eml", sent.deliveries[BOB], recipient=BOB))
    assert poll_bounce_mailbox.call_local() is None  # the interval has not passed
    assert sent.status(BOB) == "active"
    MailboxCursor.update(polled_at=utcnow() - datetime.timedelta(seconds=301)).execute()
    assert poll_bounce_mailbox.call_local()["recorded"] == 1 and sent.status(BOB) == "bounced"


def test_an_untrusted_certificate_is_refused_and_nothing_is_read(tmp_path, imap_box, caplog):
    app = make_app(tmp_path, **imap_box.config(BOUNCE_IMAP_CA_FILE=""))
    sent = Sent(app)
    imap_box.append(sample("postfix_user_unknown.eml", sent.deliveries[ANN], report_id="untrusted"))
    assert poll_bounce_mailbox.call_local() is None
    assert "Bounce mailbox not read" in caplog.text and "CERTIFICATE_VERIFY_FAILED" in caplog.text
    assert Dovecot.PASSWORD not in caplog.text
    assert sent.status(ANN) == "active" and list(imap_box.contents(imap_box.folder).values()) == [""]


def test_a_wrong_password_is_logged_not_raised(tmp_path, imap_box, caplog):
    make_app(tmp_path, **imap_box.config(BOUNCE_IMAP_PASSWORD="not-the-mailbox-password"))
    assert poll_bounce_mailbox.call_local() is None
    assert "Bounce mailbox not read" in caplog.text and "AUTHENTICATIONFAILED" in caplog.text
    assert "not-the-mailbox-password" not in caplog.text


def test_without_a_host_the_poller_does_nothing(app):
    assert poll_bounce_mailbox.call_local() is None
    assert MailboxCursor.select().count() == 0


def test_a_bounce_of_a_message_sendtex_really_sent_comes_back_through_imap(tmp_path, imap_box):
    app = make_app(tmp_path, **imap_box.config(), BASE_URL="https://mail.sendtex.example")
    relay = Relaying()
    with serving(relay):
        campaign = run(app, make_campaign(app, ["ann@example.com", "bob@example.com"], relay.port))
    assert campaign.sent == 2
    original = next(m for m in relay.messages if m.rcpt_tos == ["ann@example.com"]).content
    headers = original.split(b"\r\n\r\n", 1)[0].decode()
    report = MIMEMultipart("report", report_type="delivery-status")
    report["From"], report["Subject"] = "MAILER-DAEMON@mx.example.com", "Undelivered Mail Returned to Sender"
    report["Message-ID"] = "<real-bounce@mx.example.com>"
    report.attach(MIMEText("The mailbox of ann@example.com no longer exists.\n"))
    report.attach(email.message_from_string(
        "Content-Type: message/delivery-status\n\nReporting-MTA: dns; mx.example.com\n\n"
        "Final-Recipient: rfc822; ann@example.com\nAction: failed\nStatus: 5.1.1\n"
        "Diagnostic-Code: smtp; 550 5.1.1 mailbox unknown\n"))
    report.attach(MIMEText(headers, "rfc822-headers"))
    imap_box.append(report.as_bytes())
    assert poll_bounce_mailbox.call_local()["recorded"] == 1
    statuses = {d.contact.email: d.contact.status for d in Delivery.select().where(Delivery.campaign == campaign.id)}
    assert statuses == {"ann@example.com": "bounced", "bob@example.com": "active"}
