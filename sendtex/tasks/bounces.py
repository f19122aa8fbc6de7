"""Reading the bounce mailbox on a schedule."""
import logging

from flask import current_app
from huey import crontab

from sendtex.bounces import mailbox
from sendtex.queue import huey
from sendtex.tasks.context import app_task

log = logging.getLogger(__name__)


@huey.periodic_task(crontab(minute="*"))
@app_task
def poll_bounce_mailbox():
    """Read the bounce mailbox when one is configured and its interval has passed since the last run."""
    config = current_app.config
    if not config["BOUNCE_IMAP_HOST"] or not mailbox.due(config):
        return None
    try:
        counts = mailbox.poll(config)
    except mailbox.MailboxError as exc:  # a mailbox that is down or refuses is tried again at the next interval
        log.warning("Bounce mailbox not read: %s", exc)
        return None
    log.info("Bounce mailbox read: %s", counts)
    return counts
