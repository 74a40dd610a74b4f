"""Demo findings: a few across sources and severities, one overdue, one awaiting verification."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_portal.auth.models import User
from vendor_portal.db import utcnow
from vendor_portal.demo.seed import SeedSummary, seed_step
from vendor_portal.findings import services
from vendor_portal.vendors.models import Vendor

# vendor, source ref, title, severity, source, days since opened, status, plan
DEMO_FINDINGS = [
    (
        "Nimbus Cloud Services",
        "demo:nimbus-bcp-age",
        "Business continuity plan not reviewed in 18 months",
        "high",
        "evidence_review",
        75,
        "open",
        None,
    ),
    (
        "Nimbus Cloud Services",
        "demo:nimbus-dr-scope",
        "DR test report does not cover managed PostgreSQL",
        "medium",
        "evidence_review",
        20,
        "in_remediation",
        "Run a restore test of managed PostgreSQL in eu-west-1b and share the report by "
        "the end of next month (owner: Nimbus SRE lead).",
    ),
    (
        "Ledgerline Payments",
        "demo:ledgerline-subcontractors",
        "Subcontractor list incomplete: card-network connectivity provider missing",
        "critical",
        "questionnaire_review",
        10,
        "open",
        None,
    ),
    (
        "Meridian Telecom",
        "demo:meridian-notify",
        "Incident notification took 9 hours against a 4-hour clause",
        "high",
        "kpi_breach",
        40,
        "ready_for_verification",
        "Added the customer to the on-call paging list; notification runbook updated.",
    ),
]


@seed_step
def seed_findings(session: Session, summary: SeedSummary) -> None:
    owner = session.scalar(select(User).where(User.email == "manager@example.com"))
    vendors = {v.name: v for v in session.scalars(select(Vendor))}
    added = 0
    for name, ref, title, severity, source, age, status, plan in DEMO_FINDINGS:
        vendor = vendors.get(name)
        if vendor is None:
            continue
        finding, created = services.open_finding(
            session,
            source=source,
            vendor_id=vendor.id,
            title=title,
            severity=severity,
            description=f"Raised during the {source.replace('_', ' ')} of {name}.",
            source_ref=ref,
            owner_id=owner.id if owner else None,
        )
        if not created:
            continue
        added += 1
        opened = utcnow() - timedelta(days=age)
        finding.created_at = opened
        finding.due_date = opened.date() + timedelta(
            days=services.effective_due_days(session)[severity]
        )
        for update in finding.updates:
            update.created_at = opened
        if plan:
            finding.remediation_plan = plan
        if status != "open":
            finding.status = status
    session.flush()
    if added:
        summary.extra.append(f"{added} findings (one overdue, one awaiting verification)")
