"""Sending domains: adding, the DKIM record shown, keys sealed at rest, "Check DNS" against a real DNS server."""
import socket
import threading

import pytest
from dnslib import QTYPE, RCODE, RR, TXT, DNSRecord

from sendtex import domains
from sendtex.audience import cipher
from sendtex.crypto import DecryptionError
from sendtex.db import db
from sendtex.mail.dkim import dns_record, generate_key, txt_strings
from sendtex.models.campaigns import SendingDomain
from tests.conftest import login, make_account, make_app, make_user, post
from tests.dkim_tools import verify_with_dkimpy


class DnsServer:
    """A tiny authoritative DNS server on loopback UDP (dnslib) answering TXT queries from `records`."""

    def __init__(self):
        self.records = {}  # name: TXT value (split into 255-byte strings on the wire, as real zones do)
        self.queries = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self.stopped.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            request = DNSRecord.parse(data)
            name = str(request.q.qname).rstrip(".").lower()
            self.queries.append((name, QTYPE[request.q.qtype]))
            reply = request.reply()
            if name in self.records and request.q.qtype == QTYPE.TXT:
                reply.add_answer(RR(request.q.qname, QTYPE.TXT, rdata=TXT(txt_strings(self.records[name])), ttl=60))
            elif name not in self.records:
                reply.header.rcode = RCODE.NXDOMAIN
            self.sock.sendto(reply.pack(), peer)

    def publish(self, name, value):
        self.records[name.lower()] = value


@pytest.fixture
def dns_server():
    server = DnsServer()
    server.thread.start()
    yield server
    server.stopped.set()
    server.thread.join(timeout=5)
    server.sock.close()


@pytest.fixture
def client_for_resolver(tmp_path):
    """make(resolver, timeout): a signed-in client of an app whose "Check DNS" asks that resolver."""

    def make(resolver, timeout=2):
        app = make_app(tmp_path, DNS_RESOLVER=resolver, DNS_TIMEOUT=timeout)
        client = app.test_client()
        client.user = make_user(make_account("Acme"))
        login(client, client.user)
        return client

    yield make
    if not db.is_closed():
        db.close()


@pytest.fixture
def dns_client(client_for_resolver, dns_server):
    return client_for_resolver(f"127.0.0.1:{dns_server.port}")


def add(client, name, htmx=False):
    return post(client, "/domains", {"domain": name}, htmx=htmx)


def only_domain():
    return SendingDomain.get()


def test_adding_a_domain_makes_a_key_and_shows_its_dns_record(owner_client):
    response = add(owner_client, "  News.Example.COM. ")
    assert response.status_code == 303
    domain = only_domain()
    assert response.headers["Location"] == f"/domains/{domain.id}"
    assert domain.domain == "news.example.com" and domain.verified_at is None

    page = owner_client.get(f"/domains/{domain.id}").get_data(as_text=True)
    name, value = dns_record(domain.dkim_selector, "news.example.com", domain.dkim_public_key)
    assert f'value="{name}"' in page
    assert f">{value}</textarea>" in page
    assert "_dmarc.news.example.com" in page and "v=spf1" in page
    assert "Not verified yet" in page
    assert "Check DNS" in page
    assert "news.example.com" in owner_client.get("/domains").get_data(as_text=True)


def test_an_international_domain_is_stored_as_punycode_and_shown_readable(owner_client):
    assert add(owner_client, "Bücher.example").status_code == 303
    domain = only_domain()
    assert domain.domain == "xn--bcher-kva.example"
    page = owner_client.get(f"/domains/{domain.id}").get_data(as_text=True)
    assert "<h1>bücher.example</h1>" in page
    assert f"{domain.dkim_selector}._domainkey.xn--bcher-kva.example" in page


@pytest.mark.parametrize("name, message", [
    ("", "Enter the domain you send from."),
    ("localhost", "Enter a domain name like example.com."),
    ("news@example.com", "without an address or web link"),
    ("https://example.com/", "without an address or web link"),
    ("10.0.0.1", "not an IP address"),
    ("exa mple.com", "This is not a valid domain name."),
    ("-bad.example.com", "This is not a valid domain name."),
    ("a" * 64 + ".example.com", "This is not a valid domain name."),
])
def test_invalid_domains_are_refused_with_a_reason(owner_client, name, message):
    response = add(owner_client, name)
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert SendingDomain.select().count() == 0


def test_a_domain_is_added_once_per_account(owner_client, app):
    assert add(owner_client, "example.com").status_code == 303
    response = add(owner_client, "EXAMPLE.com", htmx=True)
    assert response.status_code == 422
    body = response.get_data(as_text=True)
    assert "example.com is one of your sending domains already." in body
    assert "<html" not in body  # htmx gets the form fragment with its error
    assert SendingDomain.select().count() == 1

    other = make_user(make_account("Other"))
    other_client = app.test_client()
    login(other_client, other)
    assert add(other_client, "example.com").status_code == 303


