"""The audience area: lists, contacts, fields, segments, imports and exports.

One blueprint; its views are split by subject into the modules imported at the bottom.
"""
from flask import Blueprint
from flask_login import login_required

bp = Blueprint("lists", __name__)


@bp.before_request
@login_required
def _signed_in_only():
    """Every page of this blueprint needs a login."""


from sendtex.lists import routes  # noqa: E402,F401  (registers the views)
