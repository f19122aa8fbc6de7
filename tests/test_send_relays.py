"""Sending over several relays and lanes, against real SMTP servers on loopback: round robin, failover to the
next relay when one is down, a cool-down for the broken one, EU-only accounts, rate limits, connection caps."""
import binascii
import datetime
import os
import time

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from sendtex import sending
from sendtex.mail.message import quoted_printable
from sendtex.mail.transport import RateLimiter, take_connection_slot
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery
from sendtex.models.relays import Relay
from sendtex.tasks.sending import RelayPool, Sender
from tests.conftest import free_port, make_app
from tests.test_sending import Relaying, make_campaign, serving

ADDRESSES = [f"p{n}@example.com" for n in range(6)]


@pytest.fixture
def relay_app(tmp_path):
    return make_app(tmp_path, SEND_RETRY_FIRST_DELAY_SECONDS=300, BASE_URL="https://mail.sendtex.example",
                    SEND_RELAY_COOLDOWN_SECONDS=120)


@pytest.fixture
def first():
    with serving(Relaying()) as handler:
        yield handler


@pytest.fixture
def second():
    with serving(Relaying()) as handler:
        yield handler


def add_relay(name, port, **settings):
    values = dict(host="127.0.0.1", port=port, security="plain", max_per_second=0, region="eu")
    values.update(settings)
    return Relay.create(name=name, **values)


def start(app, campaign):
    with app.app_context():
        sending.start(Campaign.get_by_id(campaign.id))
    return Campaign.get_by_id(campaign.id)


def received(*relays):
    return sorted(message.rcpt_tos[0] for relay in relays for message in relay.messages)


def test_messages_take_turns_over_the_relays(relay_app, first, second):
    campaign = make_campaign(relay_app, ADDRESSES)
    add_relay("one", first.port)
    add_relay("two", second.port)
    campaign = start(relay_app, campaign)
    assert (campaign.status, campaign.sent) == ("sent", 6)
    assert len(first.messages) == len(second.messages) == 3
    assert received(first, second) == sorted(ADDRESSES)


@pytest.mark.parametrize("broken", [
    dict(port=None),  # nobody listens: connection refused
    dict(security="tls"),  # implicit TLS against a plain server: the TLS handshake fails
    dict(security="starttls"),  # the server offers no STARTTLS
    dict(username="sendtex"),  # the server refuses the login
], ids=["refused", "tls", "starttls", "login"])
def test_a_broken_relay_is_skipped_at_once_and_cooled_down(relay_app, second, broken):
    def refuse(server, session, envelope, mechanism, auth_data):
        return AuthResult(success=False, handled=False)

    picky = Controller(Relaying(), hostname="127.0.0.1", port=free_port(), authenticator=refuse,
                       auth_require_tls=False)
    picky.start()
    try:
        campaign = make_campaign(relay_app, ADDRESSES)
        port = broken.pop("port", picky.port) or free_port()
        add_relay("broken", port, **broken)
        add_relay("working", second.port)
        campaign = start(relay_app, campaign)
    finally:
        picky.stop()
    assert (campaign.status, campaign.sent, campaign.failed) == ("sent", 6, 0)
    assert received(second) == sorted(ADDRESSES) and picky.handler.messages == []
    assert {d.attempts for d in Delivery.select()} == {1}  # nobody waited for a retry
    relay = Relay.get(Relay.name == "broken")
    assert relay.unavailable_until > utcnow() + datetime.timedelta(seconds=100)
    assert relay.unavailable_reason


def test_a_cooling_relay_is_left_alone_until_its_time_is_up(relay_app, first, second):
    add_relay("one", first.port, unavailable_until=utcnow() + datetime.timedelta(seconds=60),
              unavailable_reason="cannot connect")
    add_relay("two", second.port)
    start(relay_app, make_campaign(relay_app, ADDRESSES[:2]))
    assert first.messages == [] and len(second.messages) == 2
    Relay.update(unavailable_until=utcnow() - datetime.timedelta(seconds=1)).where(Relay.name == "one").execute()
    start(relay_app, make_campaign(relay_app, ADDRESSES[2:6]))
    assert len(first.messages) == 2 and len(second.messages) == 4


def test_when_no_relay_works_the_delivery_waits_for_a_retry(relay_app):
    campaign = make_campaign(relay_app, ADDRESSES)
    down = add_relay("down", free_port())
    campaign = start(relay_app, campaign)
    assert campaign.status == "sending" and campaign.sent == 0
    rows = list(Delivery.select().order_by(Delivery.id))
    tried, untouched = rows[0], rows[1:]
    assert tried.status == "queued" and tried.attempts == 1 and "no relay" in tried.error
    assert tried.next_attempt_at > utcnow() + datetime.timedelta(seconds=200)  # the usual backoff
    assert all(d.status == "queued" and d.attempts == 0 and d.claim is None for d in untouched)
    # The campaign comes back when the relay's cool-down ends, not before.
    assert campaign.lease_until == Relay.get_by_id(down.id).unavailable_until

    with serving(Relaying()) as relay:  # the relay is back, and its cool-down is over
        Relay.update(port=relay.port, unavailable_until=None).where(Relay.id == down.id).execute()
        Delivery.update(next_attempt_at=None).execute()
        with relay_app.app_context():
            Sender(Campaign.get_by_id(campaign.id)).run()
        assert received(relay) == sorted(ADDRESSES)
    assert Campaign.get_by_id(campaign.id).status == "sent"


