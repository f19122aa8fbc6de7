"""SmtpSession with SMTP PIPELINING (RFC 2920) against a real aiosmtpd server on loopback.

aiosmtpd reads commands one line at a time from a stream, so it handles pipelined commands, but it
does not advertise PIPELINING: the handler adds it to the EHLO reply (or not, for the fallback).
"""
import threading

import pytest
from aiosmtpd.controller import Controller

from sendtex.mail.transport import PermanentFailure, RelayUnavailable, SmtpSession, TemporaryFailure
from tests.conftest import free_port

MESSAGE = (b"From: news@shop.example\r\nTo: ann@example.com\r\nSubject: Hello\r\n\r\n"
           b"first line\r\n.a line that starts with a dot\r\n..two dots\r\nlast line\r\n")


class Relay:
    """Keeps what it accepts; can be told to refuse or drop at a given step."""

    def __init__(self, pipelining=True):
        self.pipelining = pipelining
        self.messages = []
        self.rcpt_replies = {}  # address -> reply to its RCPT
        self.mail_reply = None  # reply to every MAIL
        self.data_replies = []  # replies to the next DATA transactions (after the data), in order; None: accept
        self.drop_on_rcpt = set()  # addresses whose RCPT drops the connection
        self.connections = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        with self.lock:
            self.connections += 1
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.drop_on_rcpt:
            server.transport.close()
            return "421 closing"
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        reply = self.data_replies.pop(0) if self.data_replies else None
        if reply:
            return reply
        self.messages.append(envelope)
        return "250 2.0.0 OK"


def start(handler):
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller


@pytest.fixture
def relay():
    handler = Relay()
    controller = start(handler)
    handler.port = controller.port
    yield handler
    controller.stop()


@pytest.fixture
def session(relay):
    smtp = SmtpSession("127.0.0.1", relay.port, security="plain", timeout=5)
    yield smtp
    smtp.close()


def count_writes(session):
    """Wrap the open connection's send() to count the writes it makes."""
    client, writes = session._client, []
    original = client.send

    def send(data):
        writes.append(data)
        return original(data)

    client.send = send
    return writes


def test_messages_go_through_in_two_writes_each(relay, session):
    session.send("bounce@shop.example", "ann@example.com", MESSAGE)
    assert session._pipelining
    writes = count_writes(session)
    session.send("bounce@shop.example", "bob@example.com", MESSAGE)
    session.send("bounce@shop.example", "cy@example.com", MESSAGE)
    assert len(writes) == 4  # send() waits for the answer: the envelope, then the content
    assert writes[0].startswith(b"MAIL FROM:<bounce@shop.example>") and writes[0].endswith(
        b"\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n")
    assert [m.rcpt_tos for m in relay.messages] == [["ann@example.com"], ["bob@example.com"], ["cy@example.com"]]
    assert all(m.mail_from == "bounce@shop.example" for m in relay.messages)
    assert f"SIZE={len(MESSAGE)}" in relay.messages[0].mail_options
    # The dot-stuffing is undone by the server: the content arrives as it was sent.
    assert relay.messages[0].content == MESSAGE
    assert relay.messages[1].content == relay.messages[2].content == MESSAGE
    assert relay.connections == 1


def test_a_stream_of_messages_costs_one_write_each(relay, session):
    """Each message's content goes out with the next message's envelope (RFC 2920), one write a message."""
    session.send("bounce@shop.example", "ann@example.com", MESSAGE)
    writes, outcomes = count_writes(session), []
    for number in range(5):
        session.submit("bounce@shop.example", f"p{number}@example.com", MESSAGE, ticket=number)
        outcomes += session.collect()
    outcomes += session.flush()
    assert len(writes) == 6  # five envelopes, the last content alone
    assert writes[1].startswith(MESSAGE[:20]) and writes[1].endswith(b"RCPT TO:<p1@example.com>\r\nDATA\r\n")
    assert outcomes == [(number, None) for number in range(5)]
    assert [m.rcpt_tos for m in relay.messages[1:]] == [[f"p{number}@example.com"] for number in range(5)]
    assert all(m.content == MESSAGE for m in relay.messages)


