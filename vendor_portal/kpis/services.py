"""KPI operations: incidents and measurements in, evaluations, scorecards and breaches out.

Services take the session and plain arguments and flush; the request or CLI commits.
"""

from __future__ import annotations

import logging
import secrets
import smtplib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Select, and_, delete, func, or_, select, tuple_
from sqlalchemy.orm import Session, selectinload

from vendor_portal.auth.models import User
from vendor_portal.db import utcnow
from vendor_portal.findings.services import open_finding
from vendor_portal.kpis import domain
from vendor_portal.kpis.domain import (
    DEFAULT_SEVERITIES,
    METRICS,
    CellError,
    Metric,
    ServiceLookup,
    end_of_day,
    period_bounds,
    period_label,
)
from vendor_portal.kpis.models import Incident, Kpi, KpiBreach, KpiMeasurement, KpiUpload
from vendor_portal.security import Role, is_vendor_user
from vendor_portal.vendors.models import Vendor, VendorService

logger = logging.getLogger(__name__)
UPLOAD_MAX_AGE = timedelta(days=1)
CHUNK = 500


# --- loading data for the maths ---------------------------------------------------------------


def window(start: date, end: date) -> tuple[datetime, datetime]:
    """The instants covering every quarter that meets [start, end] (months are inside it)."""
    bounds = period_bounds(start, end, "quarter")
    first = pd.Timestamp(bounds[0], unit="ns", tz="UTC").to_pydatetime()
    last = pd.Timestamp(bounds[-1], unit="ns", tz="UTC").to_pydatetime()
    return first, last


def incidents_frame(
    session: Session, service_ids: Iterable[int] | None, start: date, end: date
) -> pd.DataFrame:
    """Incidents that overlap the quarters around [start, end], ready for the maths."""
    begin, finish = window(start, end)
    stmt = select(
        Incident.vendor_service_id.label("service_id"),
        Incident.severity,
        Incident.started_at,
        Incident.acknowledged_at,
        Incident.notified_at,
        Incident.ended_at,
    ).where(
        Incident.started_at < finish,
        or_(Incident.ended_at.is_(None), Incident.ended_at >= begin),
    )
    if service_ids is not None:
        stmt = stmt.where(Incident.vendor_service_id.in_(list(service_ids)))
    rows = session.execute(stmt).all()
    return domain.incident_frame(
        pd.DataFrame(rows, columns=list(domain.INCIDENT_COLUMNS)) if rows else []
    )


def measurements_frame(
    session: Session, service_ids: Iterable[int] | None, start: date, end: date
) -> pd.DataFrame:
    begin, finish = window(start, end)
    stmt = select(
        KpiMeasurement.vendor_service_id,
        KpiMeasurement.code,
        KpiMeasurement.period_start,
        KpiMeasurement.value,
    ).where(
        KpiMeasurement.period_start >= begin.date(), KpiMeasurement.period_start < finish.date()
    )
    if service_ids is not None:
        stmt = stmt.where(KpiMeasurement.vendor_service_id.in_(list(service_ids)))
    rows = session.execute(stmt).all()
    frame = pd.DataFrame(rows, columns=["service_id", "code", "period_start", "value"])
    return frame.astype({"service_id": np.int64, "value": float})


def active_kpis(
    session: Session,
    *,
    vendor_ids: Sequence[int] | None = None,
    service_ids: Sequence[int] | None = None,
    tiers: Sequence[str] | None = None,
    service_types: Sequence[str] | None = None,
) -> list[Kpi]:
    stmt = (
        select(Kpi)
        .join(VendorService, Kpi.vendor_service_id == VendorService.id)
        .join(Vendor, VendorService.vendor_id == Vendor.id)
        .where(
            Kpi.archived_at.is_(None),
            VendorService.archived_at.is_(None),
            Vendor.archived_at.is_(None),
        )
        .options(selectinload(Kpi.vendor_service).selectinload(VendorService.vendor))
        .order_by(Vendor.name, VendorService.name, Kpi.name, Kpi.id)
    )
    if vendor_ids is not None:
        stmt = stmt.where(VendorService.vendor_id.in_(vendor_ids))
    if service_ids is not None:
        stmt = stmt.where(Kpi.vendor_service_id.in_(service_ids))
    if tiers:
        stmt = stmt.where(Vendor.tier.in_(tiers))
    if service_types:
        stmt = stmt.where(VendorService.service_type.in_(service_types))
    return list(session.scalars(stmt))


