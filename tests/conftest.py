"""Fixtures: an app on its own temp files, clients, factories, a live server, Chromium and an SMTP server."""
import os
import re
import socket
import threading
import time

import pytest

from sendtex import create_app
from sendtex.db import db, upgrade
from sendtex.models.accounts import Account, User

PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"
CSRF_RE = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|"X-CSRFToken": "([^"]+)"')


def make_app(tmp_path, **config):
    """A Sendtex app whose database, queue, keys and outbox live in tmp_path."""
    # A cheaper argon2id keeps the suite fast; the production cost is the config default.
    settings = {"INSTANCE_PATH": str(tmp_path / "instance"), "TESTING": True, "HUEY_IMMEDIATE": True,
                "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 8192}
    settings.update(config)
    app = create_app(settings)
    upgrade()
    return app


@pytest.fixture
def app(request, tmp_path):
    # No app context stays pushed: requests would share it (and its `g`) otherwise.
    # Use `with app.app_context():` in a test for code that needs current_app.
    # A test module sets what it needs beyond the test settings in APP_SETTINGS (e.g. BASE_URL).
    app = make_app(tmp_path, **getattr(request.module, "APP_SETTINGS", {}))
    yield app
    if not db.is_closed():
        db.close()


@pytest.fixture
def client(app):
    return app.test_client()


def csrf_token(client, url="/login"):
    """The CSRF token of the client's session, read from a page like a browser would."""
    match = CSRF_RE.search(client.get(url).get_data(as_text=True))
    return match.group(1) or match.group(2)


def post(client, url, data=None, htmx=False, token=True, **kwargs):
    """POST a form with the session's CSRF token, as a plain or an htmx request."""
    data = dict(data or {})
    if token and "csrf_token" not in data:
        data["csrf_token"] = csrf_token(client)
    headers = kwargs.pop("headers", {})
    if htmx:
        headers["HX-Request"] = "true"
    return client.post(url, data=data, headers=headers, **kwargs)


def make_account(name="Acme", **fields):
    """An account with the given fields."""
    return Account.create(name=name, **fields)


_emails = iter(range(10**6))


def make_user(account=None, email=None, password=PASSWORD, role="owner", **fields):
    """A user (and an account, if none is given) that can log in with PASSWORD."""
    account = account or make_account()
    email = email or f"user{next(_emails)}@example.com"
    return User.add(account, email=email, name=fields.pop("name", "Ann Example"), password=password, role=role)


def log_in_staff(client, email="staff@operator.example"):
    """Log the client in as a staff user of the operator's own account."""
    staff = make_user(make_account("Operator"), email=email)
    User.update(is_staff=True).where(User.id == staff.id).execute()
    login(client, staff)
    return client


@pytest.fixture
def staff_client(app):
    """A client of its own, logged in as operator staff."""
    return log_in_staff(app.test_client())


def login(client, user, password=PASSWORD):
    """Log the client in as user through the login form."""
    response = post(client, "/login", {"email": user.email, "password": password})
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


@pytest.fixture
def owner(app):
    return make_user(make_account("Acme"))


@pytest.fixture
def owner_client(client, owner):
    login(client, owner)
    return client


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def live_server(tmp_path):
    """The app served by waitress on a loopback port, as `make run` serves it."""
    from waitress import wasyncore
    from waitress.server import create_server

    port = free_port()
    app = make_app(tmp_path, BASE_URL=f"http://127.0.0.1:{port}")
    server = create_server(app, host="127.0.0.1", port=port, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    app.url = f"http://127.0.0.1:{port}"
    yield app
    # Closed from inside its own loop: closing the sockets from here broke the select() that loop waits in (an
    # error in the server thread) and left join() waiting out select's 1 s timeout.
    server.task_dispatcher.shutdown()
    server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
    thread.join(timeout=5)


@pytest.fixture(scope="session")
def chromium():
    """Debian's Chromium through Playwright; skips outside CI when no Chromium is installed."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: `make test` should have installed it")
        pytest.skip(f"browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium):
    context = chromium.new_context(locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


class SmtpCapture:
    """A real SMTP server (aiosmtpd) on loopback that keeps what it receives."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope)
        return "250 OK"

    def wait_for(self, count, timeout=10):
        deadline = time.monotonic() + timeout
        while len(self.messages) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


@pytest.fixture
def smtp_server():
    capture = SmtpCapture()
    capture.controller.start()
    yield capture
    capture.controller.stop()

