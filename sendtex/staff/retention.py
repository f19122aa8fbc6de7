"""Staff page: the retention periods in force and the last runs of the daily purge."""
from flask import current_app
from flask_babel import lazy_gettext as _l

from sendtex.config import retention_periods
from sendtex.models.retention import RetentionRun
from sendtex.staff import NAV, NavItem, bp
from sendtex.web import render

NAV.append(NavItem("staff.retention", _l("Retention"),
                   _l("The period of each data category and what the daily purge deleted.")))


@bp.get("/retention")
def retention():
    """The configured periods and the last 30 purge runs with their counts."""
    runs = RetentionRun.select().order_by(RetentionRun.started_at.desc()).limit(30)
    return render("staff/retention.html", "staff/retention.html", periods=retention_periods(current_app.config),
                  runs=list(runs))
