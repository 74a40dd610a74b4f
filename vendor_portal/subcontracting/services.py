"""Subcontracting chains, change notices and flow-down reviews. Services flush; callers commit."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, selectinload

from vendor_portal.audit.services import record_event
from vendor_portal.contracts.models import Contract, Obligation
from vendor_portal.db import utcnow
from vendor_portal.findings.services import open_finding
from vendor_portal.subcontracting.domain import (
    GAP_OUTCOMES,
    REVIEWED_TIERS,
    ChainEntry,
    ChainError,
    Coverage,
    FlowDown,
    NoticeKind,
    NoticeStatus,
    ReviewStatus,
    check_new_entry,
    effective_notice_status,
    next_review_due,
    normalise_company_name,
    notice_deadline,
)
from vendor_portal.subcontracting.models import (
    FlowDownItem,
    FlowDownReview,
    NoSubcontractorsAttestation,
    SubcontractingNotice,
    SubcontractorDeclaration,
)
from vendor_portal.vendors.domain import VendorStatus
from vendor_portal.vendors.models import Vendor, VendorContact, VendorService


class SubcontractingError(ValueError):
    """A request that cannot be carried out; the message says why, for the user."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- companies --------------------------------------------------------------------------


def match_company(
    session: Session, name: str, country: str | None, lei: str | None
) -> Vendor | None:
    """The existing vendor record for this company: by LEI, else by name and country."""
    if lei:
        found = session.scalar(select(Vendor).where(Vendor.lei == lei))
        if found is not None:
            return found
    key = normalise_company_name(name)
    candidates = session.scalars(
        select(Vendor).where(
            Vendor.country == (country or "").upper(), Vendor.archived_at.is_(None)
        )
    )
    return next((v for v in candidates if normalise_company_name(v.name) == key), None)


def find_or_create_company(
    session: Session, *, name: str, country: str, lei: str | None, tier: str
) -> tuple[Vendor, bool]:
    company = match_company(session, name, country, lei)
    if company is not None:
        return company, False
    company = Vendor(
        name=name.strip(),
        country=country.upper(),
        lei=lei,
        tier=tier,
        status=VendorStatus.ACTIVE.value,
        direct=False,
    )
    session.add(company)
    session.flush()
    return company, True


# --- chains -----------------------------------------------------------------------------


def active_chain(session: Session, vendor_id: int) -> list[SubcontractorDeclaration]:
    return list(
        session.scalars(
            select(SubcontractorDeclaration)
            .options(selectinload(SubcontractorDeclaration.services))
            .where(
                SubcontractorDeclaration.vendor_id == vendor_id,
                SubcontractorDeclaration.removed_at.is_(None),
            )
            .order_by(SubcontractorDeclaration.rank, SubcontractorDeclaration.id)
        )
    )


def _chain_entries(chain: list[SubcontractorDeclaration]) -> dict[int, ChainEntry]:
    return {d.id: ChainEntry(d.id, d.subcontractor_id, d.parent_id) for d in chain}


@dataclass(frozen=True)
class TreeRow:
    declaration: SubcontractorDeclaration
    depth: int  # 0 for rank 2


def chain_tree(chain: list[SubcontractorDeclaration]) -> list[TreeRow]:
    """Declarations in depth-first order (each provider followed by its own subcontractors)."""
    children: dict[int | None, list[SubcontractorDeclaration]] = defaultdict(list)
    for d in chain:
        children[d.parent_id].append(d)
    rows: list[TreeRow] = []

    def walk(parent: int | None, depth: int) -> None:
        for d in sorted(children.get(parent, []), key=lambda x: x.subcontractor.name.lower()):
            rows.append(TreeRow(d, depth))
            walk(d.id, depth + 1)

    walk(None, 0)
    return rows