def evaluate_kpis(
    session: Session,
    kpis: Sequence[Kpi],
    start: date,
    end: date,
    now: datetime,
    all_services: bool = False,
) -> pd.DataFrame:
    """Each KPI in each period of [start, end] that has begun (see domain.evaluate)."""
    service_ids = None if all_services else sorted({k.vendor_service_id for k in kpis})
    needs_incidents = any(k.from_incidents for k in kpis)
    needs_measurements = any(not k.from_incidents for k in kpis)
    incidents = (
        incidents_frame(session, service_ids, start, end)
        if needs_incidents
        else domain.incident_frame([])
    )
    measurements = (
        measurements_frame(session, service_ids, start, end)
        if needs_measurements
        else measurements_frame(session, [], start, end)
    )
    return domain.evaluate([k.spec() for k in kpis], incidents, measurements, start, end, now)


def availability_severities(session: Session, service_id: int) -> frozenset[str]:
    """The severities the service's monthly availability KPI counts, else the default."""
    severities = session.scalar(
        select(Kpi.severities)
        .where(
            Kpi.vendor_service_id == service_id,
            Kpi.metric == Metric.AVAILABILITY.value,
            Kpi.archived_at.is_(None),
        )
        .order_by((Kpi.period == "month").desc(), Kpi.id)
        .limit(1)
    )
    return frozenset(severities) if severities else DEFAULT_SEVERITIES


def service_availability(
    session: Session,
    service_id: int,
    start: date,
    end: date,
    now: datetime,
    severities: Iterable[str] | None = None,
) -> pd.DataFrame:
    chosen = frozenset(severities) if severities else availability_severities(session, service_id)
    incidents = incidents_frame(session, [service_id], start, end)
    return domain.availability(incidents, [service_id], start, end, now, "month", chosen)


# --- scorecard and portfolio ------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodResult:
    start: date
    end: date
    value: float | None
    met: bool | None
    complete: bool
    final: bool
    count: int

    @property
    def label(self) -> str:
        return period_label(
            self.start, "month" if _months(self.start, self.end) == 1 else "quarter"
        )


