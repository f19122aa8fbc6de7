"""Signed, expiring tokens for links in e-mails."""
from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer


class TokenError(ValueError):
    """The token is forged, altered or expired; `expired` tells which."""

    def __init__(self, expired):
        super().__init__("expired" if expired else "invalid")
        self.expired = expired


def _serializer(purpose):
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"sendtex.{purpose}")


def sign(purpose, data):
    """A URL-safe token carrying data, valid only for the purpose."""
    return _serializer(purpose).dumps(data)


def unsign(purpose, token, max_age):
    """The data of a token for purpose no older than max_age seconds, else TokenError."""
    try:
        return _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise TokenError(expired=True) from exc
    except BadSignature as exc:
        raise TokenError(expired=False) from exc
