"""Staff pages: the landing page and the website statistics."""
import datetime

from flask_babel import format_date

from sendtex.models.base import utcnow
from sendtex.models.sitestats import PageCount, PageHit
from sendtex.staff import bp
from sendtex.staff.charts import bar_chart
from sendtex.web import render

STATS_DAYS = 30


@bp.get("")
def home():
    """The staff area's landing page: what there is to look after."""
    return render("staff/home.html", "staff/home.html")


@bp.get("/website-statistics")
def site_stats():
    """Visits of the public pages over the last 30 days: per day (chart and table), top pages, hour of day."""
    last = utcnow().date()
    first = last - datetime.timedelta(days=STATS_DAYS - 1)
    per_day = PageCount.per_day(first, last)
    per_hour = PageCount.per_hour(first, last)
    return render(
        "staff/site_stats.html", "staff/site_stats.html",
        first=first, last=last, per_day=per_day, per_hour=per_hour,
        total=sum(visits for _, visits in per_day),
        pages=PageCount.top_pages(first, last),
        waiting=PageHit.select().count(),
        day_chart=bar_chart([(format_date(day, "d MMM"), visits) for day, visits in per_day]),
        hour_chart=bar_chart([(f"{hour:02d}", visits) for hour, visits in per_hour]),
    )
