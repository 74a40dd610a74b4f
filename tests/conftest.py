"""Fixtures: an app per test on its own database (SQLite always, PostgreSQL when configured).

Set VENDOR_PORTAL_TEST_DATABASE_URL to a PostgreSQL URL to run every database test on both.
Set VENDOR_PORTAL_REQUIRE_FULL_SUITE=1 (CI does) to make a missing PostgreSQL or Chromium an
error instead of a skip.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from tests.factories import Builders

PG_URL_ENV = "VENDOR_PORTAL_TEST_DATABASE_URL"
STRICT = os.environ.get("VENDOR_PORTAL_REQUIRE_FULL_SUITE") == "1"
ROOT = Path(__file__).resolve().parent.parent
SHARED_DATA = ROOT.parent / "shared" / "data"

FAST_HASHING = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 1024, "ARGON2_PARALLELISM": 1}


def base_config(tmp_path: Path, database_url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key-that-is-long-enough-0123456789",
        "DATABASE_URL": database_url,
        "EVIDENCE_DIR": str(tmp_path / "evidence"),
        "WTF_CSRF_ENABLED": False,
        # Tests sign in far more often than a person; the limits have tests of their own.
        "RATELIMIT_ENABLED": False,
        "SERVER_NAME": None,
        **FAST_HASHING,
    }


def skip_or_fail(reason: str) -> None:
    if STRICT:
        pytest.fail(f"{reason} (VENDOR_PORTAL_REQUIRE_FULL_SUITE=1 forbids skipping)")
    pytest.skip(reason)


def postgres_url() -> str | None:
    url = os.environ.get(PG_URL_ENV)
    if url and not url.startswith("postgresql+psycopg://"):
        url = re.sub(r"^postgres(ql)?://", "postgresql+psycopg://", url)
    return url


def migrate_to_head(app: Flask) -> None:
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(revision="heads")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, copied for each test: migrations run once per session."""
    from vendor_portal import create_app

    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    app = create_app(base_config(path.parent, f"sqlite:///{path}"))
    migrate_to_head(app)
    with app.app_context():
        from vendor_portal.extensions import db

        db.engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_migrated(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = postgres_url()
    if not url:
        skip_or_fail(f"{PG_URL_ENV} is not set")
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
    except sa.exc.OperationalError as exc:
        skip_or_fail(f"PostgreSQL at {PG_URL_ENV} is not reachable: {exc.orig}")
    finally:
        engine.dispose()
    from vendor_portal import create_app

    app = create_app(base_config(tmp_path_factory.mktemp("pg"), url))
    migrate_to_head(app)
    with app.app_context():
        from vendor_portal.extensions import db

        # Rows the migrations insert (the audit chain head, seeded libraries): put back after
        # each test's TRUNCATE, as SQLite tests get them from the migrated template file.
        with db.engine.connect() as conn:
            existing = set(sa.inspect(conn).get_table_names())
            for table in db.metadata.sorted_tables:
                if table.name not in existing:
                    continue
                # The columns the migrations made; table names come from our own metadata.
                query = sa.text(f'SELECT * FROM "{table.name}"')  # noqa: S608
                rows = [dict(r._mapping) for r in conn.execute(query)]
                if rows:
                    MIGRATION_ROWS[table.name] = rows
        db.engine.dispose()
    return url


MIGRATION_ROWS: dict[str, list[dict]] = {}


def reset_postgres(app: Flask) -> None:
    from vendor_portal.extensions import db

    with db.engine.begin() as conn:
        existing = set(sa.inspect(conn).get_table_names())
        tables = [t for t in db.metadata.sorted_tables if t.name in existing]
        quoted = ", ".join(f'"{t.name}"' for t in tables)
        conn.execute(sa.text(f"TRUNCATE {quoted} RESTART IDENTITY CASCADE"))
        for table in tables:
            rows = MIGRATION_ROWS.get(table.name)
            if not rows:
                continue
            conn.execute(table.insert(), rows)
            if "id" in table.c and table.c.id.autoincrement:
                conn.execute(
                    sa.text(f"SELECT setval(pg_get_serial_sequence('\"{table.name}\"', 'id'), :n)"),
                    {"n": max(r["id"] for r in rows)},
                )


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "test.sqlite3"
        shutil.copyfile(template, path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("postgres_migrated")


@pytest.fixture
def app(database_url: str, tmp_path: Path) -> Iterator[Flask]:
    """The app on a fresh database. No app context stays pushed: each request gets its own,
    as in production (a shared one would share `g`, and with it the signed-in user)."""
    from vendor_portal import create_app
    from vendor_portal.extensions import db

    app = create_app(base_config(tmp_path, database_url))
    if database_url.startswith("postgresql"):
        with app.app_context():
            reset_postgres(app)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session of the test's own for building data and checking what was stored."""
    from vendor_portal.extensions import db

    with app.app_context():
        engine = db.engine
    with Session(engine, expire_on_commit=False) as test_session:
        yield test_session


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def build(session: Session) -> Builders:
    return Builders(session)


class AuthActions:
    """Sign in through the real login form, as people do."""

    def __init__(self, client: FlaskClient, build: Builders) -> None:
        self.client = client
        self.build = build

    def login(self, email: str, password: str = "correct horse battery"):
        return self.client.post("/auth/login", data={"email": email, "password": password})

    def login_as(self, role: str, vendor=None, **kwargs):
        """Create a user with this role (and vendor, for vendor users) and sign in."""
        user = self.build.user(role=role, vendor=vendor, **kwargs)
        response = self.login(user.email)
        assert response.status_code == 302, response.text
        return user

    def logout(self):
        return self.client.post("/auth/logout")


@pytest.fixture
def auth(client: FlaskClient, build: Builders) -> AuthActions:
    return AuthActions(client, build)


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is absent (public test data lives beside the repository)")
    return SHARED_DATA


class Mailbox:
    """Messages received by the loopback SMTP server."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        from email import message_from_bytes
        from email.policy import default

        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(app: Flask) -> Iterator[Mailbox]:
    """A real SMTP server on loopback; the app is configured to send through it."""
    import socket

    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    app.config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=port)
    try:
        yield mailbox
    finally:
        controller.stop()
