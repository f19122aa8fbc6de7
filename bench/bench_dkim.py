"""DKIM signatures per second on one core for a realistic ~20 KB campaign message (target ≥ 2,000/s).

There is no baseline to beat: the target is absolute. For comparison the same run measures RSA-2048
alone through `cryptography` (the floor of any signer) and dkimpy signing the same messages.

Usage: python bench/bench_dkim.py [seconds per measurement]   (default 2).
Prints ratio=<signatures/s ÷ 2000> last (≥ 1 meets the target).
"""
import os
import statistics
import sys
import time
from email import policy
from email.message import EmailMessage
from importlib.metadata import version
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET = 2000
ROUNDS = 3
VARIANTS = 200
DOMAIN, SELECTOR = "news.example.com", "stx20261125-ab12"


def campaign_message(n):
    """One recipient's copy of a newsletter: multipart/alternative, tracked links, unsubscribe headers."""
    token = f"eyJjIjoxMiwiZCI6{n:08d}fQ.k9Xq{n:06d}"
    msg = EmailMessage()
    msg["From"] = "Acme Outdoor <news@news.example.com>"
    msg["To"] = f"Reader {n} <reader{n}@example{n % 50}.org>"
    msg["Subject"] = "Winter is coming: 20 % off on every jacket until Sunday"
    msg["Date"] = "Tue, 25 Nov 2026 10:00:00 +0000"
    msg["Message-ID"] = f"<c12.d{n}@news.example.com>"
    msg["Reply-To"] = "hello@news.example.com"
    msg["List-Unsubscribe"] = f"<https://app.example.net/u/{token}>, <mailto:u+{token}@news.example.com>"
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["List-Id"] = "Acme Outdoor news <list-7.news.example.com>"
    msg["Feedback-ID"] = "c12:a3:sendtex"
    msg["X-Sendtex-Delivery"] = f"12.{n}"
    items = "".join(
        f'    <tr>\n      <td style="padding: 12px 16px; font-family: Arial, sans-serif;">\n'
        f'        <a href="https://app.example.net/c/{token}/{k}" style="color: #0b5; text-decoration: none;">'
        f"Product {k}: a warm jacket for cold days</a>\n"
        f"        <p>Waterproof, breathable and light. Now {99 - k} euro instead of {129 - k}.</p>\n"
        f"      </td>\n    </tr>\n" for k in range(45))
    html = (f"<!doctype html>\n<html>\n<body>\n  <p>Hello Reader {n},</p>\n  <table>\n{items}  </table>\n"
            f'  <img src="https://app.example.net/o/{token}.gif" width="1" height="1" alt="">\n</body>\n</html>\n')
    text = f"Hello Reader {n},\n\n" + "".join(
        f"Product {k}: a warm jacket for cold days, now {99 - k} euro.\nhttps://app.example.net/c/{token}/{k}\n\n"
        for k in range(45))
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg.as_bytes(policy=policy.SMTP)


def rate(sign, messages, seconds):
    """Signatures per second of sign() over the messages (median of ROUNDS runs of about `seconds`)."""
    rates = []
    for _round in range(ROUNDS):
        count, started = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            for message in messages[:50]:
                sign(message)
            count += 50
            messages = messages[50:] + messages[:50]
        rates.append(count / elapsed)
    return statistics.median(rates)


def main():
    import dkim
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from sendtex.mail.dkim import SIGNED_HEADERS, DkimSigner, dns_record, generate_key

    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, whatever OpenSSL might do
    private_pem, public_b64 = generate_key()
    signer = DkimSigner(DOMAIN, SELECTOR, private_pem)
    messages = [campaign_message(n) for n in range(VARIANTS)]
    record = dns_record(SELECTOR, DOMAIN, public_b64)

    def dnsfunc(name, timeout=5):
        return record[1].encode()

    assert dkim.verify(signer.sign(messages[0]), dnsfunc=dnsfunc), "the benchmark's signature does not verify"
    size = statistics.mean(len(message) for message in messages)
    print(f"message: {size:,.0f} bytes on average, multipart/alternative, {VARIANTS} recipients' copies; "
          f"RSA-2048, relaxed/relaxed; one core")

    ours = rate(signer.sign, messages, seconds)
    print(f"sendtex DkimSigner:              {ours:8,.0f} signatures/s")
    key = signer._key
    rsa_only = rate(lambda message: key.sign(message[:300], padding.PKCS1v15(), hashes.SHA256()), messages, seconds)
    print(f"RSA-2048 sign alone (OpenSSL):   {rsa_only:8,.0f} signatures/s  (the signer reaches "
          f"{ours / rsa_only:.0%} of it)")
    wanted = [name.encode() for name in SIGNED_HEADERS]
    pem = private_pem.encode()
    theirs = rate(lambda message: dkim.sign(message, SELECTOR.encode(), DOMAIN.encode(), pem,
                                            include_headers=wanted), messages, seconds / 2)
    print(f"dkimpy {version('dkimpy'):8} same messages: {theirs:8,.0f} signatures/s  "
          f"(sendtex is {ours / theirs:.0f}× faster)")
    print(f"target: {TARGET:,} signatures/s/core")
    print(f"ratio={ours / TARGET:.2f}")


if __name__ == "__main__":
    main()