def test_a_refusal_mid_stream_fails_only_that_message(relay, session):
    relay.rcpt_replies["gone@example.com"] = "550 5.1.1 <gone@example.com>: Recipient address rejected"
    relay.data_replies = [None, "451 4.3.0 Try again later"]  # the second accepted content gets a 451
    outcomes = []
    for address in ("ann@example.com", "gone@example.com", "bob@example.com", "cy@example.com"):
        session.submit("bounce@shop.example", address, MESSAGE, ticket=address)
        outcomes += session.collect()
    outcomes += session.flush()
    results = {ticket: failure for ticket, failure in outcomes}
    assert results["ann@example.com"] is None and results["cy@example.com"] is None
    assert isinstance(results["gone@example.com"], PermanentFailure) and results["gone@example.com"].hard_bounce
    assert isinstance(results["bob@example.com"], TemporaryFailure) and "451 4.3.0" in str(results["bob@example.com"])
    assert [m.rcpt_tos for m in relay.messages] == [["ann@example.com"], ["cy@example.com"]]
    assert relay.connections == 1  # the refusals kept the connection in step (RSET went with the next write)


def test_without_pipelining_plain_sendmail_is_used():
    handler = Relay(pipelining=False)
    controller = start(handler)
    smtp = SmtpSession("127.0.0.1", controller.port, security="plain", timeout=5)
    try:
        smtp.send("bounce@shop.example", "ann@example.com", MESSAGE)
        assert not smtp._pipelining
        writes = count_writes(smtp)
        smtp.send("bounce@shop.example", "bob@example.com", MESSAGE)
        assert len(writes) == 4  # MAIL, RCPT, DATA, the data: one round trip each
        assert [m.rcpt_tos for m in handler.messages] == [["ann@example.com"], ["bob@example.com"]]
        assert handler.messages[0].content == MESSAGE
    finally:
        smtp.close()
        controller.stop()


def test_a_451_on_rcpt_is_temporary_and_keeps_the_connection(relay, session):
    relay.rcpt_replies["busy@example.com"] = "451 4.7.1 Try again later"
    with pytest.raises(TemporaryFailure, match="451 4.7.1"):
        session.send("bounce@shop.example", "busy@example.com", MESSAGE)
    session.send("bounce@shop.example", "ann@example.com", MESSAGE)
    assert [m.rcpt_tos for m in relay.messages] == [["ann@example.com"]]
    assert relay.connections == 1


def test_a_550_5_1_1_on_rcpt_is_a_hard_bounce_and_keeps_the_connection(relay, session):
    relay.rcpt_replies["gone@example.com"] = "550 5.1.1 <gone@example.com>: Recipient address rejected"
    with pytest.raises(PermanentFailure, match="550 5.1.1") as failure:
        session.send("bounce@shop.example", "gone@example.com", MESSAGE)
    assert failure.value.hard_bounce
    session.send("bounce@shop.example", "ann@example.com", MESSAGE)
    session.send("bounce@shop.example", "bob@example.com", MESSAGE)
    assert [m.rcpt_tos for m in relay.messages] == [["ann@example.com"], ["bob@example.com"]]
    assert relay.connections == 1


def test_a_refused_sender_is_permanent_but_no_bounce(relay, session):
    relay.mail_reply = "553 5.7.1 Sender not allowed"
    with pytest.raises(PermanentFailure, match="553 5.7.1") as failure:
        session.send("bounce@shop.example", "ann@example.com", MESSAGE)
    assert not failure.value.hard_bounce
    relay.mail_reply = None
    session.send("bounce@shop.example", "ann@example.com", MESSAGE)
    assert [m.rcpt_tos for m in relay.messages] == [["ann@example.com"]]


