"""Browser tests: a real Chromium drives the app served on a local port, with the demo data.

The app runs once per session on its own migrated SQLite file (not the `app`/`client`
fixtures of tests/conftest.py, which are per test and in-process). CSRF stays on, as for
people. pytest-playwright gives each test a fresh browser context, so no cookie leaks
from one test into the next.

Chromium is Debian's (/usr/bin/chromium, or VENDOR_PORTAL_CHROMIUM): without it these tests
are skipped, or fail when VENDOR_PORTAL_REQUIRE_FULL_SUITE=1.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import ConsoleMessage, Error, Page, Request, Response, expect
from sqlalchemy import select
from werkzeug.serving import make_server

from tests.conftest import FAST_HASHING, skip_or_fail

HERE = Path(__file__).resolve().parent
CHROMIUM = Path(os.environ.get("VENDOR_PORTAL_CHROMIUM", "/usr/bin/chromium"))
SECRET_KEY = "e2e-secret-key-fixed-for-the-browser-tests-0123456789"

# The demo accounts (vendor_portal.demo.seed), by role; vendor users by their vendor's name.
DEMO_EMAILS = {
    "admin": "admin@example.com",
    "vendor_manager": "manager@example.com",
    "procurement": "procurement@example.com",
    "auditor": "auditor@example.com",
    "vendor_user": "continuity@nimbuscloudservices.example.com",
}
VENDOR_USERS = {
    "Nimbus Cloud Services": "continuity@nimbuscloudservices.example.com",
    "Ledgerline Payments": "bcm@ledgerlinepayments.example.com",
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # Hooks in this conftest see every collected item, not only this folder's.
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.e2e)


@dataclass(frozen=True)
class LiveServer:
    url: str
    app: Flask
    vendor_ids: dict[str, int]

    def query(self, statement: Any) -> list[Any]:
        """Run a read-only statement against the server's database, in its app context."""
        from vendor_portal.extensions import db

        with self.app.app_context():
            return list(db.session.scalars(statement))


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    from flask_migrate import upgrade

    from vendor_portal import create_app
    from vendor_portal.demo.seed import seed
    from vendor_portal.extensions import db
    from vendor_portal.vendors.models import Vendor

    folder = tmp_path_factory.mktemp("e2e")
    app = create_app(
        {
            "TESTING": False,
            "SECRET_KEY": SECRET_KEY,
            "DATABASE_URL": f"sqlite:///{folder / 'e2e.sqlite3'}",
            "EVIDENCE_DIR": str(folder / "evidence"),
            "RATELIMIT_ENABLED": False,
            **FAST_HASHING,
        }
    )
    with app.app_context():
        upgrade(revision="heads")
        seed(db.session)
        db.session.commit()
        rows = db.session.execute(select(Vendor.name, Vendor.id))
        vendor_ids = {row.name: row.id for row in rows}

    server = make_server("127.0.0.1", 0, app, threaded=True)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["BASE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, name="e2e-live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(url=url, app=app, vendor_ids=vendor_ids)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture(scope="session")
def base_url(live_server: LiveServer) -> str:
    """pytest-playwright passes this to every browser context: page.goto("/path") works."""
    return live_server.url


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        skip_or_fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
        ],
    }


@pytest.fixture(autouse=True)
def _require_chromium() -> None:
    """Skip (or fail) every test here early, even one that does not launch the browser."""
    if not CHROMIUM.exists():
        skip_or_fail(f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(autouse=True)
def _short_timeouts(page: Page) -> None:
    # A missing element should fail in seconds, not after Playwright's 30 s default.
    page.set_default_timeout(10_000)
    expect.set_options(timeout=5_000)


# --- signing in ---------------------------------------------------------------------------


def fill_login(page: Page, email: str, password: str) -> None:
    page.goto("/auth/login")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


@pytest.fixture
def sign_in(page: Page, live_server: LiveServer) -> Callable[[str], None]:
    """Sign in through the login form as people do, and wait for the home page."""
    from vendor_portal.demo.seed import DEMO_PASSWORD

    def _sign_in(email: str) -> None:
        fill_login(page, email, DEMO_PASSWORD)
        expect(page).to_have_url(f"{live_server.url}/")
        expect(page.get_by_test_id("user-menu")).to_be_visible()

    return _sign_in


# --- what the browser did -----------------------------------------------------------------


@dataclass
class BrowserLog:
    """Every request, console error and uncaught exception of one page."""

    origin: str
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_documents: dict[str, int] = field(default_factory=dict)

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def on_response(self, response: Response) -> None:
        if response.request.resource_type == "document" and response.status >= 400:
            self.failed_documents[response.url] = response.status

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url", "")
            self.console_errors.append(f"{message.text} (at {where})")

    def on_page_error(self, error: Error) -> None:
        self.page_errors.append(str(error))

    def external_requests(self) -> list[str]:
        return [url for url in self.requests if not url.startswith(self.origin + "/")]

    def problems(self, expected_statuses: tuple[int, ...] = ()) -> list[str]:
        """Console errors and page errors, minus Chromium's note about an expected error page.

        Chromium logs "Failed to load resource: ... status of 404" for a document answered
        with an error status; that is the point of the tests that ask for one."""
        allowed = {
            url for url, status in self.failed_documents.items() if status in expected_statuses
        }
        errors = [
            text
            for text in self.console_errors
            if not (
                text.startswith("Failed to load resource: the server responded with a status of")
                and any(text.endswith(f"(at {url})") for url in allowed)
            )
        ]
        return errors + [f"uncaught: {text}" for text in self.page_errors]


@pytest.fixture
def browser_log(page: Page, live_server: LiveServer) -> BrowserLog:
    log = BrowserLog(origin=live_server.url)
    page.on("request", log.on_request)
    page.on("response", log.on_response)
    page.on("console", log.on_console)
    page.on("pageerror", log.on_page_error)
    return log
