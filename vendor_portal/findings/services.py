"""The one way every area opens a finding. Services flush; callers commit."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_portal.db import utcnow
from vendor_portal.findings.domain import FindingSource, FindingStatus, Severity, due_date_for
from vendor_portal.findings.models import Finding


def due_days_policy(session: Session) -> dict[str, int]:
    """Days to remediate by severity (the defaults until an admin policy overrides them)."""
    return {}


def open_finding(
    session: Session,
    *,
    source: str,
    vendor_id: int,
    title: str,
    severity: str,
    description: str | None = None,
    source_ref: str | None = None,
    owner_id: int | None = None,
) -> tuple[Finding, bool]:
    """Open a finding, or return the existing one for the same (source, source_ref).

    Returns (finding, created). Idempotent, so a recomputation never duplicates findings.
    """
    FindingSource(source)
    Severity(severity)
    if source_ref is not None:
        existing = session.scalar(
            select(Finding).where(Finding.source == source, Finding.source_ref == source_ref)
        )
        if existing is not None:
            return existing, False
    today = utcnow().date()
    finding = Finding(
        vendor_id=vendor_id,
        source=source,
        source_ref=source_ref,
        title=title[:300],
        description=description,
        severity=severity,
        status=FindingStatus.OPEN.value,
        owner_id=owner_id,
        due_date=due_date_for(severity, today, due_days_policy(session)),
    )
    session.add(finding)
    session.flush()
    return finding, True
