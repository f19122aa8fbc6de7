"""DKIM signatures made by sendtex.mail.dkim verify with dkimpy and with OpenDKIM, and break when mail is altered."""
import base64
import re
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from sendtex.mail.dkim import DkimSigner, canonical_body, dns_record, generate_key, txt_strings
from tests.dkim_tools import verify_with_dkimpy, verify_with_opendkim

DOMAIN, SELECTOR = "news.example.com", "stx20261125-ab12"
UNSUBSCRIBE = "<https://app.example.net/u/eyJkIjoxMjN9.abc>, <mailto:unsubscribe@news.example.com?subject=u123>"


@pytest.fixture(scope="module")
def key():
    return generate_key()


@pytest.fixture(scope="module")
def record(key):
    return dns_record(SELECTOR, DOMAIN, key[1])


@pytest.fixture(scope="module")
def signer(key):
    return DkimSigner(DOMAIN, SELECTOR, key[0])


def campaign_headers(msg):
    msg["From"] = "Acme News <news@news.example.com>"
    msg["To"] = "Ann Example <ann@example.org>"
    msg["Subject"] = "Our November news"
    msg["Date"] = "Tue, 25 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = "<c1.r42@news.example.com>"
    msg["Reply-To"] = "hello@news.example.com"
    msg["List-Unsubscribe"] = UNSUBSCRIBE
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["List-Id"] = "Acme News <list-7.news.example.com>"
    msg["Feedback-ID"] = "c1:a7:sendtex"
    return msg


def plain_ascii():
    msg = campaign_headers(EmailMessage())
    msg.set_content("Hello Ann,\n\nHere is our news.\n\nRegards,\nAcme\n")
    return msg.as_bytes(policy=policy.SMTP)


def utf8_headers():
    msg = EmailMessage()
    msg["From"] = "Jürgen Müller <jurgen@news.example.com>"
    msg["To"] = "Zoë Ångström <zoe@example.org>"
    msg["Subject"] = "Grüße aus Köln — 🎉 Winterangebote für Sie, mit einer sehr langen Betreffzeile, die gefaltet wird"
    msg["Date"] = "Tue, 25 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = "<c2.r1@news.example.com>"
    msg["List-Unsubscribe"] = UNSUBSCRIBE
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg.set_content("Liebe Zoë,\n\nschöne Grüße!\n", charset="utf-8")
    return msg.as_bytes(policy=policy.SMTP)


def long_html_multipart():
    msg = campaign_headers(EmailMessage())
    rows = "".join(f'<tr><td style="padding: 8px;">Artikel {n}: Überschrift</td>'
                   f'<td><a href="https://app.example.net/c/{n}/eyJsIjp7fX0.sig{n}">Lesen »</a></td></tr>\n'
                   for n in range(150))
    html = f"<!doctype html><html><body><table>\n{rows}</table>  \n\t<p>Ende</p></body></html>\n"
    msg.set_content("Hello Ann,\n\n" + "Line of news with some words.\n" * 60)
    msg.add_alternative(html, subtype="html")
    raw = msg.as_bytes(policy=policy.SMTP)
    assert len(raw) > 15_000
    return raw


def folded_headers():
    return (b"From: Acme News\r\n <news@news.example.com>\r\n"
            b"To: ann@example.org,\r\n\tbob@example.org,\r\n    carol@example.org\r\n"
            b"Subject: A subject that\r\n \t  was folded   by hand\r\n"
            b"Date: Tue, 25 Nov 2026 10:00:00 +0000\r\n"
            b"Message-ID: <c3.r9@news.example.com>\r\n"
            b"List-Unsubscribe: <https://app.example.net/u/abc>,\r\n <mailto:u@news.example.com>\r\n"
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
            b"MIME-Version: 1.0\r\nContent-Type: text/plain;\r\n charset=utf-8\r\n\r\n"
            b"Body line.\r\n")


def trailing_whitespace():
    return (b"From: news@news.example.com   \r\nTo: ann@example.org\t\r\nSubject:   spaced    out  \r\n"
            b"Date: Tue, 25 Nov 2026 10:00:00 +0000\r\nMessage-ID: <c4@news.example.com>\r\n"
            b"List-Unsubscribe: <https://app.example.net/u/abc>  \r\n"
            b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n\r\n"
            b"Trailing blanks   \r\nand tabs\t\t\r\n  leading  and   inner   runs\r\n")


def empty_lines_at_end():
    return (b"From: news@news.example.com\r\nTo: ann@example.org\r\nSubject: empty lines\r\n"
            b"Date: Tue, 25 Nov 2026 10:00:00 +0000\r\n\r\n"
            b"Hello\r\n\r\n\r\n  \r\n\r\n")


def empty_body():
    return (b"From: news@news.example.com\r\nTo: ann@example.org\r\nSubject: nothing inside\r\n"
            b"Date: Tue, 25 Nov 2026 10:00:00 +0000\r\n\r\n")


MESSAGES = [plain_ascii, utf8_headers, long_html_multipart, folded_headers, trailing_whitespace,
            empty_lines_at_end, empty_body]