def test_an_eu_only_account_never_uses_another_relay(relay_app, first, second):
    campaign = make_campaign(relay_app, ADDRESSES[:3])
    campaign.account.eu_only_sending = True
    campaign.account.save()
    add_relay("intl", first.port, region="intl")
    eu = add_relay("eu", second.port)
    start(relay_app, campaign)
    assert first.messages == [] and len(second.messages) == 3

    second_campaign = make_campaign(relay_app, ADDRESSES[3:])
    second_campaign.account.eu_only_sending = True
    second_campaign.account.save()
    Relay.update(port=free_port()).where(Relay.id == eu.id).execute()  # the EU relay is down now
    second_campaign = start(relay_app, second_campaign)
    assert first.messages == [] and second_campaign.sent == 0 and second_campaign.status == "sending"


def test_a_relays_rate_limit_holds_across_its_connections(relay_app, first):
    add_relay("slow", first.port, max_per_second=20, max_connections=2)
    campaign = make_campaign(relay_app, ADDRESSES + [f"q{n}@example.com" for n in range(4)])
    began = time.monotonic()
    campaign = start(relay_app, campaign)
    assert campaign.sent == 10 and time.monotonic() - began >= 9 / 20


def test_the_rate_limit_is_shared_by_every_limiter_of_the_relay(tmp_path):
    path = str(tmp_path / "relay.rate")
    one, two = RateLimiter(path, 10), RateLimiter(path, 10)  # as in two worker processes
    began = time.monotonic()
    for _ in range(3):
        one.wait()
        two.wait()
    assert time.monotonic() - began >= 5 / 10
    one.close()
    two.close()


def test_connections_to_a_relay_stay_within_its_max_connections(relay_app, tmp_path, first):
    slots = [take_connection_slot(str(tmp_path / "slots"), "relay", 2) for _ in range(3)]
    assert slots[0] is not None and slots[1] is not None and slots[2] is None
    os.close(slots[0])
    assert take_connection_slot(str(tmp_path / "slots"), "relay", 2) is not None

    campaign = make_campaign(relay_app, ADDRESSES[:1])
    add_relay("one", first.port, max_connections=1)
    with relay_app.app_context():
        assert sending.lane_count(campaign.account) == 1  # SEND_LANES is 2, the relay allows one connection
        lane_one, lane_two = RelayPool(campaign.account, 0, 2), RelayPool(campaign.account, 1, 2)
        assert len(lane_one.routes) == 1 and lane_two.routes == {}
        lane_one.close()
        lane_two.refresh()
        assert len(lane_two.routes) == 1
        lane_two.close()
        Relay.update(max_connections=4).execute()
        assert sending.lane_count(campaign.account) == 2  # now SEND_LANES is the smaller


def test_a_lane_that_finds_only_rows_held_by_other_lanes_just_ends(relay_app, first):
    add_relay("one", first.port)
    other = make_campaign(relay_app, ADDRESSES[3:])
    with relay_app.app_context():
        Campaign.update(status="sending", started_at=utcnow()).where(Campaign.id == other.id).execute()
        for contact_id in sending.audience(Campaign.get_by_id(other.id)).tuples():
            Delivery.create(campaign=other.id, contact=contact_id[0], claim="otherlane",
                            lease_until=utcnow() + datetime.timedelta(seconds=60))
        Sender(Campaign.get_by_id(other.id), lane=1).run()
        assert Campaign.get_by_id(other.id).status == "sending" and len(first.messages) == 0
        # That lane died: after its lease the rows are free, and the lane that sends the last one finishes.
        Delivery.update(lease_until=utcnow() - datetime.timedelta(seconds=1)).execute()
        Sender(Campaign.get_by_id(other.id), lane=1).run()
    other = Campaign.get_by_id(other.id)
    assert (other.status, other.sent, other.total) == ("sent", 3, 3)


def test_lines_the_same_for_everybody_are_encoded_once():
    known = {}
    texts = ["Hello Ann,\nsame = line for all é\n" + "long " * 40 + "\nlast", "Hello Bob,\nsame = line for all é\n"
             + "long " * 40 + "\nlast"]
    for text in texts:
        assert quoted_printable(text, known) == binascii.b2a_qp(text.encode(), istext=True).replace(b"\n", b"\r\n")
    assert "same = line for all é" in known
