from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from sqlalchemy import JSON, Column, ForeignKey, Numeric, String, Table, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vendor_portal.db import utcnow
from vendor_portal.extensions import db

if TYPE_CHECKING:
    from vendor_portal.vendors.models import Vendor, VendorService

contract_service = Table(
    "contract_service",
    db.metadata,
    Column("contract_id", ForeignKey("contract.id", ondelete="CASCADE"), primary_key=True),
    Column("vendor_service_id", ForeignKey("vendor_service.id"), primary_key=True),
)

contract_clause = Table(
    "contract_clause",
    db.metadata,
    Column("contract_id", ForeignKey("contract.id", ondelete="CASCADE"), primary_key=True),
    Column("obligation_id", ForeignKey("obligation.id"), primary_key=True),
)


class Obligation(db.Model):
    """A continuity clause that contracts carry and that must bind subcontractors too."""

    __tablename__ = "obligation"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str | None] = mapped_column(Text)
    # Vendor tiers for which the clause is mandatory (optional for the others).
    mandatory_tiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    archived_at: Mapped[datetime | None]

    def mandatory_for(self, tier: str) -> bool:
        return tier in (self.mandatory_tiers or [])


class Contract(db.Model):
    __tablename__ = "contract"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    title: Mapped[str] = mapped_column(String(300))
    reference: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(32), default="draft", index=True)
    start_date: Mapped[date | None]
    end_date: Mapped[date | None]
    renewal_date: Mapped[date | None]
    notice_date: Mapped[date | None]  # last day to give notice of non-renewal
    value: Mapped[Decimal | None] = mapped_column(Numeric(16, 2))
    currency: Mapped[str | None] = mapped_column(String(3))
    # The overarching contract this one is subordinate to, and the contract it renews.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"))
    renews_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    vendor: Mapped[Vendor] = relationship()
    services: Mapped[list[VendorService]] = relationship(secondary=contract_service)
    clauses: Mapped[list[Obligation]] = relationship(
        secondary=contract_clause, order_by="Obligation.id"
    )
