"""The sending pipeline against real SMTP servers on loopback: messages, ledger, retries, failures."""
import contextlib
import os
import email
import threading
from email import policy

import pytest
from aiosmtpd.controller import Controller

from sendtex import audience, sending, sentmarks
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery, SendingDomain
from sendtex.models.contacts import Contact, MailingList
from sendtex.models.mail import OutboxMessage
from sendtex.models.relays import Relay
from sendtex.tasks.sending import send_campaign
from tests.conftest import free_port, make_account, make_app


class Relaying:
    """An aiosmtpd handler that keeps messages and can be told to misbehave."""

    def __init__(self):
        self.messages = []
        self.temporary_failures = 0  # answer 451 to this many DATA commands first
        self.refuse = ()  # RCPT of these addresses gets 550 5.1.1
        self.drop_at = set()  # drop the connection during DATA of these message numbers
        self.lock = threading.Lock()
        self.data_commands = 0
        self.pipelining = False  # advertise PIPELINING (aiosmtpd handles pipelined commands but does not say so)

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.data_commands += 1
            number = self.data_commands
            if self.temporary_failures > 0:
                self.temporary_failures -= 1
                return "451 4.3.0 Try again later"
            if number in self.drop_at:
                server.transport.close()
                return "421 closing"
            self.messages.append(envelope)
        return "250 2.0.0 OK"


@contextlib.contextmanager
def serving(handler):
    """Run an aiosmtpd handler on a free loopback port (handler.port) for the duration of the block."""
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    handler.port = controller.port
    try:
        yield handler
    finally:
        controller.stop()


@pytest.fixture(params=["plain", "pipelining"])
def relay_server(request):
    """The relay, once as aiosmtpd is and once advertising PIPELINING (SmtpSession's pipelined path)."""
    relaying = Relaying()
    relaying.pipelining = request.param == "pipelining"
    with serving(relaying) as handler:
        yield handler


@pytest.fixture
def sender_app(tmp_path):
    return make_app(tmp_path, SEND_RETRY_FIRST_DELAY_SECONDS=0, BASE_URL="https://mail.sendtex.example",
                    SEND_PAUSE_WINDOW=10, SEND_PAUSE_FAILURE_RATE=0.5)


def make_campaign(app, recipients, relay_port=None, html=None, **fields):
    """An account with `recipients` subscribed contacts, a verified domain, a relay and a campaign."""
    account = make_account("Shop", daily_quota=100_000)
    news = MailingList.create(account=account, name="News")
    SendingDomain.create(account=account, domain="shop.example", verified_at=utcnow())
    if relay_port:
        Relay.create(name=f"loopback-{relay_port}", host="127.0.0.1", port=relay_port, security="plain",
                     max_per_second=0, region="eu")
    with app.app_context():
        field_set = audience.FieldSet(account.id)
        for address in recipients:
            audience.create_contact(field_set, {"email": address, "first_name": address.split("@")[0].title()},
                                    list_ids=[news.id])
    values = dict(name="Spring sale", subject="Hello {{ contact.first_name }}", from_name="Shop Ünicode",
                  from_email="news@shop.example", list_ids=[news.id],
                  html=html or '<html><body><p>Hi {{ contact.first_name | default("there") }},</p>'
                               '<p><a href="https://shop.example/sale">See the sale</a></p></body></html>')
    values.update(fields)
    return Campaign.create(account=account, **values)


def run(app, campaign):
    with app.app_context():
        sending.start(campaign)
    return Campaign.get_by_id(campaign.id)


def ledger(campaign):
    return {d.contact.email if d.contact else None: d for d in Delivery.select().where(Delivery.campaign == campaign.id)}


