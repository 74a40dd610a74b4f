"""The vendor side in a real browser: a questionnaire answered over two sittings with evidence,
returned by a reviewer with a comment, fixed, resubmitted and accepted; evidence uploaded with
a progress bar."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import DEMO_EMAILS, VENDOR_USERS, BrowserLog, LiveServer
from tests.questionnaires_factories import small_spec
from vendor_portal.db import utcnow
from vendor_portal.evidence.demo import minimal_pdf
from vendor_portal.evidence.models import EvidenceVersion
from vendor_portal.questionnaires.models import Assignment
from vendor_portal.vendors.models import VendorService

NIMBUS = "Nimbus Cloud Services"


@pytest.fixture
def assignment_id(live_server: LiveServer) -> int:
    """A fresh questionnaire sent to Nimbus (its own template, so no demo data interferes)."""
    from vendor_portal.extensions import db
    from vendor_portal.questionnaires import services

    with live_server.app.app_context():
        spec = small_spec(f"Cloud continuity {uuid.uuid4().hex[:6]}")
        version = services.version_from_spec(db.session, spec, None, "e2e")
        services.publish(db.session, version, None)
        vendor_id = live_server.vendor_ids[NIMBUS]
        from vendor_portal.vendors.models import Vendor

        result = services.send(
            db.session,
            version,
            [db.session.get(Vendor, vendor_id)],
            utcnow().date() + timedelta(days=14),
            {},
            None,
        )
        db.session.commit()
        return result.created[0].id


def question(page: Page, code: str):
    return page.get_by_test_id(f"q-{code}")


def sign_out(page: Page) -> None:
    page.context.clear_cookies()  # as when the session ends


def test_questionnaire_answered_in_two_sittings_returned_fixed_and_accepted(
    page: Page,
    sign_in,
    live_server: LiveServer,
    browser_log: BrowserLog,
    assignment_id: int,
    tmp_path: Path,
) -> None:
    services = live_server.query(
        select(VendorService)
        .where(VendorService.vendor_id == live_server.vendor_ids[NIMBUS])
        .order_by(VendorService.name)
    )
    assert len(services) == 2

    # Sitting 1: the vendor opens it from the home page and answers part of it.
    sign_in(VENDOR_USERS[NIMBUS])
    page.get_by_role("link", name=re.compile(r"Answer: Cloud continuity")).click()
    expect(page.get_by_test_id("questionnaire-title")).to_contain_text("Cloud continuity")
    expect(question(page, "TEST")).to_be_hidden()  # shown only when PLAN is yes
    question(page, "PLAN").get_by_label("Yes").check()
    expect(question(page, "TEST")).to_be_visible()
    question(page, "TEST").get_by_label("Yearly").check()
    question(page, "RTO").get_by_label(services[0].name).fill("6")
    expect(page.locator("[data-autosave-status]")).to_contain_text(
        "All answers saved", timeout=10_000
    )
    expect(page.locator("[data-progress-text]")).to_contain_text("3 of 5 answered")
    sign_out(page)

    # Sitting 2: nothing was lost; attach the plan, finish and submit.
    sign_in(VENDOR_USERS[NIMBUS])
    page.goto(f"/questionnaires/assignments/{assignment_id}/answer")
    expect(question(page, "PLAN").get_by_label("Yes")).to_be_checked()
    expect(question(page, "TEST").get_by_label("Yearly")).to_be_checked()
    expect(question(page, "RTO").get_by_label(services[0].name)).to_have_value("6")
    question(page, "RTO").get_by_label(services[1].name).fill("30")
    plan = tmp_path / "continuity-plan.pdf"
    plan.write_bytes(minimal_pdf("Nimbus continuity plan", ["e2e", uuid.uuid4().hex]))
    question(page, "DOC").locator("input[type=file]").set_input_files(plan)
    question(page, "DOC").get_by_role("button", name="Upload and attach").click()
    expect(
        page.get_by_role("alert").filter(has_text="continuity-plan.pdf attached to DOC")
    ).to_be_visible()
    expect(question(page, "DOC").get_by_label(re.compile("continuity-plan.pdf"))).to_be_checked()
    expect(question(page, "RTO").get_by_label(services[1].name)).to_have_value("30")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/questionnaires/mine")
    expect(page.get_by_role("alert").filter(has_text="Submitted")).to_be_visible()
    sign_out(page)

    # The reviewer sees the red flag and returns the RTO question with a comment.
    sign_in(DEMO_EMAILS["vendor_manager"])
    page.goto(f"/questionnaires/assignments/{assignment_id}")
    expect(page.get_by_test_id("red-flags")).to_contain_text("30 h is above the limit of 24 h")
    page.get_by_label("Comment on RTO").fill("30 hours for the database is too long for us.")
    page.get_by_label("Decision").select_option(label="Return for changes")
    page.get_by_role("button", name="Record decision").click()
    expect(page.get_by_role("alert").filter(has_text="Returned to the vendor")).to_be_visible()
    expect(page.get_by_test_id("assignment-status")).to_have_text("Returned for changes")
    sign_out(page)

    # The vendor sees the comment, fixes the answer and resubmits.
    sign_in(VENDOR_USERS[NIMBUS])
    page.goto(f"/questionnaires/assignments/{assignment_id}/answer")
    expect(page.get_by_test_id("comment-RTO")).to_contain_text("too long for us")
    question(page, "RTO").get_by_label(services[1].name).fill("12")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Submit", exact=True).click()
    expect(page).to_have_url(f"{live_server.url}/questionnaires/mine")
    sign_out(page)

    # The reviewer accepts; the attested objectives are recorded on the services.
    sign_in(DEMO_EMAILS["vendor_manager"])
    page.goto(f"/questionnaires/assignments/{assignment_id}")
    expect(page.get_by_test_id("red-flags")).to_have_count(0)
    page.get_by_label("Decision").select_option(label="Accept")
    page.get_by_role("button", name="Record decision").click()
    expect(
        page.get_by_role("alert").filter(has_text="Accepted with a score of 100")
    ).to_be_visible()
    expect(page.get_by_test_id("rounds")).to_contain_text("Round 1: returned")
    expect(page.get_by_test_id("rounds")).to_contain_text("Round 2: accepted")

    stored = live_server.query(select(Assignment).where(Assignment.id == assignment_id))[0]
    assert stored.status == "accepted" and stored.current_round == 2
    rto = {
        s.name: (s.attested_rto_hours, s.attestation_source)
        for s in live_server.query(
            select(VendorService).where(VendorService.vendor_id == live_server.vendor_ids[NIMBUS])
        )
    }
    source = f"questionnaire {assignment_id}"
    assert rto == {services[0].name: (6.0, source), services[1].name: (12.0, source)}
    assert browser_log.problems() == []


def test_vendor_uploads_evidence_with_a_progress_bar(
    page: Page, sign_in, live_server: LiveServer, browser_log: BrowserLog, tmp_path: Path
) -> None:
    sign_in(VENDOR_USERS[NIMBUS])
    page.goto("/evidence/upload")
    report = tmp_path / "dr-test-2026.pdf"
    # A couple of megabytes so that progress events fire.
    report.write_bytes(minimal_pdf("DR test", ["e2e"]) + b"%" + uuid.uuid4().bytes * 150_000)
    page.get_by_label("Type of evidence").select_option(label="DR test report")
    page.get_by_label("Title").fill("DR test 2026")
    page.get_by_label("Valid until").fill((utcnow().date() + timedelta(days=365)).isoformat())
    page.get_by_label("File").set_input_files(report)
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_test_id("evidence-title")).to_have_text("DR test 2026")
    expect(
        page.get_by_role("alert").filter(has_text="dr-test-2026.pdf uploaded as version 1")
    ).to_be_visible()
    stored = live_server.query(
        select(EvidenceVersion).where(EvidenceVersion.filename == "dr-test-2026.pdf")
    )
    assert len(stored) == 1 and stored[0].size == report.stat().st_size

    # A forbidden file behind an allowed name is refused in place, with the reason.
    fake = tmp_path / "report.pdf"
    fake.write_bytes(b"MZ\x90\x00" + bytes(2048))
    page.goto("/evidence/upload")
    page.get_by_label("File").set_input_files(fake)
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-error")).to_contain_text("not an allowed file type")
    expect(page).to_have_url(f"{live_server.url}/evidence/upload")
    # Chromium logs the refused upload's 422 answer; that is the expected outcome here.
    assert [p for p in browser_log.problems() if "status of 422" not in p] == []


def test_answers_typed_after_the_session_ended_are_kept_and_saved_after_signing_in(
    page: Page, sign_in, live_server: LiveServer, browser_log: BrowserLog, assignment_id: int
) -> None:
    from vendor_portal.questionnaires import services

    sign_in(VENDOR_USERS[NIMBUS])
    page.goto(f"/questionnaires/assignments/{assignment_id}/answer")
    sign_out(page)  # the session ends while the page stays open
    question(page, "NOTES").locator("textarea").fill("Typed after the session ended")
    expect(page.locator("[data-autosave-status]")).to_contain_text(
        "session has ended", timeout=10_000
    )
    sign_in(VENDOR_USERS[NIMBUS])
    page.goto(f"/questionnaires/assignments/{assignment_id}/answer")
    expect(question(page, "NOTES").locator("textarea")).to_have_value(
        "Typed after the session ended"
    )
    expect(page.locator("[data-autosave-status]")).to_contain_text(
        "All answers saved", timeout=10_000
    )
    with live_server.app.app_context():
        from vendor_portal.extensions import db

        stored = db.session.get(Assignment, assignment_id)
        assert services.answers_by_code(stored.round())["NOTES"] == "Typed after the session ended"
    # The refused autosave (no session, so no valid CSRF token) is logged by Chromium.
    assert [p for p in browser_log.problems() if "status of 400" not in p] == []
