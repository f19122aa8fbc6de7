"""Sent marks: the moment a relay takes a message, the lane notes its delivery in a file of its own.

Marking the ledger row with a commit a message made the lanes queue for SQLite's one write lock: with two
lanes each waited ~150 µs a message, its busy handler sleeping a millisecond at a time. A mark is one
write() to a file only its lane writes. Once written it outlives the process, kill -9 included (it is in
the kernel's page cache), like a commit to SQLite's write-ahead log with synchronous=NORMAL.

settle() moves marks into the ledger in one transaction, only ever setting a row "sent", so settling a
mark twice does no harm. A lane settles its own marks after each batch and when it ends (then its file
goes). A lane's file is locked (flock) while it lives; the kernel drops the lock when the process dies, so
a file whose lock is free belongs to a dead lane: settle_abandoned() takes its marks into the ledger
before any claim, so a row whose message went out is never sent again. The files live under the instance
folder, like the relays' connection slots: every worker of an instance must share it.
"""
import datetime
import fcntl
import os
import secrets
import time

from flask import current_app

from sendtex.db import db

SUFFIX = ".marks"
_EPOCH = datetime.datetime(1970, 1, 1)


def directory():
    """Where the lanes' mark files live."""
    return os.path.join(current_app.instance_path, "sent-marks")


class SentMarks:
    """One lane's marks: mark() as each message is taken, settle() into the ledger, close() at the end."""

    def __init__(self):
        folder = directory()
        os.makedirs(folder, mode=0o700, exist_ok=True)
        name = os.path.join(folder, f"{os.getpid()}-{secrets.token_hex(8)}")
        # Locked before it gets the name settlers look for: they never take a living lane's file for dead.
        self._fd = os.open(name + ".new", os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self.path = name + SUFFIX
        os.rename(name + ".new", self.path)

    def mark(self, delivery_id):
        """Note that the relay took the delivery's message, now."""
        os.write(self._fd, b"%d %d\n" % (delivery_id, time.time_ns() // 1000))

    def settle(self):
        """Move this lane's marks into the ledger; how many there were."""
        marks = _read(self._fd)
        if marks:
            apply(marks)
            os.ftruncate(self._fd, 0)  # only this lane writes here: nothing can come in between
        return len(marks)

    def close(self):
        """Settle, then remove the file."""
        try:
            settled = self.settle()
            os.unlink(self.path)
        finally:
            os.close(self._fd)
        return settled


def settle_abandoned():
    """Move the marks of lanes that died into the ledger and remove their files; how many there were."""
    folder = directory()
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    settled = 0
    for name in names:
        path = os.path.join(folder, name)
        if name.endswith(SUFFIX):
            settled += _settle_file(path)
        elif name.endswith(".new") and _older_than(path, 60):  # a lane killed as it began: no marks
            _remove_if_unlocked(path)
    return settled


def _settle_file(path):
    """Settle and remove a mark file whose lane is gone; 0 when its lane is alive (it holds the lock)."""
    fd = _locked(path)
    if fd is None:
        return 0
    try:
        marks = _read(fd)
        if marks:
            apply(marks)
        _unlink(path)
        return len(marks)
    finally:
        os.close(fd)


def _remove_if_unlocked(path):
    fd = _locked(path)
    if fd is not None:
        _unlink(path)
        os.close(fd)


def _locked(path):
    """A descriptor of the file holding its lock, or None when another holds it or the file is gone."""
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:  # another lane settled it meanwhile
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def _unlink(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _older_than(path, seconds):
    try:
        return time.time() - os.stat(path).st_mtime > seconds
    except FileNotFoundError:
        return False


def apply(marks):
    """Set the deliveries of [(delivery id, sent at)] sent, in one transaction (rows already sent stay as
    they are: a mark may be settled twice)."""
    sql = _APPLY.format(db.obj.param)
    with db.atomic():
        db.cursor().executemany(sql, [(sent_at, delivery_id) for delivery_id, sent_at in marks])


_APPLY = ("UPDATE delivery SET status = 'sent', sent_at = {0}, attempts = attempts + 1, claim = NULL, "
          "lease_until = NULL WHERE id = {0} AND status <> 'sent'")


def _read(fd):
    """The complete mark lines of the file (a line cut short by a kill is no mark: its message counts as in flight)."""
    size = os.fstat(fd).st_size
    data = os.pread(fd, size, 0) if size else b""
    marks = []
    for line in data.split(b"\n")[:-1]:
        delivery_id, _, micros = line.partition(b" ")
        if delivery_id.isdigit() and micros.isdigit():
            marks.append((int(delivery_id), _EPOCH + datetime.timedelta(microseconds=int(micros))))
    return marks
