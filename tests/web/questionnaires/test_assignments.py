"""Sending questionnaires, invitations over SMTP, the vendor's home, reassessment by tier."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from tests.questionnaires_factories import QuestionnaireBuilder
from vendor_portal.db import utcnow
from vendor_portal.questionnaires.models import Assignment, ReassessmentCadence

TODAY = utcnow().date()


@pytest.fixture
def qb(session) -> QuestionnaireBuilder:
    return QuestionnaireBuilder(session)


def test_send_to_several_vendors_with_chosen_contacts_and_invitations(
    client, auth, build, session, qb, smtp_server, app
):
    version = qb.version("Due diligence")
    acme, beta = build.vendor(name="Acme Hosting"), build.vendor(name="Beta Payroll")
    lead = build.contact(acme, name="Lea Lead", email="lea@acme.example", is_continuity_lead=True)
    build.contact(acme, name="Sam Sales", email="sam@acme.example")
    beta_contact = build.contact(beta, name="Bo Beta", email="bo@beta.example")
    auth.login_as("vendor_manager")
    due = (TODAY + timedelta(days=21)).isoformat()
    step1 = client.post(
        f"/questionnaires/versions/{version.id}/send",
        data={"vendor_ids": [str(acme.id), str(beta.id)], "due_date": due, "step": "choose"},
    )
    assert step1.status_code == 200
    assert (
        f'name="contacts-{acme.id}" value="{lead.id}" id="contact-{lead.id}" checked' in step1.text
    )
    assert "Sam Sales" in step1.text
    response = client.post(
        f"/questionnaires/versions/{version.id}/send",
        data={
            "vendor_ids": [str(acme.id), str(beta.id)],
            "due_date": due,
            "message": "Please answer before the renewal.",
            "step": "confirm",
            f"contacts-{acme.id}": [str(lead.id)],
            f"contacts-{beta.id}": [str(beta_contact.id)],
        },
        follow_redirects=True,
    )
    assert "Sent to 2 vendor(s); 2 invitation email(s) sent." in response.text
    assignments = session.scalars(select(Assignment).order_by(Assignment.id)).all()
    assert [(a.vendor_id, a.status, a.due_date.isoformat()) for a in assignments] == [
        (acme.id, "sent", due),
        (beta.id, "sent", due),
    ]
    assert sorted(m["To"] for m in smtp_server.messages) == ["bo@beta.example", "lea@acme.example"]
    mail = next(m for m in smtp_server.messages if m["To"] == "lea@acme.example")
    assert "Due diligence" in mail["Subject"] and due in mail["Subject"]
    body = mail.get_content()
    link = f"{app.config['BASE_URL']}/questionnaires/assignments/{assignments[0].id}/answer"
    assert link in body and "Please answer before the renewal." in body
    recipients = assignments[0].recipients
    assert [(r.email, r.invited_at is not None) for r in recipients] == [("lea@acme.example", True)]


def test_a_vendor_with_the_questionnaire_open_is_not_sent_it_twice(
    client, auth, build, session, qb
):
    version = qb.version()
    vendor = build.vendor(name="Acme")
    qb.assignment(vendor, version)
    auth.login_as("vendor_manager")
    response = client.post(
        f"/questionnaires/versions/{version.id}/send",
        data={
            "vendor_ids": [str(vendor.id)],
            "due_date": (TODAY + timedelta(days=5)).isoformat(),
            "step": "confirm",
        },
        follow_redirects=True,
    )
    assert "Acme already has this questionnaire open" in response.text
    assert session.scalar(select(func.count(Assignment.id))) == 1


def test_send_checks_its_input(client, auth, build, session, qb):
    version = qb.version()
    draft = qb.version(publish=False)
    vendor = build.vendor()
    auth.login_as("vendor_manager")
    past = client.post(
        f"/questionnaires/versions/{version.id}/send",
        data={
            "vendor_ids": [str(vendor.id)],
            "due_date": (TODAY - timedelta(days=1)).isoformat(),
            "step": "confirm",
        },
    )
    assert "The due date is in the past." in past.text
    nobody = client.post(
        f"/questionnaires/versions/{version.id}/send", data={"due_date": TODAY.isoformat()}
    )
    assert "Choose at least one vendor." in nobody.text
    unpublished = client.get(f"/questionnaires/versions/{draft.id}/send", follow_redirects=True)
    assert "Publish the version before sending it." in unpublished.text
    assert session.scalar(select(func.count(Assignment.id))) == 0
    auth.logout()
    auth.login_as("vendor_user", vendor=vendor)
    assert client.get(f"/questionnaires/versions/{version.id}/send").status_code == 403


def test_vendor_home_lists_open_assignments_with_due_dates_and_progress(client, auth, build, qb):
    vendor = build.vendor()
    soon = qb.assignment(vendor, qb.version("Soon"), due_in=3)
    later = qb.assignment(vendor, qb.version("Later"), due_in=40)
    qb.answered(later, {"PLAN": "no"})
    other = qb.assignment(build.vendor(), qb.version("Not yours"))
    auth.login_as("vendor_user", vendor=vendor)
    home = client.get("/").text
    assert "Answer: Soon" in home and "Answer: Later" in home and "Not yours" not in home
    assert f"Due {soon.due_date.isoformat()} · 0% answered" in home
    assert "· 25% answered" in home  # PLAN answered "no": 1 of 4 visible questions
    assert f"/questionnaires/assignments/{soon.id}/answer" in home
    assert f"/questionnaires/assignments/{other.id}" not in home
    mine = client.get("/questionnaires/mine").text
    assert "Soon" in mine and "Later" in mine and "Not yours" not in mine


def test_manager_home_and_list_show_what_waits(client, auth, build, qb):
    vendor = build.vendor(name="Acme")
    submitted = qb.assignment(vendor, qb.version("Q1"))
    qb.submitted(submitted, {"PLAN": "no", "RTO": {"general": 4}})
    overdue = qb.assignment(build.vendor(name="Late Ltd"), qb.version("Q2"), due_in=1)
    overdue.due_date = TODAY - timedelta(days=2)
    qb.session.commit()
    auth.login_as("vendor_manager")
    home = client.get("/").text
    assert "Review submitted questionnaires" in home and "Chase overdue questionnaires" in home
    listing = client.get("/questionnaires/?overdue=1").text
    assert "Late Ltd" in listing and "Acme" not in listing
    export = client.get("/questionnaires/?export=csv&status=submitted").text
    assert export.splitlines()[0].startswith("ID,Vendor,Questionnaire,Version,Status")
    assert "Acme" in export and "Late Ltd" not in export


def accepted_long_ago(qb, vendor, version, days: int, reviewer=None):
    assignment = qb.assignment(vendor, version)
    qb.accepted(assignment, {"PLAN": "yes", "TEST": "yearly", "RTO": {"general": 4}}, reviewer)
    assignment.accepted_at = utcnow() - timedelta(days=days)
    qb.session.commit()
    return assignment


def test_reassessment_cli_creates_due_reassessments_once(runner, build, session, qb, smtp_server):
    version = qb.version("Annual")
    critical = build.vendor(name="Critical Co", tier="critical")
    build.contact(critical, email="bc@critical.example", is_continuity_lead=True)
    low = build.vendor(name="Low Co", tier="low")
    recent = build.vendor(name="Recent Co", tier="critical")
    old = accepted_long_ago(qb, critical, version, 400)
    accepted_long_ago(qb, low, version, 800)  # low tier: no cadence by default
    accepted_long_ago(qb, recent, version, 100)
    dry = runner.invoke(args=["questionnaires", "reassess", "--dry-run"])
    assert "Critical Co (critical), Annual" in dry.output and "1 reassessment(s) due." in dry.output
    result = runner.invoke(args=["questionnaires", "reassess"])
    assert result.exit_code == 0, result.output
    assert "1 reassessment(s) created, 1 invitation(s) sent." in result.output
    created = session.scalar(select(Assignment).where(Assignment.previous_id == old.id))
    assert created.vendor_id == critical.id and created.status == "sent"
    assert created.due_date == TODAY + timedelta(days=30)
    assert [m["To"] for m in smtp_server.messages] == ["bc@critical.example"]
    assert "periodic reassessment" in smtp_server.messages[0].get_content()
    again = runner.invoke(args=["questionnaires", "reassess"])
    assert "0 reassessment(s) created" in again.output
    assert session.scalar(select(func.count(Assignment.id))) == 4


def test_admins_set_the_cadence_per_tier(client, auth, build, session, qb, runner):
    version = qb.version()
    vendor = build.vendor(tier="medium")
    accepted_long_ago(qb, vendor, version, 200)
    auth.login_as("vendor_manager")
    assert client.get("/questionnaires/cadence").status_code == 403
    auth.logout()
    auth.login_as("admin")
    page = client.get("/questionnaires/cadence").text
    assert 'name="months_critical"' in page and 'value="12"' in page
    data = {}
    for tier, months in (("critical", "12"), ("high", "12"), ("medium", "6"), ("low", "")):
        data[f"months_{tier}"] = months
        data[f"due_days_{tier}"] = "14"
    bad = client.post("/questionnaires/cadence", data={**data, "months_high": "0"})
    assert "Number must be between 1 and 120." in bad.text
    client.post("/questionnaires/cadence", data=data)
    assert session.get(ReassessmentCadence, "medium").months == 6
    assert "Send due reassessments" in client.get("/").text
    response = client.post("/questionnaires/reassess", follow_redirects=True)
    assert "1 reassessment(s) created" in response.text
    created = session.scalar(select(Assignment).where(Assignment.previous_id.is_not(None)))
    assert created.due_date == TODAY + timedelta(days=14)
