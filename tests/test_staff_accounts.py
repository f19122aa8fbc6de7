"""Staff pages about accounts: quota, restriction, and looks into an account's data that need a reason."""
import pytest

from sendtex import audience
from sendtex.models.accounts import Account
from sendtex.models.audit import AuditEntry
from sendtex.models.contacts import MailingList
from tests.conftest import login, make_account, make_user, post


@pytest.fixture
def customer(app):
    owner = make_user(make_account("Customer <b>Shop</b>"), email="owner@customer.example")
    MailingList.create(account=owner.account_id, name="Customers list")
    with app.app_context():
        audience.create_contact(audience.FieldSet(owner.account_id), {"email": "reader@customer.example",
                                                                       "first_name": "Rita"})
    return owner


def entries(account_id, action):
    return list(AuditEntry.select().where((AuditEntry.account == account_id) & (AuditEntry.action == action)))


def test_staff_pages_do_not_exist_for_others(app, client, customer):
    for url in ("/staff/accounts", f"/staff/accounts/{customer.account_id}",
                f"/staff/accounts/{customer.account_id}/data/contacts"):
        assert client.get(url).status_code == 404
    login(client, customer)
    assert client.get("/staff/accounts").status_code == 404
    assert post(client, f"/staff/accounts/{customer.account_id}/quota", {"daily_quota": "99999"}).status_code == 404
    assert Account.get_by_id(customer.account_id).daily_quota == 500


def test_accounts_are_listed_with_their_size_and_escaped(staff_client, customer):
    page = staff_client.get("/staff/accounts").get_data(as_text=True)
    assert "Customer &lt;b&gt;Shop&lt;/b&gt;" in page and "<b>Shop</b>" not in page


def test_looking_into_data_needs_a_reason_and_is_audited(app, client, staff_client, customer):
    account_id = customer.account_id
    response = staff_client.get(f"/staff/accounts/{account_id}/data/contacts")
    assert response.status_code == 303 and not entries(account_id, "staff-view")
    refused = post(staff_client, f"/staff/accounts/{account_id}/access", {"reason": ""})
    assert refused.status_code == 422 and "Give a reason" in refused.get_data(as_text=True)
    assert post(staff_client, f"/staff/accounts/{account_id}/access", {"reason": "short"}).status_code == 422
    assert not entries(account_id, "staff-access")

    response = post(staff_client, f"/staff/accounts/{account_id}/access",
                    {"ticket": "REQ-12", "reason": "The owner reported bounced contacts"})
    assert response.status_code == 303
    page = staff_client.get(f"/staff/accounts/{account_id}/data/contacts").get_data(as_text=True)
    assert "reader@customer.example" in page and "Rita" in page
    assert "Customers list" in staff_client.get(f"/staff/accounts/{account_id}/data/lists").get_data(as_text=True)
    views = entries(account_id, "staff-view")
    assert [view.target for view in views] == ["contacts", "lists"]
    assert all(view.by_staff and view.reason == "REQ-12: The owner reported bounced contacts" for view in views)
    assert views[0].actor_label == "staff@operator.example"

    # The owner reads who looked, at what and why.
    login(client, customer)
    activity = client.get("/account/activity").get_data(as_text=True)
    assert "staff@operator.example" in activity and "REQ-12: The owner reported bounced contacts" in activity
    assert "Operator staff looked at · contacts" in activity


def test_access_is_for_one_account_only(staff_client, customer):
    other = make_user(make_account("Other shop"))
    post(staff_client, f"/staff/accounts/{customer.account_id}/access", {"reason": "Support ticket about imports"})
    assert staff_client.get(f"/staff/accounts/{other.account_id}/data/contacts").status_code == 303
    assert staff_client.get(f"/staff/accounts/{customer.account_id}/data/secrets").status_code == 404
    assert staff_client.get("/staff/accounts/99999").status_code == 404


def test_quota_and_restriction_are_audited_and_shown(app, client, staff_client, customer):
    account_id = customer.account_id
    assert post(staff_client, f"/staff/accounts/{account_id}/quota", {"daily_quota": "many"}).status_code == 422
    post(staff_client, f"/staff/accounts/{account_id}/quota", {"daily_quota": "20000"})
    assert Account.get_by_id(account_id).daily_quota == 20000
    assert entries(account_id, "quota-changed")[0].target == "500 → 20000 messages a day"
    assert post(staff_client, f"/staff/accounts/{account_id}/restriction", {"reason": ""}).status_code == 422
    post(staff_client, f"/staff/accounts/{account_id}/restriction", {"reason": "Complaint about spam under review"})
    account = Account.get_by_id(account_id)
    assert account.is_restricted and account.restricted_by == "staff"
    assert entries(account_id, "restricted")[0].reason == "Complaint about spam under review"
    post(staff_client, f"/staff/accounts/{account_id}/restriction", {})
    assert not Account.get_by_id(account_id).is_restricted and entries(account_id, "restriction-lifted")


def test_the_audit_log_has_no_route_that_changes_it(app):
    for rule in app.url_map.iter_rules():
        if "activity" in rule.rule or "audit" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule.rule


def test_owner_restricts_and_lifts_their_own_restriction(app, client, customer):
    login(client, customer)
    assert post(client, "/account/restriction", {"reason": ""}).status_code == 422
    post(client, "/account/restriction", {"reason": "I dispute the accuracy of an imported list"})
    account = Account.get_by_id(customer.account_id)
    assert account.is_restricted and account.restricted_by == "owner"
    page = client.get("/lists").get_data(as_text=True)
    assert "Processing of this account is restricted" in page and "I dispute the accuracy" in page
    post(client, "/account/restriction", {})
    assert not Account.get_by_id(customer.account_id).is_restricted
    assert [entry.action for entry in AuditEntry.of_account(customer.account_id)][:2] == ["restriction-lifted",
                                                                                           "restricted"]


def test_owner_cannot_lift_a_staff_restriction(app, client, customer):
    Account.get_by_id(customer.account_id).restrict("staff", "Abuse report under review")
    login(client, customer)
    response = post(client, "/account/restriction", {})
    assert response.status_code == 403 and Account.get_by_id(customer.account_id).is_restricted
