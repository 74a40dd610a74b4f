"""Contracts and the obligation library. Services flush; callers commit."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from vendor_portal.contracts.domain import ContractStatus
from vendor_portal.contracts.models import Contract, Obligation, contract_clause
from vendor_portal.vendors.models import Vendor, VendorService


class ContractError(ValueError):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


def library(session: Session, include_archived: bool = False) -> list[Obligation]:
    stmt = select(Obligation).order_by(Obligation.id)
    if not include_archived:
        stmt = stmt.where(Obligation.archived_at.is_(None))
    return list(session.scalars(stmt))


def _services_of(session: Session, vendor: Vendor, service_ids: list[int]) -> list[VendorService]:
    found = list(
        session.scalars(
            select(VendorService).where(
                VendorService.id.in_(service_ids), VendorService.vendor_id == vendor.id
            )
        )
    )
    missing = set(service_ids) - {s.id for s in found}
    if missing:
        raise ContractError(
            f"Not services of {vendor.name}: {', '.join(map(str, sorted(missing)))}.",
            "vendor_service_ids",
        )
    return found


def _clauses(session: Session, obligation_ids: list[int]) -> list[Obligation]:
    found = list(session.scalars(select(Obligation).where(Obligation.id.in_(obligation_ids))))
    missing = set(obligation_ids) - {o.id for o in found}
    if missing:
        raise ContractError(
            f"Unknown obligations: {', '.join(map(str, sorted(missing)))}.", "clause_ids"
        )
    return found


def _check_dates(start: date | None, end: date | None) -> None:
    if start and end and end < start:
        raise ContractError("The end date is before the start date.", "end_date")


def create_contract(
    session: Session,
    vendor: Vendor,
    *,
    title: str,
    reference: str | None = None,
    start_date: date | None = None,
    end_date: date | None = None,
    vendor_service_ids: list[int] | None = None,
    clause_ids: list[int] | None = None,
    **terms: Any,
) -> Contract:
    _check_dates(start_date, end_date)
    contract = Contract(
        **terms,
        vendor_id=vendor.id,
        title=title,
        reference=reference,
        start_date=start_date,
        end_date=end_date,
        status=ContractStatus.DRAFT.value,
        services=_services_of(session, vendor, vendor_service_ids or []),
        clauses=_clauses(session, clause_ids or []),
    )
    session.add(contract)
    session.flush()
    return contract


def update_contract(session: Session, contract: Contract, values: dict[str, Any]) -> Contract:
    _check_dates(
        values.get("start_date", contract.start_date), values.get("end_date", contract.end_date)
    )
    if "status" in values:
        # Status moves go through the procurement gate (gate.services.change_status).
        raise ContractError("Change the status from the contract's gate page.", "status")
    if "vendor_service_ids" in values:
        contract.services = _services_of(session, contract.vendor, values.pop("vendor_service_ids"))
    if "clause_ids" in values:
        contract.clauses = _clauses(session, values.pop("clause_ids"))
    for key, value in values.items():
        setattr(contract, key, value)
    session.flush()
    return contract


def contracts_query():
    return select(Contract).options(selectinload(Contract.services), selectinload(Contract.clauses))


def clause_count() -> Any:
    """The number of clauses of a contract, as a correlated subquery."""
    return (
        select(func.count()).where(contract_clause.c.contract_id == Contract.id).scalar_subquery()
    )


def missing_mandatory_clauses(
    contract: Contract, obligations: list[Obligation]
) -> list[Obligation]:
    present = {o.id for o in contract.clauses}
    return [o for o in obligations if o.mandatory_for(contract.vendor.tier) and o.id not in present]