def declare(
    session: Session,
    vendor: Vendor,
    *,
    name: str,
    country: str,
    lei: str | None = None,
    parent_id: int | None = None,
    function: str | None = None,
    data_storage_countries: list[str] | None = None,
    data_processing_countries: list[str] | None = None,
    service_ids: list[int] | None = None,
    declared_by_id: int | None = None,
) -> SubcontractorDeclaration:
    chain = active_chain(session, vendor.id)
    entries = _chain_entries(chain)
    if parent_id is not None and parent_id not in entries:
        raise SubcontractingError(
            f"The provider above (entry {parent_id}) is not in {vendor.name}'s chain.", "parent_id"
        )
    company, _ = find_or_create_company(
        session, name=name, country=country, lei=lei, tier=vendor.tier
    )
    try:
        rank = check_new_entry(entries, vendor.id, company.id, parent_id)
    except ChainError as exc:
        raise SubcontractingError(str(exc), "parent_id") from exc
    if any(e.company_id == company.id and e.parent_id == parent_id for e in entries.values()):
        raise SubcontractingError(
            f"{company.name} is already declared at this place in the chain.", "name"
        )
    services: list[VendorService] = []
    if service_ids:
        services = list(
            session.scalars(
                select(VendorService).where(
                    VendorService.id.in_(service_ids), VendorService.vendor_id == vendor.id
                )
            )
        )
        missing = set(service_ids) - {s.id for s in services}
        if missing:
            raise SubcontractingError(
                f"Not services of {vendor.name}: {', '.join(map(str, sorted(missing)))}.",
                "service_ids",
            )
    declaration = SubcontractorDeclaration(
        vendor_id=vendor.id,
        subcontractor_id=company.id,
        parent_id=parent_id,
        rank=rank,
        function=function,
        data_storage_countries=sorted(set(data_storage_countries or [])),
        data_processing_countries=sorted(set(data_processing_countries or [])),
        declared_by_id=declared_by_id,
        services=services,
    )
    session.add(declaration)
    attestation = no_subcontractors_attestation(session, vendor.id)
    if attestation is not None:
        session.delete(attestation)  # a declared subcontractor withdraws "we have none"
    session.flush()
    return declaration


def no_subcontractors_attestation(
    session: Session, vendor_id: int
) -> NoSubcontractorsAttestation | None:
    return session.scalar(
        select(NoSubcontractorsAttestation).where(
            NoSubcontractorsAttestation.vendor_id == vendor_id
        )
    )


def attest_no_subcontractors(
    session: Session, vendor: Vendor, user_id: int | None
) -> NoSubcontractorsAttestation:
    """Record (or confirm again) that the vendor relies on no subcontractors."""
    if active_chain(session, vendor.id):
        raise SubcontractingError(
            f"{vendor.name} has subcontractors declared: remove them first if it no longer "
            "relies on any."
        )
    attestation = no_subcontractors_attestation(session, vendor.id)
    if attestation is None:
        attestation = NoSubcontractorsAttestation(vendor_id=vendor.id)
        session.add(attestation)
    attestation.attested_by_id = user_id
    attestation.attested_at = utcnow()
    session.flush()
    return attestation


def remove_declaration(session: Session, declaration: SubcontractorDeclaration) -> int:
    """Remove an entry and everything declared below it; returns how many were removed."""
    chain = active_chain(session, declaration.vendor_id)
    below: dict[int | None, list[SubcontractorDeclaration]] = defaultdict(list)
    for d in chain:
        below[d.parent_id].append(d)
    now = utcnow()
    stack, removed = [declaration], 0
    while stack:
        current = stack.pop()
        if current.removed_at is None:
            current.removed_at = now
            removed += 1
        stack.extend(below.get(current.id, []))
    session.flush()
    return removed


def dependants_by_company(session: Session) -> dict[int, set[int]]:
    """For each subcontractor company, the head vendors whose chains include it."""
    rows = session.execute(
        select(SubcontractorDeclaration.subcontractor_id, SubcontractorDeclaration.vendor_id).where(
            SubcontractorDeclaration.removed_at.is_(None)
        )
    )
    result: dict[int, set[int]] = defaultdict(set)
    for company_id, vendor_id in rows:
        result[company_id].add(vendor_id)
    return result


# --- duplicates and merging -------------------------------------------------------------


def duplicate_groups(session: Session) -> list[list[Vendor]]:
    """Vendor records that look like one company (same LEI, or same name key and country)."""
    groups: dict[tuple[str, str], list[Vendor]] = defaultdict(list)
    for vendor in session.scalars(
        select(Vendor).where(Vendor.archived_at.is_(None)).order_by(Vendor.id)
    ):
        groups[(normalise_company_name(vendor.name), vendor.country)].append(vendor)
    return [group for group in groups.values() if len(group) > 1]


