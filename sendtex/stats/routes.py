"""The campaign report (page and CSV), and the statistics that other pages show: the campaign page's
results, the dashboard's figures and a contact's timeline (template helpers)."""
from flask import flash, url_for
from flask_babel import format_percent
from flask_babel import gettext as _

from sendtex.csvexport import csv_response, export_filename
from sendtex.models.campaigns import Campaign
from sendtex.models.stats import StatsRun
from sendtex.stats import bp, charts
from sendtex.stats.reports import CampaignReport, Dashboard, timeline
from sendtex.web import owned_or_404, redirect_to, render

CSV_HEADER = ("section", "item", "value", "opens", "clicks")


@bp.app_template_filter("percent")
def percent(rate):
    """A rate as a percentage with one decimal, or a dash when there is none."""
    return "—" if rate is None else format_percent(rate, "#,##0.0%")


@bp.app_context_processor
def _statistics_helpers():
    return dict(campaign_report=CampaignReport.of, account_dashboard=dashboard, contact_timeline=timeline)


@bp.route("/campaigns/<int:campaign_id>/report")
def campaign_report(campaign_id):
    """A started campaign's rates, charts and their numbers, from the counters aggregated every minute."""
    campaign = owned_or_404(Campaign, campaign_id)
    if campaign.started_at is None:
        flash(_("“%(name)s” has not been sent yet: its report starts when sending does.", name=campaign.name), "error")
        return redirect_to(url_for("campaigns.campaign", campaign_id=campaign.id))
    report = CampaignReport.of(campaign)
    return render("stats/report.html", "stats/_report.html", report=report, charts=report_charts(report),
                  updated_at=StatsRun.last_run())


@bp.route("/campaigns/<int:campaign_id>/report.csv")
def campaign_report_csv(campaign_id):
    """The report as CSV: the counts and rates, then one row per link and per hour."""
    report = CampaignReport.of(owned_or_404(Campaign, campaign_id))
    return csv_response(export_filename(report.campaign.name, fallback="report"), CSV_HEADER, csv_rows(report))


def csv_rows(report):
    """The rows of the report's CSV (cells are neutralised against formulas by csv_response)."""
    not_available = _("not available")
    for label, number in report.counts():
        yield "count", label, not_available if number is None else number, "", ""
    for label, rate in report.rates():
        yield "rate", label, percent(rate) if rate is not None else not_available, "", ""
    for url, clicks in report.links:
        yield "link", url, "", "", clicks
    for hour, moment, opens, clicks in report.hours:
        yield "hour", _("%(hour)d h", hour=hour) + (moment.strftime(" (%Y-%m-%d %H:%M UTC)") if moment else ""), "", \
            opens, clicks


def report_charts(report):
    """The report's charts as inline SVG."""
    hours = report.hours
    links = report.links
    return dict(
        hours=charts.line_chart(
            "chart-hours", _("Opens and clicks per hour"),
            _("Opens and clicks in each of the first 48 hours after sending started; the table below has the numbers."),
            [_("%(hour)d h", hour=hour) for hour, *_rest in hours],
            [(_("Opens"), [opens for _h, _m, opens, _c in hours]), (_("Clicks"), [clicks for *_rest, clicks in hours])],
            label_every=6),
        links=charts.bar_chart("chart-links", _("Clicks per link"),
                               _("Clicks on each link of the campaign; the table below has the numbers."),
                               [(url, clicks, "link") for url, clicks in links]) if links else None,
        bounces=charts.bar_chart("chart-bounces", _("Bounces and complaints"),
                                 _("Hard bounces, soft bounces and complaints; the table below has the numbers."),
                                 report.bounce_breakdown()),
    )


def dashboard(account):
    """The dashboard's figures of an account and its list-growth chart."""
    figures = Dashboard.of(account)
    growth = charts.line_chart(
        "chart-growth", _("List growth"),
        _("Subscriptions created and ended on each of the last 30 days; the table below has the numbers."),
        [day.strftime("%m-%d") for day, _row in figures.days],
        [(_("Subscribed"), figures.series("subscribed")), (_("Unsubscribed"), figures.series("unsubscribed"))],
        label_every=7)
    return figures, growth
