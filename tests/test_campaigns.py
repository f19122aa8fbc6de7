"""Campaigns in the browser: index, editor with live preview and recipient count, the message a contact
receives, duplicate, delete, test send, schedule, send now, pause/resume/cancel and the live progress page."""
import datetime
import html
import re
import zoneinfo

import pytest

from sendtex import audience
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery, Layout, SendingDomain
from sendtex.models.contacts import Contact, MailingList, Segment
from sendtex.models.mail import OutboxMessage
from tests.conftest import make_account, make_user, post

HTMX = {"HX-Request": "true"}


def text(response):
    """The response body as a person reads it (entities decoded)."""
    return html.unescape(response.get_data(as_text=True))


def add_contacts(app, account, mailing_list, addresses, **values):
    """Subscribed, active contacts of the list (first name from the address)."""
    with app.app_context():
        fields = audience.FieldSet(account.id)
        return [audience.create_contact(fields, {"email": address, "first_name": address.split("@")[0].title(),
                                                 **values}, [mailing_list.id]) for address in addresses]


def make_campaign(account, **fields):
    """A campaign of the account that could be sent from acme.example."""
    values = dict(name="Spring news", subject="Hello {{ contact.first_name | default('there') }}",
                  from_name="Acme", from_email="news@acme.example",
                  html='<p>Hi {{ contact.first_name | default("there") }},</p>'
                       '<p><a href="https://acme.example/">Shop</a></p>')
    values.update(fields)
    return Campaign.create(account=account, **values)


