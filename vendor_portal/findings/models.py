from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vendor_portal.db import utcnow
from vendor_portal.extensions import db

if TYPE_CHECKING:
    from vendor_portal.auth.models import User
    from vendor_portal.vendors.models import Vendor


class Finding(db.Model):
    """A deficiency to remediate, from any source; one per (source, source_ref) if a ref is set."""

    __tablename__ = "finding"
    __table_args__ = (
        UniqueConstraint("source", "source_ref", name="uq_finding_source_ref"),
        Index("ix_finding_status_due", "status", "due_date"),
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

    vendor: Mapped[Vendor] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
