"""Demo contracts, subcontracting chains, a pending notice and a reviewed chain with a gap."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vendor_portal.auth.models import User
from vendor_portal.contracts import services as contracts
from vendor_portal.contracts.models import Contract, Obligation
from vendor_portal.db import utcnow
from vendor_portal.demo.seed import SeedSummary, seed_step
from vendor_portal.subcontracting import services
from vendor_portal.subcontracting.models import SubcontractorDeclaration
from vendor_portal.vendors.models import Vendor

# head vendor -> [(company, country, function, storage, [(company, country, function)])]
CHAINS = {
    "Nimbus Cloud Services": [
        (
            "NorthGrid Data Centres",
            "SE",
            "Colocation for the eu-north availability zone",
            ["SE"],
            [
                ("Baltic Power Supply AB", "SE", "Grid power and generator fuel contracts"),
            ],
        ),
        (
            "Emerald Colocation Ltd",
            "IE",
            "Colocation, Dublin (eu-west-1)",
            ["IE"],
            [
                ("Liffey Fibre Networks", "IE", "Dark fibre between Dublin sites"),
            ],
        ),
    ],
    "Ledgerline Payments": [
        ("Nimbus Cloud Services", "IE", "Hosting of the acquiring gateway", ["IE"], []),
        ("CardShield Tokenisation GmbH", "DE", "Card tokenisation service", ["DE"], []),
    ],
    "Atlas Identity": [
        ("Nimbus Cloud Services", "IE", "EU hosting of the identity platform", ["IE"], []),
    ],
    "PayrollPro Services": [
        ("Emerald Colocation Ltd", "IE", "Secondary data centre", ["IE"], []),
    ],
}


@seed_step
def seed_subcontracting(session: Session, summary: SeedSummary) -> None:
    vendors = {v.name: v for v in session.scalars(select(Vendor))}
    manager = session.scalar(select(User).where(User.email == "manager@example.com"))
    declared = 0
    for head_name, entries in CHAINS.items():
        head = vendors.get(head_name)
        if head is None or services.active_chain(session, head.id):
            continue
        for name, country, function, storage, children in entries:
            top = services.declare(
                session,
                head,
                name=name,
                country=country,
                lei=vendors[name].lei if name in vendors else None,
                function=function,
                data_storage_countries=storage,
                data_processing_countries=storage,
                service_ids=[s.id for s in head.services[:1]],
            )
            declared += 1
            for child, child_country, child_function in children:
                services.declare(
                    session,
                    head,
                    name=child,
                    country=child_country,
                    parent_id=top.id,
                    function=child_function,
                )
                declared += 1
    if not declared:
        return
    # Contracts recording their clauses: one complete, one missing mandatory clauses.
    library = {o.code: o for o in session.scalars(select(Obligation))}
    nimbus, atlas = vendors["Nimbus Cloud Services"], vendors["Atlas Identity"]
    if session.scalar(select(Contract.id).limit(1)) is None:
        contracts.create_contract(
            session,
            nimbus,
            title="Nimbus IaaS master agreement",
            reference="MSA-2024-017",
            start_date=date(2024, 1, 1),
            end_date=date(2027, 12, 31),
            vendor_service_ids=[s.id for s in nimbus.services],
            clause_ids=[o.id for o in library.values() if o.mandatory_for("critical")],
        )
        contracts.create_contract(
            session,
            atlas,
            title="Atlas SSO subscription",
            reference="SUB-2025-003",
            start_date=date(2025, 3, 1),
            end_date=date(2026, 12, 31),
            vendor_service_ids=[s.id for s in atlas.services],
            clause_ids=[
                library[c].id for c in ("bcp_bia", "incident_notification", "committed_rto_rpo")
            ],
        )
    # Nimbus's chain reviewed: one obligation not shown to bind the fibre provider.
    if manager is not None:
        review = services.start_review(session, nimbus, manager.id)
        for item in review.items:
            gap = item.declaration.subcontractor.name == "Liffey Fibre Networks" and (
                item.obligation.code == "incident_notification"
            )
            item.outcome = "no" if gap else "yes"
            item.comment = (
                "Contract schedule 4 has no notification clause." if gap else "Clause present."
            )
        session.flush()
        services.sign_off(session, review, manager.id)
    # Ledgerline announces a new subcontractor.
    services.submit_notice(
        session,
        vendors["Ledgerline Payments"],
        kind="new",
        subcontractor_name="FraudWatch Analytics SRL",
        subcontractor_country="RO",
        function="Real-time fraud scoring",
        notice_days=30,
        planned_date=(utcnow() + timedelta(days=45)).date(),
        description="Moving fraud scoring to a specialist provider; data processed in the EU only.",
    )
    # Quantum Backup runs its own vaults: it has stated that it relies on no subcontractors.
    quantum = vendors.get("Quantum Backup Systems")
    if quantum is not None and not services.active_chain(session, quantum.id):
        services.attest_no_subcontractors(session, quantum, manager.id if manager else None)
    count = session.scalar(select(func.count(SubcontractorDeclaration.id)))
    summary.extra.append(
        f"{count} subcontractor declarations, 2 contracts, 1 flow-down review, 1 notice, "
        "1 statement of no subcontractors"
    )
