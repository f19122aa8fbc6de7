"""The API's one error shape: {"error": {"code", "message", "details": [{"field", "message"}]}}."""
from flask import current_app
from flask_babel import lazy_gettext as _l

# The machine-readable code of each status; the message says the same in words.
CODES = {
    400: "invalid_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 413: "too_large", 415: "unsupported_media_type", 422: "unprocessable", 429: "rate_limited",
    500: "server_error",
}
MESSAGES = {
    400: _l("The request is not valid; see the details."),
    401: _l("Send a valid API key as “Authorization: Bearer <key>”."),
    403: _l("This API key may not do this."),
    404: _l("This object does not exist, or your API key has no access to it."),
    405: _l("This URL does not accept this method."),
    409: _l("This conflicts with the current state of the object."),
    413: _l("What you sent is too large."),
    415: _l("Send the body as application/json."),
    422: _l("The request is valid, but it cannot be carried out; see the details."),
    429: _l("Too many requests with this API key. Wait, then try again."),
    500: _l("Something went wrong on our side. It has been logged; please try again later."),
}


class ApiError(Exception):
    """An answer other than success: status, message, and per-field details [(field, message)]."""

    def __init__(self, status, message=None, details=(), code=None, headers=None):
        super().__init__(str(message or MESSAGES.get(status, MESSAGES[400])))
        self.status = status
        self.message = str(message or MESSAGES.get(status, MESSAGES[400]))
        self.details = [(str(field), str(text)) for field, text in details]
        self.code = code or CODES.get(status, "error")
        self.headers = dict(headers or {})


def invalid(details, message=None):
    """A 400 for values that fail validation, details being [(field, message)]."""
    return ApiError(400, message, details)


def error_body(status, message=None, details=(), code=None):
    """The JSON document of an error."""
    return {"error": {"code": code or CODES.get(status, "error"),
                      "message": str(message or MESSAGES.get(status, MESSAGES[400])),
                      "details": [{"field": str(field), "message": str(text)} for field, text in details]}}


def json_error(status, message=None, details=(), code=None, headers=None):
    """An error response in the API's shape (never HTML), with no-store caching."""
    response = current_app.json.response(error_body(status, message, details, code))
    response.status_code = status
    response.headers.update(headers or {})
    response.headers["Cache-Control"] = "no-store"
    return response


def from_exception(exc):
    """The response of an ApiError."""
    return json_error(exc.status, exc.message, exc.details, exc.code, exc.headers)
