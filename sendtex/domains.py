"""Sending domains: host name rules, DKIM keys sealed at rest, the DNS check, and the signer for sending.

A domain's private key is sealed with the field key ring (keys come from configuration, never the
database) and bound to its account and row, so a sealed key copied to another domain does not open.
"""
import ipaddress
import re
import secrets
from typing import NamedTuple

import dns.exception
import dns.resolver
import idna
from flask import current_app
from flask_babel import lazy_gettext as _l
from peewee import IntegrityError

from sendtex.audience import cipher
from sendtex.crypto import associated_data
from sendtex.db import db
from sendtex.mail.dkim import DkimSigner, dns_record, generate_key
from sendtex.models.base import utcnow
from sendtex.models.campaigns import SendingDomain
from sendtex.validation import Invalid

_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


class DnsCheck(NamedTuple):
    """What a DNS check found: status is verified, missing, mismatch or error; detail names the error."""

    status: str
    detail: str = ""


def ascii_domain(name):
    """The domain as DNS and SMTP carry it: IDNA 2008 with UTS #46 mapping, as e-mail validation uses
    (the stdlib codec's IDNA 2003 maps ß to ss, another domain); idna.IDNAError (a UnicodeError) if invalid."""
    return idna.encode(name, uts46=True).decode() if name else ""


def normalise_domain(value):
    """The host name in lower-case ASCII (IDN as punycode), or Invalid with the reason."""
    text = (value or "").strip().rstrip(".").lower()
    if "@" in text or "/" in text or ":" in text:
        raise Invalid(_l("Enter just the domain, like example.com, without an address or web link."))
    try:
        ascii_name = ascii_domain(text)
    except idna.IDNAError as exc:
        raise Invalid(_l("This is not a valid domain name.")) from exc
    labels = ascii_name.split(".")
    if len(labels) < 2 or len(ascii_name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise Invalid(_l("Enter a domain name like example.com."))
    if labels[-1].isdigit():
        raise Invalid(_l("Enter a domain name, not an IP address."))
    return ascii_name


def unicode_name(ascii_name):
    """The domain as people read it (punycode labels decoded)."""
    try:
        return idna.decode(ascii_name)
    except idna.IDNAError:
        return ascii_name


def key_aad(domain):
    """What a domain's sealed private key is bound to: its account and its row."""
    return associated_data(domain.account_id, "dkim_private_key", str(domain.id))


def _new_selector(current=""):
    """A selector naming this key only, so a new key never collides with a record still published."""
    while True:
        selector = f"stx{utcnow():%Y%m%d}-{secrets.token_hex(2)}"
        if selector != current:
            return selector


def add_domain(account_id, name):
    """Add a sending domain with a new DKIM key; Invalid if the account has it already."""
    private_pem, public_b64 = generate_key()
    try:
        with db.atomic():
            domain = SendingDomain.create(account=account_id, domain=name, dkim_selector=_new_selector())
            _store_key(domain, private_pem, public_b64)
    except IntegrityError as exc:
        raise Invalid(_l("%(domain)s is one of your sending domains already.", domain=unicode_name(name))) from exc
    return domain


def regenerate_key(domain):
    """Give the domain a new key under a new selector; it is unverified until the new record is published."""
    private_pem, public_b64 = generate_key()
    domain.dkim_selector = _new_selector(domain.dkim_selector)
    _store_key(domain, private_pem, public_b64)


def _store_key(domain, private_pem, public_b64):
    domain.dkim_private_key = cipher().seal(private_pem, key_aad(domain))
    domain.dkim_public_key = public_b64
    domain.verified_at = None
    domain.save()


def record_of(domain):
    """(name, value) of the DKIM TXT record the domain must publish."""
    return dns_record(domain.dkim_selector, domain.domain, domain.dkim_public_key)


def signer_for(domain):
    """A DkimSigner with the domain's key (opened in memory only); make one per campaign."""
    return DkimSigner(domain.domain, domain.dkim_selector, cipher().open(domain.dkim_private_key, key_aad(domain)))


def verified_domain_for(account_id, address):
    """The account's verified sending domain of an e-mail address, or None (then it may not be a from address)."""
    try:
        name = normalise_domain(address.rpartition("@")[2])
    except Invalid:
        return None
    return (SendingDomain.for_account(account_id)
            .where(SendingDomain.domain == name, SendingDomain.verified_at.is_null(False)).first())


def check_dns(domain):
    """Look up the domain's DKIM record; mark it verified when it publishes this key, unverified when not."""
    name, _value = record_of(domain)
    try:
        answer = _resolver().resolve(name, "TXT", search=False)
        published = [b"".join(record.strings).decode("ascii", "replace") for record in answer]
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        published = []
    except (dns.exception.DNSException, ValueError, OSError) as exc:
        # A lookup that failed says nothing about the record, so the domain's state stays as it was.
        return DnsCheck("error", str(exc) or type(exc).__name__)
    if not published:
        result = DnsCheck("missing")
    else:
        result = DnsCheck("verified" if any(_publishes(text, domain.dkim_public_key) for text in published)
                          else "mismatch")
    domain.verified_at = utcnow() if result.status == "verified" else None
    SendingDomain.update(verified_at=domain.verified_at).where(SendingDomain.id == domain.id).execute()
    return result


def _publishes(record_text, public_b64):
    """True if a TXT record is a DKIM1 RSA key record carrying this public key."""
    tags = {}
    for part in record_text.split(";"):
        key, sep, value = part.partition("=")
        if sep:
            tags[key.strip()] = re.sub(r"\s+", "", value)
    return (tags.get("v", "DKIM1") == "DKIM1" and tags.get("k", "rsa") == "rsa"
            and bool(public_b64) and tags.get("p") == public_b64)


def _resolver():
    """A resolver for DNS_RESOLVER (host or host:port), or the system's when the setting is empty."""
    setting = current_app.config["DNS_RESOLVER"].strip()
    resolver = dns.resolver.Resolver(configure=not setting)
    if setting:
        host, port = _host_and_port(setting)
        resolver.nameservers, resolver.port = [host], port
    resolver.timeout = resolver.lifetime = float(current_app.config["DNS_TIMEOUT"])
    return resolver


def _host_and_port(setting):
    """('::1', 53) from '[::1]:53', '::1', '127.0.0.1:5353' or '127.0.0.1'; ValueError if not an IP address."""
    match = re.fullmatch(r"\[([^\]]+)\](?::(\d+))?|([^:]+)(?::(\d+))?|([0-9a-fA-F:]+)", setting)
    if match is None:
        raise ValueError(f"DNS_RESOLVER {setting!r} is not host or host:port")
    host = match.group(1) or match.group(3) or match.group(5)
    port = int(match.group(2) or match.group(4) or 53)
    return str(ipaddress.ip_address(host)), port

