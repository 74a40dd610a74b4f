"""Vendor register operations. Services flush; the request or CLI commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session

from vendor_portal.db import utcnow
from vendor_portal.vendors.domain import Tier, VendorStatus
from vendor_portal.vendors.models import Vendor, VendorContact, VendorService


class VendorConflict(ValueError):
    """The change would duplicate another vendor (same LEI)."""

    def __init__(self, message: str, field: str = "lei") -> None:
        super().__init__(message)
        self.field = field


def _check_lei_free(session: Session, lei: str | None, vendor_id: int | None) -> None:
    if not lei:
        return
    other = session.scalar(select(Vendor).where(Vendor.lei == lei, Vendor.id != (vendor_id or -1)))
    if other is not None:
        raise VendorConflict(f"The LEI {lei} already belongs to {other.name} (vendor {other.id}).")


def create_vendor(session: Session, values: dict[str, Any]) -> Vendor:
    _check_lei_free(session, values.get("lei"), None)
    vendor = Vendor(**{"status": VendorStatus.PROSPECTIVE.value, **values})
    session.add(vendor)
    session.flush()
    return vendor


def update_vendor(session: Session, vendor: Vendor, values: dict[str, Any]) -> Vendor:
    _check_lei_free(session, values.get("lei"), vendor.id)
    for key, value in values.items():
        setattr(vendor, key, value)
    session.flush()
    return vendor


def archive_vendor(session: Session, vendor: Vendor) -> None:
    if vendor.archived_at is None:
        vendor.archived_at = utcnow()
        session.flush()


def restore_vendor(session: Session, vendor: Vendor) -> None:
    if vendor.archived_at is not None:
        vendor.archived_at = None
        session.flush()


def vendor_query(
    *,
    search: str | None = None,
    tiers: list[str] | None = None,
    statuses: list[str] | None = None,
    country: str | None = None,
    archived: bool = False,
) -> Select[Any]:
    stmt = select(Vendor)
    if search:
        pattern = f"%{search.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Vendor.name).like(pattern),
                func.lower(func.coalesce(Vendor.lei, "")).like(pattern),
            )
        )
    if tiers:
        stmt = stmt.where(Vendor.tier.in_(tiers))
    if statuses:
        stmt = stmt.where(Vendor.status.in_(statuses))
    if country:
        stmt = stmt.where(Vendor.country == country.upper())
    stmt = stmt.where(Vendor.archived_at.is_not(None) if archived else Vendor.archived_at.is_(None))
    return stmt


def add_contact(session: Session, vendor: Vendor, values: dict[str, Any]) -> VendorContact:
    contact = VendorContact(vendor=vendor, **values)
    session.add(contact)
    session.flush()
    return contact


def tier_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Vendor.tier, func.count()).where(Vendor.archived_at.is_(None)).group_by(Vendor.tier)
    )
    counts = {t.value: 0 for t in Tier}
    counts.update({tier: n for tier, n in rows})
    return counts


def _record_attestation(service: VendorService, values: dict[str, Any], source: str) -> None:
    keys = ("attested_rto_hours", "attested_rpo_hours")
    if any(k in values and values[k] != getattr(service, k) for k in keys):
        service.attestation_source = source
        service.attested_at = utcnow()


def create_service(
    session: Session, vendor: Vendor, values: dict[str, Any], source: str = "manual"
) -> VendorService:
    service = VendorService(vendor=vendor, hosting_countries=[], cloud_regions=[])
    _record_attestation(service, values, source)
    for key, value in values.items():
        setattr(service, key, value)
    session.add(service)
    session.flush()
    return service


def update_service(
    session: Session, service: VendorService, values: dict[str, Any], source: str = "manual"
) -> VendorService:
    _record_attestation(service, values, source)
    for key, value in values.items():
        setattr(service, key, value)
    session.flush()
    return service


def active_services(session: Session, vendor_id: int) -> list[VendorService]:
    return list(
        session.scalars(
            select(VendorService)
            .where(VendorService.vendor_id == vendor_id, VendorService.archived_at.is_(None))
            .order_by(VendorService.name)
        )
    )
