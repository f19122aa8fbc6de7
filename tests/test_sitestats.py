"""Anonymous website statistics: which visits count, what is (not) stored, and the hourly aggregation."""
import datetime
from pathlib import Path

import pytest

from sendtex import retention
from sendtex.db import checkpoint, db
from sendtex.models.sitestats import PageCount, PageHit
from sendtex.privacy.consent import NECESSARY_COOKIES
from sendtex.sitestats import COUNTED_ENDPOINTS, counted, is_browser
from sendtex.tasks.sitestats import aggregate_site_stats

FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
BROWSERS = [
    FIREFOX,
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 "
    "Edg/126.0.2592.87",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.122 "
    "Mobile Safari/537.36",
]
ROBOTS = [
    "",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; Google-InspectionTool/1.0) Feedfetcher-Google",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "WhatsApp/2.23.20.0",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 11; moto g power (2022)) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/109.0 "
    "Mobile Safari/537.36 Chrome-Lighthouse",
    "curl/8.5.0",
    "Wget/1.21.4",
    "python-requests/2.32.3",
    "Python-urllib/3.12",
    "Go-http-client/1.1",
    "okhttp/4.12.0",
    "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)",
]
PUBLIC_PAGES = ["/", "/privacy", "/cookies", "/privacy/consent"]


def counts():
    """Aggregate what is waiting and return the visits per page so far."""
    aggregate_site_stats()
    with db.connection_context():
        totals = {}
        for row in PageCount.select():
            totals[row.page] = totals.get(row.page, 0) + row.visits
        return totals


def visit(client, path, user_agent=FIREFOX, method="GET", **headers):
    return client.open(path, method=method, headers={"User-Agent": user_agent, **headers})


def test_a_browser_visit_of_each_public_page_is_counted(client):
    for path in PUBLIC_PAGES:
        assert visit(client, path).status_code == 200
    visit(client, "/")
    assert counts() == {"/": 2, "/privacy": 1, "/cookies": 1, "/privacy/consent": 1}


def test_every_counted_endpoint_is_a_page_of_the_app(app):
    assert COUNTED_ENDPOINTS <= set(app.view_functions)


def test_the_website_forms_pages_are_counted_and_the_marketers_pages_are_not(app, owner_client):
    visitor = app.test_client()
    for path in ["/contact", "/careers", "/contact/thanks"]:
        assert visit(visitor, path).status_code == 200
    assert visit(owner_client, "/account/exports").status_code == 200  # same blueprint as the privacy statement
    assert counts() == {"/contact": 1, "/careers": 1, "/contact/thanks": 1}


@pytest.mark.parametrize("user_agent", BROWSERS)
def test_common_browsers_are_recognised(user_agent):
    assert is_browser(user_agent)


@pytest.mark.parametrize("user_agent", ROBOTS)
def test_robots_preview_fetchers_and_tools_are_not_browsers(user_agent):
    assert not is_browser(user_agent)


def test_robots_are_not_counted(client):
    for user_agent in ROBOTS:
        assert visit(client, "/", user_agent).status_code == 200
    assert counts() == {}


def test_head_fragments_prefetches_errors_and_other_pages_are_not_counted(client):
    visit(client, "/", method="HEAD")
    visit(client, "/privacy/consent", **{"HX-Request": "true"})  # the banner fragment
    visit(client, "/", **{"Sec-Purpose": "prefetch"})
    visit(client, "/", **{"Purpose": "prefetch"})
    assert visit(client, "/no-such-page").status_code == 404
    assert visit(client, "/privacy/", method="GET").status_code in (404, 308)
    visit(client, "/login")  # the marketers' side is not the operator's website
    visit(client, "/privacy/consent", method="POST")  # a form post, refused without CSRF token
    assert counts() == {}


def test_a_boosted_htmx_navigation_is_a_page_view(client):
    visit(client, "/cookies", **{"HX-Request": "true", "HX-Boosted": "true"})
    assert counts() == {"/cookies": 1}


def test_the_query_string_is_not_kept(client):
    visit(client, "/?utm_source=mail&email=ann%40example.com")
    assert counts() == {"/": 1}


def test_a_page_opts_in_with_the_counted_decorator(app):
    app.add_url_rule("/careers/<slug>", "careers_position", counted(lambda slug: f"Position {slug}"))
    app.add_url_rule("/not-counted", "not_counted", lambda: "plain")
    client = app.test_client()
    visit(client, "/careers/engineer")
    visit(client, "/not-counted")
    assert counts() == {"/careers/engineer": 1}