@pytest.mark.parametrize("build", MESSAGES, ids=[build.__name__ for build in MESSAGES])
def test_signatures_verify_with_dkimpy_and_opendkim(signer, record, tmp_path, build):
    original = build()
    signed = signer.sign(original)

    assert signed.endswith(original)
    assert signed.startswith(b"DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;")
    assert verify_with_dkimpy(signed, record)
    passed, output = verify_with_opendkim(signed, record, tmp_path)
    assert passed, output


def test_signature_covers_the_unsubscribe_headers_and_oversigns_them(signer):
    signed = signer.sign(plain_ascii())
    tags = _signature_tags(signed)
    names = tags["h"].split(":")

    for header in ("from", "to", "subject", "date", "message-id", "mime-version", "content-type", "reply-to",
                   "list-unsubscribe", "list-unsubscribe-post", "list-id", "feedback-id"):
        assert names.count(header) == 2, header  # once signed, once more so no second one can be added
    assert "cc" not in names and "sender" not in names  # absent headers are not listed
    assert tags["d"] == DOMAIN and tags["s"] == SELECTOR


def test_signature_header_lines_are_folded(signer):
    signed = signer.sign(long_html_multipart())
    lines = signed[:signed.index(b"\r\nFrom:")].split(b"\r\n")
    assert len(lines) > 4 and max(len(line) for line in lines) <= 78
    assert all(line[:1] in (b" ", b"\t") for line in lines[1:])


def _signature_tags(signed):
    field = message_from_bytes(signed, policy=policy.compat32)["DKIM-Signature"]
    unfolded = re.sub(r"\s+", "", field)
    return dict(part.split("=", 1) for part in unfolded.split(";") if part)


TAMPERING = {
    "body changed": lambda signed: signed.replace(b"Here is our news.", b"Here is our nevvs."),
    "List-Unsubscribe changed": lambda signed: signed.replace(b"https://app.example.net/u/",
                                                               b"https://evil.example.net/u/"),
    "second From added": lambda signed: signed.replace(b"\r\nTo:", b"\r\nFrom: Bank <security@bank.example>\r\nTo:", 1),
    "List-Unsubscribe-Post removed": lambda signed: signed.replace(
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n", b""),
}


@pytest.mark.parametrize("tamper", TAMPERING.values(), ids=list(TAMPERING))
def test_altered_mail_fails_verification_in_both(signer, record, tmp_path, tamper):
    signed = signer.sign(plain_ascii())
    altered = tamper(signed)
    assert altered != signed

    assert not verify_with_dkimpy(altered, record)
    passed, output = verify_with_opendkim(altered, record, tmp_path)
    assert not passed, output
    assert "fail" in output


def test_relaxed_canonicalisation_survives_whitespace_changes_on_the_way(signer, record, tmp_path):
    signed = signer.sign(plain_ascii())
    refolded = (signed.replace(b"Subject: Our November news", b"Subject: Our\r\n\tNovember   news ")
                .replace(b"Here is our news.", b"Here is  our news.   "))
    assert verify_with_dkimpy(refolded, record)
    passed, output = verify_with_opendkim(refolded, record, tmp_path)
    assert passed, output


def test_a_signature_from_another_key_fails(signer, tmp_path):
    other_record = dns_record(SELECTOR, DOMAIN, generate_key()[1])
    signed = signer.sign(plain_ascii())
    assert not verify_with_dkimpy(signed, other_record)
    passed, output = verify_with_opendkim(signed, other_record, tmp_path)
    assert not passed, output


def test_bare_line_feeds_are_signed_as_they_go_over_smtp(signer, record):
    signed = signer.sign(plain_ascii().replace(b"\r\n", b"\n"))
    assert b"\n" not in signed.replace(b"\r\n", b"")
    assert verify_with_dkimpy(signed, record)


def test_one_signer_signs_many_messages_with_its_key_loaded_once(signer, record):
    for n in range(20):
        message = plain_ascii().replace(b"Ann Example", f"Reader {n}".encode())
        assert verify_with_dkimpy(signer.sign(message), record)


def test_relaxed_body_canonical_form():
    assert canonical_body(b"") == b""
    assert canonical_body(b"\r\n\r\n") == b""
    assert canonical_body(b" a \t b  \r\n\r\n") == b" a b\r\n"
    assert canonical_body(b"x") == b"x\r\n"


def test_dns_record_and_key_shape():
    private_pem, public_b64 = generate_key()
    name, value = dns_record("stx1", "example.com", public_b64)
    assert name == "stx1._domainkey.example.com"
    assert value == f"v=DKIM1; k=rsa; p={public_b64}"
    assert private_pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert serialization.load_der_public_key(base64.b64decode(public_b64)).key_size == 2048
    assert "".join(txt_strings(value)) == value and all(len(part) <= 255 for part in txt_strings(value))


def test_signer_refuses_what_it_cannot_sign_for():
    private_pem, _public = generate_key(bits=1024)
    with pytest.raises(ValueError):
        DkimSigner("bücher.example", "stx1", private_pem)
    with pytest.raises(ValueError):
        DkimSigner("example.com", "bad selector", private_pem)
    ed_pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    with pytest.raises(ValueError):
        DkimSigner("example.com", "stx1", ed_pem)

