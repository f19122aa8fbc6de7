"""The staff's log of data-subject requests: due dates, and fulfilling requests across accounts."""
import datetime
import io
import json
import zipfile

import pytest

from sendtex import audience
from sendtex.models.accounts import Account
from sendtex.models.audit import AuditEntry
from sendtex.models.base import utcnow
from sendtex.models.contacts import Contact, Field
from sendtex.models.privacy import AccountExport
from sendtex.models.requests import DataRequest, one_month_after
from tests.conftest import login, make_account, make_user, post

ADDRESS = "requester@example.org"


@pytest.mark.parametrize("received, due", [
    (datetime.date(2026, 1, 31), datetime.date(2026, 2, 28)), (datetime.date(2028, 1, 31), datetime.date(2028, 2, 29)),
    (datetime.date(2026, 12, 15), datetime.date(2027, 1, 15)), (datetime.date(2026, 3, 1), datetime.date(2026, 4, 1)),
])
def test_a_request_is_due_one_calendar_month_after_receipt(received, due):
    assert one_month_after(received) == due


@pytest.fixture
def holders(app):
    """Two accounts with the requester as a contact (one with the e-mail encrypted) and one without."""
    accounts = [make_account("Shop one"), make_account("Shop two"), make_account("Unrelated")]
    with app.app_context():
        audience.FieldSet(accounts[1].id)
        Field.update(encrypted=True).where((Field.account == accounts[1].id) & (Field.key == "email")).execute()
        for account in accounts[:2]:
            audience.create_contact(audience.FieldSet(account.id), {"email": ADDRESS, "first_name": "Rosa"})
        audience.create_contact(audience.FieldSet(accounts[2].id), {"email": "someone.else@example.org"})
    return accounts


def log_request(client, **changes):
    data = {"kind": "erasure", "requester_name": "Rosa Example", "requester_email": ADDRESS, "channel": "post",
            "received_on": utcnow().date().isoformat(), "identity_proof": "Signed letter, address matches",
            "details": "Please delete me everywhere", **changes}
    return post(client, "/staff/requests", data)


def test_logging_and_due_dates(staff_client):
    assert log_request(staff_client, requester_name="").status_code == 422
    assert log_request(staff_client, received_on="yesterday-ish").status_code == 422
    response = log_request(staff_client, received_on=(utcnow().date() - datetime.timedelta(days=40)).isoformat())
    assert response.status_code == 303
    late = DataRequest.get()
    assert late.due_on == one_month_after(late.received_on) and late.state(utcnow().date()) == "overdue"
    log_request(staff_client, kind="access", requester_name="Fresh <script>alert(1)</script>")
    page = staff_client.get("/staff/requests").get_data(as_text=True)
    assert "1 request is overdue." in page and "Fresh &lt;script&gt;" in page and "<script>alert" not in page


def test_only_staff_see_the_log(client, owner):
    assert client.get("/staff/requests").status_code == 404
    login(client, owner)
    assert client.get("/staff/requests").status_code == 404
    assert post(client, "/staff/requests", {"kind": "access", "requester_name": "x"}).status_code == 404
    assert DataRequest.select().count() == 0


def test_finding_exporting_and_erasing_a_subscriber_everywhere(staff_client, holders):
    log_request(staff_client)
    request_id = DataRequest.get().id
    found = post(staff_client, f"/staff/requests/{request_id}/find").get_data(as_text=True)
    assert "Shop one" in found and "Shop two" in found and "Unrelated" not in found
    export = post(staff_client, f"/staff/requests/{request_id}/contacts/export")
    data = json.loads(export.get_data())
    assert sorted(item["account"] for item in data) == ["Shop one", "Shop two"]
    assert post(staff_client, f"/staff/requests/{request_id}/contacts/erase").status_code == 303
    assert not Contact.select().where(Contact.account.in_([holders[0].id, holders[1].id])).exists()
    assert Contact.select().where(Contact.account == holders[2].id).count() == 1
    for account in holders[:2]:
        actions = {entry.action for entry in AuditEntry.select().where(AuditEntry.account == account.id)}
        assert {"staff-lookup", "staff-contact-export", "staff-contact-erase"} <= actions
    assert not AuditEntry.select().where(AuditEntry.account == holders[2].id).exists()
    assert DataRequest.get_by_id(request_id).actions.count("\n") == 2


def test_exporting_and_deleting_an_account_for_a_request(app, staff_client):
    customer = make_user(make_account("Customer"))
    log_request(staff_client, kind="portability")
    request_id = DataRequest.get().id
    assert post(staff_client, f"/staff/requests/{request_id}/account/export", {"account_id": "999999"}).status_code == 422
    post(staff_client, f"/staff/requests/{request_id}/account/export", {"account_id": str(customer.account_id)})
    export = AccountExport.get()
    assert export.account_id == customer.account_id and export.status == "done"
    download = staff_client.get(f"/staff/requests/exports/{export.id}")
    assert download.status_code == 200 and download.headers["Content-Type"] == "application/zip"
    assert "manifest.json" in zipfile.ZipFile(io.BytesIO(download.get_data())).namelist()
    owner = app.test_client()
    login(owner, customer)
    listed = owner.get("/account/exports").get_data(as_text=True)
    assert "Ann Example" in listed and f"/account/exports/{export.id}/" not in listed  # listed, not theirs to fetch
    assert owner.get(f"/staff/requests/exports/{export.id}").status_code == 404
    response = post(staff_client, f"/staff/requests/{request_id}/account/delete", {"account_id": str(customer.account_id)})
    assert response.status_code == 303, response.get_data(as_text=True)
    assert Account.get_or_none(Account.id == customer.account_id) is None


def test_closing_needs_an_outcome(staff_client):
    log_request(staff_client)
    request_id = DataRequest.get().id
    assert post(staff_client, f"/staff/requests/{request_id}/close", {"outcome": ""}).status_code == 422
    post(staff_client, f"/staff/requests/{request_id}/close", {"outcome": "Erased in two accounts, told by letter."})
    closed = DataRequest.get_by_id(request_id)
    assert closed.closed_at is not None and closed.state(utcnow().date()) == "closed"
