"""Run a Huey task inside the Flask app and a database connection."""
import functools
from contextlib import nullcontext

from flask import has_app_context

from sendtex.db import db

_app = None


def set_app(app):
    """Remember the app that tasks run in (the worker's or the web process's)."""
    global _app
    _app = app


def app_task(func):
    """Give the task an app context and a database connection (reusing open ones)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with nullcontext() if has_app_context() else _app.app_context():
            with db.connection_context() if db.is_closed() else nullcontext():
                return func(*args, **kwargs)

    return wrapper


def current_task_app():
    """The app tasks run in."""
    return _app
