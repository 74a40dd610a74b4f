"""A joint exercise from planning to a closed finding, through the browser, as each party."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from playwright.sync_api import Page, expect
from sqlalchemy import select

from tests.e2e.conftest import DEMO_EMAILS, VENDOR_USERS, BrowserLog, LiveServer
from vendor_portal.exercises.models import Exercise
from vendor_portal.findings.models import Finding


def switch_user(page: Page, sign_in, email: str) -> None:
    page.context.clear_cookies()
    sign_in(email)


def local(day: datetime, hour: int) -> str:
    return day.replace(hour=hour, minute=0).strftime("%Y-%m-%dT%H:%M")


def test_manager_schedules_vendors_answer_manager_reschedules_records_and_closes_a_finding(
    page: Page, sign_in, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    title = f"Card acquiring failover {uuid.uuid4().hex[:6]}"
    day = datetime.now(UTC) + timedelta(days=75)
    proposed = day + timedelta(days=2)

    # 1. The manager plans the exercise with two vendors.
    sign_in(DEMO_EMAILS["vendor_manager"])
    nav = page.get_by_role("navigation", name="Main")
    nav.get_by_role("button", name="Resilience").or_(
        nav.get_by_role("link", name="Resilience")
    ).click()
    nav.get_by_role("link", name="Exercises").click()
    page.get_by_role("link", name="Plan an exercise").click()
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Type", exact=True).select_option(label="Simulation")
    page.get_by_label("Starts", exact=True).fill(local(day, 9))
    page.get_by_label("Ends", exact=True).fill(local(day, 12))
    page.get_by_label("Time zone", exact=True).fill("Europe/Dublin")
    page.get_by_label("Scenario", exact=True).select_option(label="Loss of a cloud region")
    expect(page.get_by_label("Scenario as played")).not_to_be_empty()  # filled from the library
    page.get_by_label("Objectives", exact=True).fill("Reroute card authorisations within 2 hours.")
    page.get_by_label("Vendors", exact=True).select_option(
        label=["Nimbus Cloud Services", "Ledgerline Payments"]
    )
    page.get_by_role("button", name="Schedule and send invitations").click()
    expect(page).to_have_url(re.compile(rf"{re.escape(live_server.url)}/exercises/\d+$"))
    expect(page.get_by_test_id("exercise-title")).to_have_text(title)
    exercise_url = page.url
    (exercise,) = live_server.query(select(Exercise).where(Exercise.title == title))
    nimbus = live_server.vendor_ids["Nimbus Cloud Services"]
    ledgerline = live_server.vendor_ids["Ledgerline Payments"]

    # 2. Nimbus confirms.
    switch_user(page, sign_in, VENDOR_USERS["Nimbus Cloud Services"])
    page.goto(exercise_url)
    page.get_by_label("Your answer").select_option(label="We confirm")
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_test_id(f"response-{nimbus}").first).to_have_text("Confirmed")

    # 3. Ledgerline proposes another time.
    switch_user(page, sign_in, VENDOR_USERS["Ledgerline Payments"])
    page.goto(exercise_url)
    expect(page.get_by_text("Nimbus Cloud Services")).to_have_count(0)  # other vendors stay hidden
    page.get_by_label("Your answer").select_option(label="We propose another time")
    page.get_by_label("Proposed start").fill(local(proposed, 14))
    page.get_by_label("Proposed end").fill(local(proposed, 17))
    page.get_by_label("Comment", exact=True).fill("Our card-network change freeze runs that week.")
    page.get_by_role("button", name="Send answer").click()
    expect(page.get_by_test_id(f"response-{ledgerline}").first).to_have_text(
        "Proposed another time"
    )

    # 4. The manager reschedules to the proposal.
    switch_user(page, sign_in, DEMO_EMAILS["vendor_manager"])
    page.goto(exercise_url)
    page.get_by_role("button", name="Reschedule to this time").click()
    expect(
        page.get_by_role("alert").filter(has_text="Rescheduled to the proposed time")
    ).to_be_visible()
    expect(page.get_by_test_id("exercise-when")).to_contain_text(
        proposed.strftime("%d %b %Y 14:00")
    )
    expect(page.get_by_test_id(f"response-{ledgerline}")).to_have_text("Confirmed")
    expect(page.get_by_test_id(f"response-{nimbus}")).to_have_text("Awaiting answer")
    (moved,) = live_server.query(select(Exercise).where(Exercise.id == exercise.id))
    assert moved.sequence == 1 and moved.uid == exercise.uid

    # 5. It is run and recorded, with a finding for Ledgerline.
    page.get_by_role("link", name="Run and record").click()
    page.get_by_label("When", exact=True).fill(local(proposed, 14).replace("T14", "T15"))
    page.get_by_label("Who", exact=True).fill("Ledgerline operations")
    page.get_by_label("Description", exact=True).first.fill(
        "Authorisations stalled for 40 minutes."
    )
    page.get_by_role("button", name="Add to timeline").click()
    expect(page.get_by_test_id("timeline")).to_contain_text("Authorisations stalled")
    page.locator("#findings").get_by_label("Vendor").select_option(label="Ledgerline Payments")
    page.locator("#findings").get_by_label("Severity").select_option(label="High")
    page.get_by_label("Finding", exact=True).fill("Manual reroute step in the failover runbook")
    page.get_by_role("button", name="Raise finding").click()
    expect(page.get_by_role("alert").filter(has_text="raised, due")).to_be_visible()
    page.get_by_label("Outcome", exact=True).select_option(label="Objectives partly met")
    page.get_by_label("Lessons learned", exact=True).fill(
        "Automate the reroute; rehearse it quarterly."
    )
    page.get_by_role("button", name="Record as completed").click()
    expect(page.get_by_test_id("exercise-status")).to_have_text("completed")
    (finding,) = live_server.query(
        select(Finding).where(Finding.source_ref.like(f"exercise:{exercise.id}:%"))
    )
    assert finding.vendor_id == ledgerline and finding.source == "exercise"

    # 6. Ledgerline answers the finding with a plan and marks it ready.
    switch_user(page, sign_in, VENDOR_USERS["Ledgerline Payments"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Findings").click()
    page.get_by_role("link", name="Manual reroute step in the failover runbook").click()
    page.get_by_label("Remediation plan", exact=True).fill(
        "Script the reroute by end of quarter; test it."
    )
    page.get_by_role("button", name="Save plan").click()
    expect(page.get_by_test_id("finding-status")).to_have_text("In remediation")
    page.get_by_label("New status").select_option(label="Ready for verification")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_test_id("finding-status")).to_have_text("Ready for verification")

    # 7. The manager verifies and closes it.
    switch_user(page, sign_in, DEMO_EMAILS["vendor_manager"])
    page.goto(f"/findings/{finding.id}")
    expect(page.get_by_test_id("history")).to_contain_text("Script the reroute by end of quarter")
    page.get_by_label("New status").select_option(label="Verify and close")
    page.get_by_role("button", name="Change status").click()
    expect(page.get_by_test_id("finding-status")).to_have_text("Closed")
    (closed,) = live_server.query(select(Finding).where(Finding.id == finding.id))
    assert closed.status == "closed" and closed.closed_at is not None

    page.goto(f"/exercises/{exercise.id}/report")
    expect(page.get_by_test_id("report")).to_contain_text("Automate the reroute")
    assert browser_log.external_requests() == []
    assert browser_log.problems() == []


def test_exercise_pages_load_cleanly_for_every_role(
    page: Page, sign_in, live_server: LiveServer, browser_log: BrowserLog
) -> None:
    paths = [
        "/exercises/",
        "/exercises/calendar",
        "/exercises/feed",
        "/exercises/blackouts",
        "/findings/",
    ]
    for role in ("vendor_manager", "vendor_user"):
        page.context.clear_cookies()
        sign_in(DEMO_EMAILS[role])
        for path in paths:
            response = page.goto(path)
            assert response is not None and response.status == 200, (role, path)
    page.goto("/exercises/new")  # as the vendor user: forbidden
    assert browser_log.problems(expected_statuses=(403,)) == []
