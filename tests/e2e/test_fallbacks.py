"""A vendor manager follows the home-page task to the fallback register, sees the demo's flags
with their reasons, records a fresh test of a fallback so its flag goes, and checks where the
region risk ratings show."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO_EMAILS, BrowserLog, LiveServer


def test_manager_sees_flagged_fallbacks_and_records_a_test(
    page: Page, sign_in, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    sign_in(DEMO_EMAILS["vendor_manager"])
    task = page.get_by_role("link", name=re.compile("Fix flagged fallbacks"))
    expect(task).to_be_visible()
    task.click()
    expect(page.get_by_role("heading", name="Fallback providers")).to_be_visible()
    register = page.get_by_test_id("fallback-register")
    # No second acquirer for a critical service.
    acquiring = register.locator("tr", has_text="Card acquiring").first
    expect(acquiring).to_contain_text("No fallback")
    expect(acquiring).to_contain_text("no fallback for Card payments (a critical service)")
    # Both clouds reach the same carrier: a common cause found through the graph.
    stratus = register.locator("tr", has_text="Stratus Kubernetes Frankfurt").first
    expect(stratus).to_contain_text("Common cause")
    expect(stratus).to_contain_text("MPLS WAN")
    expect(stratus).to_contain_text("with the primary Nimbus IaaS eu-west")

    # The bureau fallback of payroll runs from India: a high-risk region.
    page.get_by_label("Flag", exact=True).select_option(label="High-risk region")
    page.get_by_role("button", name="Filter").click()
    expect(register).to_contain_text("Reconciliations and KYC checks")
    expect(register).to_contain_text("Depends on a high-risk region: India")

    # Break-glass accounts were last checked 15 months ago; record today's test.
    page.get_by_role("link", name="Clear").click()
    identity = register.locator("tr", has_text="Break-glass local accounts").first
    expect(identity).to_contain_text("Untested")
    identity.get_by_role("link", name=re.compile("^Edit")).click()
    expect(
        page.get_by_role("heading", name=re.compile("Break-glass local accounts"))
    ).to_be_visible()
    page.get_by_label("Last tested").fill(_today())
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("alert")).to_contain_text("saved")
    identity = page.get_by_test_id("fallback-register").locator(
        "tr", has_text="Break-glass local accounts"
    )
    expect(identity).not_to_contain_text("Untested")
    expect(identity).to_contain_text(_today())

    # The tab on the page (the navigation menu holds a hidden link of the same name).
    page.locator("main").get_by_role("link", name="Region risk", exact=True).click()
    page.get_by_label("Name or code").fill("India")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_test_id("region-table")).to_contain_text("India")
    assert browser_log.problems() == []
    assert browser_log.external_requests() == []


def _today() -> str:
    from datetime import date

    return date.today().isoformat()
