"""Demo KPIs, a year of incidents and measurements for the demo vendor services, and the
breaches they cause. Deterministic for a given day; idempotent (adds only what is missing)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_portal.db import utcnow
from vendor_portal.demo.seed import SeedSummary, seed_step
from vendor_portal.kpis import services
from vendor_portal.kpis.domain import METRICS, Metric, months_back
from vendor_portal.kpis.models import Incident, Kpi, KpiMeasurement
from vendor_portal.vendors.models import VendorService

# service -> (metric, comparator, threshold, period, statistic, severities)
TARGETS: dict[str, list[tuple[str, str, float, str, str, list[str]]]] = {
    "Nimbus IaaS eu-west": [
        ("availability", "gte", 99.95, "month", "worst", ["critical", "major"]),
        ("time_to_acknowledge", "lte", 0.5, "month", "worst", ["critical", "major"]),
        ("time_to_notify", "lte", 4, "month", "worst", ["critical", "major"]),
    ],
    "Nimbus managed PostgreSQL": [
        ("availability", "gte", 99.9, "month", "worst", ["critical", "major"]),
    ],
    "Stratus Kubernetes Frankfurt": [
        ("availability", "gte", 99.9, "month", "worst", ["critical", "major"]),
        ("time_to_resolve", "lte", 8, "quarter", "p90", ["critical", "major"]),
    ],
    "Card acquiring gateway": [
        ("availability", "gte", 99.99, "month", "worst", ["critical", "major"]),
        ("time_to_notify", "lte", 2, "month", "worst", ["critical"]),
    ],
    "MPLS WAN": [("availability", "gte", 99.9, "month", "worst", ["critical", "major"])],
    "Internet transit": [("availability", "gte", 99.5, "quarter", "worst", ["critical", "major"])],
    "Workforce SSO and MFA": [
        ("availability", "gte", 99.95, "month", "worst", ["critical", "major"]),
        ("time_to_notify", "lte", 1, "month", "p90", ["critical", "major"]),
    ],
    "Customer SMS alerts": [
        ("availability", "gte", 99.5, "quarter", "worst", ["critical", "major"])
    ],
    "Real-time market data feed": [
        ("availability", "gte", 99.95, "month", "worst", ["critical", "major"]),
    ],
    "Card personalisation": [("on_time_delivery", "gte", 98, "month", "worst", [])],
    "Immutable off-site backup": [("rto_achieved", "lte", 48, "quarter", "worst", [])],
}
# Severity mix and duration range in minutes for generated incidents.
SEVERITY_MIX = [("minor", 0.5), ("major", 0.33), ("critical", 0.1), ("maintenance", 0.07)]
DURATION = {"minor": (10, 180), "major": (2, 15), "critical": (4, 20), "maintenance": (60, 240)}
TITLES = {
    "minor": ["Elevated latency", "Intermittent errors for some users", "Degraded dashboard"],
    "major": ["Partial outage", "API error rate above 5 %", "Failover to secondary site"],
    "critical": ["Full service outage", "Region unavailable", "Authentication failing"],
    "maintenance": ["Planned maintenance", "Firmware upgrade window"],
}


def _severity(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for severity, share in SEVERITY_MIX:
        total += share
        if roll < total:
            return severity
    return "minor"


def _incidents_for(service: VendorService, start: date, now: datetime) -> list[Incident]:
    rng = random.Random(f"{service.name}:{start.isoformat()}")  # noqa: S311 (demo data)
    begin = datetime(start.year, start.month, 1, tzinfo=UTC)
    days = (now - begin).days
    made: list[Incident] = []
    for n in range(rng.randint(6, 14)):
        severity = _severity(rng)
        started = begin + timedelta(days=rng.uniform(0, days - 1), minutes=rng.randint(0, 1439))
        low, high = DURATION[severity]
        ended = started + timedelta(minutes=rng.randint(low, high))
        made.append(
            Incident(
                vendor_service_id=service.id,
                external_id=f"DEMO-{service.id}-{n + 1:03d}",
                title=rng.choice(TITLES[severity]),
                severity=severity,
                started_at=started,
                acknowledged_at=started + timedelta(minutes=rng.randint(2, 25)),
                notified_at=started + timedelta(minutes=rng.randint(10, 50)),
                ended_at=ended,
                source="demo",
            )
        )
    return made


def _story(services_by_name: dict[str, VendorService], now: datetime) -> list[Incident]:
    """Events the demo tells on purpose: a long outage that breaches a target, and an
    incident still open now."""
    made = []
    nimbus = services_by_name.get("Nimbus IaaS eu-west")
    if nimbus is not None:
        month = months_back(now.date(), 4)
        start = datetime(month.year, month.month, 12, 7, 40, tzinfo=UTC)
        made.append(
            Incident(
                vendor_service_id=nimbus.id,
                external_id=f"DEMO-{nimbus.id}-OUTAGE",
                title="eu-west-1 storage outage: volumes unavailable",
                description="Block storage in two availability zones failed after a faulty "
                "configuration push; customers were told 6 hours in.",
                severity="critical",
                started_at=start,
                acknowledged_at=start + timedelta(minutes=48),
                notified_at=start + timedelta(hours=6, minutes=5),
                ended_at=start + timedelta(hours=3, minutes=35),
                source="demo",
            )
        )
        made.append(
            Incident(
                vendor_service_id=nimbus.id,
                external_id=f"DEMO-{nimbus.id}-ONGOING",
                title="Elevated API error rates in eu-west-1",
                severity="minor",
                started_at=now - timedelta(hours=2, minutes=15),
                acknowledged_at=now - timedelta(hours=2),
                source="demo",
            )
        )
    return made


def _measurements(service: VendorService, code: str, start: date, now: datetime) -> list:
    rng = random.Random(f"{service.name}:{code}")  # noqa: S311 (demo data)
    rows = []
    month = start
    while month <= now.date():
        if code == "on_time_delivery":
            value = round(rng.uniform(98.1, 99.8), 1)
            rows.append((month, value))
        elif code == "rto_achieved" and month.month in (1, 4, 7, 10):
            rows.append((month, rng.choice([30.0, 36.5, 41.0, 52.0])))
        month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
    if code == "on_time_delivery" and len(rows) > 3:
        rows[-3] = (rows[-3][0], 94.2)  # a late month, below the 98 % target
    return [
        KpiMeasurement(
            vendor_service_id=service.id,
            code=code,
            period_start=day,
            value=value,
            note="demo data",
            source="demo",
        )
        for day, value in rows
    ]


@seed_step
def seed_kpis(session: Session, summary: SeedSummary) -> None:
    now = utcnow()
    start = months_back(now.date(), 12)
    services_by_name = {
        s.name: s
        for s in session.scalars(select(VendorService).where(VendorService.name.in_(list(TARGETS))))
    }
    kpis = incidents = measurements = 0
    for name, targets in TARGETS.items():
        service = services_by_name.get(name)
        if service is None:
            continue
        for metric, comparator, threshold, period, statistic, severities in targets:
            exists = session.scalar(
                select(Kpi.id).where(
                    Kpi.vendor_service_id == service.id, Kpi.code == metric, Kpi.period == period
                )
            )
            if exists is None:
                info = METRICS[Metric(metric)]
                session.add(
                    Kpi(
                        vendor_service_id=service.id,
                        metric=metric,
                        code=metric,
                        name=info.label,
                        unit=info.unit,
                        comparator=comparator,
                        threshold=threshold,
                        period=period,
                        statistic=statistic,
                        severities=severities,
                        description="Schedule 3 (service levels) of the master agreement.",
                    )
                )
                kpis += 1
        seeded = session.scalar(
            select(Incident.id)
            .where(Incident.vendor_service_id == service.id, Incident.source == "demo")
            .limit(1)
        ) or session.scalar(
            select(KpiMeasurement.id)
            .where(KpiMeasurement.vendor_service_id == service.id, KpiMeasurement.source == "demo")
            .limit(1)
        )
        if seeded is not None:
            continue
        measured = [t[0] for t in targets if not METRICS[Metric(t[0])].from_incidents]
        if measured:
            for code in measured:
                rows = _measurements(service, code, start, now)
                session.add_all(rows)
                measurements += len(rows)
        else:
            rows = _incidents_for(service, start, now)
            if name == "Nimbus IaaS eu-west":
                rows += _story(services_by_name, now)
            session.add_all(rows)
            incidents += len(rows)
    session.flush()
    outcome = services.recompute_breaches(session, start, now.date(), now)
    summary.extra.append(
        f"{kpis} KPI targets, {incidents} incidents, {measurements} measurements and "
        f"{len(outcome.opened)} KPI breaches (each a finding) added."
    )
