"""Idempotency-Key on POST requests: a retry gets the first response back and nothing is done twice.

The first request claims the key with a row (unique per API key) before it does anything; a second request
with the same key finds the row: it gets the stored response, or a 409 while the first is still running.
Stored responses can hold values of encrypted fields, so they are sealed like those values are.
"""
import datetime
import hashlib
import re

from flask import current_app, g, request
from flask_babel import lazy_gettext as _l
from peewee import IntegrityError

from sendtex.api.errors import ApiError, invalid
from sendtex.audience import cipher
from sendtex.crypto import DecryptionError
from sendtex.db import db
from sendtex.models.api import IdempotencyRecord
from sendtex.models.base import utcnow

HEADER = "Idempotency-Key"
KEY_PATTERN = re.compile(r"[!-~]{1,255}")  # printable ASCII without spaces
NOT_KEPT = (429,)  # rate-limited answers are not outcomes: a retry should run


def once(run):
    """The response of run(), or the stored one of an earlier request with the same Idempotency-Key."""
    key_text = request.headers.get(HEADER)
    if key_text is None:
        return run()
    if not KEY_PATTERN.fullmatch(key_text):
        raise invalid([(HEADER, _l("Use 1 to 255 printable characters without spaces."))])
    api_key, fingerprint = g.api_key, _fingerprint()
    ttl = datetime.timedelta(hours=current_app.config["API_IDEMPOTENCY_HOURS"])
    # An expired record of this key text makes way; the hourly purge removes the others.
    IdempotencyRecord.delete().where((IdempotencyRecord.api_key == api_key.id) & (IdempotencyRecord.key == key_text)
                                     & (IdempotencyRecord.created_at < utcnow() - ttl)).execute()
    try:
        with db.atomic():
            record = IdempotencyRecord.create(account=api_key.account_id, api_key=api_key.id, key=key_text,
                                              fingerprint=fingerprint)
    except IntegrityError:
        return _replay(api_key, key_text, fingerprint)
    try:
        response = run()
    except BaseException:
        record.delete_instance()  # nothing was done: a retry may run
        raise
    if response.status_code >= 500 or response.status_code in NOT_KEPT:
        record.delete_instance()
    else:
        _keep(record, response)
    return response


def _fingerprint():
    digest = hashlib.sha256()
    for part in (request.method, request.full_path, request.content_type or "", request.get_data(cache=True)):
        digest.update(part if isinstance(part, bytes) else part.encode())
        digest.update(b"\0")
    return digest.hexdigest()


def _aad(record_id):
    return f"idempotency|{record_id}".encode()


def _keep(record, response):
    body = response.get_data(as_text=True)
    IdempotencyRecord.update(status=response.status_code, body=cipher().seal(body, _aad(record.id))).where(
        IdempotencyRecord.id == record.id).execute()


def _replay(api_key, key_text, fingerprint):
    record = IdempotencyRecord.get_or_none((IdempotencyRecord.api_key == api_key.id)
                                           & (IdempotencyRecord.key == key_text))
    if record is None or record.status is None:
        raise ApiError(409, _l("A request with this Idempotency-Key is still being processed. Try again shortly."),
                       code="idempotency_in_progress")
    if record.fingerprint != fingerprint:
        raise ApiError(422, _l("This Idempotency-Key was used for a different request."), code="idempotency_mismatch")
    try:
        body = cipher().open(record.body, _aad(record.id))
    except DecryptionError as exc:
        raise ApiError(409, _l("The first response to this Idempotency-Key can no longer be read."),
                       code="idempotency_unreadable") from exc
    response = current_app.response_class(body or None, status=record.status,
                                          mimetype="application/json" if body else None)
    response.headers.update({"Idempotent-Replayed": "true", "Cache-Control": "no-store"})
    return response
