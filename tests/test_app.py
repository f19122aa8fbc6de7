"""The app factory, configuration and secrets, security headers, error pages and the vendored htmx."""
import hashlib
import json
import os
import stat
from pathlib import Path

from sendtex import ROOT
from tests.conftest import make_app, post

HTMX_SHA256 = "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"


def test_fresh_instance_generates_private_keys(tmp_path):
    app = make_app(tmp_path)
    keys_file = Path(app.instance_path) / "keys.json"
    assert stat.S_IMODE(keys_file.stat().st_mode) == 0o600
    assert stat.S_IMODE(Path(app.instance_path).stat().st_mode) == 0o700
    keys = json.loads(keys_file.read_text())
    assert app.config["SECRET_KEY"] == keys["SECRET_KEY"] and len(keys["SECRET_KEY"]) >= 64
    assert keys["FIELD_KEYS"].startswith("k1:") and keys["BLIND_INDEX_KEY"]


def test_two_instances_do_not_share_keys(tmp_path):
    first = make_app(tmp_path / "one")
    second = make_app(tmp_path / "two")
    for name in ("SECRET_KEY", "FIELD_KEYS", "BLIND_INDEX_KEY"):
        assert first.config[name] != second.config[name]


def test_keys_survive_a_restart(tmp_path):
    assert make_app(tmp_path).config["SECRET_KEY"] == make_app(tmp_path).config["SECRET_KEY"]


def test_environment_overrides_instance_config(tmp_path, monkeypatch):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text('BASE_URL = "https://from-file.example"\nLOGIN_MAX_FAILURES = 9\n')
    monkeypatch.setenv("SENDTEX_LOGIN_MAX_FAILURES", "3")
    monkeypatch.setenv("SENDTEX_SECRET_KEY", "s" * 64)
    app = make_app(tmp_path)
    assert app.config["BASE_URL"] == "https://from-file.example"
    assert app.config["LOGIN_MAX_FAILURES"] == 3
    assert app.config["SECRET_KEY"] == "s" * 64


def test_database_url_and_queue_file_default_to_instance(app):
    assert app.config["DATABASE_URL"] == f"sqlite:///{app.instance_path}/sendtex.db"
    assert app.config["HUEY_FILE"] == os.path.join(app.instance_path, "huey.db")


def test_no_hard_coded_secret_in_the_package():
    for path in (ROOT / "sendtex").rglob("*.py"):
        assert "SECRET_KEY = " not in path.read_text(), path


def test_security_headers_on_every_response(client):
    for url in ("/", "/login", "/no-such-page", "/static/css/app.css"):
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "same-origin"


def test_html_pages_vary_on_hx_request(client):
    assert "HX-Request" in client.get("/login").headers["Vary"]


def test_session_cookie_is_httponly_lax_and_secure_over_https(app):
    plain = app.test_client().get("/login").headers["Set-Cookie"]
    assert "HttpOnly" in plain and "SameSite=Lax" in plain and "Secure" not in plain
    secure = app.test_client().get("/login", base_url="https://localhost").headers["Set-Cookie"]
    assert "Secure" in secure


def test_htmx_is_configured_without_inline_styles_or_eval(client):
    page = client.get("/").get_data(as_text=True)
    assert '"includeIndicatorStyles": false' in page and '"allowEval": false' in page
    assert "X-CSRFToken" in page


def test_pages_behind_login_send_anonymous_visitors_to_login(client):
    response = client.get("/outbox/12345")
    assert response.status_code == 302 and "/login?next=" in response.headers["Location"]


def test_404_page_is_a_full_page_and_htmx_gets_a_message(client):
    page = client.get("/nope").get_data(as_text=True)
    assert "<html" in page and "404" in page
    fragment = client.get("/nope", headers={"HX-Request": "true"})
    assert fragment.status_code == 404 and fragment.headers["HX-Reswap"] == "none"
    assert 'hx-swap-oob="true"' in fragment.get_data(as_text=True)


def test_wrong_method_is_405_not_500(client):
    assert client.get("/logout").status_code == 405


def test_oversized_body_is_413(client):
    response = post(client, "/login", {"email": "a@example.com", "password": "x" * (17 * 1024 * 1024)})
    assert response.status_code == 413
    assert "too large" in response.get_data(as_text=True)


def test_unexpected_error_is_a_clean_500(app, client):
    @app.route("/boom")
    def boom():
        raise RuntimeError("kaput")

    app.testing = False  # let the error handler run as in production
    response = client.get("/boom")
    assert response.status_code == 500
    assert "Something went wrong" in response.get_data(as_text=True)
    assert "kaput" not in response.get_data(as_text=True)


def test_missing_csrf_token_is_refused(client):
    response = post(client, "/login", {"email": "a@example.com", "password": "whatever12"}, token=False)
    assert response.status_code == 400
    assert "expired or did not come from this site" in response.get_data(as_text=True)


def test_vendored_htmx_is_the_pinned_release():
    vendor = ROOT / "static" / "vendor"
    assert hashlib.sha256((vendor / "htmx.min.js").read_bytes()).hexdigest() == HTMX_SHA256
    assert "2.0.11" in (vendor / "VERSION").read_text()
    assert "Zero-Clause BSD" in (vendor / "htmx.LICENSE").read_text()


def _documented(name, readme):
    if name.startswith("RETENTION_"):
        return f"`{name[len('RETENTION_'):-len('_DAYS')]}`" in readme
    if name.startswith("CONTROLLER_"):
        return f"`_{name[len('CONTROLLER_'):]}`" in readme or f"`SENDTEX_{name}`" in readme
    return f"`SENDTEX_{name}`" in readme


def test_readme_documents_every_setting():
    from sendtex.config import DEFAULTS

    readme = (ROOT / "README.md").read_text()
    missing = [name for name in DEFAULTS if not _documented(name, readme)]
    assert not missing, f"README.md does not document {missing}"
    assert "make run" in readme and "make test" in readme


def test_wsgi_module_builds_the_app(tmp_path, monkeypatch):
    monkeypatch.setenv("SENDTEX_INSTANCE_PATH", str(tmp_path / "instance"))
    import importlib

    import wsgi

    assert importlib.reload(wsgi).app.name == "sendtex"


def test_passwords_are_hashed_with_argon2id_at_production_cost(tmp_path):
    from sendtex.models.accounts import User

    make_app(tmp_path / "prod", ARGON2_TIME_COST=3, ARGON2_MEMORY_KIB=65536)
    user = User(password_hash="")
    user.set_password("a long enough passphrase")
    assert user.password_hash.startswith("$argon2id$v=19$m=65536,t=3,")
    assert user.check_password("a long enough passphrase") and not user.check_password("a long enough passphrasE")


def test_lazy_messages_with_user_input_are_escaped(app):
    from flask import render_template_string
    from flask_babel import lazy_gettext

    with app.test_request_context():
        html = render_template_string("<p>{{ message }}</p>", message=lazy_gettext("%(label)s is required.",
                                                                                   label="<script>alert(1)</script>"))
    assert "<script>" not in html and "&lt;script&gt;" in html
