"""Realistic demo data: vendors across tiers and countries, contacts, and one user per role.

Idempotent: running it again adds only what is missing. Later features extend `seed`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_portal.auth import services as accounts
from vendor_portal.auth.models import User
from vendor_portal.db import utcnow
from vendor_portal.security import Role
from vendor_portal.vendors.domain import lei_with_check_digits
from vendor_portal.vendors.models import Vendor, VendorContact, VendorService

DEMO_PASSWORD = "resilience-demo-2026"  # noqa: S105 (demo data, printed on purpose)

# name, country, tier, status, what they deliver
VENDORS: list[tuple[str, str, str, str, str]] = [
    (
        "Nimbus Cloud Services",
        "IE",
        "critical",
        "active",
        "IaaS hosting for payments and customer platforms (eu-west regions).",
    ),
    (
        "Stratus Compute GmbH",
        "DE",
        "critical",
        "active",
        "Secondary cloud region and managed Kubernetes for failover.",
    ),
    ("Ledgerline Payments", "NL", "critical", "active", "Card acquiring and payment gateway."),
    (
        "ClearPath Clearing",
        "BE",
        "critical",
        "active",
        "Securities clearing and settlement connectivity.",
    ),
    (
        "NorthGrid Data Centres",
        "SE",
        "critical",
        "active",
        "Colocation for primary data centre (Stockholm).",
    ),
    (
        "Meridian Telecom",
        "GB",
        "critical",
        "active",
        "MPLS WAN and internet transit for all offices.",
    ),
    (
        "Atlas Identity",
        "US",
        "critical",
        "active",
        "Workforce identity, single sign-on and MFA (SaaS).",
    ),
    ("PayrollPro Services", "GB", "high", "active", "Payroll processing SaaS and bureau service."),
    (
        "Keystone Core Banking",
        "CH",
        "critical",
        "active",
        "Core banking platform licence and 24x7 support.",
    ),
    (
        "Harbour Logistics",
        "NL",
        "high",
        "active",
        "Warehousing and last-mile logistics for card stock.",
    ),
    (
        "Vertex Print & Mail",
        "FR",
        "medium",
        "active",
        "Statement printing and secure mail fulfilment.",
    ),
    (
        "BlueRiver Contact Centre",
        "PT",
        "high",
        "active",
        "Outsourced customer contact centre (Lisbon, Porto).",
    ),
    ("Quantum Backup Systems", "DE", "high", "active", "Immutable off-site backup and vaulting."),
    (
        "Sentinel Security Operations",
        "PL",
        "high",
        "active",
        "24x7 managed detection and response (SOC).",
    ),
    (
        "Orbit Satellite Links",
        "LU",
        "medium",
        "active",
        "Satellite backup links for branch connectivity.",
    ),
    ("Pioneer HR Cloud", "US", "medium", "active", "HR information system (SaaS)."),
    (
        "Coastal Power Solutions",
        "ES",
        "medium",
        "active",
        "UPS and generator maintenance for data centres.",
    ),
    (
        "Evergreen Facilities",
        "GB",
        "low",
        "active",
        "Facilities management and cleaning for head office.",
    ),
    ("Summit Legal Services", "GB", "low", "active", "External legal counsel and contract review."),
    ("Lighthouse Analytics", "FI", "medium", "active", "Fraud analytics platform (SaaS)."),
    (
        "Granite Hardware Support",
        "CZ",
        "medium",
        "active",
        "Third-party hardware maintenance for storage arrays.",
    ),
    ("Aurora Messaging", "DK", "high", "active", "SMS and push notifications for customer alerts."),
    (
        "Pacific Chip Supply",
        "TW",
        "high",
        "active",
        "Secure elements for payment cards (EMV chips).",
    ),
    ("Delta Card Manufacturing", "IT", "high", "active", "Card personalisation and embossing."),
    ("Helix Software Escrow", "CH", "low", "active", "Source code escrow for critical software."),
    ("Ironbridge Network Security", "IL", "medium", "active", "Firewalls, DDoS scrubbing service."),
    ("Maple Document Archive", "CA", "low", "active", "Long-term document archive."),
    (
        "Sakura Semiconductor Parts",
        "JP",
        "medium",
        "active",
        "HSM components supplied via hardware partner.",
    ),
    (
        "Cobalt Consulting Group",
        "US",
        "low",
        "active",
        "Business continuity consulting and BIA facilitation.",
    ),
    ("Mistral Translation", "FR", "low", "offboarding", "Translation of customer communications."),
    ("Tundra Cold Site Services", "NO", "medium", "active", "Cold-site workplace recovery seats."),
    ("Equinox Market Data", "GB", "high", "active", "Real-time market data feeds."),
    (
        "Banyan Outsourcing",
        "IN",
        "high",
        "active",
        "Back-office processing (reconciliations, KYC checks).",
    ),
    ("Sierra Courier", "US", "low", "active", "Courier services between sites."),
    (
        "Kestrel Mobile Apps",
        "EE",
        "medium",
        "prospective",
        "Mobile banking app development and support.",
    ),
    ("Opal Open Banking", "LT", "high", "prospective", "Open banking API aggregator."),
    ("Zenith Print Cartridges", "PL", "low", "offboarded", "Office printer supplies."),
    ("Willow Email Security", "IE", "medium", "active", "Email filtering and archiving (SaaS)."),
    (
        "Falcon Observability",
        "US",
        "medium",
        "prospective",
        "Application monitoring and status pages (SaaS).",
    ),
    ("Cedar Catering", "GB", "low", "active", "Staff catering at head office."),
]

# vendor -> services: name, type, hosting countries, cloud regions, attested RTO h, RPO h
SERVICES: dict[str, list[tuple[str, str, list[str], list[str], float | None, float | None]]] = {
    "Nimbus Cloud Services": [
        ("Nimbus IaaS eu-west", "cloud_iaas", ["IE"], ["eu-west-1"], 4, 0.25),
        ("Nimbus managed PostgreSQL", "cloud_iaas", ["IE"], ["eu-west-1"], 2, 0.1),
    ],
    "Stratus Compute GmbH": [
        ("Stratus Kubernetes Frankfurt", "cloud_iaas", ["DE"], ["eu-central-fra"], 8, 1)
    ],
    "Ledgerline Payments": [("Card acquiring gateway", "saas", ["NL", "IE"], ["eu-west-1"], 2, 0)],
    "ClearPath Clearing": [("Clearing connectivity", "business_process", ["BE"], [], 4, 0)],
    "NorthGrid Data Centres": [("Stockholm colocation", "data_centre", ["SE"], [], 1, None)],
    "Meridian Telecom": [
        ("MPLS WAN", "network", ["GB", "IE", "NL"], [], 4, None),
        ("Internet transit", "network", ["GB"], [], 8, None),
    ],
    "Atlas Identity": [
        ("Workforce SSO and MFA", "saas", ["US", "IE"], ["us-east-1", "eu-west-1"], 1, 0.5)
    ],
    "PayrollPro Services": [("Payroll SaaS", "saas", ["GB"], [], 24, 4)],
    "Keystone Core Banking": [("Core banking support", "software_support", ["CH"], [], 12, 1)],
    "BlueRiver Contact Centre": [
        ("Customer contact centre", "business_process", ["PT"], [], 24, None)
    ],
    "Quantum Backup Systems": [("Immutable off-site backup", "cloud_iaas", ["DE"], [], 48, 24)],
    "Sentinel Security Operations": [
        ("24x7 managed detection and response", "professional_services", ["PL"], [], 4, None)
    ],
    "Aurora Messaging": [("Customer SMS alerts", "saas", ["DK"], ["europe-north1"], 6, 1)],
    "Delta Card Manufacturing": [("Card personalisation", "logistics", ["IT"], [], 72, None)],
    "Equinox Market Data": [("Real-time market data feed", "saas", ["GB"], ["europe-west2"], 1, 0)],
    "Banyan Outsourcing": [
        ("Reconciliations and KYC checks", "business_process", ["IN"], [], 48, 24)
    ],
}

FIRST = [
    "Anna",
    "Ben",
    "Chiara",
    "Daniel",
    "Elif",
    "Farah",
    "Goran",
    "Hanna",
    "Ivan",
    "Julia",
    "Kofi",
    "Lena",
    "Marco",
    "Nora",
    "Omar",
    "Priya",
    "Ravi",
    "Sofia",
    "Tomas",
    "Yuki",
]
LAST = [
    "Berg",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Horvat",
    "Ito",
    "Jansen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Novak",
    "Okafor",
    "Petrov",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Visser",
    "Walsh",
]
TITLES = [
    "Business Continuity Manager",
    "Head of Service Delivery",
    "Account Manager",
    "Chief Information Security Officer",
    "Operations Director",
]


def _slug(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalnum())[:20]


def demo_lei(name: str) -> str:
    digest = hashlib.sha256(name.encode()).hexdigest().upper()
    body = "".join(ch for ch in digest if ch.isalnum())[:12]
    return lei_with_check_digits("9845" + "00" + body)


@dataclass
class SeedSummary:
    vendors_created: int = 0
    services_created: int = 0
    users_created: int = 0
    logins: dict[str, str] = field(default_factory=dict)
    # One line per feature that added demo data ("12 findings", ...).
    extra: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [
            f"Demo data: {self.vendors_created} vendors, {self.services_created} vendor services "
            f"and {self.users_created} users added."
        ]
        return "\n".join(lines + [f"  {line}" for line in self.extra])


SeedStep = Callable[[Session, "SeedSummary"], None]
_steps: list[SeedStep] = []


def seed_step(func: SeedStep) -> SeedStep:
    """Register a feature's demo data; steps run after vendors and users exist, in order."""
    if func not in _steps:
        _steps.append(func)
    return func


