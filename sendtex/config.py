"""Configuration: defaults, then instance/config.py, then SENDTEX_* variables, then test config."""
import base64
import json
import os
import secrets
from pathlib import Path

ENV_PREFIX = "SENDTEX_"
KEYS_FILE = "keys.json"

# Every setting an operator may change; README.md documents each one.
DEFAULTS = {
    "DATABASE_URL": "",  # empty: sqlite:///<instance>/sendtex.db
    "HUEY_FILE": "",  # empty: <instance>/huey.db
    "BASE_URL": "http://127.0.0.1:5000",
    "LANGUAGES": ["en", "nl"],
    "DEFAULT_LANGUAGE": "en",
    "MAX_CONTENT_LENGTH": 16 * 1024 * 1024,
    "SESSION_LIFETIME_HOURS": 12,
    "TRUSTED_PROXIES": 0,
    "ARGON2_TIME_COST": 3,
    "ARGON2_MEMORY_KIB": 65536,
    "JOB_LEASE_SECONDS": 60,
    "SEND_BATCH_SIZE": 200,
    "SEND_RETRY_PERIOD_SECONDS": 48 * 3600,
    "SEND_RETRY_FIRST_DELAY_SECONDS": 60,
    "SEND_PAUSE_WINDOW": 200,
    "SEND_PAUSE_FAILURE_RATE": 0.2,
    "SEND_LANES": 2,
    "SEND_RELAY_COOLDOWN_SECONDS": 60,
    "LIST_UNSUBSCRIBE_MAILTO": "",
    "SEND_ENVELOPE_FROM": "",  # empty: a campaign's own From address
    "OPERATOR_NEWSLETTER_FORM": "",  # public id of the signup form of the operator's own newsletter
    "IMPORT_MAX_BYTES": 200 * 1024 * 1024,
    "IMPORT_CHUNK_ROWS": 2000,
    "API_RATE_LIMIT": 600,
    "API_RATE_WINDOW_SECONDS": 60,
    "API_IDEMPOTENCY_HOURS": 24,
    "LOGIN_MAX_FAILURES": 5,
    "LOGIN_WINDOW_MINUTES": 15,
    "PASSWORD_RESET_MAX_AGE": 3600,
    "INVITATION_MAX_AGE": 7 * 24 * 3600,
    "SIGNUP_CONFIRM_MAX_AGE": 7 * 24 * 3600,
    "SIGNUP_LIMIT_PER_NETWORK": 20,
    "SIGNUP_LIMIT_PER_ADDRESS": 3,
    "SIGNUP_LIMIT_WINDOW_MINUTES": 60,
    "PREFERENCES_LINK_MAX_AGE": 24 * 3600,
    "CONTACT_FORM_NOTIFY": "",  # empty: no mail about new contact-form messages
    "WEBSITE_FORMS_LIMIT_PER_NETWORK": 5,  # contact messages, and job applications, per network per hour
    "MAIL_FROM": "Sendtex <no-reply@localhost>",
    "SMTP_HOST": "",
    "SMTP_PORT": 587,
    "SMTP_SECURITY": "starttls",  # starttls, tls or plain (plain only for loopback)
    "SMTP_USER": "",
    "SMTP_PASSWORD": "",
    "SMTP_TIMEOUT": 30,
    "OUTBOX_DIR": "",  # empty: <instance>/outbox
    "DNS_RESOLVER": "",  # empty: the system's resolver; else host or host:port ([v6]:port), for "Check DNS"
    "DNS_TIMEOUT": 5,
    "BOUNCE_IMAP_HOST": "",  # empty: no bounce mailbox is read
    "BOUNCE_IMAP_PORT": 993,
    "BOUNCE_IMAP_SECURITY": "tls",  # tls (implicit) or starttls
    "BOUNCE_IMAP_USER": "",
    "BOUNCE_IMAP_PASSWORD": "",
    "BOUNCE_IMAP_FOLDER": "INBOX",
    "BOUNCE_IMAP_PROCESSED_FOLDER": "Processed",
    "BOUNCE_IMAP_VERIFY": True,
    "BOUNCE_IMAP_CA_FILE": "",
    "BOUNCE_IMAP_INTERVAL_SECONDS": 300,
    "BOUNCE_WEBHOOK_SECRET": "",  # empty: POST /hooks/bounces answers 404
    "CONTROLLER_NAME": "Sendtex operator",
    "CONTROLLER_ADDRESS": "Street 1, 1000 City, Country",
    "CONTROLLER_VAT": "",
    "CONTROLLER_EMAIL": "privacy@localhost",
    "CONTROLLER_PHONE": "",
    "SUPERVISORY_AUTHORITY": "the data protection authority of your country",
    "SUPERVISORY_AUTHORITY_URL": "",
    "PRIVACY_POLICY_VERSION": "2026-11-25",
    "RETENTION_TRACKING_EVENTS_DAYS": 395,
    "RETENTION_WEB_STATS_DAYS": 760,
    "RETENTION_CONTACT_MESSAGES_DAYS": 365,
    "RETENTION_JOB_APPLICATIONS_DAYS": 180,
    "RETENTION_UNCONFIRMED_SIGNUPS_DAYS": 30,
    "RETENTION_DELETION_RECORDS_DAYS": 1825,
    "RETENTION_AUDIT_LOG_DAYS": 730,
    "RETENTION_EXPORTS_DAYS": 7,
    "RETENTION_LOGIN_ATTEMPTS_DAYS": 1,
    "RETENTION_CONSENT_RECORDS_DAYS": 1825,
    "RETENTION_DATA_REQUESTS_DAYS": 1825,  # counted from the request's closing
}