def editor_data(**changes):
    """A complete editor form."""
    data = {"name": "Spring news", "subject": "Hello {{ contact.first_name | default('there') }}",
            "preheader": "Our spring offers", "from_name": "Acme", "from_local": "news",
            "from_domain": "acme.example", "reply_to": "", "list_ids": [], "segment": "", "layout": "",
            "html": '<p>Hi {{ contact.first_name | default("there") }}</p>', "text": "",
            "track_opens": "y", "track_clicks": "y"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def account(owner):
    account = owner.account
    account.daily_quota = 10_000
    account.save()
    SendingDomain.create(account=account, domain="acme.example", verified_at=utcnow())
    return account


@pytest.fixture
def news(app, account):
    """A list with three subscribed contacts."""
    mailing_list = MailingList.create(account=account, name="News")
    add_contacts(app, account, mailing_list, ["ann@example.com", "bob@example.com", "cy@example.com"])
    return mailing_list


@pytest.fixture
def campaign(account, news):
    return make_campaign(account, list_ids=[news.id])


def other_account_objects(app):
    """A list, segment, layout and contact of another account."""
    other = make_account("Other")
    make_user(other)
    their_list = MailingList.create(account=other, name="Their list")
    contact = add_contacts(app, other, their_list, ["theirs@example.com"])[0]
    return {"list": their_list, "segment": Segment.create(account=other, name="Their segment"),
            "layout": Layout.create(account=other, name="Their layout", html="<div>{{ content }}</div>"),
            "contact": contact, "account": other}


# Index and creating


def test_index_invites_to_create_a_campaign(owner_client, account):
    full, fragment = owner_client.get("/campaigns"), owner_client.get("/campaigns", headers=HTMX)
    assert full.status_code == fragment.status_code == 200
    assert "<html" in text(full) and "<html" not in text(fragment)
    assert "You have no campaigns yet." in text(fragment)
    assert 'id="campaign-create-form"' in text(fragment)


def test_index_shows_own_campaigns_with_status_and_counts(owner_client, account):
    make_campaign(account, name="Sent one", status="sent", total=120, sent=118, failed=2, started_at=utcnow(),
                  finished_at=utcnow())
    make_campaign(account, name="Still a draft")
    make_campaign(make_account("Other"), name="Not mine")
    page = text(owner_client.get("/campaigns"))
    row = page.split("Sent one")[1].split("</tr>")[0]
    assert "Sent" in row and ">120<" in row and ">118<" in row and ">2<" in row
    assert "Still a draft" in page and "Draft" in page
    assert "Not mine" not in page


def test_create_campaign_opens_its_editor(owner_client, account):
    response = post(owner_client, "/campaigns", {"name": "  Spring   news "})
    created = Campaign.get(Campaign.account == account.id)
    assert response.status_code == 303 and response.headers["Location"] == f"/campaigns/{created.id}"
    assert (created.name, created.status) == ("Spring news", "draft")
    assert "The campaign “Spring news” is created." in text(owner_client.get(response.headers["Location"]))


def test_create_campaign_with_htmx_navigates_to_the_editor(owner_client, account):
    response = post(owner_client, "/campaigns", {"name": "Spring"}, htmx=True)
    assert response.status_code == 200
    assert response.headers["HX-Redirect"] == f"/campaigns/{Campaign.get().id}"


@pytest.mark.parametrize("htmx", [False, True])
def test_create_campaign_without_name_is_refused(owner_client, account, htmx):
    response = post(owner_client, "/campaigns", {"name": "   "}, htmx=htmx)
    assert response.status_code == 422
    assert "Give the campaign a name." in text(response)
    assert ("<html" in text(response)) is not htmx
    assert Campaign.select().count() == 0


def test_navigation_and_dashboard_link_to_campaigns(owner_client):
    assert text(owner_client.get("/app")).count('href="/campaigns"') >= 2


# The editor


def test_editor_offers_own_lists_segments_layouts_and_verified_domains(owner_client, account, campaign, news):
    SendingDomain.create(account=account, domain="unverified.example")
    Segment.create(account=account, name="Dutch readers")
    Layout.create(account=account, name="Brand", html="<div>{{ content }}</div>")
    other_account_objects(owner_client.application)
    page = text(owner_client.get(f"/campaigns/{campaign.id}"))
    domains = page.split('name="from_domain"')[1].split("</select>")[0]
    assert "acme.example" in domains and "unverified.example" not in domains
    assert 'value="news"' in page  # the local part of the stored from address
    assert "News" in page and "Dutch readers" in page and "Brand" in page
    assert "Their list" not in page and "Their segment" not in page and "Their layout" not in page
    assert "3 contacts would receive this campaign now." in page


def test_editor_without_verified_domain_links_to_the_domains_page(owner_client, owner):
    campaign = make_campaign(owner.account, from_email="")
    page = text(owner_client.get(f"/campaigns/{campaign.id}"))
    assert "You have no verified sending domain yet" in page
    assert 'href="/domains"' in page and 'name="from_domain"' not in page


def test_save_campaign(app, owner_client, account, campaign, news):
    segment = Segment.create(account=account, name="Everyone")
    layout = Layout.create(account=account, name="Brand", html="<div>{{ content }}</div>")
    data = editor_data(name="Summer news", reply_to="Replies@Acme.example", list_ids=[str(news.id)],
                       segment=str(segment.id), layout=str(layout.id), html="<h1>Summer</h1><p>Sun and sea.</p>",
                       track_clicks=None)
    response = post(owner_client, f"/campaigns/{campaign.id}", data)
    assert response.status_code == 303 and response.headers["Location"] == f"/campaigns/{campaign.id}"
    saved = Campaign.get_by_id(campaign.id)
    assert (saved.name, saved.from_email, saved.reply_to) == (
        "Summer news", "news@acme.example", "replies@acme.example")
    assert (saved.list_ids, saved.segment_id, saved.layout_id) == ([news.id], segment.id, layout.id)
    assert (saved.track_opens, saved.track_clicks, saved.text_by_hand) == (True, False, False)
    assert "Summer" in saved.text and "Sun and sea." in saved.text and "<" not in saved.text
    assert "The campaign “Summer news” is saved." in text(owner_client.get(f"/campaigns/{campaign.id}"))


def test_save_campaign_with_htmx_answers_the_editor(owner_client, account, campaign):
    response = post(owner_client, f"/campaigns/{campaign.id}", editor_data(subject="New subject"), htmx=True)
    assert response.status_code == 200
    body = text(response)
    assert body.startswith("<form") or '<form id="campaign-form"' in body.split("<div id=\"flashes\"")[0]
    assert "<html" not in body and "is saved." in body
    assert Campaign.get_by_id(campaign.id).subject == "New subject"


def test_plain_text_written_by_hand_is_kept(owner_client, account, campaign):
    post(owner_client, f"/campaigns/{campaign.id}", editor_data(text_by_hand="y", text="My own words."))
    assert Campaign.get_by_id(campaign.id).text == "My own words."


@pytest.mark.parametrize("changes, message", [
    ({"name": ""}, "Give the campaign a name."),
    ({"from_domain": "unverified.example"}, "The from address must be on one of your verified sending domains."),
    ({"from_domain": "elsewhere.example"}, "The from address must be on one of your verified sending domains."),
    ({"from_local": "not an address"}, "This is not a valid e-mail address"),
    ({"reply_to": "nobody"}, "This is not a valid e-mail address"),
    ({"segment": "abc"}, "Invalid Choice"),
])
@pytest.mark.parametrize("htmx", [False, True])
def test_save_refuses_bad_input(owner_client, account, campaign, changes, message, htmx):
    SendingDomain.create(account=account, domain="unverified.example")
    response = post(owner_client, f"/campaigns/{campaign.id}", editor_data(**changes), htmx=htmx)
    assert response.status_code == 422
    assert message in text(response)
    assert ("<html" in text(response)) is not htmx
    assert Campaign.get_by_id(campaign.id).name == "Spring news"


def test_stored_from_address_on_a_domain_no_longer_verified_must_change(owner_client, account, campaign):
    SendingDomain.update(verified_at=None).execute()
    SendingDomain.create(account=account, domain="new.example", verified_at=utcnow())
    page = text(owner_client.get(f"/campaigns/{campaign.id}"))
    assert "acme.example (not verified)" in page
    response = post(owner_client, f"/campaigns/{campaign.id}", editor_data())
    assert response.status_code == 422
    assert "The from address must be on one of your verified sending domains." in text(response)


@pytest.mark.parametrize("kind, message", [("list", "Choose among your own lists."),
                                           ("segment", "Choose one of your segments."),
                                           ("layout", "Choose one of your layouts.")])
def test_another_accounts_list_segment_or_layout_is_refused(app, owner_client, account, campaign, kind, message):
    theirs = other_account_objects(app)[kind]
    key = {"list": "list_ids"}.get(kind, kind)
    response = post(owner_client, f"/campaigns/{campaign.id}", editor_data(**{key: str(theirs.id)}))
    assert response.status_code == 422 and message in text(response)
    saved = Campaign.get_by_id(campaign.id)
    assert (saved.list_ids, saved.segment_id, saved.layout_id) == (campaign.list_ids, None, None)


def test_template_errors_are_shown_with_their_line(owner_client, account, campaign):
    broken = "<p>one</p>\n<p>{{ contact.first_name </p>"
    response = post(owner_client, f"/campaigns/{campaign.id}", editor_data(html=broken))
    assert response.status_code == 422
    assert re.search(r"Line 2: ", text(response))
    assert "{{ contact.first_name </p>" not in Campaign.get_by_id(campaign.id).html


def test_merge_tag_naming_an_unknown_field_is_refused(owner_client, account, campaign):
    response = post(owner_client, f"/campaigns/{campaign.id}", editor_data(subject="Hi {{ contact.shoe_size }}"))
    assert response.status_code == 422
    assert "shoe_size" in text(response)


@pytest.mark.parametrize("status", ["sending", "paused", "sent", "cancelled", "failed"])
def test_a_campaign_past_scheduling_is_read_only(owner_client, account, campaign, status):
    Campaign.update(status=status).execute()
    page = owner_client.get(f"/campaigns/{campaign.id}")
    assert page.status_code == 200
    assert "can no longer be changed. Duplicate it to send a changed copy." in text(page)
    assert 'id="campaign-form"' not in text(page)
    for url, data in [(f"/campaigns/{campaign.id}", editor_data(name="Changed")),
                      (f"/campaigns/{campaign.id}/draft", editor_data(html="<p>Changed</p>")),
                      (f"/campaigns/{campaign.id}/delete", {}), (f"/campaigns/{campaign.id}/schedule", {}),
                      (f"/campaigns/{campaign.id}/send", {})]:
        response = post(owner_client, url, data)
        assert response.status_code == 409, url
        assert "can no longer be changed" in text(response)
    stored = Campaign.get_by_id(campaign.id)
    assert (stored.name, stored.status) == ("Spring news", status)


def test_names_and_subjects_are_shown_escaped(owner_client, account):
    campaign = make_campaign(account, name="<script>alert(1)</script>", subject="<img src=x onerror=alert(2)>")
    for url in ["/campaigns", f"/campaigns/{campaign.id}"]:
        body = owner_client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "<img src=x onerror" not in body
    Campaign.update(status="sent").execute()
    body = owner_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    assert "<script>alert(1)</script>" not in body and "<img src=x onerror" not in body


# Live preview


def test_preview_is_a_sandboxed_document_of_its_own(owner_client, account, campaign):
    layout = Layout.create(account=account, name="Brand", html='<div class="brand">{{ content }}</div>')
    Campaign.update(layout=layout.id, html='<p style="color:red">Hi {{ contact.first_name | default("there") }}</p>'
                                           "<script>alert(1)</script>").execute()
    page = owner_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    iframe = re.search(r"<iframe[^>]*>", page).group(0)
    assert re.search(r"\ssandbox[\s=>]", iframe)
    src = html.unescape(re.search(r'src="([^"]+)"', iframe).group(1))
    assert src.startswith(f"/campaigns/{campaign.id}/preview?")
    response = owner_client.get(src)
    assert response.status_code == 200 and response.mimetype == "text/html"
    policy = response.headers["Content-Security-Policy"]
    assert policy.split(";")[0].strip() == "sandbox" and "default-src 'none'" in policy
    assert "script-src" not in policy and "style-src 'unsafe-inline'" in policy
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    body = response.get_data(as_text=True)
    assert '<div class="brand"><p style="color:red">Hi there</p>' in body


def test_draft_endpoint_saves_the_content_and_answers_a_fresh_iframe(owner_client, account, campaign):
    before = owner_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    old_src = re.search(r'<iframe[^>]*src="([^"]+)"', before).group(1)
    response = post(owner_client, f"/campaigns/{campaign.id}/draft", editor_data(html="<p>Typed just now</p>"),
                    htmx=True)
    assert response.status_code == 200
    iframe = re.search(r"<iframe[^>]*>", response.get_data(as_text=True)).group(0)
    assert "sandbox" in iframe and old_src not in iframe
    assert Campaign.get_by_id(campaign.id).html == "<p>Typed just now</p>"
    assert "Typed just now" in owner_client.get(html.unescape(re.search(r'src="([^"]+)"', iframe).group(1))).get_data(
        as_text=True)


def test_draft_endpoint_shows_template_errors_and_keeps_the_last_good_content(owner_client, account, campaign):
    response = post(owner_client, f"/campaigns/{campaign.id}/draft", editor_data(html="<p>{% if %}</p>"), htmx=True)
    assert response.status_code == 422
    assert "Line 1: " in text(response) and "<iframe" in text(response)
    assert Campaign.get_by_id(campaign.id).html == campaign.html


def test_preview_of_another_accounts_contact_is_not_found(app, owner_client, account, campaign):
    theirs = other_account_objects(app)["contact"]
    assert owner_client.get(f"/campaigns/{campaign.id}/preview?contact={theirs.id}").status_code == 404
    assert owner_client.get(f"/campaigns/{campaign.id}/preview?contact=abc").status_code == 404


# Recipient count


def test_recipient_count_follows_the_chosen_lists(app, owner_client, account, news):
    other_list = MailingList.create(account=account, name="Offers")
    add_contacts(app, account, other_list, ["ann@example.com".replace("ann", "dee")])
    with app.app_context():
        audience.set_memberships([Contact.get(Contact.email == "ann@example.com").id], [other_list.id], "subscribed")
    response = post(owner_client, "/campaigns/recipients", editor_data(list_ids=[str(news.id), str(other_list.id)]),
                    htmx=True)
    assert response.status_code == 200
    assert "4 contacts would receive this campaign now." in text(response)  # ann once
    response = post(owner_client, "/campaigns/recipients", editor_data(list_ids=[]), htmx=True)
    assert "Choose lists or a segment" in text(response)


def test_recipient_count_refuses_another_accounts_list(app, owner_client, account):
    theirs = other_account_objects(app)["list"]
    response = post(owner_client, "/campaigns/recipients", editor_data(list_ids=[str(theirs.id)]), htmx=True)
    assert response.status_code == 422
    assert "Choose among your own lists." in text(response) and "would receive" not in text(response)


def test_unsubscribed_and_blocked_contacts_are_not_counted(app, owner_client, account, campaign):
    Contact.update(status="blocklisted").where(Contact.email == "bob@example.com").execute()
    assert "2 contacts would receive" in text(owner_client.get(f"/campaigns/{campaign.id}"))


# The message a contact receives


@pytest.mark.parametrize("htmx", [False, True])
def test_view_the_message_a_contact_receives(app, owner_client, account, campaign, htmx):
    response = post(owner_client, f"/campaigns/{campaign.id}/message", {"email": "Bob@Example.com"}, htmx=htmx)
    assert response.status_code == 200
    body = text(response)
    assert ("<html" in body) is not htmx
    assert "Hello Bob" in body
    bob = Contact.get(Contact.email == "bob@example.com")
    iframe = re.search(r"<iframe[^>]*>", body.split('id="as-contact"')[1]).group(0)
    assert "sandbox" in iframe and f"contact={bob.id}" in iframe
    assert "Hi Bob" in owner_client.get(re.search(r'src="([^"]+)"', iframe).group(1)).get_data(as_text=True)
    assert "Hi Bob" in body.split('class="mail-body"')[1]  # the plain-text part


def test_view_as_contact_says_when_the_contact_would_not_receive_it(app, owner_client, account, campaign):
    Contact.update(status="unsubscribed").where(Contact.email == "bob@example.com").execute()
    body = text(post(owner_client, f"/campaigns/{campaign.id}/message", {"email": "bob@example.com"}))
    assert "would not receive it" in body


@pytest.mark.parametrize("email", ["nobody@example.com", "theirs@example.com"])
def test_view_as_unknown_contact_is_refused(app, owner_client, account, campaign, email):
    other_account_objects(app)
    response = post(owner_client, f"/campaigns/{campaign.id}/message", {"email": email}, htmx=True)
    assert response.status_code == 422
    assert "None of your contacts has this e-mail address." in text(response)


def test_view_as_contact_with_encrypted_email(app, owner_client, account, campaign):
    from sendtex.models.contacts import Field

    with app.app_context():
        Field.ensure_builtins(account.id)
    Field.update(encrypted=True).where((Field.account == account.id) & (Field.key == "email")).execute()
    with app.app_context():
        add_contacts(app, account, MailingList.get_by_id(campaign.list_ids[0]), ["secret@example.com"])
    response = post(owner_client, f"/campaigns/{campaign.id}/message", {"email": "secret@example.com"})
    assert "Hello Secret" in text(response)


# Duplicate and delete


@pytest.mark.parametrize("htmx", [False, True])
def test_duplicate_makes_a_draft_copy(owner_client, account, campaign, htmx):
    Campaign.update(status="sent", total=3, sent=3, track_clicks=False, started_at=utcnow()).execute()
    response = post(owner_client, f"/campaigns/{campaign.id}/duplicate", htmx=htmx)
    copy = Campaign.select().order_by(Campaign.id.desc()).get()
    location = response.headers["HX-Redirect" if htmx else "Location"]
    assert location == f"/campaigns/{copy.id}" and copy.id != campaign.id
    assert (copy.name, copy.status, copy.total, copy.sent, copy.started_at) == (
        "Copy of Spring news", "draft", 0, 0, None)
    assert (copy.subject, copy.html, copy.list_ids, copy.from_email, copy.track_clicks) == (
        campaign.subject, campaign.html, campaign.list_ids, campaign.from_email, False)


@pytest.mark.parametrize("htmx", [False, True])
def test_delete_a_draft(owner_client, account, campaign, htmx):
    response = post(owner_client, f"/campaigns/{campaign.id}/delete", htmx=htmx)
    assert response.headers["HX-Redirect" if htmx else "Location"] == "/campaigns"
    assert not Campaign.select().exists()


# Test send


@pytest.mark.parametrize("addresses, message", [
    ("a@example.com b@example.com c@example.com d@example.com e@example.com f@example.com",
     "Send a test to at most 5 addresses."),
    ("a@example.com, not-an-address", "“not-an-address”"),
    ("", "Give at least one address."),
])
@pytest.mark.parametrize("htmx", [False, True])
def test_test_send_refuses_bad_addresses(owner_client, account, campaign, addresses, message, htmx):
    response = post(owner_client, f"/campaigns/{campaign.id}/test", {"addresses": addresses}, htmx=htmx)
    assert response.status_code == 422
    assert message in text(response)
    assert ("<html" in text(response)) is not htmx
    assert not OutboxMessage.select().exists()


def test_test_send_needs_a_verified_from_address(owner_client, account, campaign):
    Campaign.update(from_email="news@elsewhere.example").execute()
    response = post(owner_client, f"/campaigns/{campaign.id}/test", {"addresses": "me@example.com"}, htmx=True)
    assert response.status_code == 422
    assert "The from address must be on one of your verified sending domains." in text(response)


def test_test_send_with_an_unknown_contact_is_refused(owner_client, account, campaign):
    response = post(owner_client, f"/campaigns/{campaign.id}/test",
                    {"addresses": "me@example.com", "contact_email": "nobody@example.com"}, htmx=True)
    assert response.status_code == 422 and "None of your contacts has this e-mail address." in text(response)


@pytest.mark.parametrize("htmx", [False, True])
def test_test_send_reaches_the_addresses(app, owner_client, account, campaign, htmx):
    response = post(owner_client, f"/campaigns/{campaign.id}/test",
                    {"addresses": "me@example.com\nBoss@Example.com", "contact_email": "bob@example.com"}, htmx=htmx)
    assert response.status_code == 200
    assert "A test was sent to me@example.com, boss@example.com." in text(response)
    assert ("<html" in text(response)) is not htmx
    sent = [entry for entry in OutboxMessage.select() if entry.account_id == account.id]
    assert len(sent) == 2
    assert all("Hello Bob" in entry.subject for entry in sent)
    assert Campaign.get_by_id(campaign.id).status == "draft"


# Schedule


def test_schedule_form_defaults_to_the_campaigns_time_zone(owner_client, account, campaign):
    Campaign.update(timezone="Europe/Amsterdam").execute()
    page = text(owner_client.get(f"/campaigns/{campaign.id}/schedule"))
    assert '<option selected value="Europe/Amsterdam">' in page or 'value="Europe/Amsterdam" selected' in page
    assert page.count("<option") > 300


@pytest.mark.parametrize("htmx", [False, True])
def test_schedule_converts_local_time_to_utc(owner_client, account, campaign, htmx):
    day = (utcnow() + datetime.timedelta(days=30)).date()
    response = post(owner_client, f"/campaigns/{campaign.id}/schedule",
                    {"date": day.isoformat(), "time": "09:30", "timezone": "America/New_York"}, htmx=htmx)
    assert response.headers["HX-Redirect" if htmx else "Location"] == f"/campaigns/{campaign.id}"
    stored = Campaign.get_by_id(campaign.id)
    expected = datetime.datetime.combine(day, datetime.time(9, 30), zoneinfo.ZoneInfo("America/New_York"))
    assert stored.scheduled_at == expected.astimezone(datetime.UTC).replace(tzinfo=None)
    assert (stored.status, stored.timezone) == ("scheduled", "America/New_York")
    page = text(owner_client.get(f"/campaigns/{campaign.id}"))
    assert f"Scheduled to be sent on {day.isoformat()} 09:30 (America/New_York)" in page
    assert 'id="campaign-form"' in page  # a scheduled campaign can still be edited


@pytest.mark.parametrize("data, message", [
    ({"date": "2020-01-01", "time": "09:00", "timezone": "UTC"}, "This moment has passed."),
    ({"date": "2999-01-01", "time": "09:00", "timezone": "Mars/Olympus_Mons"}, "Choose a time zone from the list."),
    ({"date": "", "time": "09:00", "timezone": "UTC"}, "Choose a date."),
    ({"date": "2999-01-01", "time": "25:00", "timezone": "UTC"}, "Not a valid time value."),
])
@pytest.mark.parametrize("htmx", [False, True])
def test_schedule_refuses_bad_moments(owner_client, account, campaign, data, message, htmx):
    response = post(owner_client, f"/campaigns/{campaign.id}/schedule", data, htmx=htmx)
    assert response.status_code == 422
    assert message in text(response)
    assert Campaign.get_by_id(campaign.id).status == "draft"


def test_schedule_refuses_a_campaign_that_could_not_start(owner_client, account, campaign):
    Campaign.update(subject="", list_ids=[]).execute()
    response = post(owner_client, f"/campaigns/{campaign.id}/schedule",
                    {"date": "2999-01-01", "time": "09:00", "timezone": "UTC"}, htmx=True)
    assert response.status_code == 422
    body = text(response)
    assert "The campaign cannot be scheduled yet:" in body
    assert "<li>Write a subject.</li>" in body
    assert "<li>Choose the lists or the segment the campaign goes to.</li>" in body
    assert Campaign.get_by_id(campaign.id).status == "draft"


@pytest.mark.parametrize("htmx", [False, True])
def test_unschedule(owner_client, account, campaign, htmx):
    Campaign.update(status="scheduled", scheduled_at=utcnow() + datetime.timedelta(days=1)).execute()
    response = post(owner_client, f"/campaigns/{campaign.id}/unschedule", htmx=htmx)
    assert response.headers["HX-Redirect" if htmx else "Location"] == f"/campaigns/{campaign.id}"
    assert (Campaign.get_by_id(campaign.id).status, Campaign.get_by_id(campaign.id).scheduled_at) == ("draft", None)


def test_unschedule_a_draft_is_refused(owner_client, account, campaign):
    assert post(owner_client, f"/campaigns/{campaign.id}/unschedule").status_code == 409


# Send now


def test_send_now_asks_to_confirm_with_the_recipient_count(owner_client, account, campaign):
    for headers in ({}, HTMX):
        response = owner_client.get(f"/campaigns/{campaign.id}/send", headers=headers)
        assert response.status_code == 200
        assert "will be sent to 3 contacts" in text(response) and "Send to 3 contacts now" in text(response)
    assert Campaign.get_by_id(campaign.id).status == "draft"


def test_send_now_lists_why_it_cannot_start(owner_client, account, campaign):
    Campaign.update(html="", from_email="news@elsewhere.example").execute()
    page = text(owner_client.get(f"/campaigns/{campaign.id}/send"))
    assert "The campaign cannot be sent yet:" in page and "Send to" not in page
    response = post(owner_client, f"/campaigns/{campaign.id}/send")
    assert response.status_code == 422
    assert "<li>Write the content of the message.</li>" in text(response)
    assert "<li>The from address must be on one of your verified sending domains.</li>" in text(response)
    assert Campaign.get_by_id(campaign.id).status == "draft" and not Delivery.select().exists()


@pytest.mark.parametrize("htmx", [False, True])
def test_send_now_sends_the_campaign(app, owner_client, account, campaign, htmx):
    response = post(owner_client, f"/campaigns/{campaign.id}/send", htmx=htmx)
    assert response.headers["HX-Redirect" if htmx else "Location"] == f"/campaigns/{campaign.id}"
    sent = Campaign.get_by_id(campaign.id)
    assert (sent.status, sent.total, sent.sent) == ("sent", 3, 3)  # the queue runs inline in tests
    page = text(owner_client.get(f"/campaigns/{campaign.id}"))
    assert "Sent" in page and "100 %" in page and 'hx-trigger="every 1s"' not in page


# Pause, resume, cancel and the live progress


def sending_campaign(campaign, sent=1, queued=2):
    """The campaign in the middle of sending: some deliveries sent, some queued."""
    contacts = list(Contact.select().order_by(Contact.id))
    for index, contact in enumerate(contacts[:sent + queued]):
        Delivery.create(campaign=campaign, contact=contact, status="sent" if index < sent else "queued",
                        sent_at=utcnow() if index < sent else None)
    lease = utcnow() + datetime.timedelta(minutes=5)  # a worker holds it: nothing takes it over during the test
    Campaign.update(status="sending", started_at=utcnow(), lease_until=lease).execute()
    stored = Campaign.get_by_id(campaign.id)
    stored.recount()
    return stored


@pytest.mark.parametrize("htmx", [False, True])
def test_progress_page_polls_while_sending(owner_client, account, campaign, htmx):
    sending_campaign(campaign)
    response = owner_client.get(f"/campaigns/{campaign.id}", headers=HTMX if htmx else {})
    body = text(response)
    assert 'hx-trigger="every 1s"' in body and f"/campaigns/{campaign.id}/progress?seen=sending" in body
    assert '<progress max="100" value="33"' in body
    assert re.search(r'class="sent">1<', body) and re.search(r'class="remaining">2<', body)
    assert "Pause" in body and "Cancel the campaign" in body


def test_progress_fragment_stops_polling_and_updates_the_actions_when_done(owner_client, account, campaign):
    sending_campaign(campaign)
    polled = text(owner_client.get(f"/campaigns/{campaign.id}/progress?seen=sending", headers=HTMX))
    assert 'hx-trigger="every 1s"' in polled and 'id="campaign-actions"' not in polled
    Delivery.update(status="sent", sent_at=utcnow()).execute()
    Campaign.update(status="sent", finished_at=utcnow()).execute()
    Campaign.get_by_id(campaign.id).recount()
    polled = text(owner_client.get(f"/campaigns/{campaign.id}/progress?seen=sending", headers=HTMX))
    assert 'hx-trigger' not in polled.split('id="campaign-actions"')[0]
    assert '<progress max="100" value="100"' in polled
    assert 'id="campaign-actions" class="actions" hx-swap-oob="true"' in polled and "Pause" not in polled


def test_status_reason_is_shown(owner_client, account, campaign):
    Campaign.update(status="paused", status_reason="Paused automatically: 9 of the last 10 messages failed.").execute()
    body = text(owner_client.get(f"/campaigns/{campaign.id}"))
    assert "Paused automatically: 9 of the last 10 messages failed." in body and "Resume" in body


@pytest.mark.parametrize("htmx", [False, True])
def test_pause_and_cancel(owner_client, account, campaign, htmx):
    sending_campaign(campaign)
    response = post(owner_client, f"/campaigns/{campaign.id}/pause", htmx=htmx)
    if htmx:
        assert response.status_code == 200 and 'id="campaign-status"' in text(response) and "Resume" in text(response)
    else:
        assert response.status_code == 303
    assert Campaign.get_by_id(campaign.id).status == "paused"
    response = post(owner_client, f"/campaigns/{campaign.id}/cancel", htmx=htmx)
    assert response.status_code == (200 if htmx else 303)
    cancelled = Campaign.get_by_id(campaign.id)
    assert (cancelled.status, cancelled.sent, cancelled.skipped) == ("cancelled", 1, 2)


def test_resume_sends_the_rest(owner_client, account, campaign):
    sending_campaign(campaign)
    post(owner_client, f"/campaigns/{campaign.id}/pause")
    response = post(owner_client, f"/campaigns/{campaign.id}/resume", htmx=True)
    assert response.status_code == 200
    assert (Campaign.get_by_id(campaign.id).status, Campaign.get_by_id(campaign.id).sent) == ("sent", 3)


@pytest.mark.parametrize("action, message", [
    ("pause", "Only a campaign that is sending can be paused."),
    ("resume", "Only a paused campaign can be resumed."),
    ("cancel", "Only a scheduled, sending or paused campaign can be cancelled."),
])
@pytest.mark.parametrize("htmx", [False, True])
def test_actions_that_do_not_fit_the_status_are_refused(owner_client, account, campaign, action, message, htmx):
    Campaign.update(status="sent").execute()
    response = post(owner_client, f"/campaigns/{campaign.id}/{action}", htmx=htmx)
    assert response.status_code == 422
    assert message in text(response)
    assert Campaign.get_by_id(campaign.id).status == "sent"


# Every page as a full page and as its htmx fragment


@pytest.mark.parametrize("path, fragment_marker", [
    ("", 'id="campaign-form"'), ("/message", 'id="as-contact"'), ("/test", 'id="test-send"'),
    ("/schedule", 'id="schedule"'), ("/send", 'id="send-now"'),
])
def test_pages_answer_full_page_or_fragment(owner_client, account, campaign, path, fragment_marker):
    full = owner_client.get(f"/campaigns/{campaign.id}{path}")
    fragment = owner_client.get(f"/campaigns/{campaign.id}{path}", headers=HTMX)
    assert full.status_code == fragment.status_code == 200
    assert "<html" in full.get_data(as_text=True) and "<html" not in fragment.get_data(as_text=True)
    assert fragment_marker in text(full) and fragment_marker in text(fragment)
    assert "HX-Request" in full.headers["Vary"]


def test_progress_without_htmx_is_the_campaign_page(owner_client, account, campaign):
    sending_campaign(campaign)
    page = owner_client.get(f"/campaigns/{campaign.id}/progress")
    assert page.status_code == 200 and "<html" in page.get_data(as_text=True) and "What was sent" in text(page)


def test_the_sent_campaigns_page_shows_its_content_sandboxed(owner_client, account, campaign):
    Campaign.update(status="sent", html="<p>Sent content</p>").execute()
    page = owner_client.get(f"/campaigns/{campaign.id}").get_data(as_text=True)
    iframes = re.findall(r"<iframe[^>]*>", page)
    assert iframes and all(re.search(r"\ssandbox[\s=>]", iframe) for iframe in iframes)
    assert "<p>Sent content</p>" not in page  # only inside the sandboxed document
    assert "Sent content" in owner_client.get(html.unescape(re.search(r'src="([^"]+)"', iframes[0]).group(1))).get_data(
        as_text=True)


def test_preview_of_a_campaign_with_template_errors_lists_them(owner_client, account, campaign):
    Campaign.update(subject="Hi {{ contact.shoe_size }}").execute()
    response = owner_client.get(f"/campaigns/{campaign.id}/preview")
    assert response.status_code == 200 and "sandbox" in response.headers["Content-Security-Policy"]
    assert "Subject, line 1: Unknown field “shoe_size”" in text(response)


def test_draft_endpoint_refuses_another_accounts_layout(app, owner_client, account, campaign):
    theirs = other_account_objects(app)["layout"]
    response = post(owner_client, f"/campaigns/{campaign.id}/draft", editor_data(layout=str(theirs.id)), htmx=True)
    assert response.status_code == 422 and "Choose one of your layouts." in text(response)
    assert Campaign.get_by_id(campaign.id).layout_id is None


def test_hand_written_text_is_checked_too(owner_client, account, campaign):
    response = post(owner_client, f"/campaigns/{campaign.id}",
                    editor_data(text_by_hand="y", text="Hi\n{{ contact.first_name | shout }}"))
    assert response.status_code == 422 and "Line 2: Unknown filter “shout”" in text(response)


def test_editing_a_scheduled_campaign_keeps_it_scheduled(owner_client, account, campaign):
    Campaign.update(status="scheduled", scheduled_at=utcnow() + datetime.timedelta(days=1)).execute()
    response = post(owner_client, f"/campaigns/{campaign.id}", editor_data(subject="Changed"))
    assert response.status_code == 303
    assert (Campaign.get_by_id(campaign.id).status, Campaign.get_by_id(campaign.id).subject) == ("scheduled", "Changed")


def test_a_campaign_that_started_meanwhile_is_not_overwritten(owner_client, account, campaign, monkeypatch):
    import sendtex.campaigns.campaigns as views

    real_check = views._check_templates

    def start_meanwhile(form, account_id):  # the scheduler starts the campaign while the form is checked
        Campaign.update(status="sending", total=3).where(Campaign.id == campaign.id).execute()
        return real_check(form, account_id)

    monkeypatch.setattr(views, "_check_templates", start_meanwhile)
    response = post(owner_client, f"/campaigns/{campaign.id}", editor_data(subject="Too late"))
    assert response.status_code == 409
    stored = Campaign.get_by_id(campaign.id)
    assert (stored.status, stored.total, stored.subject) == ("sending", 3, campaign.subject)


def test_test_sends_are_limited_per_hour(owner_client, account, campaign):
    from sendtex.campaigns.launch import TEST_SEND_BUCKET, TEST_SENDS_PER_HOUR
    from sendtex.models.ratelimit import RateHit

    for _sent in range(TEST_SENDS_PER_HOUR):
        RateHit.hit(TEST_SEND_BUCKET, str(account.id))
    response = post(owner_client, f"/campaigns/{campaign.id}/test", {"addresses": "me@example.com"}, htmx=True)
    assert response.status_code == 429
    assert "You sent many tests in the last hour." in text(response)
    assert not OutboxMessage.select().where(OutboxMessage.account == account.id).exists()


def test_recipient_count_of_a_segment(app, owner_client, account, news):
    Contact.update(first_name="Zed").where(Contact.email == "cy@example.com").execute()
    segment = Segment.create(account=account, name="Zeds",
                             conditions=[{"field": "first_name", "op": "eq", "value": "Zed"}])
    response = post(owner_client, "/campaigns/recipients", editor_data(segment=str(segment.id)), htmx=True)
    assert response.status_code == 200 and "1 contact would receive this campaign now." in text(response)
