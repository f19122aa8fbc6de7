"""The contact form: stored for staff, bad input refused with reasons, honeypot, per-network limit, the
notification mail that names nobody, and the staff pages (closed to others, answered state, delete, escaping)."""
import datetime
import email

import pytest

from sendtex.models.base import utcnow
from sendtex.models.mail import OutboxMessage
from sendtex.models.ratelimit import RateHit
from sendtex.models.website import ContactMessage
from sendtex.tasks.website import notify_contact_message
from tests.conftest import login, make_app, make_user, post

GOOD = {"last_name": "Peeters", "first_name": "Anna", "email": "Anna.Peeters@Example.com", "phone": "+32 2 123 45 67",
        "message": "Can I import contacts from a spreadsheet?"}
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def send(client, remote="198.51.100.10", **changes):
    return post(client, "/contact", {**GOOD, **changes}, environ_base={"REMOTE_ADDR": remote})


def make_message(**fields):
    values = {"last_name": "Jansen", "first_name": "Piet", "email": "piet@example.com", "message": "Hello"}
    return ContactMessage.create(**{**values, **fields})


def test_the_footer_of_every_public_page_links_the_contact_form(client):
    page = client.get("/").get_data(as_text=True)
    assert 'href="/contact"' in page and 'href="/careers"' in page
    form = client.get("/contact").get_data(as_text=True)
    for label in ("Last name", "First name", "E-mail address", "Phone (optional)", "Your message"):
        assert label in form


def test_a_sent_message_is_stored_and_the_visitor_is_thanked(client):
    response = send(client)
    assert response.status_code == 303 and response.headers["Location"] == "/contact/thanks"
    assert "Your message has reached us" in client.get("/contact/thanks").get_data(as_text=True)
    message = ContactMessage.get()
    assert (message.last_name, message.first_name, message.email, message.phone, message.message) == (
        "Peeters", "Anna", "anna.peeters@example.com", "+32 2 123 45 67", GOOD["message"])
    assert message.answered_at is None and message.language == "en"
    # The network is counted anonymised for the rate limit; the address itself is stored nowhere.
    assert [hit.key for hit in RateHit.select()] == ["198.51.100.0"]


@pytest.mark.parametrize("changes, error", [
    ({"last_name": ""}, "Enter your last name."),
    ({"first_name": "   "}, "Enter your first name."),
    ({"email": ""}, "This field is required."),
    ({"email": "anna@"}, "This is not a valid e-mail address"),
    ({"phone": "call me"}, "Enter a phone number of 6 to 15 digits"),
    ({"phone": "12"}, "Enter a phone number of 6 to 15 digits"),
    ({"message": ""}, "Write your message."),
    ({"message": "x" * 5001}, "Write at most 5000 characters."),
    ({"last_name": "x" * 101}, "Write at most 100 characters."),
])
def test_bad_input_is_refused_with_its_reason_and_nothing_typed_is_lost(client, changes, error):
    response = send(client, **changes)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Please correct the marked fields." in page and error in page
    assert GOOD["message"] in page or "message" in changes  # what was typed comes back in the form
    assert ContactMessage.select().count() == 0


def test_phone_is_optional(client):
    assert send(client, phone="").status_code == 303
    assert ContactMessage.get().phone == ""


def test_a_filled_in_honeypot_looks_like_success_but_stores_nothing(client):
    response = send(client, homepage="http://spam.example")
    assert response.status_code == 303 and response.headers["Location"] == "/contact/thanks"
    assert ContactMessage.select().count() == 0


def test_a_burst_from_one_network_gets_429_and_keeps_what_was_typed(client):
    for number in range(5):
        assert send(client, remote=f"198.51.100.{number + 1}").status_code == 303
    response = send(client, remote="198.51.100.200", message="The sixth one")  # same /24 network
    page = response.get_data(as_text=True)
    assert response.status_code == 429
    assert "Several forms were sent from your network in the last hour" in page and "The sixth one" in page
    assert ContactMessage.select().count() == 5
    assert send(client, remote="203.0.113.9").status_code == 303  # another network is not held up


def test_refused_input_does_not_use_up_the_limit(client):
    for _ in range(6):
        assert send(client, email="nope").status_code == 422
    assert send(client).status_code == 303


def test_no_notification_mail_unless_configured(client):
    assert send(client).status_code == 303
    assert OutboxMessage.select().count() == 0


