"""Reading uploaded CSV files: encoding and delimiter detection, a preview, streamed rows, column guesses."""
import codecs
import csv
import io
import re

from flask_babel import lazy_gettext as _l

from sendtex.crypto import DecryptionError
from sendtex.uploads import read_upload

SAMPLE_BYTES = 64 * 1024
DELIMITERS = (";", ",", "\t")
MAX_ROW_CHARS = 10_000
PREVIEW_ROWS = 5
# Special mapping targets besides field keys.
FULL_NAME = "__full_name"  # one "name" column, split into first and last name
ATTRIBUTES_JSON = "__attributes"  # a JSON object of custom fields (listmonk's export)

HEADER_GUESSES = {
    "email": {"email", "e-mail", "email address", "e-mail address", "emailaddress", "mail", "e-mailadres",
              "emailadres", "email_address"},
    "first_name": {"first name", "firstname", "first_name", "fname", "given name", "voornaam"},
    "last_name": {"last name", "lastname", "last_name", "lname", "surname", "family name", "achternaam"},
    FULL_NAME: {"name", "full name", "naam"},
    ATTRIBUTES_JSON: {"attributes", "attribs"},
}


class CsvProblem(ValueError):
    """The file cannot be imported at all; the message says why."""


class _ChunkReader(io.RawIOBase):
    """A readable byte stream over a generator of chunks that counts what was consumed."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._pending = b""
        self.consumed = 0

    def readable(self):
        return True

    def readinto(self, buffer):
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        self.consumed += size
        return size


def _sample(upload_name):
    data = b""
    try:
        for chunk in read_upload(upload_name):
            data += chunk
            if len(data) >= SAMPLE_BYTES:
                break
    except (OSError, DecryptionError) as exc:
        raise CsvProblem(_l("The uploaded file is no longer readable. Upload it again.")) from exc
    return data[:SAMPLE_BYTES]


def detect_encoding(sample):
    """utf-8-sig, utf-8, cp1252 or latin-1, from the first bytes of the file."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        sample.decode("cp1252")
        return "cp1252"
    except UnicodeDecodeError:
        return "latin-1"


def detect_delimiter(lines):
    """The delimiter that splits the first lines into the same number (> 1) of columns most often."""
    best, best_score = ",", 0
    for delimiter in DELIMITERS:
        counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        if not counts or counts[0] < 2:
            continue
        score = sum(count == counts[0] for count in counts)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def inspect(upload_name):
    """(encoding, delimiter, header, preview rows) of an upload, or CsvProblem with the reason."""
    sample = _sample(upload_name)
    if not sample.strip():
        raise CsvProblem(_l("The file is empty."))
    if b"\x00" in sample:
        raise CsvProblem(_l("This is not a CSV text file (it contains binary data). Save it as “CSV UTF-8” and try again."))
    encoding = detect_encoding(sample)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample, final=False)
    if len(sample) == SAMPLE_BYTES and "\n" in text:
        text = text[:text.rindex("\n") + 1]  # the last line may be cut in half
    delimiter = detect_delimiter(text.splitlines()[:20])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = [cell.strip() for cell in next(reader, [])]
    if not any(header):
        raise CsvProblem(_l("The first line must name the columns."))
    if len(header) > 200:
        raise CsvProblem(_l("The file has more than 200 columns."))
    preview = [row for _, row in zip(range(PREVIEW_ROWS), reader)]
    if not preview:
        raise CsvProblem(_l("The file has a header line but no rows."))
    return encoding, delimiter, header, preview


def read_rows(upload_name, encoding, delimiter, progress=None):
    """Yield (line number, cells or None, problem) for every row after the header; bounded memory."""
    raw = _ChunkReader(read_upload(upload_name))
    text = io.TextIOWrapper(io.BufferedReader(raw, 64 * 1024), encoding=encoding, errors="replace", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    try:
        next(reader, None)
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield reader.line_num, None, str(_l("This row cannot be read as CSV: %(reason)s", reason=exc))
                continue
            if progress is not None:
                progress(raw.consumed)
            if sum(map(len, cells)) > MAX_ROW_CHARS:
                yield reader.line_num, None, str(_l("The row is longer than %(n)d characters.", n=MAX_ROW_CHARS))
            elif any(cells):
                yield reader.line_num, cells, None
    except (OSError, DecryptionError) as exc:
        raise CsvProblem(_l("The uploaded file could not be read to the end.")) from exc


def guess_mapping(header, fields):
    """A first guess of the field each column holds: {column index: target}, unknown columns left out."""
    guesses = {}
    by_name = {}
    for field in fields:
        by_name.setdefault(field.key.lower(), field.key)
        by_name.setdefault(field.label.lower(), field.key)
    for index, name in enumerate(header):
        simple = re.sub(r"\s+", " ", name.strip().lower())
        target = next((key for key, names in HEADER_GUESSES.items() if simple in names), None) or by_name.get(simple)
        if target and target not in guesses.values():
            guesses[index] = target
    return guesses


def split_full_name(text):
    """('Ann', 'de Vries') from 'Ann de Vries'."""
    first, _, last = text.strip().partition(" ")
    return first, last.strip()
