"""The REST API under /api/v1: token-authenticated JSON for lists, fields, contacts, imports, segments,
campaigns and statistics; and the pages people use around it (API keys, the API reference).

Each resource has its module; sendtex.api.spec declares their operations once, for the routes and the
OpenAPI document alike.
"""
from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")
pages = Blueprint("api_pages", __name__)


def init_app(app, csrf):
    """Register the API and its pages; token requests carry no session, so CSRF does not apply to them."""
    from sendtex.api import routes  # noqa: F401  (declares the operations)

    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.register_blueprint(pages)