def test_campaign_arrives_with_every_header(sender_app, relay_server):
    campaign = make_campaign(sender_app, ["ann@example.com", "bob@example.com"], relay_server.port)
    campaign = run(sender_app, campaign)
    assert (campaign.status, campaign.total, campaign.sent, campaign.failed) == ("sent", 2, 2, 0)
    assert sorted(m.rcpt_tos[0] for m in relay_server.messages) == ["ann@example.com", "bob@example.com"]
    envelope = next(m for m in relay_server.messages if m.rcpt_tos == ["ann@example.com"])
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == "Hello Ann" and message["To"] == "ann@example.com"
    assert message["From"] == "Shop Ünicode <news@shop.example>"
    assert message["Message-ID"] and message["Date"] and message["MIME-Version"] == "1.0"
    assert message["List-Unsubscribe"].startswith("<https://mail.sendtex.example/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["List-Id"] and message["X-Sendtex-ID"].startswith(f"c{campaign.id}.d")
    assert message.get_content_type() == "multipart/alternative"
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hi Ann" in html and "Hi Ann" in text
    assert "https://shop.example/sale" not in html and "https://mail.sendtex.example/" in html  # click tracking


def test_without_relays_the_campaign_goes_to_the_outbox(sender_app):
    campaign = run(sender_app, make_campaign(sender_app, ["ann@example.com"]))
    assert campaign.status == "sent"
    entry = OutboxMessage.get(OutboxMessage.kind == "campaign")
    assert entry.recipient == "ann@example.com" and entry.subject == "Hello Ann"


def test_temporary_failures_are_retried(sender_app, relay_server):
    relay_server.temporary_failures = 3
    campaign = run(sender_app, make_campaign(sender_app, ["ann@example.com", "bob@example.com"], relay_server.port))
    assert campaign.status == "sent" and campaign.sent == 2
    assert sum(d.attempts for d in ledger(campaign).values()) == 5
    assert len(relay_server.messages) == 2


def test_permanent_failures_mark_the_delivery_and_bounce_the_contact(sender_app, relay_server):
    relay_server.refuse = ("gone@example.com",)
    campaign = run(sender_app, make_campaign(sender_app, ["ann@example.com", "gone@example.com"], relay_server.port))
    assert (campaign.status, campaign.sent, campaign.failed) == ("sent", 1, 1)
    failed = ledger(campaign)["gone@example.com"]
    assert failed.status == "failed" and "550" in failed.error
    assert "gone@example.com" not in failed.error and "(address)" in failed.error  # the address may be encrypted
    assert Contact.get_by_id(failed.contact_id).status == "bounced"


def test_a_dropped_connection_mid_data_is_retried(sender_app, relay_server):
    relay_server.drop_at = {2}
    addresses = [f"p{n}@example.com" for n in range(4)]
    campaign = run(sender_app, make_campaign(sender_app, addresses, relay_server.port))
    assert campaign.status == "sent" and campaign.sent == 4
    assert sorted(m.rcpt_tos[0] for m in relay_server.messages) == sorted(addresses)


def test_high_failure_rate_pauses_the_campaign(sender_app, relay_server):
    addresses = [f"p{n}@example.com" for n in range(30)]
    relay_server.refuse = tuple(addresses[:20])
    campaign = run(sender_app, make_campaign(sender_app, addresses, relay_server.port))
    assert campaign.status == "paused" and "Paused automatically" in campaign.status_reason
    assert campaign.sent + campaign.failed < 30


def test_contacts_that_left_after_the_snapshot_are_skipped(sender_app, relay_server):
    campaign = make_campaign(sender_app, ["ann@example.com", "bob@example.com", "cy@example.com"], relay_server.port)
    with sender_app.app_context():
        # The ledger was snapshotted (a paused campaign resumes without a new snapshot), then two people left.
        Campaign.update(status="paused").where(Campaign.id == campaign.id).execute()
        for contact in Contact.select():
            Delivery.create(campaign=campaign, contact=contact)
        Contact.get(Contact.email == "bob@example.com").delete_instance()
        Contact.update(status="unsubscribed").where(Contact.email == "cy@example.com").execute()
        sending.start(Campaign.get_by_id(campaign.id))
    campaign = Campaign.get_by_id(campaign.id)
    assert (campaign.status, campaign.sent, campaign.skipped) == ("sent", 1, 2)
    assert [m.rcpt_tos for m in relay_server.messages] == [["ann@example.com"]]


def test_eu_only_account_without_eu_relay_refuses_to_start(sender_app, relay_server):
    campaign = make_campaign(sender_app, ["ann@example.com"], relay_server.port)
    Relay.update(region="intl").execute()
    campaign.account.eu_only_sending = True
    campaign.account.save()
    with sender_app.app_context(), pytest.raises(sending.CannotStart, match="EU relays only"):
        sending.start(Campaign.get_by_id(campaign.id))
    assert Delivery.select().count() == 0 and relay_server.messages == []


@pytest.mark.parametrize("change, reason", [
    (dict(list_ids=[]), "Choose the lists or the segment"),
    (dict(from_email="news@elsewhere.example"), "verified sending domains"),
    (dict(subject=" "), "Write a subject"),
])
def test_campaigns_that_cannot_start_say_why(sender_app, change, reason):
    campaign = make_campaign(sender_app, ["ann@example.com"], **change)
    with sender_app.app_context(), pytest.raises(sending.CannotStart, match=reason):
        sending.start(campaign)


def test_empty_audience_and_quota(sender_app):
    campaign = make_campaign(sender_app, [])
    with sender_app.app_context(), pytest.raises(sending.CannotStart, match="Nobody would receive"):
        sending.start(campaign)
    campaign = make_campaign(sender_app, ["a@example.com", "b@example.com"])
    campaign.account.daily_quota = 1
    campaign.account.save()
    with sender_app.app_context(), pytest.raises(sending.CannotStart, match="daily quota 1"):
        sending.start(Campaign.get_by_id(campaign.id))


def test_cancel_skips_what_is_left(sender_app):
    campaign = make_campaign(sender_app, ["a@example.com", "b@example.com"])
    with sender_app.app_context():
        Campaign.update(status="paused").where(Campaign.id == campaign.id).execute()
        for contact in Contact.select():
            Delivery.create(campaign=campaign, contact=contact)
        sending.cancel(campaign)
    campaign = Campaign.get_by_id(campaign.id)
    assert (campaign.status, campaign.skipped, campaign.sent) == ("cancelled", 2, 0)


def dead_lane_marks(app, deliveries):
    """A mark file as a lane killed right after the relay took these deliveries' messages leaves it."""
    with app.app_context():
        marks = sentmarks.SentMarks()
        for delivery in deliveries:
            marks.mark(delivery.id)
        os.write(marks._fd, b"12345")  # the kill cut the next mark short
        os.close(marks._fd)  # as the kernel does for a killed process: the file stays, its lock goes


def test_messages_a_dead_lane_had_sent_are_counted_and_never_sent_again(sender_app, relay_server):
    campaign = make_campaign(sender_app, ["a@example.com", "b@example.com", "c@example.com"], relay_server.port)
    with sender_app.app_context():
        Campaign.update(status="sending", started_at=utcnow()).where(Campaign.id == campaign.id).execute()
        sent = [Delivery.create(campaign=campaign, contact=contact, claim="dead-lane", lease_until=utcnow())
                for contact in Contact.select().where(Contact.email != "c@example.com")]
        Delivery.create(campaign=campaign, contact=Contact.get(Contact.email == "c@example.com"))
    dead_lane_marks(sender_app, sent)
    with sender_app.app_context():
        send_campaign.call_local(campaign.id)
    campaign = Campaign.get_by_id(campaign.id)
    assert [m.rcpt_tos for m in relay_server.messages] == [["c@example.com"]]
    assert (campaign.status, campaign.sent) == ("sent", 3)
    assert {(email, d.status, d.attempts, d.claim) for email, d in ledger(campaign).items()} == {
        ("a@example.com", "sent", 1, None), ("b@example.com", "sent", 1, None), ("c@example.com", "sent", 1, None)}
    assert all(d.sent_at for d in ledger(campaign).values())
    assert os.listdir(sender_app.instance_path + "/sent-marks") == []


def test_a_living_lanes_marks_are_left_to_it(sender_app):
    campaign = make_campaign(sender_app, ["a@example.com"])
    with sender_app.app_context():
        delivery = Delivery.create(campaign=campaign, contact=Contact.get())
        marks = sentmarks.SentMarks()
        marks.mark(delivery.id)
        assert sentmarks.settle_abandoned() == 0 and Delivery.get_by_id(delivery.id).status == "queued"
        assert marks.close() == 1 and Delivery.get_by_id(delivery.id).status == "sent"
        assert sentmarks.settle_abandoned() == 0  # settled once; the file is gone
    assert os.listdir(sender_app.instance_path + "/sent-marks") == []


def test_cancel_counts_what_the_relay_took_as_sent(sender_app):
    campaign = make_campaign(sender_app, ["a@example.com", "b@example.com"])
    with sender_app.app_context():
        Campaign.update(status="sending").where(Campaign.id == campaign.id).execute()
        first, _second = [Delivery.create(campaign=campaign, contact=contact) for contact in Contact.select()]
    dead_lane_marks(sender_app, [first])
    with sender_app.app_context():
        sending.cancel(campaign)
    campaign = Campaign.get_by_id(campaign.id)
    assert (campaign.status, campaign.sent, campaign.skipped) == ("cancelled", 1, 1)
    assert Delivery.get_by_id(first.id).status == "sent"


def test_a_recipient_whose_values_break_the_template_fails_alone(sender_app, relay_server):
    html = '<html><body><p>{{ contact.first_name | round }}</p></body></html>'  # round() of text fails at render
    campaign = run(sender_app, make_campaign(sender_app, ["ann@example.com", "bob@example.com"], relay_server.port,
                                             html=html))
    assert (campaign.status, campaign.sent, campaign.failed) == ("sent", 0, 2)
    assert all("html" in delivery.error for delivery in ledger(campaign).values())
    assert relay_server.messages == []


def test_internationalised_domains_are_mailed_as_idna_2008(sender_app, relay_server):
    campaign = run(sender_app, make_campaign(sender_app, ["anna@straße.de"], relay_server.port))
    assert campaign.sent == 1
    assert relay_server.messages[0].rcpt_tos == ["anna@xn--strae-oqa.de"]  # IDNA 2003 would say strasse.de