def _months(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month


@dataclass
class KpiResult:
    kpi: Kpi
    periods: list[PeriodResult]

    @property
    def evaluated(self) -> list[PeriodResult]:
        return [p for p in self.periods if p.met is not None]

    @property
    def missed(self) -> int:
        return sum(1 for p in self.evaluated if not p.met and p.final)

    @property
    def attainment_pct(self) -> float | None:
        done = self.evaluated
        return 100.0 * sum(1 for p in done if p.met) / len(done) if done else None

    @property
    def latest(self) -> PeriodResult | None:
        return self.periods[-1] if self.periods else None


def kpi_results(kpis: Sequence[Kpi], evaluations: pd.DataFrame) -> list[KpiResult]:
    by_kpi: dict[int, list[PeriodResult]] = {k.id: [] for k in kpis}
    for row in evaluations.sort_values(["kpi_id", "period_start"]).itertuples(index=False):
        value = None if np.isnan(row.value) else float(row.value)
        met = None if row.met is pd.NA else bool(row.met)
        by_kpi[int(row.kpi_id)].append(
            PeriodResult(
                row.period_start,
                row.period_end,
                value,
                met,
                bool(row.complete),
                bool(row.final),
                int(row.count),
            )
        )
    return [KpiResult(k, by_kpi[k.id]) for k in kpis]


@dataclass
class Scorecard:
    vendor: Vendor
    start: date
    end: date
    services: list[VendorService]
    results: list[KpiResult]
    availability: pd.DataFrame  # per service and month, default severities unless a KPI chose
    incidents: list[Incident]
    open_breaches: list[KpiBreach]

    @property
    def missed(self) -> int:
        return sum(r.missed for r in self.results)

    @property
    def attainment_pct(self) -> float | None:
        done = [p for r in self.results for p in r.evaluated]
        return 100.0 * sum(1 for p in done if p.met) / len(done) if done else None


def scorecard(session: Session, vendor: Vendor, start: date, end: date, now: datetime) -> Scorecard:
    services = list(
        session.scalars(
            select(VendorService)
            .where(VendorService.vendor_id == vendor.id, VendorService.archived_at.is_(None))
            .order_by(VendorService.name)
        )
    )
    service_ids = [s.id for s in services]
    kpis = active_kpis(session, vendor_ids=[vendor.id]) if services else []
    incidents = incidents_frame(session, service_ids, start, end)
    measurements = measurements_frame(session, service_ids, start, end)
    evaluations = domain.evaluate(
        [k.spec() for k in kpis], incidents, measurements, start, end, now
    )
    # Monthly availability of every service, with the severities its KPI counts.
    frames = []
    by_severities: dict[frozenset[str], list[int]] = {}
    for service_id in service_ids:
        chosen = next(
            (
                frozenset(k.severities)
                for k in kpis
                if k.vendor_service_id == service_id and k.metric == Metric.AVAILABILITY
            ),
            DEFAULT_SEVERITIES,
        )
        by_severities.setdefault(chosen, []).append(service_id)
    for chosen, ids in by_severities.items():
        frames.append(domain.availability(incidents, ids, start, end, now, "month", chosen))
    availability = (
        pd.concat(frames, ignore_index=True)
        if frames
        else domain.availability(incidents, [], start, end, now)
    )
    begin, finish = end_of_day(start) - timedelta(days=1), end_of_day(end)
    listed = list(
        session.scalars(
            select(Incident)
            .where(
                Incident.vendor_service_id.in_(service_ids),
                Incident.started_at < finish,
                or_(Incident.ended_at.is_(None), Incident.ended_at >= begin),
            )
            .options(selectinload(Incident.vendor_service))
            .order_by(Incident.started_at.desc())
        )
    )
    breaches = list(
        session.scalars(
            select(KpiBreach)
            .where(KpiBreach.vendor_id == vendor.id, KpiBreach.status == "open")
            .options(selectinload(KpiBreach.kpi), selectinload(KpiBreach.vendor_service))
            .order_by(KpiBreach.period_start.desc(), KpiBreach.id)
        )
    )
    return Scorecard(
        vendor, start, end, services, kpi_results(kpis, evaluations), availability, listed, breaches
    )


@dataclass
class VendorAttainment:
    vendor: Vendor
    by_month: dict[date, tuple[float, int, int]] = field(default_factory=dict)
    open_breaches: int = 0

    @property
    def evaluated(self) -> int:
        return sum(n for _, n, _ in self.by_month.values())

    @property
    def missed(self) -> int:
        return sum(m for _, _, m in self.by_month.values())

    @property
    def attainment_pct(self) -> float | None:
        total = self.evaluated
        return 100.0 * (total - self.missed) / total if total else None


@dataclass
class Portfolio:
    months: list[date]
    vendors: list[VendorAttainment]

    @property
    def worst(self) -> list[VendorAttainment]:
        rated = [v for v in self.vendors if v.attainment_pct is not None]
        return sorted(rated, key=lambda v: (v.attainment_pct, -v.missed, v.vendor.name))


def portfolio(
    session: Session,
    start: date,
    end: date,
    now: datetime,
    tiers: Sequence[str] | None = None,
    service_types: Sequence[str] | None = None,
) -> Portfolio:
    """Attainment of every vendor's KPIs per month: the share of KPI periods on target."""
    kpis = active_kpis(session, tiers=tiers, service_types=service_types)
    evaluations = evaluate_kpis(
        session, kpis, start, end, now, all_services=not (tiers or service_types)
    )
    vendor_of_service = {k.vendor_service_id: k.vendor_service.vendor_id for k in kpis}
    table = domain.attainment_by_month(evaluations, vendor_of_service)
    vendors = {k.vendor_service.vendor_id: k.vendor_service.vendor for k in kpis}
    rows = {vid: VendorAttainment(v) for vid, v in vendors.items()}
    for item in table.itertuples(index=False):
        if start.replace(day=1) <= item.month <= end:
            rows[item.group].by_month[item.month] = (
                float(item.attainment_pct),
                int(item.evaluated),
                int(item.missed),
            )
    counts = session.execute(
        select(KpiBreach.vendor_id, func.count())
        .where(KpiBreach.status == "open", KpiBreach.vendor_id.in_(list(rows)))
        .group_by(KpiBreach.vendor_id)
    )
    for vendor_id, count in counts:
        rows[vendor_id].open_breaches = count
    bounds = period_bounds(start, min(end, now.date()), "month")
    months = domain.ns_to_date(bounds[:-1])
    ordered = sorted(rows.values(), key=lambda r: r.vendor.name.lower())
    return Portfolio(months, ordered)


# --- incidents --------------------------------------------------------------------------------


class IncidentConflict(ValueError):
    """Another incident of the service already has this external id."""


INCIDENT_VALUES = (
    "title",
    "severity",
    "description",
    "started_at",
    "acknowledged_at",
    "notified_at",
    "ended_at",
)


def save_incident(
    session: Session,
    incident: Incident | None,
    values: Mapping[str, Any],
    *,
    source: str,
    user_id: int | None,
) -> Incident:
    """Create or update one incident from a form; the external id stays unique per service."""
    external_id = values.get("external_id") or None
    service_id = values["vendor_service_id"]
    if external_id:
        clash = session.scalar(
            select(Incident.id).where(
                Incident.vendor_service_id == service_id,
                Incident.external_id == external_id,
                Incident.id != (incident.id if incident else -1),
            )
        )
        if clash is not None:
            raise IncidentConflict(
                f"Incident {clash} of this service already has the external id {external_id}."
            )
    if incident is None:
        incident = Incident(source=source, reported_by_id=user_id)
        session.add(incident)
    incident.vendor_service_id = service_id
    incident.external_id = external_id
    for key in INCIDENT_VALUES:
        setattr(incident, key, values.get(key))
    session.flush()
    return incident


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    service_ids: set[int] = field(default_factory=set)
    earliest: date | None = None


def _none(value: Any) -> Any:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def existing_incidents(
    session: Session, keys: Iterable[tuple[int, str]]
) -> dict[tuple[int, str], Incident]:
    keys = list(keys)
    found: dict[tuple[int, str], Incident] = {}
    for offset in range(0, len(keys), CHUNK):
        chunk = keys[offset : offset + CHUNK]
        rows = session.scalars(
            select(Incident).where(
                tuple_(Incident.vendor_service_id, Incident.external_id).in_(chunk)
            )
        )
        found.update({(i.vendor_service_id, i.external_id): i for i in rows})
    return found


def count_existing_incidents(session: Session, frame: pd.DataFrame) -> int:
    keys = list(zip(frame["service_id"].astype(int), frame["external_id"], strict=True))
    total = 0
    for offset in range(0, len(keys), CHUNK):
        chunk = keys[offset : offset + CHUNK]
        total += (
            session.scalar(
                select(func.count(Incident.id)).where(
                    tuple_(Incident.vendor_service_id, Incident.external_id).in_(chunk)
                )
            )
            or 0
        )
    return total


def upsert_incidents(
    session: Session, frame: pd.DataFrame, *, source: str, user_id: int | None
) -> ImportResult:
    """Store checked incident rows (domain.parse_incidents): the same (service, external id)
    updates the incident, a new one is created. Call only with rows free of errors."""
    result = ImportResult()
    if frame.empty:
        return result
    keys = list(zip(frame["service_id"].astype(int), frame["external_id"], strict=True))
    existing = existing_incidents(session, keys)
    for key, row in zip(keys, frame.itertuples(index=False), strict=True):
        values = {
            "title": row.title,
            "severity": row.severity,
            "description": _none(row.description),
            "started_at": _none(row.started_at),
            "acknowledged_at": _none(row.acknowledged_at),
            "notified_at": _none(row.notified_at),
            "ended_at": _none(row.ended_at),
        }
        incident = existing.get(key)
        if incident is None:
            incident = Incident(
                vendor_service_id=key[0],
                external_id=key[1],
                source=source,
                reported_by_id=user_id,
                **values,
            )
            session.add(incident)
            existing[key] = incident
            result.created += 1
        else:
            changed = False
            for name, value in values.items():
                if getattr(incident, name) != value:
                    setattr(incident, name, value)
                    changed = True
            result.updated += changed
    session.flush()
    result.service_ids = {k[0] for k in keys}
    result.earliest = pd.Timestamp(frame["started_at"].min()).date()
    return result


def count_existing_measurements(session: Session, frame: pd.DataFrame) -> int:
    keys = list(
        zip(frame["service_id"].astype(int), frame["code"], frame["period_start"], strict=True)
    )
    total = 0
    for offset in range(0, len(keys), CHUNK):
        chunk = keys[offset : offset + CHUNK]
        total += (
            session.scalar(
                select(func.count(KpiMeasurement.id)).where(
                    tuple_(
                        KpiMeasurement.vendor_service_id,
                        KpiMeasurement.code,
                        KpiMeasurement.period_start,
                    ).in_(chunk)
                )
            )
            or 0
        )
    return total


def upsert_measurements(
    session: Session, frame: pd.DataFrame, *, source: str, user_id: int | None
) -> ImportResult:
    result = ImportResult()
    if frame.empty:
        return result
    keys = list(
        zip(frame["service_id"].astype(int), frame["code"], frame["period_start"], strict=True)
    )
    existing: dict[tuple[int, str, date], KpiMeasurement] = {}
    for offset in range(0, len(keys), CHUNK):
        chunk = keys[offset : offset + CHUNK]
        rows = session.scalars(
            select(KpiMeasurement).where(
                tuple_(
                    KpiMeasurement.vendor_service_id,
                    KpiMeasurement.code,
                    KpiMeasurement.period_start,
                ).in_(chunk)
            )
        )
        existing.update({(m.vendor_service_id, m.code, m.period_start): m for m in rows})
    for key, row in zip(keys, frame.itertuples(index=False), strict=True):
        measurement = existing.get(key)
        note = _none(row.note)
        if measurement is None:
            session.add(
                KpiMeasurement(
                    vendor_service_id=key[0],
                    code=key[1],
                    period_start=key[2],
                    value=float(row.value),
                    note=note,
                    source=source,
                    reported_by_id=user_id,
                )
            )
            result.created += 1
        elif measurement.value != float(row.value) or measurement.note != note:
            measurement.value = float(row.value)
            measurement.note = note
            result.updated += 1
    session.flush()
    result.service_ids = {k[0] for k in keys}
    result.earliest = min(k[2] for k in keys)
    return result


def scoped_services(session: Session, user: Any) -> list[VendorService]:
    """The active vendor services a user may report on: a vendor user's own, else all."""
    stmt = (
        select(VendorService)
        .join(Vendor, VendorService.vendor_id == Vendor.id)
        .where(VendorService.archived_at.is_(None), Vendor.archived_at.is_(None))
        .options(selectinload(VendorService.vendor))
        .order_by(Vendor.name, VendorService.name)
    )
    if is_vendor_user(user):
        stmt = stmt.where(VendorService.vendor_id == user.vendor_id)
    return list(session.scalars(stmt))


def service_lookup(session: Session, user: Any, only: int | None = None) -> ServiceLookup:
    """Resolve import values to services: by id, or by a name unique among those in scope."""
    services = scoped_services(session, user)
    if only is not None:
        services = [s for s in services if s.id == only]
    by_key: dict[str, int] = {str(s.id): s.id for s in services}
    names: dict[str, list[int]] = {}
    for service in services:
        names.setdefault(service.name.strip().lower(), []).append(service.id)
    ambiguous = {name for name, ids in names.items() if len(ids) > 1}
    by_key.update({name: ids[0] for name, ids in names.items() if len(ids) == 1})
    return ServiceLookup(by_key, frozenset(ambiguous))


def kpi_codes(session: Session, service_ids: Iterable[int] | None = None) -> dict[int, set[str]]:
    """Measured KPI codes defined for each service (what measurements may report)."""
    measured = [m.value for m, info in METRICS.items() if not info.from_incidents]
    stmt = select(Kpi.vendor_service_id, Kpi.code).where(
        Kpi.archived_at.is_(None), Kpi.metric.in_(measured)
    )
    if service_ids is not None:
        stmt = stmt.where(Kpi.vendor_service_id.in_(list(service_ids)))
    codes: dict[int, set[str]] = {}
    for service_id, code in session.execute(stmt):
        codes.setdefault(service_id, set()).add(code)
    return codes


# --- KPIs (targets) ---------------------------------------------------------------------------


class KpiConflict(ValueError):
    """The service already has a KPI with this code and period."""


def save_kpi(session: Session, kpi: Kpi | None, values: Mapping[str, Any]) -> Kpi:
    clash = session.scalar(
        select(Kpi).where(
            Kpi.vendor_service_id == values["vendor_service_id"],
            Kpi.code == values["code"],
            Kpi.period == values["period"],
            Kpi.id != (kpi.id if kpi else -1),
        )
    )
    if clash is not None:
        state = " (archived: restore it instead)" if clash.archived_at else ""
        raise KpiConflict(
            f"This service already has a {values['period']}ly KPI with the code "
            f"{values['code']}: {clash.name}{state}."
        )
    if kpi is None:
        kpi = Kpi()
        session.add(kpi)
    for key, value in values.items():
        setattr(kpi, key, value)
    session.flush()
    return kpi


# --- breaches ---------------------------------------------------------------------------------


@dataclass
class BreachOutcome:
    opened: list[KpiBreach] = field(default_factory=list)
    updated: int = 0
    withdrawn: list[KpiBreach] = field(default_factory=list)
    evaluated: int = 0


def recompute_breaches(
    session: Session,
    start: date,
    end: date,
    now: datetime,
    *,
    service_ids: Sequence[int] | None = None,
) -> BreachOutcome:
    """Open a breach for each KPI period that misses its target for good; one per KPI and
    period however often this runs. Each new breach becomes a finding. A breach whose period
    now meets the target (the data were corrected) is withdrawn; one missing again reopens."""
    kpis = active_kpis(session, service_ids=service_ids)
    outcome = BreachOutcome()
    if not kpis:
        return outcome
    evaluations = evaluate_kpis(session, kpis, start, end, now)
    outcome.evaluated = len(evaluations)
    kpi_by_id = {k.id: k for k in kpis}
    existing = {
        (b.kpi_id, b.period_start): b
        for b in session.scalars(
            select(KpiBreach).where(
                KpiBreach.kpi_id.in_(list(kpi_by_id)),
                KpiBreach.period_start >= evaluations["period_start"].min()
                if len(evaluations)
                else start,
            )
        )
    }
    met = evaluations["met"]
    missed = evaluations[met.eq(False).fillna(False).to_numpy(dtype=bool) & evaluations["final"]]
    passed = evaluations[met.eq(True).fillna(False).to_numpy(dtype=bool)]
    for row in missed.itertuples(index=False):
        kpi = kpi_by_id[int(row.kpi_id)]
        breach = existing.get((kpi.id, row.period_start))
        if breach is None:
            breach = KpiBreach(
                kpi=kpi,
                vendor_id=kpi.vendor_service.vendor_id,
                vendor_service_id=kpi.vendor_service_id,
                period_start=row.period_start,
                period_end=row.period_end,
                value=float(row.value),
                threshold=kpi.threshold,
                comparator=kpi.comparator,
                status="open",
            )
            session.add(breach)
            session.flush()
            outcome.opened.append(breach)
            _raise_finding(session, breach, kpi, int(row.count))
            continue
        if breach.value != float(row.value):
            breach.value = float(row.value)
            outcome.updated += 1
        if breach.status == "withdrawn":
            breach.status = "open"
            breach.resolution_note = None
            outcome.opened.append(breach)
            _raise_finding(session, breach, kpi, int(row.count))
    for row in passed.itertuples(index=False):
        breach = existing.get((int(row.kpi_id), row.period_start))
        if breach is not None and breach.status == "open":
            breach.status = "withdrawn"
            breach.value = float(row.value)
            breach.resolution_note = (
                f"Withdrawn on {now:%Y-%m-%d}: recomputed from corrected data, the KPI meets "
                "its target in this period."
            )
            outcome.withdrawn.append(breach)
    session.flush()
    return outcome


def _raise_finding(session: Session, breach: KpiBreach, kpi: Kpi, count: int) -> None:
    service = kpi.vendor_service
    vendor = service.vendor
    label = period_label(breach.period_start, kpi.period)
    severity = domain.breach_severity(
        vendor.tier, breach.value, kpi.comparator, kpi.threshold, kpi.metric
    )
    basis = ""
    if kpi.from_incidents and kpi.metric != Metric.AVAILABILITY:
        basis = f" over {count} incident{'s' if count != 1 else ''}"
    finding, _ = open_finding(
        session,
        source="kpi_breach",
        vendor_id=vendor.id,
        title=f"{kpi.name} missed for {service.name} in {label}",
        severity=severity,
        description=(
            f"{kpi.name} of {service.name} ({vendor.name}) was {breach.value_label}{basis} in "
            f"{label}; the target is {kpi.target_label} per {kpi.period}."
        ),
        source_ref=f"kpi_breach:{breach.id}",
    )
    breach.finding_id = finding.id


def breach_recipients(session: Session) -> list[str]:
    """Vendor managers watch KPIs: every active one is told of a new breach."""
    return list(
        session.scalars(
            select(User.email)
            .where(User.role == Role.VENDOR_MANAGER.value, User.active)
            .order_by(User.email)
        )
    )


def unnotified_breaches(session: Session) -> list[KpiBreach]:
    return list(
        session.scalars(
            select(KpiBreach)
            .where(KpiBreach.status == "open", KpiBreach.notified_at.is_(None))
            .options(
                selectinload(KpiBreach.kpi),
                selectinload(KpiBreach.vendor),
                selectinload(KpiBreach.vendor_service),
            )
            .order_by(KpiBreach.vendor_id, KpiBreach.period_start)
        )
    )


def breach_message(breaches: Sequence[KpiBreach], base_url: str) -> tuple[str, str]:
    count = len(breaches)
    subject = (
        f"KPI breach: {breaches[0].kpi.name} of {breaches[0].vendor.name}"
        if count == 1
        else f"{count} KPI breaches to review"
    )
    lines = [
        "A vendor missed a contractual KPI target:"
        if count == 1
        else "Vendors missed contractual KPI targets:",
        "",
    ]
    for breach in breaches:
        label = period_label(breach.period_start, breach.kpi.period)
        lines.append(
            f"- {breach.vendor.name}, {breach.vendor_service.name}: {breach.kpi.name} "
            f"{breach.value_label} in {label} (target {breach.target_label})"
        )
        lines.append(f"  {base_url.rstrip('/')}/kpis/breaches/{breach.id}")
    lines += ["", "Each breach is also a finding in the findings register."]
    return subject, "\n".join(lines)


def notify_breaches(session: Session, config: Mapping[str, Any]) -> int:
    """Email vendor managers about open breaches not yet notified; returns how many breaches.

    A breach stays un-notified when no SMTP server is configured or sending fails, and is
    sent with the next batch.
    """
    from vendor_portal import mail

    breaches = unnotified_breaches(session)
    recipients = breach_recipients(session)
    if not breaches or not recipients:
        return 0
    subject, text = breach_message(breaches, config.get("BASE_URL", ""))
    try:
        sent = mail.send(config, recipients, subject, text)
    except (OSError, smtplib.SMTPException) as exc:
        logger.warning("Could not email %d KPI breaches: %s", len(breaches), exc)
        return 0
    if not sent:
        return 0
    stamp = utcnow()
    for breach in breaches:
        breach.notified_at = stamp
    session.flush()
    return len(breaches)


def close_breach(session: Session, breach: KpiBreach, user_id: int, note: str) -> None:
    breach.status = "closed"
    breach.closed_at = utcnow()
    breach.closed_by_id = user_id
    breach.resolution_note = note
    session.flush()


def breach_query(
    *, statuses: Sequence[str] | None = None, vendor_id: int | None = None
) -> Select[Any]:
    stmt = (
        select(KpiBreach)
        .join(Vendor, KpiBreach.vendor_id == Vendor.id)
        .join(Kpi, KpiBreach.kpi_id == Kpi.id)
        .join(VendorService, KpiBreach.vendor_service_id == VendorService.id)
        .options(
            selectinload(KpiBreach.kpi),
            selectinload(KpiBreach.vendor),
            selectinload(KpiBreach.vendor_service),
        )
    )
    if statuses:
        stmt = stmt.where(KpiBreach.status.in_(statuses))
    if vendor_id is not None:
        stmt = stmt.where(KpiBreach.vendor_id == vendor_id)
    return stmt


def incident_query(
    *,
    vendor_id: int | None = None,
    service_id: int | None = None,
    severities: Sequence[str] | None = None,
    ongoing: bool = False,
    since: date | None = None,
    until: date | None = None,
    search: str | None = None,
) -> Select[Any]:
    stmt = (
        select(Incident)
        .join(VendorService, Incident.vendor_service_id == VendorService.id)
        .join(Vendor, VendorService.vendor_id == Vendor.id)
        .options(selectinload(Incident.vendor_service).selectinload(VendorService.vendor))
    )
    if vendor_id is not None:
        stmt = stmt.where(VendorService.vendor_id == vendor_id)
    if service_id is not None:
        stmt = stmt.where(Incident.vendor_service_id == service_id)
    if severities:
        stmt = stmt.where(Incident.severity.in_(severities))
    if ongoing:
        stmt = stmt.where(Incident.ended_at.is_(None))
    if since is not None:
        stmt = stmt.where(
            or_(
                Incident.ended_at.is_(None),
                Incident.ended_at >= end_of_day(since) - timedelta(days=1),
            )
        )
    if until is not None:
        stmt = stmt.where(Incident.started_at < end_of_day(until))
    if search:
        pattern = f"%{search.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Incident.title).like(pattern),
                func.lower(func.coalesce(Incident.external_id, "")).like(pattern),
            )
        )
    return stmt