def _cast(raw, default):
    """Turn an environment string into the type of the default value."""
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, list):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


def load(app, test_config=None):
    """Fill app.config from every source in order of precedence."""
    app.config.update(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    for name, default in DEFAULTS.items():
        raw = os.environ.get(ENV_PREFIX + name)
        if raw is not None:
            app.config[name] = _cast(raw, default)
    if not app.config["DATABASE_URL"] and os.environ.get("DATABASE_URL"):
        app.config["DATABASE_URL"] = os.environ["DATABASE_URL"]
    for name in ("SECRET_KEY", "FIELD_KEYS", "BLIND_INDEX_KEY"):
        if os.environ.get(ENV_PREFIX + name):
            app.config[name] = os.environ[ENV_PREFIX + name]
    if test_config:
        app.config.update(test_config)
    _fill_paths(app)
    _load_or_create_secrets(app)


def _fill_paths(app):
    instance = Path(app.instance_path)
    app.config["DATABASE_URL"] = app.config["DATABASE_URL"] or f"sqlite:///{instance / 'sendtex.db'}"
    app.config["HUEY_FILE"] = app.config["HUEY_FILE"] or str(instance / "huey.db")
    app.config["OUTBOX_DIR"] = app.config["OUTBOX_DIR"] or str(instance / "outbox")


def _new_key():
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _load_or_create_secrets(app):
    """Use configured secrets, else those in instance/keys.json, generated on first start."""
    wanted = ("SECRET_KEY", "FIELD_KEYS", "BLIND_INDEX_KEY")
    if all(app.config.get(name) for name in wanted):
        return
    path = Path(app.instance_path) / KEYS_FILE
    stored = read_keys_file(path) if path.exists() else {}
    if not stored:
        stored = {
            "SECRET_KEY": secrets.token_hex(32),
            "FIELD_KEYS": "k1:" + _new_key(),
            "BLIND_INDEX_KEY": _new_key(),
        }
        write_keys_file(path, stored)
    for name in wanted:
        app.config[name] = app.config.get(name) or stored[name]


def read_keys_file(path):
    """Read the instance key file."""
    return json.loads(Path(path).read_text())


def write_keys_file(path, keys):
    """Write the instance key file readable by its owner only, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(keys, handle, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def retention_periods(config):
    """The retention period in days of each data category, in display order."""
    prefix, suffix = "RETENTION_", "_DAYS"
    return {
        name[len(prefix):-len(suffix)].lower(): config[name]
        for name in DEFAULTS
        if name.startswith(prefix) and name.endswith(suffix)
    }
