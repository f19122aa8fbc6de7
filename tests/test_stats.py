"""Statistics: the aggregation (idempotent, incremental, late events, one worker at a time), individual tracking
off, the campaign report with its charts and CSV, the dashboard and a contact's timeline."""
import csv
import datetime
import io
import re

import pytest
from markupsafe import escape

from sendtex import audience
from sendtex.mail import render
from sendtex.models.accounts import Account
from sendtex.models.base import utcnow
from sendtex.models.campaigns import Campaign, Delivery, Event, Link
from sendtex.models.contacts import MailingList, Subscription
from sendtex.models.stats import AccountDayStats, CampaignHourStats, CampaignStats, EngagedDelivery, LinkStats, StatsRun
from sendtex.queue import huey
from sendtex.stats import charts
from sendtex.tasks.stats import aggregate, aggregate_statistics, detach_tracking_events
from tests.conftest import login, make_account, make_user, post

BASE = "https://mail.example.org"
SALE, BLOG = "https://shop.example.com/sale", "https://blog.example.com/?q=<b>x</b>&s=\"1\""
HTML = (f'<p>See <a href="{SALE}">the sale</a> and <a href="{escape(BLOG)}">the blog</a>.</p>'
        '<p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>')
HOSTILE = '<script>alert("x")</script>'


APP_SETTINGS = {"BASE_URL": BASE}


class Sent:
    """A campaign sent to some contacts (started hours_ago), with the tracking URLs of their messages."""

    def __init__(self, app, account, names=("ann", "bob", "cat"), name="Spring sale", hours_ago=0, html=HTML):
        with app.app_context():
            fields = audience.FieldSet(account.id)
            self.list = MailingList.create(account=account, name=f"Readers of {name}")
            self.contacts = [audience.create_contact(fields, {"email": f"{who}@example.com"}, [self.list.id])
                             for who in names]
            started = utcnow() - datetime.timedelta(hours=hours_ago)
            Subscription.update(created_at=started - datetime.timedelta(days=1)).where(
                Subscription.mailing_list == self.list.id).execute()
            self.campaign = Campaign.create(account=account, name=name, subject=name, html=html, status="sent",
                                            list_ids=[self.list.id], started_at=started, finished_at=started)
            self.deliveries = [Delivery.create(campaign=self.campaign, contact=contact, status="sent", sent_at=started)
                               for contact in self.contacts]
            self.campaign.recount()
            compiled = render.compile_campaign(self.campaign, fields)
            self.messages = [compiled.render(audience.read_values(contact, fields)[0], delivery.id, contact.uid)
                             for contact, delivery in zip(self.contacts, self.deliveries)]

    def urls(self, index, kind):
        found = re.findall(r'(?:href|src)="(' + re.escape(BASE) + f'/{kind}/[^"]+)"', self.messages[index].html)
        return [url[len(BASE):] for url in found]

    def open(self, client, index):
        assert client.get(self.urls(index, "t/o")[0]).status_code == 200

    def click(self, client, index, link=0):
        assert client.get(self.urls(index, "t/c")[link]).status_code == 302

    def unsubscribe(self, client, index):
        assert client.post(self.urls(index, "u")[0], data={"List-Unsubscribe": "One-Click"}).status_code == 200


@pytest.fixture
def account(app):
    return make_account("Acme Shop")


@pytest.fixture
def sent(app, account):
    return Sent(app, account, hours_ago=5)


def stats_of(campaign):
    return CampaignStats.get(CampaignStats.campaign == campaign.id)


def counters(campaign):
    stats = stats_of(campaign)
    return dict(sent=stats.sent, opens=stats.opens, unique_opens=stats.unique_opens, clicks=stats.clicks,
                unique_clicks=stats.unique_clicks, unsubscribes=stats.unsubscribes)


def on_day(account, days_ago):
    day = utcnow().date() - datetime.timedelta(days=days_ago)
    return AccountDayStats.get((AccountDayStats.account == account.id) & (AccountDayStats.day == day))


def tracked(app, account):
    """A reader of the account: a client logged in as its owner."""
    client = app.test_client()
    login(client, make_user(account))
    return client


# Aggregation


