from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Column, ForeignKey, Index, String, Table, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.subcontracting.domain import attestation_current

if TYPE_CHECKING:
    from vendor_portal.contracts.models import Obligation
    from vendor_portal.vendors.models import Vendor, VendorService

declaration_service = Table(
    "subcontractor_declaration_service",
    db.metadata,
    Column(
        "declaration_id",
        ForeignKey("subcontractor_declaration.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("vendor_service_id", ForeignKey("vendor_service.id"), primary_key=True),
)


class SubcontractorDeclaration(db.Model):
    """One link of a vendor's subcontracting chain: `subcontractor` works for the provider above
    it (`parent`, or the head vendor itself when there is no parent)."""

    __tablename__ = "subcontractor_declaration"
    __table_args__ = (Index("ix_subcontractor_declaration_vendor", "vendor_id", "removed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"))  # the head vendor
    subcontractor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("subcontractor_declaration.id"), index=True
    )
    rank: Mapped[int]
    function: Mapped[str | None] = mapped_column(Text)  # what they do
    data_storage_countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    data_processing_countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    declared_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    removed_at: Mapped[datetime | None]

    vendor: Mapped[Vendor] = relationship(foreign_keys=[vendor_id])
    subcontractor: Mapped[Vendor] = relationship(foreign_keys=[subcontractor_id], lazy="joined")
    parent: Mapped[SubcontractorDeclaration | None] = relationship(remote_side=[id])
    services: Mapped[list[VendorService]] = relationship(secondary=declaration_service)


class SubcontractingNotice(db.Model):
    """A vendor's advance notice of a new, changed or removed subcontractor."""

    __tablename__ = "subcontracting_notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    declaration_id: Mapped[int | None] = mapped_column(ForeignKey("subcontractor_declaration.id"))
    subcontractor_name: Mapped[str] = mapped_column(String(200))
    subcontractor_lei: Mapped[str | None] = mapped_column(String(20))
    subcontractor_country: Mapped[str | None] = mapped_column(String(2))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("subcontractor_declaration.id"))
    function: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    planned_date: Mapped[date | None]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    deadline: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str | None] = mapped_column(Text)

    vendor: Mapped[Vendor] = relationship()


class FlowDownReview(db.Model):
    """A review of whether a vendor's mandatory obligations bind each of its subcontractors."""

    __tablename__ = "flow_down_review"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="in_progress")
    due_date: Mapped[date | None]
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    signed_off_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    signed_off_at: Mapped[datetime | None]
    next_due_date: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    vendor: Mapped[Vendor] = relationship()
    items: Mapped[list[FlowDownItem]] = relationship(
        back_populates="review", cascade="all, delete-orphan", order_by="FlowDownItem.id"
    )


class FlowDownItem(db.Model):
    __tablename__ = "flow_down_item"
    __table_args__ = (UniqueConstraint("review_id", "declaration_id", "obligation_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(
        ForeignKey("flow_down_review.id", ondelete="CASCADE"), index=True
    )
    declaration_id: Mapped[int] = mapped_column(ForeignKey("subcontractor_declaration.id"))
    obligation_id: Mapped[int] = mapped_column(ForeignKey("obligation.id"))
    outcome: Mapped[str] = mapped_column(String(16), default="unknown")
    comment: Mapped[str | None] = mapped_column(Text)
    evidence_key: Mapped[str | None] = mapped_column(String(200))
    evidence_sha256: Mapped[str | None] = mapped_column(String(64))
    evidence_filename: Mapped[str | None] = mapped_column(String(255))
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("finding.id"))

    review: Mapped[FlowDownReview] = relationship(back_populates="items")
    declaration: Mapped[SubcontractorDeclaration] = relationship(lazy="joined")
    obligation: Mapped[Obligation] = relationship(lazy="joined")


class NoSubcontractorsAttestation(db.Model):
    """A vendor's statement that it relies on no subcontractors to deliver its services.

    It stands in for a declared chain (and for the flow-down review of an empty chain) while the
    chain stays empty: declaring a subcontractor withdraws it. One per vendor; confirming again
    moves its date."""

    __tablename__ = "no_subcontractors_attestation"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), unique=True)
    attested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    attested_at: Mapped[datetime] = mapped_column(default=utcnow)

    vendor: Mapped[Vendor] = relationship()

    @property
    def attested_on(self) -> date:
        return self.attested_at.date()

    def current_on(self, today: date) -> bool:
        """Still standing on `today` (see domain.attestation_current)."""
        return attestation_current(self.vendor.tier, self.attested_on, today)
