"""Procurement sees a failing gate, the vendor uploads what is missing, and the gate passes."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import DEMO_EMAILS, LiveServer
from vendor_portal.db import utcnow
from vendor_portal.evidence.demo import minimal_pdf

VENDOR = "Summit Legal Services"  # a low-tier demo vendor
VENDOR_EMAIL = "panel@summitlegal.example.com"


@pytest.fixture
def gated_contract(live_server: LiveServer):
    """A contract of a low-tier vendor whose policy (for this test) requires an insurance
    certificate; the policy is put back afterwards."""
    from vendor_portal.auth.services import create_user, user_by_email
    from vendor_portal.contracts.models import Contract
    from vendor_portal.demo.seed import DEMO_PASSWORD
    from vendor_portal.extensions import db
    from vendor_portal.gate.models import GatePolicyRecord

    app = live_server.app
    with app.app_context():
        policy = db.session.get(GatePolicyRecord, "low")
        saved = dict(policy.required_evidence or {})
        policy.required_evidence = {"insurance_certificate": 365}
        vendor_id = live_server.vendor_ids[VENDOR]
        if user_by_email(db.session, VENDOR_EMAIL) is None:
            create_user(
                db.session,
                email=VENDOR_EMAIL,
                name="Sam Summit",
                role="vendor_user",
                password=DEMO_PASSWORD,
                vendor_id=vendor_id,
            )
        contract = Contract(vendor_id=vendor_id, title="Legal panel 2027", status="awaiting_gate")
        db.session.add(contract)
        db.session.commit()
        contract_id = contract.id
    try:
        yield contract_id
    finally:
        with app.app_context():
            db.session.get(GatePolicyRecord, "low").required_evidence = saved
            db.session.commit()


def _switch(page: Page, sign_in, email: str) -> None:
    page.context.clear_cookies()
    sign_in(email)


def test_vendor_uploads_what_is_missing_and_the_gate_passes(
    page: Page, sign_in, live_server: LiveServer, gated_contract: int, tmp_path: Path
) -> None:
    from vendor_portal.evidence.models import EvidenceVersion

    gate_page = f"/gate/contracts/{gated_contract}"
    # 1. Procurement evaluates: the gate fails on evidence and says what would fix it.
    sign_in(DEMO_EMAILS["procurement"])
    page.goto(gate_page)
    page.get_by_role("button", name="Evaluate now").click()
    expect(page.get_by_test_id("gate-decision")).to_contain_text("Fail")
    evidence_row = page.get_by_test_id("gate-checks").locator("tr", has_text="evidence")
    expect(evidence_row).to_contain_text("Upload an insurance certificate issued after")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("alert").first).to_contain_text("gate does not pass")
    expect(page.get_by_test_id("contract-status")).to_have_text("awaiting gate")

    # 2. The vendor sees what is missing and uploads it.
    _switch(page, sign_in, VENDOR_EMAIL)
    page.get_by_role("link", name="My contracts").click()
    expect(page.get_by_test_id("vendor-contract")).to_contain_text(
        "Upload an insurance certificate"
    )
    certificate = tmp_path / "insurance-2026.pdf"
    certificate.write_bytes(minimal_pdf("Insurance certificate", ["e2e"]))
    page.goto("/evidence/upload")
    page.get_by_label("Type of evidence").select_option(label="Insurance certificate")
    page.get_by_label("Title").fill("Professional indemnity 2026")
    page.get_by_label("Valid until").fill((utcnow().date() + timedelta(days=300)).isoformat())
    page.get_by_label("File").set_input_files(certificate)
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_test_id("evidence-title")).to_have_text("Professional indemnity 2026")
    item_url = page.url

    # 3. The vendor manager accepts it.
    _switch(page, sign_in, DEMO_EMAILS["vendor_manager"])
    page.goto(item_url)
    page.get_by_label("Decision").select_option(label="Accept")
    page.get_by_role("button", name="Record review").click()
    [version] = live_server.query(
        select(EvidenceVersion).where(EvidenceVersion.filename == "insurance-2026.pdf")
    )
    assert version.status == "accepted"

    # 4. Procurement evaluates again: the gate passes and the contract can be approved.
    _switch(page, sign_in, DEMO_EMAILS["procurement"])
    page.goto(gate_page)
    page.get_by_role("button", name="Evaluate now").click()
    expect(page.get_by_test_id("gate-decision")).to_contain_text("Pass")
    expect(page.get_by_test_id("gate-changes")).to_contain_text("evidence: fail → pass")
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_test_id("contract-status")).to_have_text("approved")
