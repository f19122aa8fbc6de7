"""The operator's staff area: pages for staff users only; to anyone else they do not exist (404)."""
import functools
from typing import NamedTuple

from flask import Blueprint, abort
from flask_babel import lazy_gettext as _l
from flask_login import current_user

bp = Blueprint("staff", __name__, url_prefix="/staff")


class NavItem(NamedTuple):
    endpoint: str
    label: str
    description: str


# The staff area's navigation, in display order: each staff page adds its entry here.
NAV = [
    NavItem("staff.site_stats", _l("Website statistics"),
            _l("Anonymous visits of the public pages: per day, per page, per hour.")),
]


def is_staff():
    """True if the current user is operator staff."""
    return current_user.is_authenticated and current_user.is_staff


def staff_required(view):
    """Let only staff users reach the view; to anyone else it answers 404, so it is not advertised."""

    @functools.wraps(view)
    def wrapper(*args, **kwargs):
        if not is_staff():
            abort(404)
        return view(*args, **kwargs)

    return wrapper


@bp.before_request
@staff_required
def _staff_only():
    """Every page of this blueprint is for staff (a page that forgets the decorator is still closed)."""


@bp.context_processor
def _staff_nav():
    return {"staff_nav": NAV}


from sendtex.staff import routes  # noqa: E402,F401  (registers the views)
from sendtex.staff import accounts, requests, retention  # noqa: E402,F401  (accounts, request log, retention)
from sendtex.staff import jobs, messages  # noqa: E402,F401  (contact messages, vacancies and applications)