def _contacts(index: int, vendor_name: str) -> list[VendorContact]:
    domain = _slug(vendor_name) + ".example.com"
    count = 1 + index % 3
    out = []
    for n in range(count):
        first = FIRST[(index * 3 + n) % len(FIRST)]
        last = LAST[(index * 7 + n * 5) % len(LAST)]
        out.append(
            VendorContact(
                name=f"{first} {last}",
                email=f"{first}.{last}@{domain}".lower(),
                phone=f"+44 20 7946 {(index * 37 + n) % 10000:04d}",
                job_title=TITLES[(index + n) % len(TITLES)],
                # A few critical vendors have no continuity lead yet: a task for the vendor manager.
                is_continuity_lead=n == 0 and index % 5 != 3,
            )
        )
    return out


def seed(session: Session) -> SeedSummary:
    summary = SeedSummary()
    existing = set(session.scalars(select(Vendor.name)))
    vendors: dict[str, Vendor] = {v.name: v for v in session.scalars(select(Vendor))}
    for index, (name, country, tier, status, description) in enumerate(VENDORS):
        if name in existing:
            continue
        vendor = Vendor(
            name=name,
            country=country,
            tier=tier,
            status=status,
            lei=demo_lei(name),
            website=f"https://www.{_slug(name)}.example.com",
            description=description,
            contacts=_contacts(index, name),
        )
        session.add(vendor)
        vendors[name] = vendor
        summary.vendors_created += 1
    session.flush()

    have_services = set(session.scalars(select(VendorService.vendor_id).distinct()))
    for vendor_name, rows in SERVICES.items():
        vendor = vendors.get(vendor_name)
        if vendor is None or vendor.id in have_services:
            continue
        for name, service_type, countries, regions, rto, rpo in rows:
            session.add(
                VendorService(
                    vendor=vendor,
                    name=name,
                    service_type=service_type,
                    hosting_countries=countries,
                    cloud_regions=regions,
                    attested_rto_hours=rto,
                    attested_rpo_hours=rpo,
                    attestation_source="demo data",
                    attested_at=utcnow(),
                )
            )
            summary.services_created += 1
    session.flush()

    people = [
        (Role.ADMIN, "admin@example.com", "Alex Admin", None),
        (Role.VENDOR_MANAGER, "manager@example.com", "Morgan Vendor-Manager", None),
        (Role.PROCUREMENT, "procurement@example.com", "Pat Procurement", None),
        (Role.AUDITOR, "auditor@example.com", "Avery Auditor", None),
        (
            Role.VENDOR_USER,
            "continuity@nimbuscloudservices.example.com",
            "Nia Nimbus",
            "Nimbus Cloud Services",
        ),
        (
            Role.VENDOR_USER,
            "bcm@ledgerlinepayments.example.com",
            "Lars Ledgerline",
            "Ledgerline Payments",
        ),
    ]
    for role, email, name, vendor_name in people:
        summary.logins.setdefault(role.value, email)
        if session.scalar(select(User.id).where(User.email == email)) is not None:
            continue
        accounts.create_user(
            session,
            email=email,
            name=name,
            role=role.value,
            password=DEMO_PASSWORD,
            vendor_id=vendors[vendor_name].id if vendor_name else None,
        )
        summary.users_created += 1
    session.flush()
    for step in _steps:
        step(session, summary)
        session.flush()
    return summary
