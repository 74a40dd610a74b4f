"""Evidence operations. Services flush; the request or CLI commits.

For other features (the procurement gate): `current_accepted_evidence(session, vendor_id)`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, contains_eager

from vendor_portal.audit.services import record_event
from vendor_portal.db import utcnow
from vendor_portal.evidence.domain import (
    TITLE_MAX,
    EvidenceFact,
    EvidenceType,
    ReviewStatus,
    coverage_matrix,
    review_problem,
    type_label,
)
from vendor_portal.evidence.models import EvidenceItem, EvidenceVersion
from vendor_portal.storage import FileStorage, PendingUpload, StoredFile, format_size
from vendor_portal.vendors.models import Vendor

# Evidence that is meaningless without an end date.
EXPIRY_REQUIRED = frozenset({EvidenceType.ISO22301_CERTIFICATE, EvidenceType.INSURANCE_CERTIFICATE})


class EvidenceError(ValueError):
    """An upload or review that cannot be recorded; `field` names the input at fault."""

    def __init__(self, message: str, field: str = "file") -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class UploadDetails:
    vendor: Vendor
    evidence_type: str
    title: str | None
    issued_on: date | None
    valid_until: date | None
    item: EvidenceItem | None = None  # a new version of this item, or a new item when None


def check_details(details: UploadDetails) -> dict[str, str]:
    """Errors by field that do not depend on the file (checked before it is stored)."""
    errors: dict[str, str] = {}
    if details.item is not None:
        if details.item.vendor_id != details.vendor.id:
            errors["item_id"] = "This evidence item belongs to another vendor."
    elif details.evidence_type not in {t.value for t in EvidenceType}:
        errors["evidence_type"] = (
            f"Choose one of {', '.join(t.value for t in EvidenceType)} "
            f"(got {details.evidence_type!r})."
        )
    evidence_type = details.item.evidence_type if details.item else details.evidence_type
    if evidence_type in EXPIRY_REQUIRED and details.valid_until is None:
        errors["valid_until"] = f"A {type_label(evidence_type)} needs its valid-until date."
    if details.title and len(details.title) > TITLE_MAX:
        errors["title"] = f"At most {TITLE_MAX} characters."
    return errors


def duplicate_of(session: Session, vendor_id: int, sha256: str) -> EvidenceVersion | None:
    return session.scalar(
        select(EvidenceVersion)
        .where(EvidenceVersion.vendor_id == vendor_id, EvidenceVersion.sha256 == sha256)
        .order_by(EvidenceVersion.id)
        .limit(1)
    )


def store_upload(
    session: Session,
    storage: FileStorage,
    pending: PendingUpload,
    filename: str | None,
    details: UploadDetails,
    user: Any,
) -> EvidenceVersion:
    """Put a received file in place, then record it: the row exists only once the file does.

    Raises storage.UploadRejected (content, size, name) or EvidenceError (duplicate)."""
    duplicate = duplicate_of(session, details.vendor.id, pending.sha256) if pending.size else None
    if duplicate is not None:
        pending.discard()
        raise EvidenceError(
            f"This file was already uploaded as {duplicate.item.title!r} version "
            f"{duplicate.number} on {duplicate.uploaded_at:%Y-%m-%d}; nothing was added."
        )
    stored = storage.commit(pending, filename)
    return record_version(session, stored, details, user)


def record_version(
    session: Session, stored: StoredFile, details: UploadDetails, user: Any
) -> EvidenceVersion:
    item = details.item
    if item is None:
        item = EvidenceItem(
            vendor_id=details.vendor.id,
            evidence_type=details.evidence_type,
            title=(details.title or type_label(details.evidence_type))[:TITLE_MAX],
            created_by_id=getattr(user, "id", None),
        )
        session.add(item)
        session.flush()
        number = 1
    else:
        number = (
            session.scalar(
                select(func.max(EvidenceVersion.number)).where(EvidenceVersion.item_id == item.id)
            )
            or 0
        ) + 1
        for previous in session.scalars(
            select(EvidenceVersion).where(
                EvidenceVersion.item_id == item.id, EvidenceVersion.is_latest
            )
        ):
            previous.is_latest = False
    version = EvidenceVersion(
        item_id=item.id,
        vendor_id=item.vendor_id,
        number=number,
        is_latest=True,
        filename=stored.filename,
        storage_key=stored.key,
        size=stored.size,
        sha256=stored.sha256,
        mimetype=stored.mimetype,
        issued_on=details.issued_on,
        valid_until=details.valid_until,
        status=ReviewStatus.SUBMITTED.value,
        uploaded_by_id=getattr(user, "id", None),
        uploaded_at=utcnow(),
    )
    session.add(version)
    session.flush()
    return version


def review_version(
    session: Session, version: EvidenceVersion, decision: str, comment: str | None, user: Any
) -> EvidenceVersion:
    problem = review_problem(version.status, decision, comment)
    if problem:
        raise EvidenceError(problem, field="decision" if "accept" in problem else "comment")
    version.status = decision
    version.review_comment = (comment or "").strip() or None
    version.reviewed_by_id = user.id
    version.reviewed_at = utcnow()
    session.flush()
    return version


def record_integrity_failure(session: Session, version: EvidenceVersion, reason: str) -> None:
    """Flag the version for admins and write the failure to the audit log."""
    if version.integrity_failed_at is None:
        version.integrity_failed_at = utcnow()
    record_event(
        session,
        "evidence.integrity_failure",
        "evidence_version",
        version.id,
        {"sha256": version.sha256, "storage_key": version.storage_key, "reason": reason},
    )
    session.flush()


def record_download(session: Session, version: EvidenceVersion) -> None:
    record_event(
        session,
        "evidence.download",
        "evidence_version",
        version.id,
        {"filename": version.filename, "sha256": version.sha256},
    )


def items_for_vendor(session: Session, vendor_id: int) -> list[EvidenceItem]:
    return list(
        session.scalars(
            select(EvidenceItem)
            .where(EvidenceItem.vendor_id == vendor_id)
            .order_by(EvidenceItem.evidence_type, EvidenceItem.title)
        )
    )


def version_query(
    *,
    vendor_id: int | None = None,
    evidence_types: list[str] | None = None,
    statuses: list[str] | None = None,
    search: str | None = None,
    latest_only: bool = True,
    expires_within: int | None = None,
    expired: bool = False,
    integrity_failed: bool = False,
    today: date | None = None,
) -> Select[Any]:
    """Evidence versions with their item and vendor loaded (one query, no N+1)."""
    today = today or utcnow().date()
    stmt = (
        select(EvidenceVersion)
        .join(EvidenceVersion.item)
        .join(EvidenceVersion.vendor)
        .options(contains_eager(EvidenceVersion.item), contains_eager(EvidenceVersion.vendor))
    )
    if vendor_id is not None:
        stmt = stmt.where(EvidenceVersion.vendor_id == vendor_id)
    if evidence_types:
        stmt = stmt.where(EvidenceItem.evidence_type.in_(evidence_types))
    if statuses:
        stmt = stmt.where(EvidenceVersion.status.in_(statuses))
    if search:
        pattern = f"%{search.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(EvidenceItem.title).like(pattern),
                func.lower(EvidenceVersion.filename).like(pattern),
                func.lower(Vendor.name).like(pattern),
            )
        )
    if latest_only:
        stmt = stmt.where(EvidenceVersion.is_latest)
    if expires_within is not None:
        stmt = stmt.where(
            EvidenceVersion.valid_until >= today,
            EvidenceVersion.valid_until <= today + timedelta(days=expires_within),
        )
    if expired:
        stmt = stmt.where(EvidenceVersion.valid_until < today)
    if integrity_failed:
        stmt = stmt.where(EvidenceVersion.integrity_failed_at.is_not(None))
    return stmt


def current_accepted_evidence(
    session: Session, vendor_id: int, as_of: date | None = None
) -> dict[str, EvidenceVersion]:
    """The vendor's accepted evidence by type: for each type, the accepted version issued last.

    Returns {evidence_type: EvidenceVersion}; a type is absent when nothing of it was ever
    accepted. Expired versions are included (the caller decides, with `valid_until`): check
    `version.valid_until` (None = no end date) against the day of the decision, and the age with
    `version.issued_on` (None when the vendor gave no issue date: fall back to
    `version.uploaded_at.date()`). `version.reviewed_at` is when it was accepted. With `as_of`,
    only versions uploaded and accepted by the end of that day count.
    """
    stmt = (
        select(EvidenceVersion)
        .join(EvidenceVersion.item)
        .options(contains_eager(EvidenceVersion.item))
        .where(
            EvidenceVersion.vendor_id == vendor_id,
            EvidenceVersion.status == ReviewStatus.ACCEPTED.value,
        )
    )
    result: dict[str, EvidenceVersion] = {}
    for version in session.scalars(stmt):
        if as_of is not None and (
            version.reviewed_at is None or version.reviewed_at.date() > as_of
        ):
            continue
        key = version.item.evidence_type
        best = result.get(key)
        if best is None or _issue_order(version) > _issue_order(best):
            result[key] = version
    return result


def _issue_order(version: EvidenceVersion) -> tuple[date, Any, int]:
    issued = version.issued_on or version.uploaded_at.date()
    return (issued, version.uploaded_at, version.id)


def coverage(
    session: Session, vendors: list[Vendor], today: date | None = None
) -> dict[int, dict[str, Any]]:
    """Vendor id -> evidence type -> Coverage, the best state over every version (an accepted
    version still counts while a newer one awaits review)."""
    today = today or utcnow().date()
    ids = [v.id for v in vendors]
    rows = session.execute(
        select(
            EvidenceVersion.vendor_id,
            EvidenceItem.evidence_type,
            EvidenceVersion.status,
            EvidenceVersion.valid_until,
        )
        .join(EvidenceVersion.item)
        .where(EvidenceVersion.vendor_id.in_(ids))
    )
    facts = [EvidenceFact(r.vendor_id, r.evidence_type, r.status, r.valid_until) for r in rows]
    return coverage_matrix(ids, facts, today)


def count_expiring(session: Session, today: date, within: int, vendor_id: int | None = None) -> int:
    stmt = select(func.count(EvidenceVersion.id)).where(
        EvidenceVersion.is_latest,
        EvidenceVersion.status != ReviewStatus.REJECTED.value,
        and_(
            EvidenceVersion.valid_until >= today,
            EvidenceVersion.valid_until <= today + timedelta(days=within),
        ),
    )
    if vendor_id is not None:
        stmt = stmt.where(EvidenceVersion.vendor_id == vendor_id)
    return session.scalar(stmt) or 0


def size_message(size: int) -> str:
    return format_size(size)
