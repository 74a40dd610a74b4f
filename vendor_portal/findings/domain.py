"""Findings rules that need no database: severities, statuses, the workflow, due dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class FindingStatus(StrEnum):
    OPEN = "open"
    IN_REMEDIATION = "in_remediation"
    READY_FOR_VERIFICATION = "ready_for_verification"
    CLOSED = "closed"
    RISK_ACCEPTED = "risk_accepted"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self]


STATUS_LABELS = {
    FindingStatus.OPEN: "Open",
    FindingStatus.IN_REMEDIATION: "In remediation",
    FindingStatus.READY_FOR_VERIFICATION: "Ready for verification",
    FindingStatus.CLOSED: "Closed",
    FindingStatus.RISK_ACCEPTED: "Risk accepted",
}


class FindingSource(StrEnum):
    EXERCISE = "exercise"
    EVIDENCE_REVIEW = "evidence_review"
    QUESTIONNAIRE_REVIEW = "questionnaire_review"
    KPI_BREACH = "kpi_breach"
    FLOW_DOWN_REVIEW = "flow_down_review"
    GATE = "gate"
    MANUAL = "manual"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


# Days to remediate by severity, unless an admin changed the policy.
DEFAULT_DUE_DAYS = {
    Severity.CRITICAL: 30,
    Severity.HIGH: 60,
    Severity.MEDIUM: 90,
    Severity.LOW: 180,
}
MAX_DUE_DAYS = 3650
SEVERITY_RANK = {Severity.CRITICAL: 0, Severity.HIGH: 1, Severity.MEDIUM: 2, Severity.LOW: 3}
OPEN_STATUSES = frozenset(
    {FindingStatus.OPEN, FindingStatus.IN_REMEDIATION, FindingStatus.READY_FOR_VERIFICATION}
)
# Files a vendor may attach to a finding (content is checked by vendor_portal.storage).
EVIDENCE_EXTENSIONS = ("docx", "jpeg", "jpg", "pdf", "png", "txt", "xlsx")
EVIDENCE_MAX_BYTES = 20 * 1024 * 1024

# The longest a risk may stay accepted before it must be looked at again.
MAX_RISK_ACCEPTANCE_DAYS = 730


def due_date_for(severity: str, opened: date, due_days: dict[str, int] | None = None) -> date:
    days = (due_days or {}).get(severity, DEFAULT_DUE_DAYS[Severity(severity)])
    return opened + timedelta(days=days)


def is_overdue(status: str, due: date | None, today: date) -> bool:
    return status in OPEN_STATUSES and due is not None and due < today


def days_overdue(status: str, due: date | None, today: date) -> int:
    return (today - due).days if due is not None and is_overdue(status, due, today) else 0


def risk_acceptance_expired(status: str, until: date | None, today: date) -> bool:
    """An accepted risk whose acceptance ran out must be looked at again (it is reopened)."""
    return status == FindingStatus.RISK_ACCEPTED and until is not None and until < today


def evidence_name_problem(filename: str) -> str | None:
    stem, dot, ext = filename.rpartition(".")
    if not dot or not stem or ext.lower() not in EVIDENCE_EXTENSIONS:
        return (
            f"{filename!r}: attach a PDF, PNG, JPEG, Word (.docx), Excel (.xlsx) or text (.txt) "
            "file."
        )
    return None


def due_policy_problem(days: int) -> str | None:
    if not 1 <= days <= MAX_DUE_DAYS:
        return f"Days to remediate must be between 1 and {MAX_DUE_DAYS}."
    return None


# --- the workflow -------------------------------------------------------------------------

# Who may make a move: "remediate" (the vendor or a manager working on the finding) or
# "verify" (internal users who check the work and decide).
REMEDIATE = "remediate"
VERIFY = "verify"


@dataclass(frozen=True)
class Transition:
    source: FindingStatus
    target: FindingStatus
    by: str
    label: str
    comment_required: bool = False


TRANSITIONS: tuple[Transition, ...] = (
    Transition(FindingStatus.OPEN, FindingStatus.IN_REMEDIATION, REMEDIATE, "Start remediation"),
    Transition(
        FindingStatus.OPEN,
        FindingStatus.READY_FOR_VERIFICATION,
        REMEDIATE,
        "Ready for verification",
    ),
    Transition(
        FindingStatus.IN_REMEDIATION,
        FindingStatus.READY_FOR_VERIFICATION,
        REMEDIATE,
        "Ready for verification",
    ),
    Transition(
        FindingStatus.READY_FOR_VERIFICATION, FindingStatus.CLOSED, VERIFY, "Verify and close"
    ),
    Transition(
        FindingStatus.READY_FOR_VERIFICATION,
        FindingStatus.IN_REMEDIATION,
        VERIFY,
        "Send back to remediation",
        comment_required=True,
    ),
    # Closing without verification (raised in error, superseded) needs a reason.
    Transition(FindingStatus.OPEN, FindingStatus.CLOSED, VERIFY, "Close", comment_required=True),
    Transition(
        FindingStatus.IN_REMEDIATION, FindingStatus.CLOSED, VERIFY, "Close", comment_required=True
    ),
    Transition(FindingStatus.CLOSED, FindingStatus.OPEN, VERIFY, "Reopen", comment_required=True),
    Transition(
        FindingStatus.RISK_ACCEPTED, FindingStatus.OPEN, VERIFY, "Reopen", comment_required=True
    ),
)
_BY_PAIR = {(t.source, t.target): t for t in TRANSITIONS}


def transition_rule(current: str, target: str) -> Transition | None:
    try:
        return _BY_PAIR.get((FindingStatus(current), FindingStatus(target)))
    except ValueError:
        return None


def transitions_from(status: str, can_verify: bool, can_remediate: bool) -> list[Transition]:
    allowed = {VERIFY: can_verify, REMEDIATE: can_remediate}
    return [t for t in TRANSITIONS if t.source == status and allowed[t.by]]


def transition_problem(
    current: str, target: str, *, can_verify: bool, can_remediate: bool, comment: str | None
) -> str | None:
    """Why the move from `current` to `target` is not allowed, or None when it is."""
    try:
        target_status = FindingStatus(target)
    except ValueError:
        return f"Unknown status {target!r}; use one of {', '.join(s.value for s in FindingStatus)}."
    if target_status == FindingStatus.RISK_ACCEPTED:
        return (
            "A risk is accepted through a request (with justification and expiry) that another "
            "person approves, not by setting the status."
        )
    if current == target:
        return f"The finding is already {FindingStatus(current).label.lower()}."
    rule = _BY_PAIR.get((FindingStatus(current), target_status))
    if rule is None:
        return (
            f"A finding cannot go from {FindingStatus(current).label.lower()} "
            f"to {target_status.label.lower()}."
        )
    if rule.by == VERIFY and not can_verify:
        return "Only the organisation's reviewers can do this; the vendor marks work ready."
    if rule.by == REMEDIATE and not can_remediate:
        return "Your role may not change this finding."
    if rule.comment_required and not (comment or "").strip():
        return f"Say why ({rule.label.lower()} needs a comment)."
    return None


def risk_request_problem(
    status: str, until: date | None, justification: str | None, today: date
) -> str | None:
    if status not in OPEN_STATUSES:
        return "Only an open finding's risk can be accepted."
    if not (justification or "").strip():
        return "A risk acceptance needs a justification."
    if until is None:
        return "A risk acceptance needs an expiry date."
    if until <= today:
        return "The expiry date must be in the future."
    if until > today + timedelta(days=MAX_RISK_ACCEPTANCE_DAYS):
        return f"A risk can be accepted for at most {MAX_RISK_ACCEPTANCE_DAYS} days."
    return None


def risk_approval_problem(requested_by: int | None, approver: int, status: str) -> str | None:
    if requested_by is None:
        return "No risk acceptance has been requested for this finding."
    if status not in OPEN_STATUSES:
        return "The finding is no longer open; the request cannot be approved."
    if requested_by == approver:
        return "The approver must be someone other than the person who asked for the acceptance."
    return None
