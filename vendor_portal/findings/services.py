"""The one way every area opens a finding, and the register's workflow. Services flush; callers
commit."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import astuple, dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import Select, case, func, or_, select
from sqlalchemy.orm import Session, contains_eager, joinedload, lazyload

from vendor_portal.audit.services import current_actor
from vendor_portal.db import utcnow
from vendor_portal.findings.domain import (
    DEFAULT_DUE_DAYS,
    OPEN_STATUSES,
    SEVERITY_RANK,
    FindingSource,
    FindingStatus,
    Severity,
    days_overdue,
    due_date_for,
    risk_approval_problem,
    risk_request_problem,
    transition_problem,
)
from vendor_portal.findings.models import (
    Finding,
    FindingDuePolicy,
    FindingEscalation,
    FindingEvidence,
    FindingUpdate,
)
from vendor_portal.storage import StoredFile


class FindingRuleError(ValueError):
    """A workflow rule refused the change; the message says which and why."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def due_days_policy(session: Session) -> dict[str, int]:
    """Days to remediate by severity: the admin policy where set, else the defaults."""
    rows = session.execute(select(FindingDuePolicy.severity, FindingDuePolicy.days))
    return {severity: days for severity, days in rows}


def effective_due_days(session: Session) -> dict[str, int]:
    policy = due_days_policy(session)
    return {s.value: policy.get(s.value, DEFAULT_DUE_DAYS[s]) for s in Severity}


def set_due_days_policy(session: Session, days_by_severity: dict[str, int]) -> None:
    for severity, days in days_by_severity.items():
        Severity(severity)
        row = session.get(FindingDuePolicy, severity)
        if row is None:
            session.add(FindingDuePolicy(severity=severity, days=days))
        elif row.days != days:
            row.days = days
    session.flush()


def _actor_id() -> int | None:
    return current_actor().user_id


def _note(
    session: Session,
    finding: Finding,
    kind: str,
    body: str | None = None,
    *,
    author_id: int | None = None,
    from_status: str | None = None,
    to_status: str | None = None,
    internal: bool = False,
) -> FindingUpdate:
    update = FindingUpdate(
        finding=finding,
        author_id=author_id if author_id is not None else _actor_id(),
        kind=kind,
        body=body,
        from_status=from_status,
        to_status=to_status,
        internal=internal,
    )
    session.add(update)
    return update


@dataclass(frozen=True)
class FindingRequest:
    """What an area asks for when it opens a finding; `source_ref` makes the request idempotent."""

    source: str
    vendor_id: int
    title: str
    severity: str
    description: str | None = None
    source_ref: str | None = None
    owner_id: int | None = None


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
    request = FindingRequest(source, vendor_id, title, severity, description, source_ref, owner_id)
    return open_findings(session, [request])[0]


def open_findings(session: Session, requests: list[FindingRequest]) -> list[tuple[Finding, bool]]:
    """`open_finding` for many requests at once, in order: one lookup of the existing findings
    and one flush, so a bulk recomputation (a KPI import opening hundreds of breaches) does not
    pay a round trip per finding."""
    for request in requests:
        FindingSource(request.source)
        Severity(request.severity)
    existing: dict[tuple[str, str], Finding] = {}
    refs = sorted({r.source_ref for r in requests if r.source_ref is not None})
    for chunk_start in range(0, len(refs), 500):
        chunk = refs[chunk_start : chunk_start + 500]
        for finding in session.scalars(select(Finding).where(Finding.source_ref.in_(chunk))):
            existing[(finding.source, finding.source_ref or "")] = finding
    today = utcnow().date()
    policy = due_days_policy(session) if requests else {}
    results: list[tuple[Finding, bool]] = []
    for request in requests:
        key = (request.source, request.source_ref or "")
        if request.source_ref is not None and key in existing:
            results.append((existing[key], False))
            continue
        finding = Finding(
            vendor_id=request.vendor_id,
            source=request.source,
            source_ref=request.source_ref,
            title=request.title[:300],
            description=request.description,
            severity=request.severity,
            status=FindingStatus.OPEN.value,
            owner_id=request.owner_id,
            due_date=due_date_for(request.severity, today, policy),
        )
        session.add(finding)
        _note(session, finding, "status", "Finding opened.", to_status=FindingStatus.OPEN.value)
        if request.source_ref is not None:
            existing[key] = finding  # the same request twice in one batch opens one finding
        results.append((finding, True))
    session.flush()
    return results


# --- the register ---------------------------------------------------------------------------

