"""Configuration: defaults, then VENDOR_PORTAL_* environment variables, then test overrides."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

ENV_PREFIX = "VENDOR_PORTAL"
DEV_SECRET_FILE = "secret_key"  # noqa: S105 (a file name)
logger = logging.getLogger(__name__)


class ConfigurationError(RuntimeError):
    """The app cannot start with the configuration it was given."""


def defaults(instance_path: str) -> dict[str, Any]:
    return {
        "ENV": "development",
        "SECRET_KEY": None,
        "DATABASE_URL": "sqlite:///" + os.path.join(instance_path, "vendor_portal.sqlite3"),
        "EVIDENCE_DIR": os.path.join(instance_path, "evidence"),
        "STORAGE": "filesystem",  # or "s3"
        "S3_BUCKET": None,
        "S3_PREFIX": "",
        "S3_ENDPOINT_URL": None,
        "BASE_URL": "http://127.0.0.1:5000",
        "MAIL_FROM": "Vendor Portal <no-reply@vendor-portal.local>",
        "SMTP_HOST": None,
        "SMTP_PORT": 25,
        "SMTP_USERNAME": None,
        "SMTP_PASSWORD": None,
        "SMTP_STARTTLS": False,
        "SMTP_TIMEOUT": 10,
        "REDIS_URL": None,
        # Rate limits on sign-in, token creation and failed API tokens (vendor_portal/ratelimit.py).
        # Storage: unset means REDIS_URL if set, else memory:// (counted per worker).
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URL": None,
        "RATELIMIT_KEY_PREFIX": "vendor_portal",
        "RATELIMIT_LOGIN_PER_ACCOUNT": "10 per minute; 30 per hour",
        "RATELIMIT_LOGIN_PER_ADDRESS": "60 per minute",
        "RATELIMIT_TOKENS_PER_ACCOUNT": "20 per hour",
        "RATELIMIT_TOKENS_PER_ADDRESS": "60 per hour",
        "RATELIMIT_API_FAILURES_PER_ADDRESS": "20 per minute",
        "PER_PAGE": 50,
        # The home page's task list is gathered again after any change, or once this old (tasks
        # that move with the clock alone); 0 gathers it on every view.
        "HOME_TASKS_MAX_AGE_SECONDS": 60,
        "MAX_PER_PAGE": 500,
        "LOGIN_MAX_FAILURES": 5,
        "LOGIN_ADDRESS_MAX_FAILURES": 20,
        "LOGIN_LOCK_MINUTES": 15,
        "INVITE_MAX_AGE_DAYS": 7,
        # Days the organisation has to object to a vendor's subcontracting change notice.
        "SUBCONTRACTING_NOTICE_DAYS": 30,
        # argon2id parameters (RFC 9106 second recommended option is memory 64 MiB, t=3)
        "ARGON2_TIME_COST": 3,
        "ARGON2_MEMORY_COST": 65536,
        "ARGON2_PARALLELISM": 4,
        "MAX_CONTENT_LENGTH": 64 * 1024 * 1024,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": False,
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "REMEMBER_COOKIE_SECURE": False,
        "WTF_CSRF_TIME_LIMIT": None,
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    }


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    """Fill app.config and check that it is safe to run with."""
    app.config.update(defaults(app.instance_path))
    app.config.from_prefixed_env(ENV_PREFIX)
    if test_config:
        app.config.update(test_config)
    app.config["SQLALCHEMY_DATABASE_URI"] = normalise_database_url(app.config["DATABASE_URL"])
    production = app.config["ENV"] == "production"
    if production:
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
        secret = app.config.get("SECRET_KEY")
        if not secret or len(str(secret)) < 32 or str(secret).startswith("dev"):
            raise ConfigurationError(
                "VENDOR_PORTAL_SECRET_KEY must be set to a random value of at least 32 "
                "characters when VENDOR_PORTAL_ENV=production "
                '(python -c "import secrets; print(secrets.token_urlsafe(48))")'
            )
        if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
            logger.warning(
                "Running in production on SQLite; set VENDOR_PORTAL_DATABASE_URL to a "
                "PostgreSQL URL for concurrent use and online backups."
            )
    elif not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _development_secret(app.instance_path)


def normalise_database_url(url: str) -> str:
    """Accept the postgres:// and postgresql:// spellings and use the psycopg 3 driver."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _development_secret(instance_path: str) -> str:
    """A per-installation secret kept in the instance folder, so sessions survive restarts."""
    path = Path(instance_path) / DEV_SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.write_text(secret)
    path.chmod(0o600)
    return secret