def test_nothing_about_the_visitor_is_stored(app):
    client = app.test_client()
    marker = "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/128.0 Uniquemarker/7"
    for _ in range(2):
        client.get("/", headers={"User-Agent": marker}, environ_base={"REMOTE_ADDR": "203.0.113.77"})
    with app.app_context(), db.connection_context():
        assert PageHit.select().count() == 2  # the same visitor twice is two visits: nothing recognises them
        assert sorted(PageHit._meta.columns) == ["day", "hour", "id", "page"]
        checkpoint()
    instance = Path(app.instance_path)
    stored = b"".join(path.read_bytes() for path in instance.rglob("*") if path.is_file())
    assert b"Uniquemarker" not in stored and b"203.0.113" not in stored
    assert counts() == {"/": 2}


@pytest.mark.parametrize("path", PUBLIC_PAGES)
def test_public_pages_set_no_cookie_but_the_necessary_session(app, path):
    browser = visit(app.test_client(), path).headers.getlist("Set-Cookie")
    robot = visit(app.test_client(), path, "curl/8.5.0").headers.getlist("Set-Cookie")
    assert {cookie.split("=")[0] for cookie in browser} <= NECESSARY_COOKIES
    assert [cookie.split("=")[0] for cookie in browser] == [cookie.split("=")[0] for cookie in robot]


def test_a_visit_that_cannot_be_counted_still_gets_its_page(app):
    with app.app_context(), db.connection_context():
        db.execute_sql('DROP TABLE "page_hit"')
    response = visit(app.test_client(), "/")
    assert response.status_code == 200 and "Sendtex" in response.get_data(as_text=True)


def at(day, hour):
    return datetime.datetime(2026, 11, day, hour, 25)


def test_aggregation_counts_each_hit_once_per_page_and_hour(app):
    with app.app_context(), db.connection_context():
        for moment, page in [(at(3, 9), "/"), (at(3, 9), "/"), (at(3, 10), "/"), (at(4, 9), "/"),
                             (at(3, 9), "/privacy")]:
            PageHit.record(page, moment)
    assert counts() == {"/": 4, "/privacy": 1}
    assert counts() == {"/": 4, "/privacy": 1}  # a second run finds nothing new and counts nothing twice
    with app.app_context(), db.connection_context():
        assert PageHit.select().count() == 0
        PageHit.record("/", at(3, 9))
    assert counts() == {"/": 5, "/privacy": 1}
    with app.app_context(), db.connection_context():
        rows = {(row.page, row.day, row.hour): row.visits for row in PageCount.select()}
        assert rows == {("/", datetime.date(2026, 11, 3), 9): 3, ("/", datetime.date(2026, 11, 3), 10): 1,
                        ("/", datetime.date(2026, 11, 4), 9): 1, ("/privacy", datetime.date(2026, 11, 3), 9): 1}
        first, last = datetime.date(2026, 11, 2), datetime.date(2026, 11, 4)
        assert PageCount.per_day(first, last) == [(first, 0), (datetime.date(2026, 11, 3), 5), (last, 1)]
        assert PageCount.per_hour(first, last)[9:11] == [(9, 5), (10, 1)]
        assert PageCount.top_pages(first, last) == [("/", 5), ("/privacy", 1)]


def test_a_failed_aggregation_counts_nothing_and_loses_nothing(app):
    with app.app_context(), db.connection_context():
        PageHit.record("/", at(3, 9))
        PageCount.create(page="/", day=datetime.date(2026, 11, 3), hour=9, visits=1)
        db.execute_sql('CREATE TRIGGER refuse BEFORE DELETE ON "page_hit" BEGIN SELECT RAISE(ABORT, "busy"); END')
        with pytest.raises(Exception):
            PageCount.add_hits()
        db.execute_sql("DROP TRIGGER refuse")
        assert PageHit.select().count() == 1
    assert counts() == {"/": 2}


def test_statistics_expire_exactly_at_their_retention_period(app):
    period = datetime.timedelta(days=app.config["RETENTION_WEB_STATS_DAYS"])
    now = datetime.datetime(2030, 6, 15, 12, 0, 0)
    with app.app_context(), db.connection_context():
        for age in (period + datetime.timedelta(days=1), period + datetime.timedelta(seconds=1), period,
                    period - datetime.timedelta(hours=1)):
            moment = now - age
            PageCount.create(page=f"/{moment.isoformat()}", day=moment.date(), hour=moment.hour, visits=1)
        PageHit.record("/raw", now - period - datetime.timedelta(hours=1))
        assert retention.run(now=now)["web_stats"] == 3
        young = [now - period, now - period + datetime.timedelta(hours=1)]
        assert sorted(row.page for row in PageCount.select()) == [f"/{moment.isoformat()}" for moment in young]
        # a second later, the hour that began exactly at the cutoff has expired too
        assert retention.run(now=now + datetime.timedelta(seconds=1))["web_stats"] == 1
        assert PageHit.select().count() == 0
