"""KPI dashboards in Chromium: charts render under the CSP, breaches lead to scorecards, an
incident file goes through mapping and preview, and each vendor sees only its own scorecard."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DEMO_EMAILS, VENDOR_USERS, BrowserLog, LiveServer

NIMBUS = "Nimbus Cloud Services"
LEDGERLINE = "Ledgerline Payments"

# Chromium reports CSP violations as console errors too; this catches them at the source.
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(`${e.violatedDirective} ${e.sourceFile}:${e.lineNumber} ${e.sample}`);
});
"""


@pytest.fixture
def csp_watch(page: Page) -> Page:
    page.add_init_script(WATCH_CSP)
    return page


def expect_charts_rendered(page: Page, count: int) -> None:
    charts = page.locator("[data-plotly]")
    expect(charts).to_have_count(count)
    for index in range(count):
        chart = charts.nth(index)
        expect(chart).to_have_attribute("data-rendered", "true")
        expect(chart.locator("svg.main-svg").first).to_be_visible()
    assert page.evaluate("window.__csp") == []


def test_manager_goes_from_breach_task_to_portfolio_and_scorecard(
    csp_watch: Page, sign_in, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    page = csp_watch
    sign_in(DEMO_EMAILS["vendor_manager"])
    task = page.get_by_role("link", name="Review KPI breaches")
    expect(task).to_be_visible()
    task.click()
    expect(page.get_by_role("heading", name="KPI breaches")).to_be_visible()
    expect(page.get_by_test_id("breach-table")).to_contain_text(NIMBUS)

    page.goto("/kpis/")
    expect(page.get_by_role("heading", name="Attainment by vendor and month")).to_be_visible()
    expect_charts_rendered(page, 1)
    # The heatmap draws one row per vendor with KPIs; the demo's storage outage shows in red.
    expect(page.locator("#heatmap .ytick")).to_contain_text([NIMBUS])
    performers = page.get_by_test_id("performers")
    expect(performers).to_contain_text(NIMBUS)

    # Sorting a computed table works from its header.
    page.get_by_role("link", name="Open breaches", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/kpis/?sort=open_breaches")

    performers.get_by_role("link", name=NIMBUS).click()
    expect(page.get_by_test_id("scorecard-vendor")).to_have_text(NIMBUS)
    expect_charts_rendered(page, page.locator("[data-plotly]").count())
    assert page.locator("[data-plotly]").count() >= 5  # KPI trends, availability, timeline
    expect(page.get_by_test_id("scorecard-breaches")).to_contain_text("Availability")
    assert browser_log.external_requests() == []
    assert browser_log.problems() == []


def test_incident_file_is_mapped_previewed_and_imported(
    csp_watch: Page, sign_in, live_server: LiveServer, browser_log: BrowserLog, tmp_path: Path
) -> None:
    page = csp_watch
    sign_in(DEMO_EMAILS["vendor_manager"])
    csv = tmp_path / "status-export.csv"
    csv.write_text(
        "Ticket;Service;What happened;Impact;Began;Recovered\n"
        "E2E-1;Internet transit;Packet loss on transit;major;2024-02-10 08:00;2024-02-10 09:30\n"
        "E2E-2;Internet transit;Route leak;critical;2024-02-11T22:00:00+01:00;\n"
    )
    page.goto("/kpis/import")
    page.get_by_label("What the file holds").select_option("incidents")
    page.get_by_label("File", exact=True).set_input_files(str(csv))
    page.get_by_role("button", name="Upload and choose columns").click()
    expect(page.get_by_test_id("import-problems")).to_contain_text("No column chosen for Title")

    page.get_by_label("Title (required)").select_option("What happened")
    page.get_by_label("Started at (required)").select_option("Began")
    page.get_by_label("Ended at").select_option("Recovered")
    page.get_by_label("Times without a UTC offset are in").select_option("Europe/London")
    page.get_by_role("button", name="Preview").click()
    expect(page.get_by_test_id("import-summary")).to_contain_text("2 rows ready")
    expect(page.get_by_test_id("import-preview")).to_contain_text("2024-02-11 21:00:00 UTC")

    page.get_by_role("button", name="Import 2 rows").click()
    expect(page.get_by_role("alert").first).to_contain_text("Imported incidents: 2 created")
    page.get_by_label("Title or external id").fill("E2E-")
    page.get_by_role("button", name="Filter").click()
    rows = page.get_by_test_id("incident-table").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.first).to_contain_text("Route leak")  # newest first
    assert browser_log.problems() == []


@pytest.mark.parametrize(("own", "other"), [(NIMBUS, LEDGERLINE), (LEDGERLINE, NIMBUS)])
def test_vendor_user_sees_its_own_scorecard_only(
    own: str,
    other: str,
    csp_watch: Page,
    sign_in,
    live_server: LiveServer,
    browser_log: BrowserLog,
) -> None:
    page = csp_watch
    sign_in(VENDOR_USERS[own])
    page.get_by_role("link", name="KPIs", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/kpis/vendors/{live_server.vendor_ids[own]}")
    expect(page.get_by_test_id("scorecard-vendor")).to_have_text(own)
    expect_charts_rendered(page, page.locator("[data-plotly]").count())
    expect(page.locator("main")).not_to_contain_text(other)

    response = page.goto(f"/kpis/vendors/{live_server.vendor_ids[other]}")
    assert response is not None and response.status == 404
    expect(page.locator("main")).not_to_contain_text(other)
    assert browser_log.problems(expected_statuses=(404,)) == []
