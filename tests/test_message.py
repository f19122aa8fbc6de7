"""sendtex.mail.message's hand-written fast paths give exactly what the library functions they replace give."""
import binascii
import random
from email.utils import formatdate, parsedate_to_datetime

import pytest

from sendtex.mail.message import date_header, quoted_printable


def reference(text):
    return binascii.b2a_qp(text.replace("\r\n", "\n").encode("utf-8"), istext=True).replace(b"\n", b"\r\n")


@pytest.mark.parametrize("text", [
    "", ".", "\n.", ".\n", "a\n.\nb", "a \nb", "a\t\nb", " ", "\n", "\n\n", "x" * 76, "x" * 77, "x" * 151, "x" * 152,
    "a" * 75 + " ", "a" * 74 + " b", "a" * 75 + " \nb", "a=b", "Grüße — € 89", "line\r\nline\r\n", "lone\rcr",
    '<a href="https://shop.example/p?x=1">Jacket</a>' * 5,
])
def test_quoted_printable_is_b2a_qp(text):
    assert quoted_printable(text) == reference(text)


def test_quoted_printable_is_b2a_qp_on_generated_texts():
    pieces = ["a", " ", "=", ".", "\n", "\n\n", "\r\n", "\r", "\t", "é", "€", "\x00", "\x7f", "_",
              "x" * 74, "y" * 75, "z" * 76, "w" * 77, "v" * 150]
    generator = random.Random(2920)
    for _ in range(20_000):
        text = "".join(generator.choice(pieces) for _ in range(generator.randint(0, 14)))
        assert quoted_printable(text) == reference(text), repr(text)


def test_date_header_is_formatdate_of_this_second():
    before = parsedate_to_datetime(formatdate(usegmt=True))
    header = date_header().decode()
    after = parsedate_to_datetime(formatdate(usegmt=True))
    assert header.endswith(" GMT") and before <= parsedate_to_datetime(header) <= after
    assert header == formatdate(parsedate_to_datetime(header).timestamp(), usegmt=True)
