"""Counting visits of the operator's public pages, anonymously: no cookie, no IP address, nothing per visitor.

A page is counted when its endpoint is in COUNTED_ENDPOINTS or its view carries the @counted decorator, and
the request is a browser's GET of the whole page that was answered with 200: HEAD requests, htmx fragments,
prefetches, errors, redirects and known bots and tools are not counted. Only the page's
path (without its query string), the day and the hour (UTC) are stored; a Huey task adds them up.
"""
import re

from flask import current_app, request
from peewee import DatabaseError

from sendtex.models.base import utcnow
from sendtex.models.sitestats import PageHit

# The operator's website pages. Opt-in, never a whole blueprint: a page whose URL carries a token (a download
# link, a subscriber's link) must never be counted, since its path would be stored.
COUNTED_ENDPOINTS = frozenset({
    "public.home", "privacy.statement", "privacy.cookie_statement", "privacy.consent",
    "public.contact", "public.contact_thanks", "public.careers", "public.position", "public.application_thanks",
})

# Browsers all start their user agent with "Mozilla/5.0"; robots and tools that copy that say so further on.
BROWSER = re.compile(r"Mozilla/\d")
ROBOT = re.compile(
    r"bot|crawl|spider|slurp|scrap|archiver|fetcher|preview|headless|phantom|selenium|puppeteer|playwright"
    r"|lighthouse|pagespeed|gtmetrix|pingdom|uptime|monitor|validator|facebookexternalhit|embedly|whatsapp"
    r"|curl|wget|httpie|python|go-http|java/|okhttp|libwww|perl|ruby|php|axios|node-fetch|undici|feed",
    re.IGNORECASE,
)


def counted(view):
    """Count visits of this view's page in the website statistics (the alternative to COUNTED_ENDPOINTS)."""
    view.counts_visits = True
    return view


def is_browser(user_agent):
    """True if the user agent looks like a person's web browser, not a robot, preview fetcher or tool."""
    return bool(user_agent) and BROWSER.match(user_agent) is not None and ROBOT.search(user_agent) is None


def _counted_page():
    if request.endpoint in COUNTED_ENDPOINTS:
        return True
    return getattr(current_app.view_functions.get(request.endpoint), "counts_visits", False)


def _is_page_view(response):
    purpose = request.headers.get("Sec-Purpose", "") + request.headers.get("Purpose", "")
    whole_page = not request.htmx or request.htmx.boosted
    return (response.status_code == 200 and request.method == "GET" and whole_page and "prefetch" not in purpose
            and is_browser(request.headers.get("User-Agent", "")))


def count_visit(response):
    """After a request: count it if it was a person's view of a counted page."""
    if _counted_page() and _is_page_view(response):
        try:
            PageHit.record(request.path, utcnow())
        except DatabaseError:
            # A missed count must never cost the visitor the page.
            current_app.logger.warning("Could not count a visit of %s", request.path, exc_info=True)
    return response


def init_app(app):
    """Count visits of the counted pages."""
    app.after_request(count_visit)