SEVERITY_ORDER = case(
    {s.value: rank for s, rank in SEVERITY_RANK.items()}, value=Finding.severity, else_=9
)
OPEN_VALUES = tuple(s.value for s in OPEN_STATUSES)


def overdue_clause(today: date) -> Any:
    return Finding.status.in_(OPEN_VALUES) & (Finding.due_date < today)


@dataclass
class FindingFilters:
    vendor_id: int | None = None
    severities: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)
    owner_id: int | None = None
    overdue: bool = False
    open_only: bool = False
    risk_pending: bool = False
    search: str | None = None
    vendor_name: str | None = None  # part of the vendor's name, in any case

    def key(self) -> tuple[Any, ...]:
        """The filters as a hashable value (what the register's totals are kept under)."""
        return tuple(tuple(v) if isinstance(v, list) else v for v in astuple(self))


def finding_query(filters: FindingFilters, today: date) -> Select[Any]:
    from vendor_portal.auth.models import User
    from vendor_portal.vendors.models import Vendor

    # The vendor comes from the join the vendor sort needs (not a second, aliased join), and
    # the owner without the owner's own vendor. An outer join on a required key keeps every
    # finding and lets the database drop the join when it only counts the rows (pagination).
    stmt = (
        select(Finding)
        .outerjoin(Vendor, Vendor.id == Finding.vendor_id)
        .options(
            contains_eager(Finding.vendor), joinedload(Finding.owner).options(lazyload(User.vendor))
        )
    )
    if filters.vendor_id:
        stmt = stmt.where(Finding.vendor_id == filters.vendor_id)
    if filters.vendor_name:
        # Wildcards typed by the user are matched as themselves.
        escaped = re.sub(r"([\\%_])", r"\\\1", filters.vendor_name.strip().lower())
        stmt = stmt.where(func.lower(Vendor.name).like(f"%{escaped}%", escape="\\"))
    if filters.severities:
        stmt = stmt.where(Finding.severity.in_(filters.severities))
    if filters.statuses:
        stmt = stmt.where(Finding.status.in_(filters.statuses))
    if filters.sources:
        stmt = stmt.where(Finding.source.in_(filters.sources))
    if filters.owner_id:
        stmt = stmt.where(Finding.owner_id == filters.owner_id)
    if filters.open_only:
        stmt = stmt.where(Finding.status.in_(OPEN_VALUES))
    if filters.risk_pending:
        stmt = stmt.where(
            Finding.risk_requested_by_id.is_not(None), Finding.status.in_(OPEN_VALUES)
        )
    if filters.overdue:
        stmt = stmt.where(overdue_clause(today))
    if filters.search:
        pattern = f"%{filters.search.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Finding.title).like(pattern),
                func.lower(func.coalesce(Finding.description, "")).like(pattern),
            )
        )
    return stmt


def create_finding(session: Session, values: dict[str, Any]) -> Finding:
    """A finding recorded by hand (source `manual` unless another is given)."""
    finding, _ = open_finding(
        session,
        source=values.get("source") or FindingSource.MANUAL.value,
        vendor_id=values["vendor_id"],
        title=values["title"],
        severity=values["severity"],
        description=values.get("description"),
        owner_id=values.get("owner_id"),
    )
    if values.get("due_date"):
        finding.due_date = values["due_date"]
    session.flush()
    return finding


EDITABLE = ("title", "description", "severity", "owner_id", "due_date")


def update_finding(session: Session, finding: Finding, values: dict[str, Any]) -> list[str]:
    """Change the details a reviewer owns; returns the names of what changed."""
    changed = []
    for key in EDITABLE:
        if key in values and values[key] != getattr(finding, key):
            setattr(finding, key, values[key])
            changed.append(key)
    if changed:
        labels = {"owner_id": "owner", "due_date": "due date"}
        _note(
            session,
            finding,
            "edit",
            "Changed " + ", ".join(labels.get(k, k) for k in changed) + ".",
        )
    session.flush()
    return changed


def change_status(
    session: Session,
    finding: Finding,
    target: str,
    *,
    comment: str | None,
    can_verify: bool,
    can_remediate: bool,
) -> None:
    problem = transition_problem(
        finding.status,
        target,
        can_verify=can_verify,
        can_remediate=can_remediate,
        comment=comment,
    )
    if problem:
        raise FindingRuleError(problem, "status")
    _set_status(session, finding, target, (comment or "").strip() or None)
    session.flush()


