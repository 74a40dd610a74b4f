from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vendor_portal.db import utcnow
from vendor_portal.evidence.domain import ExpiryState, expiry_state, type_label
from vendor_portal.extensions import db

if TYPE_CHECKING:
    from vendor_portal.auth.models import User
    from vendor_portal.vendors.models import Vendor


class EvidenceItem(db.Model):
    """One piece of evidence a vendor keeps current (its BCP, its ISO certificate...)."""

    __tablename__ = "evidence_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    evidence_type: Mapped[str] = mapped_column(String(32), index=True)
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    vendor: Mapped[Vendor] = relationship()
    versions: Mapped[list[EvidenceVersion]] = relationship(
        back_populates="item", order_by="EvidenceVersion.number.desc()"
    )

    @property
    def type_label(self) -> str:
        return type_label(self.evidence_type)


class EvidenceVersion(db.Model):
    """One uploaded file of an evidence item. Never overwritten: a new upload is a new version."""

    __tablename__ = "evidence_version"
    __table_args__ = (
        UniqueConstraint("item_id", "number", name="uq_evidence_version_item_number"),
        Index("ix_evidence_version_vendor_sha256", "vendor_id", "sha256"),
        Index("ix_evidence_version_latest_valid", "is_latest", "valid_until"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("evidence_item.id"), index=True)
    # Copied from the item so that every scoped query filters on one column.
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    number: Mapped[int]
    is_latest: Mapped[bool] = mapped_column(default=True)
    filename: Mapped[str] = mapped_column(String(200))
    storage_key: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    mimetype: Mapped[str] = mapped_column(String(100))
    issued_on: Mapped[date | None]
    valid_until: Mapped[date | None] = mapped_column(index=True)
    status: Mapped[str] = mapped_column(String(16), default="submitted", index=True)
    review_comment: Mapped[str | None] = mapped_column(Text)
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[datetime | None]
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Set when a read found the stored bytes no longer match sha256 (shown to admins).
    integrity_failed_at: Mapped[datetime | None]

    item: Mapped[EvidenceItem] = relationship(back_populates="versions")
    vendor: Mapped[Vendor] = relationship()
    uploaded_by: Mapped[User | None] = relationship(foreign_keys=[uploaded_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])

    def expiry(self, today: date) -> ExpiryState:
        return expiry_state(self.valid_until, today)

    @property
    def accepted_at(self) -> datetime | None:
        return self.reviewed_at if self.status == "accepted" else None
