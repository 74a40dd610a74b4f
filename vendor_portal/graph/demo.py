"""Demo data: business services from a BIA, capabilities with primary and fallback providers wired
to the demo vendor services, shared regions and a shared carrier, so that the first screen shows
real SPOFs, a common cause, a fallback too slow for its RTO, a gap and a restart loop."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_portal.demo.seed import SeedSummary, seed_step
from vendor_portal.graph import services
from vendor_portal.graph.models import BusinessService, GraphEdge, GraphNode, RegionRisk
from vendor_portal.vendors.models import Vendor, VendorService

# name, criticality, owner, MTD h, RTO h, RPO h, cost of downtime per hour, description
BUSINESS_SERVICES: list[tuple[str, str, str, float, float, float | None, float, str]] = [
    (
        "Card payments",
        "critical",
        "Head of Cards and Payments",
        8,
        2,
        0,
        85_000,
        "Authorising and clearing card payments for retail customers.",
    ),
    (
        "Online banking",
        "critical",
        "Head of Digital Channels",
        12,
        4,
        0.25,
        60_000,
        "Web and mobile banking: balances, transfers, statements.",
    ),
    (
        "Payroll",
        "high",
        "HR Director",
        72,
        24,
        4,
        8_000,
        "Paying 4,200 staff on time each month.",
    ),
    (
        "Customer contact",
        "high",
        "Head of Customer Service",
        24,
        8,
        None,
        12_000,
        "Phone and chat support, including fraud reporting.",
    ),
    (
        "Market data trading",
        "critical",
        "Head of Trading",
        2,
        1,
        0,
        120_000,
        "Proprietary trading desks; regulation requires two independent price feeds.",
    ),
    (
        "Securities settlement",
        "critical",
        "Head of Operations",
        24,
        4,
        0,
        40_000,
        "Settling customer securities trades through the clearing house.",
    ),
]

# Cloud regions named by the demo vendor services, and where they are.
REGION_COUNTRIES = {
    "eu-west-1": "IE",
    "eu-central-fra": "DE",
    "us-east-1": "US",
    "europe-north1": "FI",
    "europe-west2": "GB",
}

# Nodes drawn by hand: key, kind, name, requires, country, description
MANUAL_NODES: list[tuple[str, str, str, str, str | None, str]] = [
    (
        "cap-payments-hosting",
        "capability",
        "Payments hosting",
        "any",
        None,
        "Compute for the card authorisation platform; active in Nimbus, warm standby in Stratus.",
    ),
    (
        "cap-card-acquiring",
        "capability",
        "Card acquiring",
        "any",
        None,
        "Connection to the card schemes. No second acquirer is contracted.",
    ),
    (
        "cap-workforce-identity",
        "capability",
        "Workforce identity",
        "any",
        None,
        "Staff sign-in for operations; break-glass accounts if SSO is lost.",
    ),
    (
        "cap-digital-hosting",
        "capability",
        "Digital channels hosting",
        "any",
        None,
        "Web and mobile banking front ends.",
    ),
    (
        "cap-core-banking",
        "capability",
        "Core banking",
        "any",
        None,
        "Accounts and ledgers, run in the Stockholm data centre.",
    ),
    (
        "cap-customer-alerts",
        "capability",
        "Customer alerts",
        "any",
        None,
        "SMS and push notifications (one-time passwords, fraud alerts).",
    ),
    (
        "cap-payroll-processing",
        "capability",
        "Payroll processing",
        "any",
        None,
        "Payroll SaaS; the bureau fallback needs two days to onboard.",
    ),
    (
        "cap-contact-centre",
        "capability",
        "Contact centre",
        "any",
        None,
        "Outsourced contact centre with in-house overflow.",
    ),
    (
        "cap-market-data",
        "capability",
        "Independent market data feeds",
        "2",
        None,
        "Two independent price feeds are required; the second is identified, not contracted.",
    ),
    (
        "cap-settlement",
        "capability",
        "Settlement connectivity",
        "any",
        None,
        "Connection to the clearing house; manual fallback through the custodian.",
    ),
    (
        "comp-break-glass",
        "component",
        "Break-glass local accounts",
        "all",
        None,
        "Sealed local administrator accounts kept in the safe.",
    ),
    (
        "comp-core-platform",
        "component",
        "Core banking platform",
        "all",
        "SE",
        "Keystone core banking, installed in Stockholm.",
    ),
    ("comp-directory", "component", "Active Directory", "all", "SE", "Internal directory and DNS."),
    (
        "comp-noc-tooling",
        "component",
        "Network operations tooling",
        "all",
        "GB",
        "Management of the WAN; operators sign in through Active Directory.",
    ),
    (
        "comp-overflow-team",
        "component",
        "In-house overflow team",
        "all",
        "GB",
        "Forty trained staff at head office who can take calls.",
    ),
    (
        "comp-secondary-feed",
        "component",
        "Secondary market data feed (not contracted)",
        "all",
        None,
        "Identified with a second provider; onboarding takes two days.",
    ),
    (
        "comp-custodian-manual",
        "component",
        "Manual settlement through the custodian",
        "all",
        None,
        "Faxed instructions to the custodian bank.",
    ),
    (
        "fac-head-office",
        "facility",
        "Head office, London",
        "all",
        "GB",
        "Offices and the overflow contact floor.",
    ),
]

# Business service -> what it needs (node keys; vendor services by (vendor, service) name)
SERVICE_NEEDS: dict[str, list[str]] = {
    "Card payments": ["cap-payments-hosting", "cap-card-acquiring", "cap-workforce-identity"],
    "Online banking": [
        "cap-digital-hosting",
        "cap-core-banking",
        "cap-customer-alerts",
        "cap-workforce-identity",
    ],
    "Payroll": ["cap-payroll-processing", "cap-workforce-identity"],
    "Customer contact": [
        "cap-contact-centre",
        "cap-customer-alerts",
        "vs:Meridian Telecom/MPLS WAN",
    ],
    "Market data trading": ["cap-market-data", "vs:Meridian Telecom/MPLS WAN"],
    "Securities settlement": ["cap-settlement", "cap-core-banking"],
}

# dependant -> (dependency, switchover hours)
EDGES: list[tuple[str, str, float]] = [
    ("cap-payments-hosting", "vs:Nimbus Cloud Services/Nimbus IaaS eu-west", 0),
    ("cap-payments-hosting", "vs:Stratus Compute GmbH/Stratus Kubernetes Frankfurt", 1.5),
    ("cap-card-acquiring", "vs:Ledgerline Payments/Card acquiring gateway", 0),
    ("cap-workforce-identity", "vs:Atlas Identity/Workforce SSO and MFA", 0),
    ("cap-workforce-identity", "comp-break-glass", 0.5),
    ("cap-digital-hosting", "vs:Nimbus Cloud Services/Nimbus IaaS eu-west", 0),
    ("cap-digital-hosting", "vs:Stratus Compute GmbH/Stratus Kubernetes Frankfurt", 3),
    ("cap-core-banking", "comp-core-platform", 0),
    ("cap-customer-alerts", "vs:Aurora Messaging/Customer SMS alerts", 0),
    ("cap-payroll-processing", "vs:PayrollPro Services/Payroll SaaS", 0),
    ("cap-payroll-processing", "vs:Banyan Outsourcing/Reconciliations and KYC checks", 48),
    ("cap-contact-centre", "vs:BlueRiver Contact Centre/Customer contact centre", 0),
    ("cap-contact-centre", "comp-overflow-team", 4),
    ("cap-market-data", "vs:Equinox Market Data/Real-time market data feed", 0),
    ("cap-market-data", "comp-secondary-feed", 48),
    ("cap-settlement", "vs:ClearPath Clearing/Clearing connectivity", 0),
    ("cap-settlement", "comp-custodian-manual", 6),
    # Both clouds are reached through the same carrier: a common cause under primary and fallback.
    ("vs:Nimbus Cloud Services/Nimbus IaaS eu-west", "vs:Meridian Telecom/MPLS WAN", 0),
    ("vs:Stratus Compute GmbH/Stratus Kubernetes Frankfurt", "vs:Meridian Telecom/MPLS WAN", 0),
    ("comp-core-platform", "vs:NorthGrid Data Centres/Stockholm colocation", 0),
    ("comp-core-platform", "vs:Keystone Core Banking/Core banking support", 0),
    ("comp-core-platform", "comp-directory", 0),
    # Identity needs the network and the network's management needs identity: a restart loop.
    ("comp-directory", "vs:Meridian Telecom/MPLS WAN", 0),
    ("vs:Meridian Telecom/MPLS WAN", "comp-noc-tooling", 0),
    ("comp-noc-tooling", "comp-directory", 0),
    ("comp-overflow-team", "fac-head-office", 0),
    ("comp-overflow-team", "vs:Meridian Telecom/Internet transit", 0),
    ("comp-custodian-manual", "fac-head-office", 0),
]


def _vendor_service_nodes(session: Session) -> dict[str, GraphNode]:
    rows = session.execute(
        select(Vendor.name, VendorService.name, GraphNode)
        .join(VendorService, VendorService.vendor_id == Vendor.id)
        .join(GraphNode, GraphNode.vendor_service_id == VendorService.id)
    )
    return {f"vs:{vendor}/{service}": node for vendor, service, node in rows}


@seed_step
def seed_graph(session: Session, summary: SeedSummary) -> None:
    existing = {b.name: b for b in session.scalars(select(BusinessService))}
    created = 0
    for name, criticality, owner, mtd, rto, rpo, cost, description in BUSINESS_SERVICES:
        if name in existing:
            continue
        existing[name] = BusinessService(
            name=name,
            criticality=criticality,
            owner=owner,
            mtd_hours=mtd,
            rto_hours=rto,
            rpo_hours=rpo,
            downtime_cost_per_hour=cost,
            description=description,
        )
        session.add(existing[name])
        created += 1
    session.flush()
    services.ensure_current(session)

    nodes: dict[str, GraphNode] = {n.key: n for n in session.scalars(select(GraphNode))}
    nodes.update(_vendor_service_nodes(session))
    for name, service in existing.items():
        node = services.business_service_node(session, service)
        if node is not None:
            nodes[name] = node
    for region, country in REGION_COUNTRIES.items():
        node = nodes.get(services.cloud_key(region))
        if node is not None and node.country is None:
            node.country = country
    added_nodes = 0
    for key, kind, name, requires, country, description in MANUAL_NODES:
        if key in nodes:
            continue
        nodes[key] = GraphNode(
            key=key,
            kind=kind,
            name=name,
            requires=requires,
            country=country,
            attributes={"description": description},
            origin=services.MANUAL,
        )
        session.add(nodes[key])
        added_nodes += 1
    session.flush()

    pairs = {(e.source_id, e.target_id) for e in session.scalars(select(GraphEdge))}
    wanted: list[tuple[Any, Any, float]] = [
        (service, need, 0.0) for service, needs in SERVICE_NEEDS.items() for need in needs
    ]
    wanted.extend(EDGES)
    added_edges = 0
    for source, target, hours in wanted:
        a, b = nodes.get(source), nodes.get(target)
        if a is None or b is None or (a.id, b.id) in pairs:
            continue  # a demo vendor service that is missing or archived; an edge already there
        session.add(
            GraphEdge(
                source_id=a.id,
                target_id=b.id,
                switchover_hours=hours,
                attributes={},
                origin=services.MANUAL,
            )
        )
        pairs.add((a.id, b.id))
        added_edges += 1
    session.flush()
    if created or added_nodes or added_edges:
        services.bump_version(session)
        summary.extra.append(
            f"{created} business services, {added_nodes} capabilities, components and "
            f"facilities, and {added_edges} dependencies in the graph"
        )


# The terms of each provider (status, months since the last test or None, capacity %, notes),
# chosen so that the register's first screen shows every kind of flag next to clean lines.
FALLBACK_TERMS: dict[tuple[str, str], tuple[str, int | None, float | None, str]] = {
    ("cap-payments-hosting", "vs:Nimbus Cloud Services/Nimbus IaaS eu-west"): (
        "contracted",
        5,
        100,
        "Active region.",
    ),
    ("cap-payments-hosting", "vs:Stratus Compute GmbH/Stratus Kubernetes Frankfurt"): (
        "contracted",
        4,
        60,
        "Warm standby; failed over in the spring exercise.",
    ),
    ("cap-digital-hosting", "vs:Nimbus Cloud Services/Nimbus IaaS eu-west"): (
        "contracted",
        5,
        100,
        "",
    ),
    ("cap-digital-hosting", "vs:Stratus Compute GmbH/Stratus Kubernetes Frankfurt"): (
        "contracted",
        4,
        50,
        "Front ends only; statements disabled while running there.",
    ),
    ("cap-card-acquiring", "vs:Ledgerline Payments/Card acquiring gateway"): (
        "contracted",
        None,
        100,
        "A second acquirer was quoted but not signed.",
    ),
    ("cap-workforce-identity", "vs:Atlas Identity/Workforce SSO and MFA"): (
        "contracted",
        None,
        100,
        "",
    ),
    ("cap-workforce-identity", "comp-break-glass"): (
        "in_house",
        15,
        10,
        "Administrators only; envelopes last checked at the annual audit.",
    ),
    ("cap-customer-alerts", "vs:Aurora Messaging/Customer SMS alerts"): (
        "contracted",
        None,
        100,
        "",
    ),
    ("cap-payroll-processing", "vs:PayrollPro Services/Payroll SaaS"): ("contracted", 6, 100, ""),
    ("cap-payroll-processing", "vs:Banyan Outsourcing/Reconciliations and KYC checks"): (
        "contracted",
        8,
        100,
        "Bureau service from Pune; two days to onboard the payroll file.",
    ),
    ("cap-contact-centre", "vs:BlueRiver Contact Centre/Customer contact centre"): (
        "contracted",
        3,
        100,
        "",
    ),
    ("cap-contact-centre", "comp-overflow-team"): (
        "in_house",
        2,
        30,
        "Forty trained staff; fraud reporting line first.",
    ),
    ("cap-market-data", "vs:Equinox Market Data/Real-time market data feed"): (
        "contracted",
        9,
        100,
        "",
    ),
    ("cap-market-data", "comp-secondary-feed"): ("identified", None, None, "Quote received."),
    ("cap-settlement", "vs:ClearPath Clearing/Clearing connectivity"): ("contracted", 7, 100, ""),
    ("cap-settlement", "comp-custodian-manual"): (
        "in_house",
        30,
        20,
        "Fax instructions; about 200 trades a day.",
    ),
}

# Ratings used only when the public indices are not beside the repository (a user's own clone):
# illustrative, labelled as demo data. Otherwise the demo loads the real indices.
DEMO_RATINGS = (
    "kind,code,name,natural_hazard,political_instability,notes\n"
    "country,IN,India,high,high,Illustrative demo rating\n"
    "country,GB,United Kingdom,low,low,Illustrative demo rating\n"
    "country,IE,Ireland,low,low,Illustrative demo rating\n"
    "country,DE,Germany,low,low,Illustrative demo rating\n"
    "country,US,United States,medium,medium,Illustrative demo rating\n"
    "country,IL,Israel,low,high,Illustrative demo rating\n"
    "country,TW,Taiwan,high,medium,Illustrative demo rating\n"
)


@seed_step
def seed_fallbacks(session: Session, summary: SeedSummary) -> None:
    from datetime import date

    from flask import current_app, has_app_context

    from vendor_portal.graph import regions
    from vendor_portal.graph.domain import fallbacks as fallback_domain
    from vendor_portal.graph.domain import regions as regions_domain

    if session.scalar(select(RegionRisk.id).limit(1)) is None:
        folder = regions.risk_dir(current_app) if has_app_context() else None
        try:
            if folder is None:
                raise regions_domain.IndexFileError("no application")
            result = regions.load_indices(session, folder)
            summary.extra.append(
                f"{result.created} country risk ratings from the public indices (WGI, ND-GAIN)"
            )
        except regions_domain.IndexFileError:
            ratings = regions_domain.parse_csv(DEMO_RATINGS, regions.DEMO_SOURCE)
            result = regions.save_ratings(session, ratings, "demo data")
            summary.extra.append(f"{result.created} illustrative country risk ratings")

    nodes: dict[str, GraphNode] = {n.key: n for n in session.scalars(select(GraphNode))}
    nodes.update(_vendor_service_nodes(session))
    today = date.today()
    changed = 0
    for (capability, provider), (status, months, capacity, notes) in FALLBACK_TERMS.items():
        a, b = nodes.get(capability), nodes.get(provider)
        if a is None or b is None:
            continue
        edge = session.scalar(
            select(GraphEdge).where(GraphEdge.source_id == a.id, GraphEdge.target_id == b.id)
        )
        attributes = (edge.attributes or {}) if edge is not None else {}
        if edge is None or fallback_domain.ATTR_STATUS in attributes:
            continue  # missing, or already given terms (by the demo or by someone)
        tested = None if months is None else fallback_domain.months_before(today, months)
        edge.attributes = fallback_domain.with_terms(attributes, status, tested, capacity, notes)
        changed += 1
    if changed:
        session.flush()
        services.bump_version(session)
        summary.extra.append(f"terms of {changed} providers in the fallback register")
