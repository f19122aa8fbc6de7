"""API keys (the owner's page, hashing, last use), errors that are never HTML, rate limits and idempotency."""
import datetime
import json
import threading

import requests

from sendtex.db import db
from sendtex.models.api import SCOPES, ApiKey, IdempotencyRecord
from sendtex.models.audit import AuditEntry
from sendtex.models.base import utcnow
from sendtex.models.contacts import Contact, MailingList
from sendtex.models.ratelimit import RateHit
from tests.conftest import login, make_account, make_user, post

API = "/api/v1"


def bearer(secret):
    return {"Authorization": f"Bearer {secret}"}


def test_an_owner_creates_a_key_that_is_shown_once_and_stored_as_a_digest(owner_client, owner):
    response = post(owner_client, "/account/api-keys", {"name": "Web shop", "scopes": ["read", "write"],
                                                        "expires_on": "2999-12-31"})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    secret = page.split('<code class="secret">')[1].split("</code>")[0]
    assert secret.startswith("stx_")
    key = ApiKey.get(ApiKey.account == owner.account_id)
    assert key.scopes == ["read", "write"] and key.expires_at == datetime.datetime(2999, 12, 31)
    assert secret not in json.dumps(ApiKey.select().dicts().get(), default=str)
    assert secret not in owner_client.get("/account/api-keys").get_data(as_text=True)
    assert AuditEntry.get(AuditEntry.action == "api-key-created").target.startswith("Web shop (stx_")
    assert owner_client.get(f"{API}/lists", headers=bearer(secret)).status_code == 200
    assert owner_client.post(f"{API}/campaigns/1/send", headers=bearer(secret)).status_code == 403


