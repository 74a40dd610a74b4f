"""Findings rules that need no database: severities, statuses, default due dates."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FindingStatus(StrEnum):
    OPEN = "open"
    IN_REMEDIATION = "in_remediation"
    READY_FOR_VERIFICATION = "ready_for_verification"
    CLOSED = "closed"
    RISK_ACCEPTED = "risk_accepted"


class FindingSource(StrEnum):
    EXERCISE = "exercise"
    EVIDENCE_REVIEW = "evidence_review"
    QUESTIONNAIRE_REVIEW = "questionnaire_review"
    KPI_BREACH = "kpi_breach"
    FLOW_DOWN_REVIEW = "flow_down_review"
    GATE = "gate"
    MANUAL = "manual"


# Days to remediate by severity, unless an admin changed the policy.
DEFAULT_DUE_DAYS = {
    Severity.CRITICAL: 30,
    Severity.HIGH: 60,
    Severity.MEDIUM: 90,
    Severity.LOW: 180,
}
OPEN_STATUSES = frozenset(
    {FindingStatus.OPEN, FindingStatus.IN_REMEDIATION, FindingStatus.READY_FOR_VERIFICATION}
)


def due_date_for(severity: str, opened: date, due_days: dict[str, int] | None = None) -> date:
    days = (due_days or {}).get(severity, DEFAULT_DUE_DAYS[Severity(severity)])
    return opened + timedelta(days=days)


def is_overdue(status: str, due: date | None, today: date) -> bool:
    return status in OPEN_STATUSES and due is not None and due < today
