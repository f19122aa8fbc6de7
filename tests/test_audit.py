"""The audit log: security events are written, owners read them, nobody edits them."""
import pytest

from sendtex import audit
from sendtex.models.audit import AppendOnly, AuditEntry
from sendtex.models.accounts import User
from tests.conftest import PASSWORD, login, make_user, post


def actions(account_id):
    return [entry.action for entry in AuditEntry.of_account(account_id)]


def test_logins_and_failed_logins_are_audited_with_an_anonymised_network(app, client, owner):
    post(client, "/login", {"email": owner.email, "password": "wrong password"},
         environ_base={"REMOTE_ADDR": "203.0.113.77"})
    login(client, owner)
    assert actions(owner.account_id) == ["login", "login-failed"]
    failed = AuditEntry.get(AuditEntry.action == "login-failed")
    assert failed.ip_anon == "203.0.113.0" and "203.0.113.77" not in repr(failed.__data__)


def test_password_change_is_audited(owner_client, owner):
    post(owner_client, "/profile/password", {"current_password": PASSWORD, "new_password": "another long secret 42"})
    assert "password-changed" in actions(owner.account_id)


def test_owner_reads_the_activity_log_and_members_cannot(app, client, owner_client, owner):
    staff = make_user(email="staff@operator.example")
    User.update(is_staff=True).where(User.id == staff.id).execute()
    staff = User.get_by_id(staff.id)
    with app.test_request_context():
        audit.record("staff-view", owner.account_id, target="contacts", reason="Ticket 4711: <b>bounces</b>",
                     actor=staff)
    page = owner_client.get("/account/activity").get_data(as_text=True)
    assert "staff@operator.example" in page and "operator staff" in page
    assert "Ticket 4711: &lt;b&gt;bounces&lt;/b&gt;" in page
    member = make_user(account=owner.account, email="member@acme.example", role="member")
    login(client, member)
    assert client.get("/account/activity").status_code == 403


def test_entries_cannot_be_changed_or_deleted_one_by_one(app, owner):
    with app.test_request_context():
        entry = audit.record("login", owner.account_id, actor=owner)
    entry.reason = "rewritten"
    with pytest.raises(AppendOnly):
        entry.save()
    with pytest.raises(AppendOnly):
        entry.delete_instance()
    assert AuditEntry.get_by_id(entry.id).reason == ""