def test_a_key_needs_a_name_a_scope_and_a_future_expiry(owner_client, owner):
    response = post(owner_client, "/account/api-keys", {"name": "", "expires_on": "2001-01-01"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Give the key a name" in page and "Choose at least one scope." in page and "Choose a day after today." in page
    assert ApiKey.select().count() == 0


def test_revoking_stops_the_key_and_is_audited(owner_client, owner):
    key, secret = ApiKey.issue(owner.account_id, "CRM", ["read"])
    response = post(owner_client, f"/account/api-keys/{key.id}/revoke")
    assert response.status_code == 303
    answer = owner_client.get(f"{API}/lists", headers=bearer(secret))
    assert answer.status_code == 401 and answer.json["error"]["message"] == "This API key was revoked."
    assert AuditEntry.get(AuditEntry.action == "api-key-revoked").target == key.label
    assert "revoked on" in owner_client.get("/account/api-keys").get_data(as_text=True)


def test_members_cannot_see_or_make_keys(client, owner):
    member = make_user(owner.account, role="member")
    login(client, member)
    assert client.get("/account/api-keys").status_code == 403
    assert post(client, "/account/api-keys", {"name": "Mine", "scopes": ["send"]}).status_code == 403


def test_the_session_cookie_is_no_way_in(owner_client):
    assert owner_client.get(f"{API}/lists").status_code == 401
    response = owner_client.post(f"{API}/lists", json={"name": "Sneaky"})
    assert response.status_code == 401 and MailingList.select().count() == 0


def test_a_tampered_key_is_refused(client, owner):
    _key, secret = ApiKey.issue(owner.account_id, "CRM", ["read"])
    tampered = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert client.get(f"{API}/lists", headers=bearer(tampered)).status_code == 401
    assert client.get(f"{API}/lists", headers={"Authorization": secret}).status_code == 401


def test_last_use_is_written_at_most_once_a_minute(client, owner):
    key, secret = ApiKey.issue(owner.account_id, "CRM", ["read"])
    client.get(f"{API}/lists", headers=bearer(secret))
    first = ApiKey.get_by_id(key.id).last_used_at
    client.get(f"{API}/lists", headers=bearer(secret))
    assert first is not None and ApiKey.get_by_id(key.id).last_used_at == first
    ApiKey.update(last_used_at=first - datetime.timedelta(minutes=2)).where(ApiKey.id == key.id).execute()
    client.get(f"{API}/lists", headers=bearer(secret))
    assert ApiKey.get_by_id(key.id).last_used_at > first - datetime.timedelta(minutes=1)


def test_errors_are_json_never_html(client, owner):
    _key, secret = ApiKey.issue(owner.account_id, "CRM", SCOPES)
    cases = [
        (client.get(f"{API}/nothing-here", headers=bearer(secret)), 404),
        (client.put(f"{API}/lists", headers=bearer(secret)), 405),
        (client.post(f"{API}/lists", headers=bearer(secret), data="name=x",
                     content_type="application/x-www-form-urlencoded"), 415),
        (client.post(f"{API}/lists", headers=bearer(secret), data="{", content_type="application/json"), 400),
        (client.post(f"{API}/lists", headers=bearer(secret), data="[]", content_type="application/json"), 400),
        (client.get("/api", headers=bearer(secret)), 404),
    ]
    for response, status in cases:
        assert response.status_code == status and response.mimetype == "application/json"
        assert set(response.json["error"]) == {"code", "message", "details"}


def test_the_rate_limit_is_counted_in_the_database(app, client, owner):
    app.config.update(API_RATE_LIMIT=3, API_RATE_WINDOW_SECONDS=60)
    key, secret = ApiKey.issue(owner.account_id, "CRM", ["read"])
    remaining = [client.get(f"{API}/lists", headers=bearer(secret)).headers["RateLimit-Remaining"] for _ in range(3)]
    assert remaining == ["2", "1", "0"]
    refused = client.get(f"{API}/lists", headers=bearer(secret))
    assert refused.status_code == 429 and 1 <= int(refused.headers["Retry-After"]) <= 60
    assert refused.json["error"]["code"] == "rate_limited"
    assert RateHit.select().where(RateHit.key == str(key.id)).count() == 3
    # Counted per key: the account's other key is not held back.
    other = ApiKey.issue(owner.account_id, "Other", ["read"])[1]
    assert client.get(f"{API}/lists", headers=bearer(other)).status_code == 200
    RateHit.update(at=utcnow() - datetime.timedelta(minutes=2)).where(RateHit.key == str(key.id)).execute()
    assert client.get(f"{API}/lists", headers=bearer(secret)).status_code == 200


def test_requests_at_the_same_moment_never_pass_the_limit_together(app):
    """Counted first, checked after: of eight requests released together exactly three (the limit) get through."""
    barrier, taken = threading.Barrier(8), []

    def request():
        with app.app_context(), db.connection_context():
            barrier.wait()
            taken.append(RateHit.take("api", "key-1", 3, datetime.timedelta(minutes=1))[0])

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(taken) == 8 and sum(taken) == 3
    assert RateHit.select().count() == sum(taken)  # a refused request is not counted


def test_a_retried_post_with_an_idempotency_key_is_done_once(app, client, owner):
    _key, secret = ApiKey.issue(owner.account_id, "CRM", SCOPES)
    headers = {**bearer(secret), "Idempotency-Key": "order-1001"}
    body = {"fields": {"email": "ann@example.com", "first_name": "Ann"}}
    first = client.post(f"{API}/contacts", headers=headers, json=body)
    again = client.post(f"{API}/contacts", headers=headers, json=body)
    assert first.status_code == again.status_code == 201
    assert again.json == first.json and again.headers["Idempotent-Replayed"] == "true"
    assert Contact.select().count() == 1
    assert b"Ann" not in IdempotencyRecord.get().body.encode()  # the stored answer is sealed
    other = client.post(f"{API}/contacts", headers=headers, json={"fields": {"email": "bo@example.com"}})
    assert other.status_code == 422 and other.json["error"]["code"] == "idempotency_mismatch"
    assert Contact.select().count() == 1


def test_two_concurrent_requests_with_one_idempotency_key_do_the_work_once(live_server):
    with live_server.app_context():
        account = make_account("Shop")
        secret = ApiKey.issue(account.id, "CRM", SCOPES)[1]
    headers = {**bearer(secret), "Idempotency-Key": "sync-7"}
    body = {"contacts": [{"fields": {"email": f"p{n}@example.com"}} for n in range(3_000)]}
    answers = []

    def send():
        answers.append(requests.post(f"{live_server.url}{API}/contacts/bulk", json=body, headers=headers, timeout=60))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(answer.status_code for answer in answers)
    assert statuses in ([200, 200], [200, 409]), [answer.text[:200] for answer in answers]
    done = [answer for answer in answers if answer.status_code == 200]
    assert all(answer.json() == done[0].json() for answer in done) and done[0].json()["created"] == 3_000
    with live_server.app_context():
        assert Contact.for_account(account.id).count() == 3_000
    retry = requests.post(f"{live_server.url}{API}/contacts/bulk", json=body, headers=headers, timeout=60)
    assert retry.status_code == 200 and retry.json() == done[0].json()


def test_the_reference_page_lists_every_operation(owner_client):
    page = owner_client.get("/docs/api").get_data(as_text=True)
    assert "POST /api/v1/contacts/bulk" in page and "GET /api/v1/stats/daily" in page