def test_a_451_after_data_is_temporary(relay, session):
    relay.data_replies = ["451 4.3.0 Try again later"]
    with pytest.raises(TemporaryFailure, match="451 4.3.0"):
        session.send("bounce@shop.example", "ann@example.com", MESSAGE)
    session.send("bounce@shop.example", "ann@example.com", MESSAGE)
    assert [m.rcpt_tos for m in relay.messages] == [["ann@example.com"]]


def test_a_554_after_data_is_permanent(relay, session):
    relay.data_replies = ["554 5.6.0 Message rejected"]
    with pytest.raises(PermanentFailure, match="554 5.6.0") as failure:
        session.send("bounce@shop.example", "ann@example.com", MESSAGE)
    assert not failure.value.hard_bounce
    session.send("bounce@shop.example", "bob@example.com", MESSAGE)
    assert [m.rcpt_tos for m in relay.messages] == [["bob@example.com"]]
    assert relay.connections == 1


def test_a_connection_dropped_mid_pipeline_is_temporary_and_reconnects(relay, session):
    session.send("bounce@shop.example", "ann@example.com", MESSAGE)
    relay.drop_on_rcpt.add("drop@example.com")
    with pytest.raises(TemporaryFailure):
        session.send("bounce@shop.example", "drop@example.com", MESSAGE)
    assert session._client is None
    session.send("bounce@shop.example", "bob@example.com", MESSAGE)
    assert [m.rcpt_tos for m in relay.messages] == [["ann@example.com"], ["bob@example.com"]]
    assert relay.connections == 2


def test_odd_addresses_take_smtplibs_path(relay, session):
    session.send("bounce@shop.example", "ann@example.com", MESSAGE)
    writes = count_writes(session)
    session.send("Bounce <bounce@shop.example>", "bob@example.com", MESSAGE)
    assert len(writes) == 4
    assert relay.messages[-1].mail_from == "bounce@shop.example"


def test_submit_returns_before_the_final_reply_and_collect_reads_it(relay, session):
    relay.data_replies = ["451 4.3.0 Try again later"]
    session.submit("bounce@shop.example", "ann@example.com", MESSAGE, ticket="ann")  # nothing read yet
    assert session._expected
    assert session.collect() == []  # the relay said 354: the content waits for the next write
    outcomes = session.flush()
    assert [ticket for ticket, _failure in outcomes] == ["ann"]
    assert isinstance(outcomes[0][1], TemporaryFailure) and "451 4.3.0" in str(outcomes[0][1])
    session.submit("bounce@shop.example", "bob@example.com", MESSAGE, ticket="bob")
    assert session.flush() == [("bob", None)]
    assert session.flush() == []  # nothing more to wait for
    assert [m.rcpt_tos for m in relay.messages] == [["bob@example.com"]]


def test_closing_with_a_message_in_flight_finishes_it_first(relay, session):
    session.submit("bounce@shop.example", "ann@example.com", MESSAGE, ticket="ann")
    assert session.close() == [("ann", None)]
    assert session._client is None and not session._expected and session._content is None
    assert [m.rcpt_tos for m in relay.messages] == [["ann@example.com"]]


def test_an_unreachable_relay_raises_relay_unavailable_before_taking_anything():
    port = free_port()  # nobody listens there
    smtp = SmtpSession("127.0.0.1", port, security="plain", timeout=5)
    with pytest.raises(RelayUnavailable, match="cannot connect"):
        smtp.submit("bounce@shop.example", "ann@example.com", MESSAGE, ticket="ann")
    assert smtp.collect() == []


def test_a_relay_without_starttls_is_unavailable_for_a_starttls_session(relay):
    smtp = SmtpSession("127.0.0.1", relay.port, security="starttls", timeout=5)
    with pytest.raises(RelayUnavailable):
        smtp.send("bounce@shop.example", "ann@example.com", MESSAGE)
    assert relay.messages == []