def merge_companies(session: Session, keep: Vendor, duplicate: Vendor) -> None:
    """Fold a duplicate subcontractor record into `keep`: its chain entries and contacts move
    over, the duplicate is archived. Records with a direct relationship are not merged."""
    if keep.id == duplicate.id:
        raise SubcontractingError("Choose two different records.")
    if duplicate.direct:
        raise SubcontractingError(
            f"{duplicate.name} is a direct vendor (it may have contracts, users and services): "
            "merge the other record into it instead.",
        )
    session.execute(
        update(SubcontractorDeclaration)
        .where(SubcontractorDeclaration.subcontractor_id == duplicate.id)
        .values(subcontractor_id=keep.id)
    )
    from vendor_portal.graph.records import note_records_changed  # graph imports this package

    note_records_changed(session)  # a bulk statement: the dependency graph's marker by hand
    session.execute(
        update(VendorContact)
        .where(VendorContact.vendor_id == duplicate.id)
        .values(vendor_id=keep.id)
    )
    if keep.lei is None and duplicate.lei is not None:
        lei, duplicate.lei = duplicate.lei, None
        session.flush()
        keep.lei = lei
    duplicate.archived_at = utcnow()
    duplicate.notes = (
        (duplicate.notes or "") + f"\nMerged into vendor {keep.id} ({keep.name})."
    ).strip()
    session.flush()
    record_event(session, "vendor.merge", "vendor", keep.id, {"merged": duplicate.id})


# --- change notices ---------------------------------------------------------------------


def submit_notice(
    session: Session,
    vendor: Vendor,
    *,
    kind: str,
    subcontractor_name: str,
    notice_days: int,
    subcontractor_country: str | None = None,
    subcontractor_lei: str | None = None,
    parent_id: int | None = None,
    declaration_id: int | None = None,
    function: str | None = None,
    description: str | None = None,
    planned_date: date | None = None,
    submitted_by_id: int | None = None,
) -> SubcontractingNotice:
    NoticeKind(kind)
    chain_ids = {d.id for d in active_chain(session, vendor.id)}
    for field, value in (("parent_id", parent_id), ("declaration_id", declaration_id)):
        if value is not None and value not in chain_ids:
            raise SubcontractingError(f"Entry {value} is not in {vendor.name}'s chain.", field)
    if kind in (NoticeKind.CHANGE, NoticeKind.REMOVAL) and declaration_id is None:
        raise SubcontractingError("Name the declared subcontractor that changes.", "declaration_id")
    now = utcnow()
    notice = SubcontractingNotice(
        vendor_id=vendor.id,
        kind=kind,
        subcontractor_name=subcontractor_name.strip(),
        subcontractor_country=(subcontractor_country or "").upper() or None,
        subcontractor_lei=subcontractor_lei,
        parent_id=parent_id,
        declaration_id=declaration_id,
        function=function,
        description=description,
        planned_date=planned_date,
        submitted_by_id=submitted_by_id,
        submitted_at=now,
        deadline=notice_deadline(now, notice_days),
        status=NoticeStatus.PENDING.value,
    )
    session.add(notice)
    session.flush()
    return notice


def decide_notice(
    session: Session,
    notice: SubcontractingNotice,
    *,
    approve: bool,
    comment: str | None,
    user_id: int,
) -> None:
    status = effective_notice_status(notice.status, notice.deadline, utcnow())
    if status != NoticeStatus.PENDING:
        raise SubcontractingError(
            "This notice is no longer open: "
            + (
                "the notice period ended without a decision."
                if status == NoticeStatus.LAPSED
                else f"it was {status}."
            )
        )
    notice.status = (NoticeStatus.APPROVED if approve else NoticeStatus.OBJECTED).value
    notice.decision_comment = comment
    notice.decided_by_id = user_id
    notice.decided_at = utcnow()
    session.flush()