def test_the_notification_mail_says_a_message_arrived_and_names_nobody(tmp_path, smtp_server):
    app = make_app(tmp_path, CONTACT_FORM_NOTIFY="team@operator.example", SMTP_HOST="127.0.0.1",
                   SMTP_PORT=smtp_server.port, SMTP_SECURITY="plain", BASE_URL="https://www.operator.example")
    assert send(app.test_client()).status_code == 303
    (envelope,) = smtp_server.wait_for(1)
    mail = email.message_from_bytes(envelope.content)
    text = mail.get_payload(decode=True).decode()
    message = ContactMessage.get()
    assert envelope.rcpt_tos == ["team@operator.example"]
    assert f"https://www.operator.example/staff/messages/{message.id}" in text
    for personal in ("Peeters", "Anna", "anna.peeters", "123 45 67", "spreadsheet"):
        assert personal not in envelope.content.decode(errors="replace")
    assert ContactMessage.get().notified_at is not None
    with app.app_context():
        notify_contact_message(message.id)  # a task run twice mails once
    assert len(smtp_server.wait_for(2, timeout=0.5)) == 1


STAFF_REQUESTS = [("get", "/staff/messages"), ("get", "/staff/messages/{id}"),
                  ("post", "/staff/messages/{id}/answered"), ("post", "/staff/messages/{id}/delete")]


@pytest.mark.parametrize("method, path", STAFF_REQUESTS)
def test_staff_pages_do_not_exist_for_visitors_or_marketers(client, method, path):
    message = make_message()
    url = path.format(id=message.id)
    assert (client.get(url) if method == "get" else post(client, url, {"answered": "1"})).status_code == 404
    login(client, make_user())
    assert (client.get(url) if method == "get" else post(client, url, {"answered": "1"})).status_code == 404
    assert ContactMessage.get_by_id(message.id).answered_at is None


def test_staff_see_unanswered_messages_first_each_newest_first(staff_client):
    now = utcnow()
    make_message(first_name="Old", received_at=now - datetime.timedelta(days=3))
    make_message(first_name="Newer", received_at=now - datetime.timedelta(days=1))
    make_message(first_name="Newest", received_at=now, answered_at=now)
    page = staff_client.get("/staff/messages").get_data(as_text=True)
    assert page.index("Newer Jansen") < page.index("Old Jansen") < page.index("Newest Jansen")
    assert "2 messages wait for an answer." in page
    assert 'href="/staff/messages"' in staff_client.get("/staff").get_data(as_text=True)


def test_staff_mark_a_message_answered_and_back(staff_client):
    message = make_message(message="Where is my invoice?")
    detail = staff_client.get(f"/staff/messages/{message.id}").get_data(as_text=True)
    assert "Where is my invoice?" in detail and "Mark as answered" in detail
    response = post(staff_client, f"/staff/messages/{message.id}/answered", {"answered": "1"})
    assert response.status_code == 303
    assert ContactMessage.get_by_id(message.id).answered_at is not None
    assert "Mark as not answered" in staff_client.get(response.headers["Location"]).get_data(as_text=True)
    post(staff_client, f"/staff/messages/{message.id}/answered", {"answered": "0"})
    assert ContactMessage.get_by_id(message.id).answered_at is None


def test_staff_delete_a_message(staff_client):
    message, other = make_message(), make_message(first_name="Kept")
    response = post(staff_client, f"/staff/messages/{message.id}/delete")
    assert response.status_code == 303 and response.headers["Location"] == "/staff/messages"
    assert [row.id for row in ContactMessage.select()] == [other.id]
    assert staff_client.get(f"/staff/messages/{message.id}").status_code == 404


def test_an_unknown_or_absurd_id_is_a_404(staff_client):
    assert staff_client.get("/staff/messages/99").status_code == 404
    assert staff_client.get(f"/staff/messages/{2**64}").status_code == 404


def test_hostile_html_in_every_field_is_shown_as_text_on_staff_pages(staff_client):
    fields = ("last_name", "first_name", "email", "phone", "message")
    message = make_message(**{name: f"{name}{HOSTILE}" for name in fields})
    for url in ("/staff/messages", f"/staff/messages/{message.id}"):
        page = staff_client.get(url).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page
    detail = staff_client.get(f"/staff/messages/{message.id}").get_data(as_text=True)
    for name in fields:
        assert f"{name}&lt;script&gt;alert(" in detail
