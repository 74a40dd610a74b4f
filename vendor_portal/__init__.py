"""Vendor Portal: third-party and supply-chain resilience."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, abort, g, request
from flask_login import current_user
from sqlalchemy import event
from sqlalchemy.engine import Engine

from vendor_portal import config
from vendor_portal.db import is_id
from vendor_portal.extensions import csrf, db, login_manager, migrate

__all__ = ["create_app"]

FEATURES = (
    "home",
    "auth",
    "admin",
    "vendors",
    "questionnaires",
    "evidence",
    "kpis",
    "graph",
    "findings",
    "exercises",
    "contracts",
    "subcontracting",
    "gate",
    "audit",
    "backup",
    "api",
)


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder="../templates",
        static_folder="../static",
    )
    config.load(app, test_config)
    _configure_logging(app)
    register_extensions(app)
    register_blueprints(app)
    from vendor_portal import ratelimit

    ratelimit.init_app(app)  # wraps the sign-in and token views, so after the blueprints
    register_request_hooks(app)
    register_template_helpers(app)
    from vendor_portal.errors import register_error_handlers
    from vendor_portal.security import register_security

    register_error_handlers(app)
    register_security(app)
    from vendor_portal.cli import register_cli

    register_cli(app)
    return app


def _configure_logging(app: Flask) -> None:
    if not app.debug and not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )


def register_extensions(app: Flask) -> None:
    from vendor_portal.audit import services as audit
    from vendor_portal.auth import passwords

    db.init_app(app)
    migrate.init_app(
        app,
        db,
        directory=str(app.root_path + "/../migrations"),
        compare_type=True,
        render_as_batch=True,
    )
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "basic"
    passwords.configure(
        app.config["ARGON2_TIME_COST"],
        app.config["ARGON2_MEMORY_COST"],
        app.config["ARGON2_PARALLELISM"],
    )
    audit.install(db.session)

    @login_manager.user_loader
    def load_user(user_id: str):
        from vendor_portal.auth.models import User

        ident, _, version = user_id.partition(":")
        if not ident.isdigit() or not version.isdigit():
            return None
        user = db.session.get(User, int(ident))
        if user is None or user.session_version != int(version):
            return None  # password changed or deactivated since this session began
        return user


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection: Any, connection_record: Any) -> None:
    """Foreign keys on, WAL for concurrent readers, and a busy timeout for writers."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


def register_blueprints(app: Flask) -> None:
    from importlib import import_module

    # Feature packages, each with its blueprint `bp`; the API comes last so that features can
    # add to it while they are imported.
    for name in FEATURES:
        app.register_blueprint(import_module(f"vendor_portal.{name}").bp)


def register_request_hooks(app: Flask) -> None:
    from vendor_portal.audit.services import SYSTEM, Actor, set_actor

    @app.before_request
    def ids_in_range() -> None:
        # Ids in URLs are database integers (PostgreSQL's are 32-bit): a larger number names
        # no object, so 404 rather than a driver overflow. (A bounded URL converter would make
        # werkzeug answer 405 to such a POST.)
        for value in (request.view_args or {}).values():
            if isinstance(value, int) and not is_id(value):
                abort(404)

    @app.before_request
    def refuse_nul_characters() -> None:
        # PostgreSQL text cannot hold U+0000: refuse it up front, the same on every database.
        # Multipart bodies are screened where they are streamed (reading them here would
        # consume the upload).
        texts = [*request.args.keys(), *request.args.values()]
        if request.mimetype == "application/x-www-form-urlencoded":
            texts += [*request.form.keys(), *request.form.values()]
        if "\x00" in "".join(texts):
            abort(400, "Text may not contain NUL (U+0000) characters.")

    @app.before_request
    def set_audit_actor() -> None:
        # API requests set their own actor once the token is checked.
        if current_user.is_authenticated and not request.path.startswith("/api/"):
            set_actor(Actor(current_user.id, current_user.email, request.remote_addr))
        else:
            set_actor(Actor(None, "anonymous", request.remote_addr))

    @app.teardown_request
    def reset_audit_actor(exc: BaseException | None) -> None:
        set_actor(SYSTEM)
        g.pop("api_user", None)


def register_template_helpers(app: Flask) -> None:
    from vendor_portal.navigation import main_nav, nav_for
    from vendor_portal.security import Role, has_permission
    from vendor_portal.vendors.domain import country_name

    @app.context_processor
    def helpers() -> dict[str, Any]:
        return {
            "can": lambda permission: has_permission(current_user, permission),
            "Role": Role,
            "nav_for": nav_for,
        }

    app.add_template_global(main_nav)

    app.jinja_env.filters["country_name"] = country_name

    @app.template_filter("datetime")
    def format_datetime(value: Any) -> str:
        return "" if value is None else value.strftime("%Y-%m-%d %H:%M UTC")

    @app.template_global()
    def sort_link(key: str, current: str) -> dict[str, str]:
        """Query args for a column header: toggles the direction when already sorted by it."""
        args = request.args.to_dict(flat=False)
        args.pop("page", None)
        args["sort"] = [f"-{key}" if current == key else key]
        return args