def record_lapsed_notices(session: Session, now: datetime | None = None) -> int:
    """Record silence: pending notices past their deadline become `lapsed`. Idempotent."""
    now = now or utcnow()
    lapsed = list(
        session.scalars(
            select(SubcontractingNotice).where(
                SubcontractingNotice.status == NoticeStatus.PENDING,
                SubcontractingNotice.deadline <= now,
            )
        )
    )
    for notice in lapsed:
        notice.status = NoticeStatus.LAPSED.value
        notice.decided_at = notice.deadline
        notice.decision_comment = "No decision within the notice period (recorded as silence)."
    session.flush()
    return len(lapsed)


# --- flow-down reviews ------------------------------------------------------------------


def head_obligations(session: Session, vendor: Vendor) -> list[Obligation]:
    """The mandatory obligations to check: those of the vendor's contracts that are mandatory
    for its tier, or, without a contract recording clauses, the library's mandatory ones."""
    contracts = session.scalars(
        select(Contract)
        .options(selectinload(Contract.clauses))
        .where(Contract.vendor_id == vendor.id, Contract.status.notin_(("expired", "terminated")))
    ).all()
    clauses = {o.id: o for c in contracts for o in c.clauses if o.archived_at is None}
    pool = (
        list(clauses.values())
        if clauses
        else list(session.scalars(select(Obligation).where(Obligation.archived_at.is_(None))))
    )
    return sorted((o for o in pool if o.mandatory_for(vendor.tier)), key=lambda o: o.id)


def start_review(
    session: Session, vendor: Vendor, user_id: int, due: date | None = None
) -> FlowDownReview:
    if vendor.tier not in REVIEWED_TIERS:
        raise SubcontractingError(
            "Flow-down reviews cover critical and high-tier vendors; "
            f"{vendor.name} is {vendor.tier}."
        )
    open_review = session.scalar(
        select(FlowDownReview).where(
            FlowDownReview.vendor_id == vendor.id, FlowDownReview.status == ReviewStatus.IN_PROGRESS
        )
    )
    if open_review is not None:
        raise SubcontractingError(f"Review {open_review.id} of {vendor.name} is still in progress.")
    chain = active_chain(session, vendor.id)
    if not chain:
        raise SubcontractingError(f"{vendor.name} has declared no subcontractors to review.")
    obligations = head_obligations(session, vendor)
    if not obligations:
        raise SubcontractingError(f"No obligation is mandatory for {vendor.tier}-tier vendors.")
    review = FlowDownReview(vendor_id=vendor.id, started_by_id=user_id, due_date=due)
    review.items = [
        FlowDownItem(declaration_id=d.id, obligation_id=o.id, outcome=FlowDown.UNKNOWN.value)
        for d in chain
        for o in obligations
    ]
    session.add(review)
    session.flush()
    return review


def record_item(
    session: Session,
    item: FlowDownItem,
    *,
    outcome: str,
    comment: str | None,
    evidence: Any | None = None,
) -> None:
    if item.review.status != ReviewStatus.IN_PROGRESS:
        raise SubcontractingError("This review is signed off; start a new review to change it.")
    item.outcome = FlowDown(outcome).value
    item.comment = comment
    if evidence is not None:
        item.evidence_key = evidence.key
        item.evidence_sha256 = evidence.sha256
        item.evidence_filename = evidence.filename
    session.flush()


def sign_off(session: Session, review: FlowDownReview, user_id: int) -> list[int]:
    """Close the review; every gap on a mandatory obligation opens a finding. Returns their ids."""
    if review.status != ReviewStatus.IN_PROGRESS:
        raise SubcontractingError("This review is already signed off.")
    vendor = review.vendor
    severity = "high" if vendor.tier == "critical" else "medium"
    finding_ids = []
    for item in review.items:
        if item.outcome not in GAP_OUTCOMES:
            continue
        company = item.declaration.subcontractor
        finding, _ = open_finding(
            session,
            source="flow_down_review",
            vendor_id=vendor.id,
            title=f"“{item.obligation.title}” not shown to bind {company.name}",
            description=(
                f"Flow-down review {review.id}: {company.name} (rank {item.declaration.rank} in "
                f"{vendor.name}'s chain) — obligation flowed down: {item.outcome}."
                + (f" Reviewer: {item.comment}" if item.comment else "")
            ),
            severity=severity,
            source_ref=f"flow_down_item:{item.id}",
        )
        item.finding_id = finding.id
        finding_ids.append(finding.id)
    today = utcnow().date()
    review.status = ReviewStatus.SIGNED_OFF.value
    review.signed_off_by_id = user_id
    review.signed_off_at = utcnow()
    review.next_due_date = next_review_due(vendor.tier, today)
    session.flush()
    return finding_ids


