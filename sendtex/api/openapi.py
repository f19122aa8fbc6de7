"""The API's description: the OpenAPI 3.1 document for programs, the reference page for people."""
from flask import url_for

from sendtex.api import pages
from sendtex.api.spec import OPERATIONS, PREFIX, document, operation
from sendtex.web import render


@operation("GET", "/openapi.json", scope=None, tag="Description", responses={200: {"type": "object"}})
def openapi_document():
    """This API's OpenAPI 3.1 description (no key needed)."""
    return document()


@pages.route("/docs/api")
def reference():
    """The API reference: every operation with its scope, parameters and answers, from the same declarations."""
    tags = {}
    for op in OPERATIONS:
        tags.setdefault(op.tag, []).append(op)
    return render("api/reference.html", "api/reference.html", tags=tags, prefix=PREFIX,
                  document_url=url_for("api.openapi_document"))
