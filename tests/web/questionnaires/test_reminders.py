"""`flask send-reminders`: due dates, overdue, reviews waiting, evidence expiry; never twice."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.evidence_factories import EvidenceBuilder
from tests.questionnaires_factories import QuestionnaireBuilder
from vendor_portal.db import utcnow
from vendor_portal.questionnaires.reminders import due_stage, expiry_stage

TODAY = utcnow().date()


@pytest.fixture
def qb(session) -> QuestionnaireBuilder:
    return QuestionnaireBuilder(session)


def run(runner, day):
    result = runner.invoke(args=["send-reminders", "--today", day.isoformat()])
    assert result.exit_code == 0, result.output
    return result.output


def test_stages():
    assert due_stage(TODAY + timedelta(days=31), TODAY) is None
    assert due_stage(TODAY + timedelta(days=30), TODAY) == "due_30"
    assert due_stage(TODAY + timedelta(days=8), TODAY) == "due_30"
    assert due_stage(TODAY + timedelta(days=7), TODAY) == "due_7"
    assert due_stage(TODAY + timedelta(days=1), TODAY) == "due_1"
    assert due_stage(TODAY, TODAY) == "due_1"
    assert due_stage(TODAY - timedelta(days=1), TODAY) == "overdue"
    assert expiry_stage(TODAY + timedelta(days=20), TODAY) == "expiry_30"
    assert expiry_stage(TODAY + timedelta(days=2), TODAY) == "expiry_7"
    assert expiry_stage(TODAY - timedelta(days=2), TODAY) == "expired"


def test_vendors_are_reminded_30_7_and_1_days_before_and_when_overdue_never_twice(
    runner, build, qb, smtp_server
):
    vendor = build.vendor(name="Acme")
    contact = build.contact(vendor, email="bc@acme.example", is_continuity_lead=True)
    build.user(role="vendor_user", vendor=vendor, email="portal@acme.example")
    assignment = qb.assignment(vendor, qb.version("Annual"), due_in=40, contacts=[contact])
    due = assignment.due_date

    assert "0 reminder(s) sent" in run(runner, due - timedelta(days=35))
    output = run(runner, due - timedelta(days=30))
    assert "due_30: Acme, Annual" in output
    assert "1 reminder(s) sent" in run(runner, due - timedelta(days=7))
    assert "0 reminder(s) sent" in run(runner, due - timedelta(days=6))  # same stage: not again
    assert "1 reminder(s) sent" in run(runner, due - timedelta(days=1))
    assert "1 reminder(s) sent" in run(runner, due + timedelta(days=1))
    assert "0 reminder(s) sent" in run(runner, due + timedelta(days=2))
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert subjects == [
        "Reminder: Annual is due in 30 day(s)",
        "Reminder: Annual is due in 7 day(s)",
        "Reminder: Annual is due in 1 day(s)",
        f"Overdue: Annual (was due {due.isoformat()})",
    ]
    assert smtp_server.messages[0]["To"] == "bc@acme.example, portal@acme.example"
    assert f"/questionnaires/assignments/{assignment.id}/answer" in (
        smtp_server.messages[0].get_content()
    )


def test_a_questionnaire_sent_late_gets_only_the_stage_that_applies(runner, build, qb, smtp_server):
    vendor = build.vendor()
    build.contact(vendor, email="lead@v.example", is_continuity_lead=True)
    qb.assignment(vendor, qb.version("Quick"), due_in=5)
    run(runner, TODAY)
    assert [m["Subject"] for m in smtp_server.messages] == ["Reminder: Quick is due in 5 day(s)"]


def test_submitted_and_accepted_questionnaires_are_not_chased(runner, build, qb, smtp_server):
    vendor = build.vendor()
    build.contact(vendor, email="lead@v.example", is_continuity_lead=True)
    done = qb.assignment(vendor, qb.version("Done"), due_in=3)
    qb.submitted(done, {"PLAN": "no", "RTO": {"general": 2}})
    build.user(role="vendor_manager", email="reviewer@example.com")
    output = run(runner, TODAY)
    assert "Done" not in "".join(
        m["Subject"] for m in smtp_server.messages if "Reminder" in m["Subject"]
    )
    review = [m for m in smtp_server.messages if "waiting for review" in m["Subject"]]
    assert len(review) == 1 and review[0]["To"] == "reviewer@example.com"
    assert f"/questionnaires/assignments/{done.id}" in review[0].get_content()
    assert "review: 1 submission(s)" in output
    assert "0 reminder(s) sent" in run(runner, TODAY)


def test_vendors_are_reminded_before_evidence_expires(runner, build, session, app, smtp_server):
    vendor = build.vendor(name="Acme")
    build.user(role="vendor_user", vendor=vendor, email="portal@acme.example")
    evidence = EvidenceBuilder(session, app)
    cert = evidence.version(
        vendor,
        "iso22301_certificate",
        title="ISO cert",
        status="accepted",
        valid_until=TODAY + timedelta(days=25),
    )
    evidence.version(vendor, "bcp", status="submitted", valid_until=TODAY + timedelta(days=3))
    run(runner, TODAY)
    run(runner, TODAY)
    run(runner, TODAY + timedelta(days=20))
    run(runner, TODAY + timedelta(days=26))
    subjects = [m["Subject"] for m in smtp_server.messages]
    assert subjects == [
        f"Renew before {cert.valid_until.isoformat()}: ISO cert",
        f"Renew before {cert.valid_until.isoformat()}: ISO cert",
        f"Expired: ISO cert (valid until {cert.valid_until.isoformat()})",
    ]
    assert f"/evidence/items/{cert.item_id}" in smtp_server.messages[0].get_content()


def test_undelivered_reminders_are_retried_next_time(runner, build, qb, app, smtp_server):
    vendor = build.vendor()
    build.contact(vendor, email="lead@v.example", is_continuity_lead=True)
    qb.assignment(vendor, qb.version("Retry"), due_in=2)
    port = app.config["SMTP_PORT"]
    app.config["SMTP_PORT"] = 1  # nothing listens there
    failed = runner.invoke(args=["send-reminders"])
    assert failed.exit_code == 1 and "FAILED due_7" in failed.output
    app.config["SMTP_PORT"] = port
    assert "1 reminder(s) sent" in run(runner, TODAY)
