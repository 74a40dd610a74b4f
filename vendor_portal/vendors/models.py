from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy import true as sa_true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.vendors.domain import country_name


class Vendor(db.Model):
    __tablename__ = "vendor"
    # The default list: unarchived vendors by name, paged without sorting the whole table.
    __table_args__ = (Index("ix_vendor_list", "archived_at", "name", "id"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), index=True)
    lei: Mapped[str | None] = mapped_column(String(20), unique=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    tier: Mapped[str] = mapped_column(String(16), index=True)
    status: Mapped[str] = mapped_column(String(16), index=True)
    website: Mapped[str | None] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    archived_at: Mapped[datetime | None] = mapped_column(index=True)
    # False for an nth party known only as someone's subcontractor (no direct relationship).
    direct: Mapped[bool] = mapped_column(default=True, server_default=sa_true())

    contacts: Mapped[list[VendorContact]] = relationship(
        back_populates="vendor", cascade="all, delete-orphan", order_by="VendorContact.name"
    )
    services: Mapped[list[VendorService]] = relationship(
        back_populates="vendor", order_by="VendorService.name"
    )

    @property
    def country_name(self) -> str:
        return country_name(self.country)

    @property
    def archived(self) -> bool:
        return self.archived_at is not None

    def __repr__(self) -> str:
        return f"<Vendor {self.id} {self.name}>"


class VendorContact(db.Model):
    __tablename__ = "vendor_contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320))
    phone: Mapped[str | None] = mapped_column(String(50))
    job_title: Mapped[str | None] = mapped_column(String(200))
    is_continuity_lead: Mapped[bool] = mapped_column(default=False)

    vendor: Mapped[Vendor] = relationship(back_populates="contacts")


class VendorService(db.Model):
    """What a vendor delivers, with the recovery objectives the vendor attests to."""

    __tablename__ = "vendor_service"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    service_type: Mapped[str] = mapped_column(String(32), default="other")
    description: Mapped[str | None] = mapped_column(Text)
    hosting_countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    cloud_regions: Mapped[list[str]] = mapped_column(JSON, default=list)
    attested_rto_hours: Mapped[float | None]
    attested_rpo_hours: Mapped[float | None]
    # Where the attested values came from ("manual", "questionnaire 12", ...) and when.
    attestation_source: Mapped[str | None] = mapped_column(String(200))
    attested_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    archived_at: Mapped[datetime | None]

    vendor: Mapped[Vendor] = relationship(back_populates="services")

    @property
    def service_type_label(self) -> str:
        from vendor_portal.vendors.domain import ServiceType

        return ServiceType(self.service_type).label