def latest_signed_off(session: Session) -> dict[int, FlowDownReview]:
    reviews = session.scalars(
        select(FlowDownReview)
        .options(selectinload(FlowDownReview.items))
        .where(FlowDownReview.status == ReviewStatus.SIGNED_OFF)
        .order_by(FlowDownReview.signed_off_at)
    )
    return {r.vendor_id: r for r in reviews}  # the newest wins


@dataclass(frozen=True)
class ReviewDue:
    vendor: Vendor
    due: date | None  # None: never reviewed
    overdue: bool


def reviews_due(session: Session, today: date) -> list[ReviewDue]:
    """Critical and high-tier vendors with subcontractors, and when their next review is due."""
    latest = latest_signed_off(session)
    with_chains = set(
        session.scalars(
            select(SubcontractorDeclaration.vendor_id).where(
                SubcontractorDeclaration.removed_at.is_(None)
            )
        )
    )
    vendors = session.scalars(
        select(Vendor).where(
            Vendor.id.in_(with_chains),
            Vendor.tier.in_(REVIEWED_TIERS),
            Vendor.archived_at.is_(None),
        )
    )
    rows = []
    for vendor in vendors:
        review = latest.get(vendor.id)
        due = review.next_due_date if review else None
        rows.append(ReviewDue(vendor, due, due is None or due < today))
    return sorted(rows, key=lambda r: (not r.overdue, r.due or date.min, r.vendor.name))


def coverage(session: Session, today: date) -> list[Coverage]:
    """Per tier: entries in critical/high chains, reviewed (current review), fully flowed down."""
    latest = latest_signed_off(session)
    chains = session.execute(
        select(SubcontractorDeclaration.id, SubcontractorDeclaration.vendor_id, Vendor.tier)
        .join(Vendor, Vendor.id == SubcontractorDeclaration.vendor_id)
        .where(SubcontractorDeclaration.removed_at.is_(None), Vendor.tier.in_(REVIEWED_TIERS))
    ).all()
    totals: dict[str, list[int]] = {tier: [0, 0, 0] for tier in REVIEWED_TIERS}
    for declaration_id, vendor_id, tier in chains:
        counts = totals[tier]
        counts[0] += 1
        review = latest.get(vendor_id)
        if review is None or (review.next_due_date is not None and review.next_due_date < today):
            continue
        outcomes = [i.outcome for i in review.items if i.declaration_id == declaration_id]
        if not outcomes:
            continue  # declared after the review: not covered yet
        counts[1] += 1
        if all(o == FlowDown.YES for o in outcomes):
            counts[2] += 1
    return [Coverage(tier, *totals[tier]) for tier in REVIEWED_TIERS]


def count_pending_notices(session: Session) -> int:
    return (
        session.scalar(
            select(func.count(SubcontractingNotice.id)).where(
                SubcontractingNotice.status == NoticeStatus.PENDING,
                SubcontractingNotice.deadline > utcnow(),
            )
        )
        or 0
    )


@dataclass(frozen=True)
class FlowDownGap:
    head_vendor: Vendor
    obligation: str
    outcome: str
    finding_id: int | None


def gaps_for_company(session: Session, company_id: int) -> list[FlowDownGap]:
    """Obligations found not to bind this company in its clients' latest signed-off reviews."""
    gaps = []
    for review in latest_signed_off(session).values():
        for item in review.items:
            if item.declaration.subcontractor_id == company_id and item.outcome in GAP_OUTCOMES:
                gaps.append(
                    FlowDownGap(review.vendor, item.obligation.title, item.outcome, item.finding_id)
                )
    return sorted(gaps, key=lambda g: (g.head_vendor.name, g.obligation))