def kpi_query(*, vendor_id: int | None = None, archived: bool = False) -> Select[Any]:
    stmt = (
        select(Kpi)
        .join(VendorService, Kpi.vendor_service_id == VendorService.id)
        .join(Vendor, VendorService.vendor_id == Vendor.id)
        .options(selectinload(Kpi.vendor_service).selectinload(VendorService.vendor))
        .where(Kpi.archived_at.is_not(None) if archived else Kpi.archived_at.is_(None))
    )
    if vendor_id is not None:
        stmt = stmt.where(VendorService.vendor_id == vendor_id)
    return stmt


def measurement_query(*, vendor_id: int | None = None) -> Select[Any]:
    stmt = (
        select(KpiMeasurement)
        .join(VendorService, KpiMeasurement.vendor_service_id == VendorService.id)
        .join(Vendor, VendorService.vendor_id == Vendor.id)
        .options(selectinload(KpiMeasurement.vendor_service).selectinload(VendorService.vendor))
    )
    if vendor_id is not None:
        stmt = stmt.where(VendorService.vendor_id == vendor_id)
    return stmt


# --- staged uploads ---------------------------------------------------------------------------


def stage_upload(
    session: Session, user_id: int, kind: str, filename: str, content: bytes, now: datetime
) -> KpiUpload:
    """Keep an uploaded file until it is mapped, previewed and imported (one day at most)."""
    session.execute(delete(KpiUpload).where(KpiUpload.created_at < now - UPLOAD_MAX_AGE))
    upload = KpiUpload(
        token=secrets.token_urlsafe(32),
        user_id=user_id,
        kind=kind,
        filename=filename[:255],
        content=content,
        options={},
    )
    session.add(upload)
    session.flush()
    return upload


