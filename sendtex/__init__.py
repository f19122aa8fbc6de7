"""Sendtex: self-hosted, privacy-first e-mail marketing."""
import os
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config=None):
    """Build the Flask app: config, database, queue, extensions, blueprints."""
    test_config = dict(test_config or {})
    instance_path = test_config.pop("INSTANCE_PATH", None) or os.environ.get("SENDTEX_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path or ROOT / "instance").resolve()),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    Path(app.instance_path).mkdir(mode=0o700, parents=True, exist_ok=True)

    from sendtex import api, config, db, queue, sitestats, uploads, web
    from sendtex.models.accounts import configure_password_hashing
    from sendtex.tasks.context import set_app

    config.load(app, test_config)
    configure_password_hashing(app.config["ARGON2_TIME_COST"], app.config["ARGON2_MEMORY_KIB"])
    db.init_app(app)
    queue.configure(app.config["HUEY_FILE"], immediate=app.config.get("HUEY_IMMEDIATE", False))
    set_app(app)
    web.init_app(app)
    uploads.init_app(app)
    sitestats.init_app(app)
    _register_blueprints(app)
    api.init_app(app, web.csrf)
    import sendtex.tasks  # noqa: F401  (registers the tasks with Huey)

    return app


def _register_blueprints(app):
    from sendtex.accounts.routes import bp as accounts_bp
    from sendtex.auth.routes import bp as auth_bp
    from sendtex.campaigns import bp as campaigns_bp
    from sendtex.lists import bp as lists_bp
    from sendtex.preferences.routes import bp as preferences_bp
    from sendtex.privacy.routes import bp as privacy_bp
    from sendtex.public.routes import bp as public_bp
    from sendtex.staff import bp as staff_bp
    from sendtex.stats import bp as stats_bp
    from sendtex.subscribe.routes import bp as subscribe_bp
    from sendtex.tracking.hooks import bp as hooks_bp
    from sendtex.tracking.routes import bp as tracking_bp

    for blueprint in (public_bp, auth_bp, accounts_bp, lists_bp, campaigns_bp, privacy_bp, tracking_bp,
                      staff_bp, preferences_bp, subscribe_bp, stats_bp, hooks_bp):
        app.register_blueprint(blueprint)
