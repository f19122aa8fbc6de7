"""The staff area: closed (404) to everyone but staff; the website statistics page."""
import datetime
import re

import pytest

from sendtex.db import db
from sendtex.models.base import utcnow
from sendtex.models.sitestats import PageCount
from sendtex.sitestats import counted
from sendtex.staff.charts import bar_chart
from sendtex.tasks.sitestats import aggregate_site_stats
from tests.conftest import log_in_staff

STAFF_PAGES = ["/staff", "/staff/website-statistics"]
FIREFOX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_staff_pages_do_not_exist_for_anonymous_visitors(client, path):
    assert client.get(path).status_code == 404
    assert client.get(path, headers={"HX-Request": "true"}).status_code == 404


@pytest.mark.parametrize("path", STAFF_PAGES)
def test_staff_pages_do_not_exist_for_marketers(owner_client, path):
    assert owner_client.get(path).status_code == 404
    dashboard = owner_client.get("/app")
    assert dashboard.status_code == 200 and 'href="/staff"' not in dashboard.get_data(as_text=True)


def test_staff_see_the_staff_link_and_the_landing_page(staff_client):
    assert 'href="/staff"' in staff_client.get("/app").get_data(as_text=True)
    page = staff_client.get("/staff")
    assert page.status_code == 200
    assert 'href="/staff/website-statistics"' in page.get_data(as_text=True)


def _bars(page, chart_id):
    chart = re.search(rf'<svg class="chart" id="{chart_id}".*?</svg>', page, re.S).group(0)
    return re.findall(r'<rect class="chart-bar"[^>]*height="([\d.]+)"><title>([^<]*)</title>', chart)


def test_website_statistics_show_visits_per_day_top_pages_and_hours(app, staff_client):
    today = utcnow().date()
    for days_ago, hour, page, visits in [(0, 9, "/", 5), (0, 14, "/privacy", 2), (3, 9, "/", 4), (29, 23, "/", 1),
                                         (30, 9, "/", 100)]:  # 30 days ago: outside the window
        PageCount.create(page=page, day=today - datetime.timedelta(days=days_ago), hour=hour, visits=visits)
    page = staff_client.get("/staff/website-statistics").get_data(as_text=True)

    days = _bars(page, "chart-per-day")
    assert len(days) == 30
    assert [title.rsplit(": ", 1)[1] for _, title in days[-1:]] == ["7"]
    assert float(days[-1][0]) > float(days[-4][0]) > float(days[0][0]) > 0 and float(days[1][0]) == 0
    hours = _bars(page, "chart-per-hour")
    assert [title for _, title in hours][9] == "09: 9" and [title for _, title in hours][23] == "23: 1"
    assert f"<td>{today.isoformat()}</td><td>7</td>" in page
    assert re.search(r'<td class="page-path">/</td><td>10</td>.*<td class="page-path">/privacy</td><td>2</td>',
                     page, re.S)
    assert "12 in all" in page


def test_website_statistics_without_visits(staff_client):
    page = staff_client.get("/staff/website-statistics").get_data(as_text=True)
    assert "No visits counted in this period yet." in page
    assert {height for height, _ in _bars(page, "chart-per-day")} == {"0.0"}


def test_visits_waiting_for_the_next_count_are_announced(app, staff_client):
    staff_client.get("/", headers={"User-Agent": FIREFOX})
    assert "1 more visit will be added" in staff_client.get("/staff/website-statistics").get_data(as_text=True)


def test_hostile_page_paths_are_shown_as_text(app, client):
    app.add_url_rule("/careers/<path:slug>", "careers_position", counted(lambda slug: "Position"))
    staff_client = log_in_staff(client)
    hostile = '<script>alert(1)</script><img src=x onerror="alert(2)">'
    assert staff_client.get(f"/careers/{hostile}", headers={"User-Agent": FIREFOX}).status_code == 200
    aggregate_site_stats()
    page = staff_client.get("/staff/website-statistics").get_data(as_text=True)
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "/careers/&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in page


def test_a_hostile_user_agent_is_never_stored_or_shown(app, staff_client):
    hostile = "<script>alert(1)</script>"
    staff_client.get("/", headers={"User-Agent": f"{hostile} Mozilla/5.0"})  # not a browser: not counted
    staff_client.get("/", headers={"User-Agent": f"Mozilla/5.0 {hostile}"})  # counted as a visit of "/", no more
    aggregate_site_stats()
    page = staff_client.get("/staff/website-statistics").get_data(as_text=True)
    assert "alert(1)" not in page
    with app.app_context(), db.connection_context():
        assert [(row.page, row.visits) for row in PageCount.select()] == [("/", 1)]


@pytest.mark.parametrize("values, top", [([0, 0], 1), ([3], 3), ([7, 1], 8), ([1234], 1500)])
def test_chart_axis_goes_to_a_round_number_above_the_largest_bar(values, top):
    chart = bar_chart([(str(n), value) for n, value in enumerate(values)])
    assert chart.ticks[-1].value == top and chart.ticks[0].value == 0
    tallest = max(chart.bars, key=lambda bar: bar.value)
    assert tallest.y >= chart.ticks[-1].y and tallest.y + tallest.height == pytest.approx(chart.baseline, abs=0.2)