def _set_status(session: Session, finding: Finding, target: str, body: str | None) -> None:
    source = finding.status
    finding.status = target
    if target == FindingStatus.CLOSED:
        finding.closed_at = utcnow()
        finding.closed_by_id = _actor_id()
    elif source in (FindingStatus.CLOSED, FindingStatus.RISK_ACCEPTED):
        finding.closed_at = None
        finding.closed_by_id = None
    if source == FindingStatus.RISK_ACCEPTED:
        _clear_risk(finding)
    _note(session, finding, "status", body, from_status=source, to_status=target)


def _clear_risk(finding: Finding) -> None:
    finding.risk_requested_by_id = None
    finding.risk_requested_at = None
    finding.risk_requested_until = None
    finding.risk_justification = None
    finding.risk_accepted_by_id = None
    finding.risk_accepted_at = None
    finding.risk_accepted_until = None


def save_plan(session: Session, finding: Finding, plan: str) -> None:
    """The vendor's remediation plan; writing one starts remediation of an open finding."""
    if finding.status not in OPEN_STATUSES:
        raise FindingRuleError("The finding is not open; its plan can no longer change.", "plan")
    finding.remediation_plan = plan
    _note(session, finding, "plan", plan)
    if finding.status == FindingStatus.OPEN:
        _set_status(session, finding, FindingStatus.IN_REMEDIATION.value, None)
    session.flush()


def add_comment(session: Session, finding: Finding, body: str, *, internal: bool = False) -> None:
    """Progress from the vendor, or a reviewer's comment (optionally internal)."""
    _note(session, finding, "comment", body, internal=internal)
    session.flush()


def attach_evidence(
    session: Session, finding: Finding, stored: StoredFile, filename: str
) -> FindingEvidence:
    if finding.status not in OPEN_STATUSES:
        raise FindingRuleError("Evidence can be attached only while the finding is open.", "file")
    evidence = FindingEvidence(
        finding=finding,
        filename=filename[:255],
        media_type=stored.mimetype,
        size=stored.size,
        sha256=stored.sha256,
        storage_key=stored.key,
        uploaded_by_id=_actor_id(),
    )
    session.add(evidence)
    _note(session, finding, "evidence", f"Attached {filename} ({stored.size} bytes).")
    session.flush()
    return evidence


def request_risk_acceptance(
    session: Session, finding: Finding, until: date | None, justification: str | None
) -> None:
    problem = risk_request_problem(finding.status, until, justification, utcnow().date())
    if problem:
        raise FindingRuleError(problem, "until" if "expiry" in problem else "justification")
    finding.risk_requested_by_id = _actor_id()
    finding.risk_requested_at = utcnow()
    finding.risk_requested_until = until
    finding.risk_justification = (justification or "").strip()
    _note(
        session,
        finding,
        "risk",
        f"Asked to accept the risk until {until.isoformat()}: {finding.risk_justification}",
    )
    session.flush()


def approve_risk_acceptance(session: Session, finding: Finding, approver_id: int) -> None:
    problem = risk_approval_problem(finding.risk_requested_by_id, approver_id, finding.status)
    if problem:
        raise FindingRuleError(problem)
    until = finding.risk_requested_until
    source = finding.status
    finding.status = FindingStatus.RISK_ACCEPTED.value
    finding.risk_accepted_by_id = approver_id
    finding.risk_accepted_at = utcnow()
    finding.risk_accepted_until = until
    _note(
        session,
        finding,
        "status",
        f"Risk accepted until {until.isoformat() if until else '?'}.",
        author_id=approver_id,
        from_status=source,
        to_status=FindingStatus.RISK_ACCEPTED.value,
    )
    session.flush()


def reject_risk_acceptance(session: Session, finding: Finding, reason: str | None) -> None:
    if not finding.risk_request_pending:
        raise FindingRuleError("No risk acceptance is waiting for a decision on this finding.")
    _clear_risk(finding)
    _note(session, finding, "risk", "Risk acceptance refused." + (f" {reason}" if reason else ""))
    session.flush()


def reopen_expired_acceptances(session: Session, today: date) -> list[Finding]:
    """Accepted risks past their expiry go back to open, with a note saying why."""
    expired = list(
        session.scalars(
            select(Finding).where(
                Finding.status == FindingStatus.RISK_ACCEPTED.value,
                Finding.risk_accepted_until < today,
            )
        )
    )
    for finding in expired:
        until = finding.risk_accepted_until
        _set_status(
            session,
            finding,
            FindingStatus.OPEN.value,
            f"Risk acceptance expired on {until.isoformat() if until else '?'}; reopened.",
        )
    session.flush()
    return expired


# --- overdue findings and escalation --------------------------------------------------------


