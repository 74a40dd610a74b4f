"""A vendor manager finds the single points of failure of the demo's business services, their
common cause, runs a scenario, and shortens a fallback's switchover so a SPOF goes away."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import DEMO_EMAILS, BrowserLog, LiveServer
from vendor_portal.graph.models import BusinessService, GraphNode


def service_id(live_server: LiveServer, name: str) -> int:
    return live_server.query(select(BusinessService.id).where(BusinessService.name == name))[0]


def test_manager_sees_spofs_and_common_causes_and_runs_a_scenario(
    page: Page, sign_in, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    sign_in(DEMO_EMAILS["vendor_manager"])
    task = page.get_by_role("link", name=re.compile("Remove single points of failure"))
    expect(task).to_be_visible()
    task.click()
    expect(page.get_by_role("heading", name="Business services")).to_be_visible()
    page.get_by_test_id("business-service-table").get_by_role("link", name="Card payments").click()

    expect(page.get_by_test_id("service-name")).to_have_text("Card payments")
    common = page.get_by_test_id("common-causes")
    expect(common).to_contain_text("Payments hosting")
    expect(common).to_contain_text("MPLS WAN")
    spofs = page.get_by_test_id("spof-table")
    expect(spofs).to_contain_text(
        "MPLS WAN serves both the primary (Nimbus IaaS eu-west) and the fallback "
        "(Stratus Kubernetes Frankfurt) of Payments hosting, which Card payments needs."
    )
    expect(spofs).to_contain_text("Ledgerline Payments")
    # The dependency map is drawn by the bundled plotly.js, SPOFs and common causes marked.
    service_map = page.locator("[data-graph-figure=service-map]")
    expect(service_map).to_have_attribute("data-rendered", "true")
    expect(service_map.locator(".legendtext", has_text="Common causes")).to_be_visible()

    page.get_by_role("link", name="Supply chain", exact=True).first.click()
    expect(page.locator("[data-graph-figure=graph-map]")).to_have_attribute("data-rendered", "true")
    expect(page.get_by_test_id("service-summary")).to_contain_text("down with nothing failed")
    expect(page.get_by_test_id("loops")).to_contain_text("Active Directory")

    page.get_by_role("link", name="Scenarios").click()
    page.get_by_label("Countries").select_option(label="Ireland (IE)")
    page.get_by_role("button", name="Run scenario").click()
    result = page.get_by_test_id("scenario-result")
    expect(result).to_be_visible()
    expect(page.get_by_test_id("down-services")).to_contain_text("Card payments")
    # Payroll too: its SaaS runs in a Dublin data centre (a declared subcontractor), and the
    # bureau fallback needs 48 h, beyond its 24 h RTO.
    expect(page.get_by_test_id("down-services")).to_contain_text("Payroll")
    expect(page.get_by_test_id("cost-per-hour")).to_have_text("205,000")
    expect(page.get_by_test_id("restoration-order")).to_contain_text("loop")

    page.get_by_role("link", name="Concentration").click()
    expect(page.locator("[data-graph-figure=concentration-chart]")).to_have_attribute(
        "data-rendered", "true"
    )
    expect(page.get_by_test_id("concentration-table")).to_contain_text("MPLS WAN")
    assert browser_log.problems() == []
    assert browser_log.external_requests() == []


def test_manager_shortens_a_fallback_switchover_and_the_spof_goes(
    page: Page, sign_in, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    sign_in(DEMO_EMAILS["vendor_manager"])
    payroll = service_id(live_server, "Payroll")
    page.goto(f"/graph/services/{payroll}")
    spofs = page.get_by_test_id("spof-table")
    expect(spofs).to_contain_text("takes 48 h to switch over, longer than the 24 h RTO")
    expect(spofs.get_by_role("link", name="PayrollPro Services")).to_be_visible()

    capability = live_server.query(
        select(GraphNode.id).where(GraphNode.key == "cap-payroll-processing")
    )[0]
    page.goto(f"/graph/nodes/{capability}")
    page.get_by_label("Switchover hours to Reconciliations and KYC checks").fill("12")
    page.get_by_label("Switchover hours to Reconciliations and KYC checks").press("Enter")
    expect(page.get_by_role("alert")).to_contain_text("Switchover from Payroll processing")

    page.goto(f"/graph/services/{payroll}")
    expect(page.get_by_test_id("spof-table")).not_to_contain_text("PayrollPro Services")
    expect(page.get_by_test_id("spof-table")).to_contain_text("Workforce identity")
    assert browser_log.problems() == []
