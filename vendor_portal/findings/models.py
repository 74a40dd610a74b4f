from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.findings.domain import (
    OPEN_STATUSES,
    FindingSource,
    FindingStatus,
    Severity,
    days_overdue,
    is_overdue,
    risk_acceptance_expired,
)

if TYPE_CHECKING:
    from vendor_portal.auth.models import User
    from vendor_portal.vendors.models import Vendor


class Finding(db.Model):
    """A deficiency to remediate, from any source; one per (source, source_ref) if a ref is set."""

    __tablename__ = "finding"
    __table_args__ = (
        UniqueConstraint("source", "source_ref", name="uq_finding_source_ref"),
        Index("ix_finding_status_due", "status", "due_date"),
        # The register's default order (due date, then id): a page is read off the index.
        Index("ix_finding_due_date_id", "due_date", "id"),
        # Risk acceptances waiting for a decision (the home page counts them on every view).
        Index("ix_finding_risk_requested_by_id", "risk_requested_by_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    source: Mapped[str] = mapped_column(String(32), index=True)
    # What raised it, e.g. "kpi_breach:17" or "exercise:4:inject:2"; re-raising the same ref
    # returns the existing finding instead of a duplicate.
    source_ref: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(32), default="open")
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    due_date: Mapped[date]
    remediation_plan: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    closed_at: Mapped[datetime | None]
    risk_accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    risk_accepted_until: Mapped[date | None]
    # A pending or granted risk acceptance: who asked, why and until when; the approver
    # (risk_accepted_by) must be someone else.
    risk_requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    risk_requested_at: Mapped[datetime | None]
    risk_requested_until: Mapped[date | None]
    risk_justification: Mapped[str | None] = mapped_column(Text)
    risk_accepted_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    vendor: Mapped[Vendor] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    risk_accepted_by: Mapped[User | None] = relationship(foreign_keys=[risk_accepted_by_id])
    risk_requested_by: Mapped[User | None] = relationship(foreign_keys=[risk_requested_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    updates: Mapped[list[FindingUpdate]] = relationship(
        back_populates="finding", order_by="FindingUpdate.id"
    )
    evidence: Mapped[list[FindingEvidence]] = relationship(
        back_populates="finding", order_by="FindingEvidence.id"
    )

    @property
    def severity_label(self) -> str:
        return Severity(self.severity).label

    @property
    def status_label(self) -> str:
        return FindingStatus(self.status).label

    @property
    def source_label(self) -> str:
        return FindingSource(self.source).label

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    def overdue_on(self, today: date) -> bool:
        return is_overdue(self.status, self.due_date, today)

    def days_overdue_on(self, today: date) -> int:
        return days_overdue(self.status, self.due_date, today)

    def risk_expired_on(self, today: date) -> bool:
        return risk_acceptance_expired(self.status, self.risk_accepted_until, today)

    @property
    def risk_request_pending(self) -> bool:
        return self.risk_requested_by_id is not None and self.status != "risk_accepted"


class FindingUpdate(db.Model):
    """One entry of a finding's history: a comment, a status change, the plan, progress."""

    __tablename__ = "finding_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("finding.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    # comment, progress, plan, status, risk, evidence, escalation, edit
    kind: Mapped[str] = mapped_column(String(16))
    body: Mapped[str | None] = mapped_column(Text)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str | None] = mapped_column(String(32))
    # Internal notes are hidden from the vendor's users.
    internal: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    finding: Mapped[Finding] = relationship(back_populates="updates")
    author: Mapped[User | None] = relationship()


class FindingEvidence(db.Model):
    """A file attached to a finding; the bytes live under EVIDENCE_DIR, named by their hash."""

    __tablename__ = "finding_evidence"

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(
        ForeignKey("finding.id", ondelete="CASCADE"), index=True
    )
    filename: Mapped[str] = mapped_column(String(255))
    media_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    storage_key: Mapped[str] = mapped_column(String(200))
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)

    finding: Mapped[Finding] = relationship(back_populates="evidence")
    uploaded_by: Mapped[User | None] = relationship()

    @property
    def vendor_id(self) -> int:
        return self.finding.vendor_id


class FindingDuePolicy(db.Model):
    """Days to remediate a finding of one severity (admin-editable; defaults in domain)."""

    __tablename__ = "finding_due_policy"

    severity: Mapped[str] = mapped_column(String(16), primary_key=True)
    days: Mapped[int]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class FindingEscalation(db.Model):
    """An overdue reminder sent to a finding's owner: at most one per finding per day."""

    __tablename__ = "finding_escalation"
    __table_args__ = (UniqueConstraint("finding_id", "sent_on", name="uq_finding_escalation_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    finding_id: Mapped[int] = mapped_column(ForeignKey("finding.id", ondelete="CASCADE"))
    sent_on: Mapped[date]
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    recipient: Mapped[str] = mapped_column(String(320))
    days_overdue: Mapped[int]
    # False when no SMTP server is configured and the message was only logged.
    delivered: Mapped[bool] = mapped_column(Boolean, default=True)