def count_overdue(session: Session, today: date, vendor_id: int | None = None) -> int:
    # count(*), not count(id): the status and due-date index answers it alone.
    stmt = select(func.count()).select_from(Finding).where(overdue_clause(today))
    if vendor_id is not None:
        stmt = stmt.where(Finding.vendor_id == vendor_id)
    return session.scalar(stmt) or 0


@dataclass
class EscalationReport:
    sent: list[tuple[int, str]] = field(default_factory=list)  # (finding id, recipient)
    already_sent_today: list[int] = field(default_factory=list)
    without_owner: list[int] = field(default_factory=list)
    failed: list[tuple[int, str]] = field(default_factory=list)
    reopened: list[int] = field(default_factory=list)


# (finding, days overdue) -> True when delivered, False when only logged; raises on failure.
Sender = Callable[[Finding, int], bool]


def escalate_overdue(session: Session, today: date, send: Sender) -> EscalationReport:
    """Remind the owner of every overdue finding, at most once per finding per day.

    Each reminder is recorded (and committed by the caller) so a second run the same day sends
    nothing; expired risk acceptances are reopened first so they are escalated too.
    """
    report = EscalationReport()
    report.reopened = [f.id for f in reopen_expired_acceptances(session, today)]
    overdue = session.scalars(
        select(Finding)
        .where(overdue_clause(today))
        .options(joinedload(Finding.owner), joinedload(Finding.vendor))
        .order_by(Finding.due_date, Finding.id)
    ).all()
    sent_today = set(
        session.scalars(
            select(FindingEscalation.finding_id).where(FindingEscalation.sent_on == today)
        )
    )
    for finding in overdue:
        if finding.id in sent_today:
            report.already_sent_today.append(finding.id)
            continue
        owner = finding.owner
        if owner is None or not owner.active:
            report.without_owner.append(finding.id)
            continue
        late = days_overdue(finding.status, finding.due_date, today)
        try:
            delivered = send(finding, late)
        except Exception as exc:  # one bad address must not stop the others
            report.failed.append((finding.id, str(exc)))
            continue
        session.add(
            FindingEscalation(
                finding_id=finding.id,
                sent_on=today,
                recipient=owner.email,
                days_overdue=late,
                delivered=delivered,
            )
        )
        _note(
            session,
            finding,
            "escalation",
            f"Overdue by {late} day{'s' if late != 1 else ''}: reminder "
            f"{'emailed' if delivered else 'logged (no mail server)'} to {owner.email}.",
            internal=True,
        )
        session.flush()
        report.sent.append((finding.id, owner.email))
    return report


def escalation_text(finding: Finding, late: int, url: str) -> tuple[str, str]:
    subject = f"Overdue finding #{finding.id}: {finding.title}"[:200]
    text = (
        f"Finding #{finding.id} for {finding.vendor.name} is {late} day"
        f"{'s' if late != 1 else ''} overdue.\n\n"
        f"Title:    {finding.title}\n"
        f"Severity: {finding.severity_label}\n"
        f"Status:   {finding.status_label}\n"
        f"Due:      {finding.due_date.isoformat()}\n\n"
        f"Follow it up with the vendor, or record a risk acceptance:\n{url}\n\n"
        "You receive this because you own the finding. At most one reminder a day is sent.\n"
    )
    return subject, text


# --- what people must do next -------------------------------------------------------------


@dataclass(frozen=True)
class ReviewerCounts:
    """What the home page counts for the people who run the register."""

    overdue: int
    awaiting_verification: int
    risk_requests: int  # risk acceptances waiting for an approver other than the one who asked


def reviewer_counts(session: Session, today: date, user_id: int) -> ReviewerCounts:
    """The three counts in one round trip; each is answered from an index (status and due
    date, requester), not by reading the register."""

    def count(*conditions: Any) -> Any:
        return select(func.count()).select_from(Finding).where(*conditions).scalar_subquery()

    overdue, waiting, risks = session.execute(
        select(
            count(overdue_clause(today)),
            count(Finding.status == FindingStatus.READY_FOR_VERIFICATION.value),
            count(
                Finding.risk_requested_by_id.is_not(None),
                Finding.risk_requested_by_id != user_id,
                Finding.status.in_(OPEN_VALUES),
            ),
        )
    ).one()
    return ReviewerCounts(overdue, waiting, risks)


def vendor_actionable(session: Session, vendor_id: int) -> int:
    """The vendor's findings that wait for its plan or progress."""
    return (
        session.scalar(
            select(func.count(Finding.id)).where(
                Finding.vendor_id == vendor_id,
                Finding.status.in_((FindingStatus.OPEN.value, FindingStatus.IN_REMEDIATION.value)),
            )
        )
        or 0
    )
