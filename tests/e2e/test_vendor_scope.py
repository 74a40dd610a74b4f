"""A vendor user sees their own vendor and nothing of any other."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import VENDOR_USERS, BrowserLog, LiveServer


@pytest.mark.parametrize(
    ("own", "other"),
    [
        ("Nimbus Cloud Services", "Ledgerline Payments"),
        ("Ledgerline Payments", "Nimbus Cloud Services"),
    ],
)
def test_vendor_user_cannot_open_another_vendors_page(
    own: str, other: str, page: Page, sign_in, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    sign_in(VENDOR_USERS[own])

    response = page.goto(f"/vendors/{live_server.vendor_ids[other]}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_test_id("vendor-name")).to_have_count(0)
    expect(page.locator("body")).not_to_contain_text(other)
    not_found_text = page.locator("main").inner_text()

    # Indistinguishable from a vendor that does not exist: the id's existence does not leak.
    missing = max(live_server.vendor_ids.values()) + 1000
    response = page.goto(f"/vendors/{missing}")
    assert response is not None and response.status == 404
    assert page.locator("main").inner_text() == not_found_text

    response = page.goto(f"/vendors/{live_server.vendor_ids[own]}")
    assert response is not None and response.status == 200
    expect(page.get_by_test_id("vendor-name")).to_have_text(own)
    expect(page.locator("body")).not_to_contain_text(other)
    assert browser_log.problems(expected_statuses=(404,)) == []


def test_vendor_user_cannot_open_the_vendor_list(page: Page, sign_in) -> None:
    sign_in(VENDOR_USERS["Nimbus Cloud Services"])
    response = page.goto("/vendors/")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="You do not have access to this page")).to_be_visible()
    expect(page.get_by_text("Ledgerline Payments")).to_have_count(0)
