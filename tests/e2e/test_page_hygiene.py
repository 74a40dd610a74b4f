"""Every page loads only from this server, and the browser reports no error or CSP violation."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO_EMAILS, BrowserLog, LiveServer

NIMBUS = "Nimbus Cloud Services"
COMMON = ["/", "/auth/password", "/auth/tokens"]
INTERNAL = ["/vendors/", "/vendors/?tier=critical&sort=-name", "vendor"]
PAGES = {
    "admin": [*COMMON, *INTERNAL, "/vendors/new", "vendor/edit", "/audit/", "/admin/users"],
    "vendor_manager": [*COMMON, *INTERNAL, "/vendors/new", "vendor/edit"],
    "procurement": [*COMMON, *INTERNAL],
    "auditor": [*COMMON, *INTERNAL, "/audit/"],
    "vendor_user": [*COMMON, "vendor"],
}


@pytest.mark.parametrize("role", list(PAGES))
def test_pages_load_nothing_from_elsewhere_and_log_no_errors(
    role: str, page: Page, sign_in, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    vendor_path = f"/vendors/{live_server.vendor_ids[NIMBUS]}"
    sign_in(DEMO_EMAILS[role])
    visited = []
    for path in PAGES[role]:
        path = path.replace("vendor", vendor_path) if path.startswith("vendor") else path
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        visited.append(path)

    # Bootstrap's script runs under the CSP: the user menu opens, and signing out works.
    page.get_by_test_id("user-menu").click()
    sign_out = page.get_by_role("button", name="Sign out")
    expect(sign_out).to_be_visible()
    sign_out.click()
    expect(page).to_have_url(f"{live_server.url}/auth/login")
    expect(page.get_by_role("alert")).to_contain_text("You are signed out.")

    assert browser_log.requests, "no request was seen: the listener is not attached"
    assert any("/static/" in url for url in browser_log.requests)
    assert browser_log.external_requests() == []
    assert browser_log.problems() == [], visited