def test_aggregating_twice_counts_nothing_twice(app, sent):
    reader = app.test_client()
    sent.open(reader, 0), sent.open(reader, 0), sent.open(reader, 1)
    sent.click(reader, 0), sent.click(reader, 0, link=1), sent.click(reader, 0)
    sent.unsubscribe(reader, 2)

    assert aggregate() == 7
    expected = dict(sent=3, opens=3, unique_opens=2, clicks=3, unique_clicks=1, unsubscribes=1)
    assert counters(sent.campaign) == expected
    assert aggregate() == 0
    aggregate_statistics()  # the periodic task runs the same aggregation, every minute
    [periodic] = [task for task in huey._registry.periodic_tasks if task.name == "aggregate_statistics"]
    assert all(periodic.validate_datetime(datetime.datetime(2030, 1, 1, 9, minute)) for minute in range(60))
    assert counters(sent.campaign) == expected
    assert StatsRun.get(StatsRun.name == "events").last_event_id == Event.select().order_by(Event.id.desc()).get().id


def test_late_events_are_counted_and_unique_counts_stay_right_across_runs(app, account):
    sent = Sent(app, account, hours_ago=24 * 3)
    reader = app.test_client()
    sent.open(reader, 0)
    aggregate()
    sent.open(reader, 0)  # three days after sending, and after an aggregation: same reader again
    sent.open(reader, 1)
    sent.click(reader, 1)
    aggregate()
    assert counters(sent.campaign) == dict(sent=3, opens=3, unique_opens=2, clicks=1, unique_clicks=1, unsubscribes=0)
    # Past the first 48 hours: counted, but not in the hourly chart.
    assert CampaignHourStats.select().count() == 0


def test_opens_and_clicks_are_counted_per_hour_after_the_start_per_link_and_per_day(app, sent, account):
    reader = app.test_client()
    sent.open(reader, 0), sent.open(reader, 1), sent.click(reader, 1, link=1)
    aggregate()
    [hour] = CampaignHourStats.select()
    assert (hour.hour, hour.opens, hour.clicks) == (5, 2, 1)  # the campaign started five hours ago
    today, yesterday = on_day(account, 0), on_day(account, 1)
    assert (today.opens, today.clicks, today.sent) == (2, 1, 3)
    assert (yesterday.subscribed, yesterday.opens) == (3, 0)  # the readers subscribed the day before
    assert LinkStats.of_campaign(sent.campaign.id) == [(SALE, 0), (BLOG, 1)]


def test_new_sends_are_followed_from_the_ledger(app, sent, account):
    aggregate()
    later = Delivery.create(campaign=sent.campaign, contact=None, status="failed")
    sent.campaign.recount()
    Delivery.update(status="sent", sent_at=utcnow()).where(Delivery.id == later.id).execute()
    sent.campaign.recount()
    aggregate()
    aggregate()
    assert (stats_of(sent.campaign).sent, stats_of(sent.campaign).failed) == (4, 0)
    assert on_day(account, 0).sent == 4


def test_a_second_worker_counts_nothing_while_the_first_holds_the_lease(app, sent):
    sent.open(app.test_client(), 0)
    StatsRun.insert(name="events").execute()
    StatsRun.update(lease_until=utcnow() + datetime.timedelta(minutes=1)).execute()
    assert aggregate() is None
    assert not CampaignStats.select().exists()
    StatsRun.update(lease_until=utcnow() - datetime.timedelta(seconds=1)).execute()  # the first worker died
    assert aggregate() == 1
    assert stats_of(sent.campaign).opens == 1


def test_a_worker_that_lost_the_mark_to_another_adds_nothing(app, sent, monkeypatch):
    import sendtex.tasks.stats as task

    sent.open(app.test_client(), 0)
    real_move = task._move_mark

    def another_worker_moved_first(old, new):
        StatsRun.update(last_event_id=new).execute()
        return real_move(old, new)

    monkeypatch.setattr(task, "_move_mark", another_worker_moved_first)
    aggregate()
    assert not CampaignStats.select().where(CampaignStats.opens > 0).exists()