def test_the_private_key_is_stored_sealed_and_bound_to_its_domain(owner_client, app):
    add(owner_client, "one.example.com")
    add(owner_client, "two.example.com")
    one, two = SendingDomain.select().order_by(SendingDomain.id)
    assert "PRIVATE KEY" not in one.dkim_private_key and one.dkim_private_key.startswith("k1$")
    with app.app_context():
        signed = domains.signer_for(one).sign(
            b"From: a@one.example.com\r\nTo: b@example.org\r\nSubject: hi\r\n\r\nHello\r\n")
        assert verify_with_dkimpy(signed, domains.record_of(one))
        two.dkim_private_key = one.dkim_private_key  # a sealed key moved to another row does not open
        with pytest.raises(DecryptionError):
            domains.signer_for(two)
        assert cipher().open(one.dkim_private_key, domains.key_aad(one)).startswith("-----BEGIN PRIVATE KEY")


def test_check_dns_verifies_only_when_the_published_key_matches(dns_client, dns_server):
    add(dns_client, "news.example.com")
    domain = only_domain()
    name, value = domains.record_of(domain)

    # Nothing published yet.
    response = post(dns_client, f"/domains/{domain.id}/check")
    assert response.status_code == 303
    page = dns_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"No TXT record was found at {name} yet." in page
    assert only_domain().verified_at is None
    assert (name, "TXT") in dns_server.queries

    # A record with another key (an old one, or a typo).
    dns_server.publish(name, dns_record(domain.dkim_selector, domain.domain, generate_key()[1])[1])
    post(dns_client, f"/domains/{domain.id}/check")
    assert only_domain().verified_at is None
    assert "holds a different key" in dns_client.get(f"/domains/{domain.id}").get_data(as_text=True)

    # The right record, served in 255-byte strings.
    dns_server.publish(name, value)
    response = post(dns_client, f"/domains/{domain.id}/check", htmx=True)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert "<html" not in body and 'id="domain-status"' in body
    assert "the domain is verified" in body
    assert only_domain().verified_at is not None
    assert "verified" in dns_client.get("/domains").get_data(as_text=True)
    with dns_client.application.app_context():
        assert domains.verified_domain_for(dns_client.user.account_id, "News@NEWS.example.com").id == domain.id
        assert domains.verified_domain_for(dns_client.user.account_id, "news@other.example.com") is None

    # The record is taken down again: the next check says so and the domain is no longer verified.
    del dns_server.records[name]
    post(dns_client, f"/domains/{domain.id}/check")
    assert only_domain().verified_at is None


def test_a_new_key_needs_a_new_record(dns_client, dns_server):
    add(dns_client, "news.example.com")
    domain = only_domain()
    old_name, old_value = domains.record_of(domain)
    dns_server.publish(old_name, old_value)
    post(dns_client, f"/domains/{domain.id}/check")
    assert only_domain().verified_at is not None

    response = post(dns_client, f"/domains/{domain.id}/key", htmx=True)
    assert response.status_code == 200 and f'id="domain-{domain.id}"' in response.get_data(as_text=True)
    renewed = only_domain()
    assert renewed.dkim_selector != domain.dkim_selector
    assert renewed.dkim_public_key != domain.dkim_public_key
    assert renewed.verified_at is None
    new_name, new_value = domains.record_of(renewed)
    assert new_value in response.get_data(as_text=True)

    post(dns_client, f"/domains/{domain.id}/check")
    assert only_domain().verified_at is None  # the old record is still there, under the old selector
    dns_server.publish(new_name, new_value)
    post(dns_client, f"/domains/{domain.id}/check")
    assert only_domain().verified_at is not None


def test_a_failed_lookup_changes_nothing_and_says_so(client_for_resolver):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # receives queries, never answers
    client = client_for_resolver(f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
    add(client, "news.example.com")
    SendingDomain.update(verified_at=SendingDomain.created_at).execute()

    response = post(client, f"/domains/{only_domain().id}/check")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The DNS lookup failed" in page and "Nothing was changed" in page
    assert only_domain().verified_at is not None
    silent.close()


@pytest.mark.parametrize("setting, expected", [
    ("127.0.0.1", ("127.0.0.1", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("[::1]:5300", ("::1", 5300)), ("::1", ("::1", 53)),
])
def test_resolver_setting_forms(setting, expected):
    assert domains._host_and_port(setting) == expected


def test_deleting_a_domain_asks_first(owner_client):
    add(owner_client, "news.example.com")
    domain = only_domain()
    confirm = owner_client.get(f"/domains/{domain.id}/delete")
    assert confirm.status_code == 200
    assert "Delete the sending domain news.example.com?" in confirm.get_data(as_text=True)
    assert SendingDomain.select().count() == 1

    response = post(owner_client, f"/domains/{domain.id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/domains"
    assert SendingDomain.select().count() == 0
    assert "news.example.com is deleted" in owner_client.get("/domains").get_data(as_text=True)


def test_forms_need_the_csrf_token(owner_client):
    add(owner_client, "news.example.com")
    domain = only_domain()
    assert post(owner_client, f"/domains/{domain.id}/delete", token=False).status_code == 400
    assert post(owner_client, "/domains", {"domain": "x.example.com"}, token=False).status_code == 400
    assert SendingDomain.select().count() == 1


def test_dashboard_links_to_sending_domains(owner_client):
    page = owner_client.get("/app").get_data(as_text=True)
    assert 'href="/domains"' in page and "Sending domains" in page


def test_pages_need_a_login(client):
    response = client.get("/domains")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
