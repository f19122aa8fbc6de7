"""The campaigns area: campaigns, layouts, sending domains; views split by subject into the modules below."""
from flask import Blueprint
from flask_login import login_required

bp = Blueprint("campaigns", __name__)


@bp.before_request
@login_required
def _signed_in_only():
    """Every page of this blueprint needs a login."""


from sendtex.campaigns import routes  # noqa: E402,F401  (registers the views)