def test_two_workers_at_once_count_every_event_exactly_once(app, sent, monkeypatch):
    import threading

    import sendtex.tasks.stats as task
    from sendtex.db import db

    monkeypatch.setattr(task, "CHUNK", 50)
    now = utcnow()
    Event.insert_many([dict(account=sent.campaign.account_id, campaign=sent.campaign.id, kind="open", at=now,
                            delivery=sent.deliveries[n % 3].id) for n in range(1_000)]).execute()
    db.close()

    def worker():
        with db.connection_context():
            for _ in range(3):
                aggregate()
                StatsRun.update(lease_until=None).execute()  # as if the lease ran out: both keep going

    workers = [threading.Thread(target=worker) for _ in range(2)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert (stats_of(sent.campaign).opens, stats_of(sent.campaign).unique_opens) == (1_000, 3)


def test_subscriptions_per_day_are_recounted_not_added(app, sent, account):
    aggregate()
    Subscription.update(status="unsubscribed", unsubscribed_at=utcnow()).where(
        Subscription.contact == sent.contacts[0].id).execute()
    aggregate()
    aggregate()
    assert (on_day(account, 1).subscribed, on_day(account, 1).unsubscribed) == (3, 0)
    assert (on_day(account, 0).subscribed, on_day(account, 0).unsubscribed) == (0, 1)


# Individual tracking


def test_with_individual_tracking_off_events_keep_no_delivery_and_uniques_are_not_invented(app, account):
    Account.update(individual_tracking=False).where(Account.id == account.id).execute()
    sent = Sent(app, account, hours_ago=1)
    reader = app.test_client()
    sent.open(reader, 0), sent.open(reader, 0), sent.click(reader, 0), sent.unsubscribe(reader, 1)
    assert [event.delivery_id for event in Event.select()] == [None] * 4
    aggregate()
    stats = stats_of(sent.campaign)
    assert (stats.opens, stats.clicks, stats.unsubscribes, stats.uniques_known) == (2, 1, 1, False)
    assert not EngagedDelivery.select().exists()

    client = tracked(app, account)
    page = client.get(f"/campaigns/{sent.campaign.id}/report").get_data(as_text=True)
    assert "Unique opens and clicks are not available" in page
    assert re.search(r"Opens \(unique\)</th><td>not available", page)
    assert re.search(r"Opens \(total\)</th><td>2<", page)
    contact_page = client.get(f"/contacts/{sent.contacts[0].id}").get_data(as_text=True)
    assert "Individual tracking is off for this account" in contact_page
    assert "Opened" not in contact_page


def test_switching_individual_tracking_off_unties_the_events_already_stored(app, sent, account):
    reader = app.test_client()
    sent.open(reader, 0), sent.click(reader, 1), sent.unsubscribe(reader, 2)
    aggregate()
    assert EngagedDelivery.select().count() == 2
    owner = make_user(account)
    client = app.test_client()
    login(client, owner)
    response = post(client, "/account/settings", {"track_opens": "y", "track_clicks": "y",
                                                  "soft_bounce_limit": 3, "soft_bounce_days": 7})
    assert response.status_code == 303
    assert not Account.get_by_id(account.id).individual_tracking
    assert [event.delivery_id for event in Event.select()] == [None, None, None]
    assert not EngagedDelivery.select().exists()
    assert stats_of(sent.campaign).opens == 1 and not stats_of(sent.campaign).uniques_known
    detach_tracking_events(account.id)  # running it again changes nothing
    assert [event.delivery_id for event in Event.select()] == [None, None, None]
    assert stats_of(sent.campaign).opens == 1


# The campaign report


def test_report_shows_rates_charts_and_their_numbers(app, sent, account):
    reader = app.test_client()
    sent.open(reader, 0), sent.open(reader, 0), sent.open(reader, 1), sent.click(reader, 1, link=1)
    aggregate()
    client = tracked(app, account)
    status_page = client.get(f"/campaigns/{sent.campaign.id}").get_data(as_text=True)
    assert "Full report" in status_page and "66.7%" in status_page  # open rate on the campaign's own page
    response = client.get(f"/campaigns/{sent.campaign.id}/report")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Updated every minute; last updated" in page
    assert re.search(r"<dt>Open rate \(unique\)</dt><dd>66.7%</dd>", page)
    assert re.search(r"<dt>Click rate \(unique\)</dt><dd>33.3%</dd>", page)
    assert re.search(r"<dt>Click-to-open rate</dt><dd>50.0%</dd>", page)
    assert page.count('<svg class="chart"') == 3
    assert '<title id="chart-hours-title">Opens and clicks per hour</title>' in page
    assert 'aria-labelledby="chart-links-title chart-links-desc"' in page
    assert re.search(r"<td>5 h <span[^>]*>[^<]*</span></td><td>3</td><td>1</td>", page)  # the numbers of hour 5


def test_report_escapes_names_and_urls_everywhere(app, account):
    sent = Sent(app, account, name=f"Sale {HOSTILE}", hours_ago=1)
    sent.click(app.test_client(), 0, link=1)
    aggregate()
    page = tracked(app, account).get(f"/campaigns/{sent.campaign.id}/report").get_data(as_text=True)
    assert HOSTILE not in page and "<b>x</b>" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "https://blog.example.com/?q=&lt;b&gt;x&lt;/b&gt;&amp;s=&#34;1&#34;" in page


def test_report_csv_has_counts_rates_links_and_hours(app, account):
    sent = Sent(app, account, name="=cmd|' /C calc'!A0", hours_ago=2)
    reader = app.test_client()
    sent.open(reader, 0), sent.click(reader, 0)
    Link.update(url="=HYPERLINK(\"http://evil.example\")").where(Link.id == sent.campaign.links[0].id).execute()
    aggregate()
    response = tracked(app, account).get(f"/campaigns/{sent.campaign.id}/report.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    assert rows[0] == ["section", "item", "value", "opens", "clicks"]
    assert ["count", "Opens (unique)", "1", "", ""] in rows
    assert ["rate", "Open rate (unique)", "33.3%", "", ""] in rows
    assert ["link", "'=HYPERLINK(\"http://evil.example\")", "", "", "1"] in rows
    assert ["link", BLOG, "", "", "0"] in rows
    hours = [row for row in rows if row[0] == "hour"]
    assert len(hours) == 48 and hours[2][1].startswith("2 h (") and hours[2][3:] == ["1", "1"]


def test_a_campaign_not_sent_yet_has_no_report(app, account):
    draft = Campaign.create(account=account, name="Draft")
    client = tracked(app, account)
    response = client.get(f"/campaigns/{draft.id}/report")
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/campaigns/{draft.id}")
    assert "has not been sent yet" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_report_before_the_first_aggregation_says_so(app, sent, account):
    page = tracked(app, account).get(f"/campaigns/{sent.campaign.id}/report").get_data(as_text=True)
    assert "nothing has been counted yet" in page
    assert re.search(r"<dt>Open rate \(unique\)</dt><dd>—</dd>", page)


# Dashboard and timeline


def test_dashboard_shows_last_campaigns_list_growth_and_unsubscribe_rate(app, account):
    sent = Sent(app, account, name=f"News {HOSTILE}", names=("ann", "bob", "cat", "dan"), hours_ago=1)
    reader = app.test_client()
    sent.open(reader, 0), sent.unsubscribe(reader, 1)
    aggregate()
    page = tracked(app, account).get("/app").get_data(as_text=True)
    assert "Last campaigns" in page and HOSTILE not in page and "News &lt;script&gt;" in page
    assert "<td>4</td><td>25.0%</td><td>0.0%</td><td>25.0%</td>" in page
    assert '<title id="chart-growth-title">List growth</title>' in page
    assert re.search(r"<dt>Subscribed</dt><dd>4</dd>", page) and re.search(r"<dt>Unsubscribed</dt><dd>1</dd>", page)
    assert re.search(r"<dt>Unsubscribe rate</dt><dd>25.0%</dd>", page)


def test_dashboard_of_a_new_account_has_no_campaigns(app, account):
    page = tracked(app, account).get("/app").get_data(as_text=True)
    assert "No campaign has been sent yet." in page


def test_contact_timeline_lists_what_happened_in_order(app, account):
    sent = Sent(app, account, name=f"Sale {HOSTILE}", hours_ago=1)
    reader = app.test_client()
    sent.open(reader, 0), sent.click(reader, 0, link=1), sent.unsubscribe(reader, 0)
    page = tracked(app, account).get(f"/contacts/{sent.contacts[0].id}").get_data(as_text=True)
    timeline = page[page.index('id="contact-timeline"'):]
    steps = ["Subscribed to the list", "Received", "Opened", "Clicked https://blog.example.com/?q=&lt;b&gt;x",
             "Unsubscribed"]
    positions = [timeline.index(step) for step in steps]
    assert positions == sorted(positions)
    assert HOSTILE not in timeline and "Sale &lt;script&gt;" in timeline
    other = page[:page.index('id="contact-timeline"')]
    assert "<script>alert" not in other


def test_the_timeline_shows_only_the_contacts_own_events(app, account):
    sent = Sent(app, account, hours_ago=1)
    sent.open(app.test_client(), 1)
    page = tracked(app, account).get(f"/contacts/{sent.contacts[0].id}").get_data(as_text=True)
    assert "Received" in page and "Opened" not in page


# Charts


def test_charts_escape_their_texts_and_scale_to_round_numbers():
    svg = str(charts.bar_chart("c", "Clicks <b>", "on <i>links</i>", [(HOSTILE, 7, "link")]))
    assert HOSTILE not in svg and "&lt;script&gt;" in svg and "<title id=\"c-title\">Clicks &lt;b&gt;</title>" in svg
    assert [charts.axis_top(value) for value in (0, 1, 3, 7, 12, 99, 101)] == [1, 1, 5, 10, 20, 100, 200]
    line = str(charts.line_chart("l", "t", "d", ["a", "b", "c"], [("opens", [0, 5, 10])]))
    assert 'points="44.0,192.0 337.0,109.0 630.0,26.0"' in line
