"""Statistics: campaign reports, the dashboard's figures and contact timelines, read from the counters that
sendtex/tasks/stats.py aggregates from raw events every minute."""
from flask import Blueprint
from flask_login import login_required

bp = Blueprint("stats", __name__)


@bp.before_request
@login_required
def _signed_in_only():
    """Every page of this blueprint needs a login."""


from sendtex.stats import routes  # noqa: E402,F401  (registers the views)
