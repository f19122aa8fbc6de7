"""The API, operation by operation: success, validation failure, wrong scope, another account's id (404),
revoked and expired keys; and the document's agreement with the routes."""
import datetime
import io
import re
import string

import pytest

from sendtex.api import routes  # noqa: F401  (declares the operations)
from sendtex.api.spec import OPERATIONS, PREFIX
from sendtex.models.api import SCOPES, ApiKey
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign
from sendtex.models.contacts import Contact, Field, MailingList, Segment
from sendtex.models.imports import Import
from sendtex.models.jobs import Job
from tests.conftest import make_account, make_user
from tests.test_isolation import objects_of

CSV = b"email,first_name\nnew@example.com,Ann\n"

# Every operation: (method, path, valid request, success status, invalid request or None).
# A request is a function of the account's objects giving (json or None, query, multipart or None).
def body(value):
    return lambda own: (value(own) if callable(value) else value, {}, None)


def query(args):
    return lambda own: (None, args, None)


def upload(content, name):
    return lambda own: (None, {}, {"file": (io.BytesIO(content), name)})


NOTHING = body(None)
TABLE = {
    ("GET", "/lists"): (NOTHING, 200, query({"limit": "0"})),
    ("POST", "/lists"): (body({"name": "Fresh"}), 201, body({"name": "  "})),
    ("GET", "/lists/{list}"): (NOTHING, 200, query({"extra": "1"})),
    ("PATCH", "/lists/{list}"): (body({"description": "New"}), 200, body({"opt_in": "triple"})),
    ("DELETE", "/lists/{list}"): (NOTHING, 204, None),
    ("GET", "/fields"): (NOTHING, 200, None),
    ("POST", "/fields"): (body({"key": "size", "label": "Size"}), 201, body({"key": "Bad Key", "label": "Size"})),
    ("GET", "/fields/{field}"): (NOTHING, 200, None),
    ("PATCH", "/fields/{field}"): (body({"label": "Shade"}), 200, body({"label": ""})),
    ("DELETE", "/fields/{field}"): (NOTHING, 202, None),
    ("GET", "/fields/jobs/{field_job}"): (NOTHING, 200, None),
    ("GET", "/contacts"): (NOTHING, 200, query({"status": "asleep"})),
    ("POST", "/contacts"): (body({"fields": {"email": "new@example.com"}}), 201,
                            body({"fields": {"email": "not an address"}})),
    ("POST", "/contacts/upsert"): (body({"fields": {"email": "new@example.com"}}), 201, body({"fields": {}})),
    ("POST", "/contacts/bulk"): (body({"contacts": [{"fields": {"email": "new@example.com"}}]}), 200,
                                 body({"contacts": [{"fields": {"email": "nope"}}]})),
    ("GET", "/contacts/{contact}"): (NOTHING, 200, None),
    ("PATCH", "/contacts/{contact}"): (body({"fields": {"first_name": "Bo"}}), 200, body({"status": "asleep"})),
    ("DELETE", "/contacts/{contact}"): (NOTHING, 204, None),
    ("POST", "/contacts/{contact}/subscribe"): (body(lambda own: {"list_ids": [own["list"].id]}), 200,
                                                body({"list_ids": []})),
    ("POST", "/contacts/{contact}/unsubscribe"): (NOTHING, 200, body({"list_ids": ["one"]})),
    ("GET", "/imports"): (NOTHING, 200, None),
    ("POST", "/imports"): (upload(CSV, "people.csv"), 201,
                           upload(b"", "empty.csv")),
    ("GET", "/imports/{finished_import}"): (NOTHING, 200, None),
    ("POST", "/imports/{draft_import}/start"): (body({"mapping": {"0": "email"}, "mode": "update"}), 202,
                                                body({"mapping": {"0": "email"}, "mode": "subscribe"})),
    ("POST", "/imports/{draft_import}/cancel"): (NOTHING, 204, None),
    ("GET", "/segments"): (NOTHING, 200, None),
    ("GET", "/segments/{segment}"): (NOTHING, 200, None),
    ("GET", "/segments/{segment}/count"): (NOTHING, 200, None),
    ("GET", "/campaigns"): (NOTHING, 200, query({"cursor": "forged"})),
    ("POST", "/campaigns"): (body({"name": "Autumn"}), 201, body({"name": ""})),
    ("GET", "/campaigns/{campaign}"): (NOTHING, 200, None),
    ("PATCH", "/campaigns/{campaign}"): (body({"subject": "Hello {{ contact.first_name }}"}), 200,
                                         body({"html": "<p>{% if %}</p>"})),
    ("DELETE", "/campaigns/{campaign}"): (NOTHING, 204, None),
    ("GET", "/campaigns/{campaign}/status"): (NOTHING, 200, None),
    ("POST", "/campaigns/{campaign}/test"): (body({"addresses": ["me@example.com"]}), 200,
                                             body({"addresses": ["me at example"]})),
    ("POST", "/campaigns/{campaign}/schedule"): (body({"date": "2999-01-01", "time": "09:00"}), 200,
                                                 body({"date": "2001-01-01", "time": "09:00"})),
    ("POST", "/campaigns/{scheduled_campaign}/unschedule"): (NOTHING, 200, None),
    ("POST", "/campaigns/{campaign}/send"): (NOTHING, 202, None),
    ("POST", "/campaigns/{sending_campaign}/pause"): (NOTHING, 200, None),
    ("POST", "/campaigns/{paused_campaign}/resume"): (NOTHING, 202, None),
    ("POST", "/campaigns/{sending_campaign}/cancel"): (NOTHING, 200, None),
    ("GET", "/campaigns/{campaign}/stats"): (NOTHING, 200, None),
    ("GET", "/stats/daily"): (NOTHING, 200, query({"from": "yesterday"})),
    ("GET", "/openapi.json"): (NOTHING, 200, None),
}
MODELS = {"list": MailingList, "field": Field, "field_job": Job, "contact": Contact, "finished_import": Import,
          "draft_import": Import, "segment": Segment, "campaign": Campaign, "scheduled_campaign": Campaign,
          "sending_campaign": Campaign, "paused_campaign": Campaign}


