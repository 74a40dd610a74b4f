"""Demo gate decisions: a contract that passes, some that fail for different reasons, and one
that passes with an approved exception."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vendor_portal.auth.models import User
from vendor_portal.contracts import services as contracts
from vendor_portal.contracts.models import Contract, Obligation
from vendor_portal.db import utcnow
from vendor_portal.demo.seed import SeedSummary, seed_step
from vendor_portal.gate import services
from vendor_portal.gate.models import GateEvaluation
from vendor_portal.vendors.models import Vendor


@seed_step
def seed_gate(session: Session, summary: SeedSummary) -> None:
    if session.scalar(select(func.count(GateEvaluation.id))):
        return
    vendors = {v.name: v for v in session.scalars(select(Vendor))}
    procurement = session.scalar(select(User).where(User.email == "procurement@example.com"))
    manager = session.scalar(select(User).where(User.email == "manager@example.com"))
    if procurement is None or manager is None or "Evergreen Facilities" not in vendors:
        return
    library = {o.code: o for o in session.scalars(select(Obligation))}
    today = utcnow().date()
    # Passes: a low-tier facilities contract.
    evergreen = vendors["Evergreen Facilities"]
    passing = contracts.create_contract(
        session,
        evergreen,
        title="Head office facilities management",
        reference="FM-2026-01",
        start_date=today,
        end_date=today + timedelta(days=3 * 365),
    )
    passing.status = "awaiting_gate"
    # Fails on evidence, questionnaire and clauses: payroll renewal.
    payroll = vendors["PayrollPro Services"]
    failing = contracts.create_contract(
        session,
        payroll,
        title="Payroll SaaS renewal 2027",
        reference="PAY-2027",
        start_date=date(today.year + 1, 1, 1),
        end_date=date(today.year + 3, 12, 31),
        vendor_service_ids=[s.id for s in payroll.services],
        clause_ids=[library[c].id for c in ("bcp_bia", "incident_notification") if c in library],
        value=180000,
        currency="GBP",
    )
    failing.status = "awaiting_gate"
    # Passes with an exception: the Atlas subscription lacks clauses, accepted until re-papered.
    atlas_contract = session.scalar(
        select(Contract).join(Vendor).where(Vendor.name == "Atlas Identity")
    )
    session.flush()
    for contract in (passing, failing):
        services.evaluate_contract(session, contract, procurement.id, reason="demo")
    if atlas_contract is not None:
        atlas_contract.status = "awaiting_gate"
        first = services.evaluate_contract(session, atlas_contract, procurement.id, reason="demo")
        failing_checks = [c["code"] for c in first.checks if c["status"] == "fail"]
        if failing_checks:
            exception = services.request_exception(
                session,
                atlas_contract,
                checks=failing_checks,
                justification=(
                    "Identity provider renewal cannot lapse; the continuity schedule is being "
                    "negotiated and the vendor's SOC 2 report covers the gaps meanwhile."
                ),
                expires_on=today + timedelta(days=90),
                user_id=procurement.id,
            )
            services.decide_exception(
                session,
                exception,
                approve=True,
                user_id=manager.id,
                comment="Approved for 90 days.",
            )
            services.evaluate_contract(session, atlas_contract, procurement.id, reason="demo")
    summary.extra.append(
        "gate: 1 passing contract, failing ones to fix, 1 passing with an exception"
    )
