"""Demo questionnaires: the default template published and sent to several demo vendors,
in every state (not started, in progress, submitted, returned, accepted, overdue)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_portal.auth.models import User
from vendor_portal.db import utcnow
from vendor_portal.demo.seed import SeedSummary, seed_step
from vendor_portal.questionnaires import services
from vendor_portal.questionnaires.domain import GENERAL, QuestionType, TemplateSpec
from vendor_portal.questionnaires.models import Assignment
from vendor_portal.vendors.models import Vendor

# Answers of a vendor with solid continuity, by question code.
STRONG = {
    "BCP-1": "yes",
    "BCP-2": "2026-02-10",
    "BCP-3": "iso_22301_certified",
    "BCP-6": "yes",
    "BIA-1": "yes",
    "BIA-2": "at_least_yearly",
    "RTO-2": "yes",
    "DR-1": "within_the_last_12_months",
    "DR-2": "yes",
    "DR-4": "quarterly",
    "BAK-1": "yes",
    "BAK-2": ["encrypted", "separate_credentials_and_administration", "another_site_or_region"],
    "BAK-3": 35,
    "EX-1": "yearly",
    "EX-2": "yes",
    "COM-1": 1,
    "COM-2": "yes",
    "COM-3": "Status page, email to named contacts, hourly bridge calls during major incidents.",
    "SUB-1": "yes",
    "SUB-2": "yes",
    "SUB-3": "questionnaires",
    "SUB-4": "Colocation in two Tier III data centres; a second cloud provider for DR.",
    "INS-1": "yes",
    "INS-2": 25,
}
# A weaker profile: untested DR, no immutable backups (red flags).
WEAK = {
    **STRONG,
    "BCP-3": "another_recognised_framework",
    "DR-1": "longer_ago_or_never",
    "DR-4": "yearly",
    "BAK-1": "no",
    "EX-1": "less_than_yearly",
    "COM-1": 8,
}


def _answers(
    spec: TemplateSpec, profile: dict[str, Any], service_ids: list[str], rto: float, rpo: float
) -> dict[str, Any]:
    answers = dict(profile)
    keys = service_ids or [GENERAL]
    for q in spec.questions():
        if q.qtype == QuestionType.HOURS:
            answers[q.code] = {k: rto if q.hours_metric == "rto" else rpo for k in keys}
    return answers


def _user(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


@seed_step
def seed_questionnaires(session: Session, summary: SeedSummary) -> None:
    version, _ = services.install_default_template(session)
    manager = _user(session, "manager@example.com")
    spec = version.spec()
    today = utcnow().date()
    plans = [
        # vendor, state, profile, RTO, RPO, due in days, vendor user
        (
            "Ledgerline Payments",
            "accepted",
            STRONG,
            2,
            0.25,
            -40,
            "bcm@ledgerlinepayments.example.com",
        ),
        (
            "Nimbus Cloud Services",
            "in_progress",
            STRONG,
            4,
            0.25,
            21,
            "continuity@nimbuscloudservices.example.com",
        ),
        ("Stratus Compute GmbH", "submitted", WEAK, 8, 1, 10, None),
        ("ClearPath Clearing", "returned", STRONG, 48, 4, 14, None),
        ("Meridian Telecom", "sent", STRONG, 4, 1, -5, None),  # overdue
        ("Atlas Identity", "sent", STRONG, 1, 0.5, 5, None),
        ("Quantum Backup Systems", "accepted_long_ago", WEAK, 48, 24, -400, None),
    ]
    created = 0
    for vendor_name, state, profile, rto, rpo, due_in, email in plans:
        vendor = session.scalar(select(Vendor).where(Vendor.name == vendor_name))
        if vendor is None or session.scalar(
            select(Assignment.id).where(
                Assignment.vendor_id == vendor.id, Assignment.template_id == version.template_id
            )
        ):
            continue
        answerer = _user(session, email) if email else None
        due = today + timedelta(days=max(due_in, 1))
        result = services.send(
            session, version, [vendor], due, {}, manager, "Annual continuity due diligence."
        )
        assignment = result.created[0]
        for recipient in assignment.recipients:
            recipient.invited_at = utcnow() - timedelta(days=30)
        created += 1
        if state == "sent":
            assignment.due_date = today + timedelta(days=due_in)
            continue
        keys = services.service_keys(services.active_services(session, vendor.id))
        answers = _answers(spec, profile, [k for k in keys if k != GENERAL], rto, rpo)
        if state == "in_progress":
            # Answered up to the recovery objectives: a vendor half-way through.
            first_half = {
                k: answers[k] for k in answers if k.split("-")[0] in ("BCP", "BIA", "RTO", "RPO")
            }
            services.save_answers(session, assignment, first_half, answerer)
            continue
        services.save_answers(session, assignment, answers, answerer)
        services.submit(session, assignment, answerer)
        if state == "returned":
            rto_question = next(q for q in assignment.version.questions if q.code == "RTO-1")
            services.return_for_changes(
                session,
                assignment,
                {
                    rto_question.id: "48 hours is longer than the 4-hour RTO of the payments we "
                    "clear through you. Is 48 h right? If you can do better, say so; if not, "
                    "tell us what would bring it down."
                },
                "Thank you. One point to clarify before we can accept.",
                manager,
            )
        elif state.startswith("accepted"):
            services.accept(session, assignment, "Good answers; thank you.", manager)
            if state == "accepted_long_ago":
                back = utcnow() + timedelta(days=due_in)
                assignment.created_at = back - timedelta(days=30)
                assignment.submitted_at = back - timedelta(days=5)
                assignment.accepted_at = back
                assignment.due_date = back.date()
                round_ = assignment.round()
                round_.submitted_at = assignment.submitted_at
                round_.reviewed_at = back
    session.flush()
    if created:
        summary.extra.append(f"{created} questionnaire assignments ({version.label})")