def generic(path):
    """A path with its placeholders named alike, to compare table entries with declared operations."""
    return re.sub(r"\{\w+\}", "{id}", path)


def kind_of(path):
    names = [name for _, name, _, _ in string.Formatter().parse(path) if name]
    return names[0] if names else None


def call(client, method, url, secret, request):
    """Send one API request: (json, query, multipart) with the key as bearer token."""
    json_body, args, multipart = request
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    if multipart is not None:
        return client.open(url, method=method, headers=headers, query_string=args, data=multipart,
                           content_type="multipart/form-data")
    return client.open(url, method=method, headers=headers, query_string=args, json=json_body)


def key(account, scopes=SCOPES, expires_at=None, revoked=False):
    """An API key of the account; returns its secret."""
    row, secret = ApiKey.issue(account.id, "Test key", scopes, expires_at)
    if revoked:
        row.revoke()
    return secret


def snapshot(model, object_id):
    return model.select().where(model.id == object_id).dicts().get_or_none()


@pytest.fixture
def world(app):
    """Two accounts with one object of each kind (the isolation test's), keys of the first."""
    alpha, beta = make_account("Alpha"), make_account("Beta")
    make_user(alpha), make_user(beta)
    return alpha, objects_of(app, alpha, "alpha"), objects_of(app, beta, "beta")


def test_the_table_lists_every_declared_operation():
    declared = {(op.method, generic(op.path)) for op in OPERATIONS}
    assert declared == {(method, generic(path)) for method, path in TABLE}


def test_every_api_route_is_documented_and_every_documented_path_routed(app, client):
    routed = {(method, re.sub(r"<int:(\w+)>", r"{\1}", rule.rule)) for rule in app.url_map.iter_rules()
              if rule.rule.startswith(PREFIX + "/") for method in rule.methods - {"HEAD", "OPTIONS"}}
    document = client.get(f"{PREFIX}/openapi.json").get_json()
    documented = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    assert routed == documented and len(documented) == len(TABLE)
    assert document["openapi"] == "3.1.0"


@pytest.mark.parametrize("method, path", list(TABLE), ids=[f"{m} {p}" for m, p in TABLE])
def test_operation(app, client, world, method, path):
    alpha, own, theirs = world
    valid, success, invalid = TABLE[(method, path)]
    (op,) = [op for op in OPERATIONS if op.method == method and generic(op.path) == generic(path)]
    kind = kind_of(path)
    url = PREFIX + (path.format(**{kind: own[kind].id}) if kind else path)
    secret = key(alpha)

    if op.scope is not None:
        others = [scope for scope in SCOPES if scope != op.scope]
        response = call(client, method, url, key(alpha, others), valid(own))
        assert response.status_code == 403 and response.json["error"]["code"] == "missing_scope"
        response = call(client, method, url, key(alpha, revoked=True), valid(own))
        assert response.status_code == 401 and response.json["error"]["code"] == "key_revoked"
        expired = key(alpha, expires_at=utcnow() - datetime.timedelta(seconds=1))
        response = call(client, method, url, expired, valid(own))
        assert response.status_code == 401 and response.json["error"]["code"] == "key_expired"
        response = call(client, method, url, None, valid(own))
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")

    if kind:
        model, target = MODELS[kind], theirs[kind]
        before = snapshot(model, target.id)
        response = call(client, method, PREFIX + path.format(**{kind: target.id}), secret, valid(own))
        assert response.status_code == 404 and response.json["error"]["code"] == "not_found"
        assert "beta" not in response.get_data(as_text=True).lower()
        assert snapshot(model, target.id) == before
        response = call(client, method, PREFIX + path.format(**{kind: 2**63}), secret, valid(own))
        assert response.status_code == 404 and response.is_json

    if invalid is not None:
        response = call(client, method, url, secret, invalid(own))
        assert response.status_code == 400, response.get_data(as_text=True)
        assert response.json["error"]["code"] == "invalid_request" and response.json["error"]["details"]

    response = call(client, method, url, secret, valid(own))
    assert response.status_code == success, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    if success != 204:
        assert response.is_json
    if op.scope is not None:
        assert int(response.headers["RateLimit-Remaining"]) < int(response.headers["RateLimit-Limit"])