def find_upload(session: Session, token: str, user_id: int, now: datetime) -> KpiUpload | None:
    """The user's own staged upload, if it has not expired."""
    return session.scalar(
        select(KpiUpload).where(
            and_(
                KpiUpload.token == token,
                KpiUpload.user_id == user_id,
                KpiUpload.created_at >= now - UPLOAD_MAX_AGE,
            )
        )
    )


@dataclass
class ImportProblem:
    """An error located in the source: row (file row, header = 1; or feed/API item) and column."""

    row: int | None
    column: str | None
    message: str


def locate(
    errors: Sequence[CellError],
    rows: Sequence[int],
    columns: Mapping[str, str],
    label: str = "row",
) -> list[ImportProblem]:
    """Turn row indexes and fields into the source's row numbers and column names."""
    return [
        ImportProblem(
            rows[e.index],
            (columns.get(e.field) or e.field) if e.field else None,
            _renumber(e.message, rows, label),
        )
        for e in errors
    ]


def _renumber(message: str, rows: Sequence[int], label: str) -> str:
    head, found, tail = message.partition("input row index ")
    if not found:
        return message
    digits = tail[: len(tail) - len(tail.lstrip("0123456789"))]
    return f"{head}{label} {rows[int(digits)]}{tail[len(digits) :]}"
