"""Anonymous website statistics: folding raw page hits into per-page, per-hour counters; their retention."""
from huey import crontab

from sendtex.models.sitestats import PageCount
from sendtex.queue import huey
from sendtex.retention import rule
from sendtex.tasks.context import app_task


# A run that loses a race for SQLite's write lock changes nothing (one transaction) and is simply retried.
@huey.periodic_task(crontab(minute="*/10"), retries=3, retry_delay=20)
@app_task
def aggregate_site_stats():
    """Add the raw page hits to the hourly counters and delete them; running it again counts nothing twice."""
    return PageCount.add_hits()


@rule("web_stats")
def purge_site_stats(cutoff):
    """Delete the website statistics of hours that began before the cutoff; returns how many rows."""
    return PageCount.purge_before(cutoff)
