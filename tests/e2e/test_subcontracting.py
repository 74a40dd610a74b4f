"""A vendor declares a two-level chain; a reviewer completes a flow-down review with one gap."""

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import DEMO_EMAILS, LiveServer


def test_vendor_declares_a_two_level_chain(page: Page, live_server: LiveServer, sign_in) -> None:
    sign_in("bcm@ledgerlinepayments.example.com")
    page.get_by_role("link", name="Subcontracting").click()
    expect(
        page.get_by_role("heading", name="Subcontracting chain of Ledgerline Payments")
    ).to_be_visible()
    page.get_by_label("Company name").fill("Quantum Relay GmbH")
    page.get_by_label("Country", exact=True).select_option("DE")
    page.get_by_label("What they do").fill("Message switching for card authorisations")
    page.get_by_label("Data stored in").fill("DE")
    page.get_by_role("button", name="Declare").click()
    expect(page.get_by_role("alert")).to_contain_text("Quantum Relay GmbH declared at rank 2")
    page.get_by_label("Company name").fill("Relay Power GmbH")
    page.get_by_label("Country", exact=True).select_option("DE")
    page.get_by_label("Works for").select_option(label="Quantum Relay GmbH (rank 2)")
    page.get_by_role("button", name="Declare").click()
    expect(page.get_by_role("alert")).to_contain_text("Relay Power GmbH declared at rank 3")
    row = page.get_by_test_id("chain").locator("tr", has_text="Relay Power GmbH")
    expect(row.locator("td").nth(1)).to_have_text("3")
    # A loop is refused with a message next to the field.
    page.get_by_label("Company name").fill("Quantum Relay GmbH")
    page.get_by_label("Country", exact=True).select_option("DE")
    page.get_by_label("Works for").select_option(label="· Relay Power GmbH (rank 3)")
    page.get_by_role("button", name="Declare").click()
    expect(page.get_by_text("already above in the chain")).to_be_visible()


def test_reviewer_completes_a_review_with_one_gap(
    page: Page, live_server: LiveServer, sign_in
) -> None:
    from vendor_portal.findings.models import Finding

    atlas = live_server.vendor_ids["Atlas Identity"]
    sign_in(DEMO_EMAILS["vendor_manager"])
    page.goto(f"/subcontracting/vendors/{atlas}")
    page.get_by_role("button", name="Start a flow-down review").click()
    expect(page.get_by_role("heading", name="Flow-down review of Atlas Identity")).to_be_visible()
    rows = page.get_by_test_id("review-items").locator("tbody tr")
    count = rows.count()
    assert count >= 2
    for index in range(count):
        row = page.get_by_test_id("review-items").locator("tbody tr").nth(index)
        row.locator("select").select_option("no" if index == 0 else "yes")
        row.get_by_role("button", name="Save").click()
        expect(page.get_by_role("alert")).to_contain_text("Recorded")
    expect(page.get_by_test_id("gap-count")).to_have_text("1")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Sign off the review").click()
    expect(page.get_by_role("alert")).to_contain_text("1 gap opened as findings")
    findings = live_server.query(
        select(Finding).where(Finding.vendor_id == atlas, Finding.source == "flow_down_review")
    )
    assert len(findings) == 1
    page.goto("/subcontracting/")
    expect(
        page.get_by_test_id("reviews-due").locator("tr", has_text="Atlas Identity")
    ).not_to_contain_text("never reviewed")
