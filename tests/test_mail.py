"""System mail: into the local Maildir outbox without a relay, through a real SMTP server with one."""
import email
from email import policy

import pytest

from sendtex.mail.transport import DeliveryError, read_from_outbox, readable_text, send_system_mail
from sendtex.models.mail import OutboxMessage
from tests.conftest import free_port, make_app, make_user, post


def test_without_relay_mail_lands_in_the_outbox(app, owner):
    with app.app_context():
        send_system_mail("ann@example.com", "Grüße", "Hallo Ann\nzweite Zeile", account_id=owner.account_id)
    entry = OutboxMessage.get()
    assert (entry.recipient, entry.subject, entry.account_id) == ("ann@example.com", "Grüße", owner.account_id)
    with app.app_context():
        message = read_from_outbox(entry)
    assert message["Message-ID"] and message["Date"] and message["Auto-Submitted"] == "auto-generated"
    assert readable_text(message).strip() == "Hallo Ann\nzweite Zeile"


def test_outbox_page_lists_and_opens_the_message(app, owner_client, owner):
    with app.app_context():
        send_system_mail("bob@example.com", "Your report", "Numbers inside", account_id=owner.account_id)
    listing = owner_client.get("/outbox").get_data(as_text=True)
    assert "bob@example.com" in listing and "Your report" in listing
    entry = OutboxMessage.get()
    page = owner_client.get(f"/outbox/{entry.id}").get_data(as_text=True)
    assert "Numbers inside" in page


def test_outbox_entry_whose_file_vanished_is_404(app, owner_client, owner):
    with app.app_context():
        send_system_mail("bob@example.com", "Gone", "x", account_id=owner.account_id)
        entry = OutboxMessage.get()
        from sendtex.mail.transport import outbox

        outbox().remove(entry.maildir_key)
    assert owner_client.get(f"/outbox/{entry.id}").status_code == 404


@pytest.fixture
def relay_app(tmp_path, smtp_server):
    return make_app(tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp_server.port, SMTP_SECURITY="plain",
                    MAIL_FROM="Sendtex <system@sendtex.example>")


def test_with_relay_mail_goes_through_smtp(relay_app, smtp_server):
    user = make_user(email="carol@example.com")
    client = relay_app.test_client()
    response = post(client, "/reset", {"email": "carol@example.com"})
    assert response.status_code == 303
    (envelope,) = smtp_server.wait_for(1)
    assert envelope.mail_from == "system@sendtex.example" and envelope.rcpt_tos == ["carol@example.com"]
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert message["Subject"] == "Reset your Sendtex password"
    assert f"{relay_app.config['BASE_URL']}/reset/" in message.get_content()
    assert OutboxMessage.select().count() == 0
    assert user.account_id


def test_relay_down_raises_a_delivery_error(tmp_path):
    app = make_app(tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_SECURITY="plain", SMTP_TIMEOUT=2)
    with app.app_context(), pytest.raises(DeliveryError):
        send_system_mail("dan@example.com", "x", "y")


def test_relay_down_does_not_break_the_page(tmp_path):
    app = make_app(tmp_path, SMTP_HOST="127.0.0.1", SMTP_PORT=free_port(), SMTP_SECURITY="plain", SMTP_TIMEOUT=2)
    make_user(email="erin@example.com")
    response = post(app.test_client(), "/reset", {"email": "erin@example.com"})
    assert response.status_code == 303


def test_a_line_break_in_a_subject_cannot_break_the_header(app):
    from sendtex.mail.transport import build_system_message

    with app.app_context():
        message = build_system_message("reader@example.com", "Your preferences at Evil\r\nBcc: x@example.com", "Hi")
    assert message["Subject"] == "Your preferences at Evil Bcc: x@example.com" and message["Bcc"] is None
