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
from sqlalchemy import (
    Column,
    DateTime,
    MetaData,
    Select,
    String,
    Table,
    and_,
    bindparam,
    delete,
    func,
    or_,
    select,
    type_coerce,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, joinedload, selectinload

from vendor_portal import stamped
from vendor_portal.audit.domain import to_jsonable
from vendor_portal.audit.services import record_event
from vendor_portal.auth.models import User
from vendor_portal.contracts.models import Contract
from vendor_portal.db import utcnow
from vendor_portal.findings.services import FindingRequest, open_findings
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
from vendor_portal.kpis.models import (
    Incident,
    Kpi,
    KpiBreach,
    KpiDataVersion,
    KpiMeasurement,
    KpiUpload,
)
from vendor_portal.kpis.versions import bump_data_versions, data_versions, fingerprint
from vendor_portal.security import Role, is_vendor_user
from vendor_portal.vendors.models import Vendor, VendorService

logger = logging.getLogger(__name__)
UPLOAD_MAX_AGE = timedelta(days=1)
# Keys per look-up query: (service, external id) pairs are two parameters each.
KEY_CHUNK = 2000


# --- loading data for the maths ---------------------------------------------------------------


def window(start: date, end: date) -> tuple[datetime, datetime]:
    """The instants covering every quarter that meets [start, end] (months are inside it)."""
    bounds = period_bounds(start, end, "quarter")
    first = pd.Timestamp(bounds[0], unit="ns", tz="UTC").to_pydatetime()
    last = pd.Timestamp(bounds[-1], unit="ns", tz="UTC").to_pydatetime()
    return first, last


def _instant_column(column: Any, dialect: str) -> Any:
    """The column as the driver returns it, without the per-value UTCDateTime conversion:
    text on SQLite (parsed below in one vectorised call), aware datetimes on PostgreSQL."""
    return type_coerce(column, String if dialect == "sqlite" else DateTime(timezone=True))


def _utc_column(values: pd.Series) -> pd.Series:
    if values.empty:
        return pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    return pd.to_datetime(values, utc=True, format="ISO8601").dt.as_unit("ns")


def incidents_frame(
    session: Session,
    service_ids: Iterable[int] | None,
    start: date,
    end: date,
    severities: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Incidents that overlap the quarters around [start, end], ready for the maths; only
    those of the given severities when given (the ones some KPI counts)."""
    begin, finish = window(start, end)
    dialect = session.get_bind().dialect.name
    stmt = select(
        Incident.vendor_service_id.label("service_id"),
        Incident.severity,
        *(
            _instant_column(getattr(Incident, name), dialect).label(name)
            for name in domain.INCIDENT_TIME_COLUMNS
        ),
    ).where(
        Incident.started_at < finish,
        or_(Incident.ended_at.is_(None), Incident.ended_at >= begin),
    )
    if service_ids is not None:
        stmt = stmt.where(Incident.vendor_service_id.in_(list(service_ids)))
    elif severities is not None:
        # Only without a list of services: SQLite (no statistics) would then probe the
        # severity index instead of the (service, started_at) one.
        stmt = stmt.where(Incident.severity.in_(sorted(severities)))
    rows = session.execute(stmt).all()
    frame = pd.DataFrame.from_records(rows, columns=list(domain.INCIDENT_COLUMNS))
    if severities is not None and service_ids is not None:
        frame = frame[frame["severity"].isin(list(severities))].reset_index(drop=True)
    for name in domain.INCIDENT_TIME_COLUMNS:
        frame[name] = _utc_column(frame[name])
    return domain.incident_frame(frame)


def measurements_frame(
    session: Session,
    service_ids: Iterable[int] | None,
    start: date,
    end: date,
    codes: Iterable[str] | None = None,
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
    if codes is not None:
        stmt = stmt.where(KpiMeasurement.code.in_(sorted(codes)))
    rows = session.execute(stmt).all()
    frame = pd.DataFrame.from_records(rows, columns=["service_id", "code", "period_start", "value"])
    return frame.astype({"service_id": np.int64, "value": float})


def _inputs(
    session: Session,
    specs: Sequence[domain.KpiSpec],
    service_ids: Sequence[int] | None,
    start: date,
    end: date,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The incidents and measurements the KPIs need: only the severities and codes they count."""
    severities: set[str] = set()
    codes: set[str] = set()
    for spec in specs:
        if METRICS[Metric(spec.metric)].from_incidents:
            severities |= spec.severities
        else:
            codes.add(spec.measurement_code)
    incidents = (
        incidents_frame(session, service_ids, start, end, severities)
        if severities
        else domain.incident_frame([])
    )
    measurements = measurements_frame(session, service_ids if codes else [], start, end, codes)
    return incidents, measurements


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
    specs = [k.spec() for k in kpis]
    service_ids = None if all_services else sorted({k.vendor_service_id for k in kpis})
    incidents, measurements = _inputs(session, specs, service_ids, start, end)
    return domain.evaluate(specs, incidents, measurements, start, end, now)


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


def _period_results(evaluations: pd.DataFrame) -> dict[int, list[PeriodResult]]:
    by_kpi: dict[int, list[PeriodResult]] = {}
    for row in evaluations.sort_values(["kpi_id", "period_start"]).itertuples(index=False):
        value = None if np.isnan(row.value) else float(row.value)
        met = None if row.met is pd.NA else bool(row.met)
        by_kpi.setdefault(int(row.kpi_id), []).append(
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
    return by_kpi


def kpi_results(kpis: Sequence[Kpi], evaluations: pd.DataFrame) -> list[KpiResult]:
    by_kpi = _period_results(evaluations)
    return [KpiResult(k, by_kpi.get(k.id, [])) for k in kpis]


@dataclass(frozen=True)
class IncidentRow:
    """What the scorecard's timeline shows of an incident."""

    id: int
    vendor_service_id: int
    severity: str
    title: str
    started_at: datetime
    ended_at: datetime | None


@dataclass
class Scorecard:
    vendor: Vendor
    start: date
    end: date
    services: list[VendorService]
    results: list[KpiResult]
    availability: pd.DataFrame  # per service and month, default severities unless a KPI chose
    incidents: Sequence[IncidentRow]
    open_breaches: list[KpiBreach]
    # The figures as kept by a ScorecardCache and the stamps they hold for (None when they
    # could not be kept: some service was never stamped).
    figures: ScorecardFigures | None = None
    stamps: tuple[Any, ...] | None = None

    @property
    def missed(self) -> int:
        return sum(r.missed for r in self.results)

    @property
    def attainment_pct(self) -> float | None:
        done = [p for r in self.results for p in r.evaluated]
        return 100.0 * sum(1 for p in done if p.met) / len(done) if done else None


@dataclass(frozen=True)
class ScorecardFigures:
    """What a scorecard computes from its services' incidents and measurements, and until
    when (int64 ns) it holds if no data change. Shared between requests: read only."""

    periods: dict[int, list[PeriodResult]]
    availability: pd.DataFrame
    incidents: tuple[IncidentRow, ...]
    valid_until: int


class ScorecardCache:
    """Each vendor's scorecard figures, kept per process with the stamps of its services
    (versions.py) they were computed at.

    An entry is used while the vendor's active services are the same, each with the same
    stamp, and the request comes before its valid_until: the next month start (periods begin
    and end), or at once when some figure moves with the clock (an incident still open or
    ending or starting later, a delay still pending: their values grow with time)."""

    SIZE = 1024

    def __init__(self) -> None:
        self._entries = stamped.Kept(self.SIZE)  # key -> (stamps, figures)

    def get(
        self, key: tuple[Any, ...], stamps: tuple[Any, ...], now_ns: int
    ) -> ScorecardFigures | None:
        entry = self._entries.get(key)
        if entry is None or entry[0] != stamps or entry[1].valid_until <= now_ns:
            return None
        return entry[1]

    def put(self, key: tuple[Any, ...], stamps: tuple[Any, ...], figures: ScorecardFigures) -> None:
        self._entries.put(key, (stamps, figures))


def _scorecard_kpis(session: Session, vendor: Vendor) -> list[Kpi]:
    """The vendor's active KPIs in active_kpis' order, with their service and contract."""
    if vendor.archived_at is not None:
        return []
    return list(
        session.scalars(
            select(Kpi)
            .join(VendorService, Kpi.vendor_service_id == VendorService.id)
            .where(
                VendorService.vendor_id == vendor.id,
                Kpi.archived_at.is_(None),
                VendorService.archived_at.is_(None),
            )
            # Each KPI's service is one of the vendor's live services, which scorecard() has
            # just loaded: found in the session by its key, not read or built again.
            .options(joinedload(Kpi.contract))
            .order_by(VendorService.name, Kpi.name, Kpi.id)
        )
    )


def _scorecard_figures(
    session: Session,
    services: Sequence[VendorService],
    kpis: Sequence[Kpi],
    start: date,
    end: date,
    now: datetime,
) -> ScorecardFigures:
    service_ids = [s.id for s in services]
    specs = [k.spec() for k in kpis]
    incidents = incidents_frame(session, service_ids, start, end)
    measurements = measurements_frame(session, service_ids, start, end)
    evaluations = domain.evaluate(specs, incidents, measurements, start, end, now)
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
    listed = tuple(
        IncidentRow(*row)
        for row in session.execute(
            select(
                Incident.id,
                Incident.vendor_service_id,
                Incident.severity,
                Incident.title,
                Incident.started_at,
                Incident.ended_at,
            )
            .where(
                Incident.vendor_service_id.in_(service_ids),
                Incident.started_at < finish,
                or_(Incident.ended_at.is_(None), Incident.ended_at >= begin),
            )
            .order_by(Incident.started_at.desc())
        )
    )
    return ScorecardFigures(
        _period_results(evaluations),
        availability,
        listed,
        _figures_valid_until(specs, incidents, evaluations, now),
    )


def _figures_valid_until(
    specs: Sequence[domain.KpiSpec],
    incidents: pd.DataFrame,
    evaluations: pd.DataFrame,
    now: datetime,
) -> int:
    """Now when a figure moves with the clock, else the next month start."""
    now_ns = domain.to_ns(now)
    following = int(domain.month_start_ns(np.array([domain.month_number(now.date()) + 1]))[0])
    if len(incidents):
        # Any severity: the availability of a service without a KPI counts the default ones.
        started = incidents["started_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        ended = incidents["ended_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
        if ((ended == domain.NAT) | (ended > now_ns) | (started > now_ns)).any():
            return now_ns
    if domain.moving_values(specs, incidents, evaluations, now).any():
        return now_ns
    return following


@dataclass
class ScorecardBasis:
    """What a scorecard is read from first: the vendor's live services with their stamps, read
    before the data they vouch for, and the figures the cache holds for them (None when it has
    none that hold: scorecard() computes them). `usable`: the figures can be kept (every
    service has a stamp)."""

    services: list[VendorService]
    stamps: tuple[Any, ...]
    usable: bool
    figures: ScorecardFigures | None
    key: tuple[int, date, date]  # the figures' key in the ScorecardCache


def scorecard_basis(
    session: Session,
    vendor: Vendor,
    start: date,
    end: date,
    now: datetime,
    cache: ScorecardCache | None = None,
) -> ScorecardBasis:
    rows = session.execute(
        select(VendorService, KpiDataVersion.version)
        .outerjoin(KpiDataVersion, KpiDataVersion.vendor_service_id == VendorService.id)
        .where(VendorService.vendor_id == vendor.id, VendorService.archived_at.is_(None))
        .order_by(VendorService.name)
    ).all()
    services = [row[0] for row in rows]
    stamps = (vendor.archived_at is None, *((row[0].id, row[1]) for row in rows))
    # A service without a stamp was never written since stamps exist: compute afresh.
    usable = cache is not None and all(row[1] is not None for row in rows)
    key = (vendor.id, start, end)
    figures = cache.get(key, stamps, domain.to_ns(now)) if usable else None  # type: ignore[union-attr]
    return ScorecardBasis(services, stamps, usable, figures, key)


def scorecard(
    session: Session,
    vendor: Vendor,
    start: date,
    end: date,
    now: datetime,
    cache: ScorecardCache | None = None,
    basis: ScorecardBasis | None = None,
) -> Scorecard:
    """A vendor's KPI results, availability and incidents over [start, end], and its open
    breaches. With a cache, the figures are reused while they hold (ScorecardCache); the
    vendor's services, KPIs and breaches are read afresh. `basis`: scorecard_basis() with
    the same arguments, if just read."""
    basis = basis or scorecard_basis(session, vendor, start, end, now, cache)
    services, stamps, usable = basis.services, basis.stamps, basis.usable
    kpis = _scorecard_kpis(session, vendor) if services else []
    figures = basis.figures
    if figures is None:
        figures = _scorecard_figures(session, services, kpis, start, end, now)
        if usable:  # there is a cache and every service has a stamp
            cache.put(basis.key, stamps, figures)  # type: ignore[union-attr]
    breaches = list(
        session.scalars(
            select(KpiBreach)
            .where(KpiBreach.vendor_id == vendor.id, KpiBreach.status == "open")
            .options(joinedload(KpiBreach.kpi), joinedload(KpiBreach.vendor_service))
            .order_by(KpiBreach.period_start.desc(), KpiBreach.id)
        )
    )
    return Scorecard(
        vendor,
        start,
        end,
        services,
        [KpiResult(k, figures.periods.get(k.id, [])) for k in kpis],
        figures.availability,
        figures.incidents,
        breaches,
        figures if usable else None,
        stamps if usable else None,
    )


@dataclass(frozen=True)
class VendorRef:
    """What the portfolio shows of a vendor (plain values: a portfolio outlives its session)."""

    id: int
    name: str
    tier: str


@dataclass
class VendorAttainment:
    vendor: VendorRef
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
    # Until when (int64 ns) these figures hold if no data change (see AttainmentCache).
    valid_until: int = domain.FOREVER_NS
    # versions.fingerprint, read before the figures (None when computed without a cache).
    stamp: tuple[int, int, int] | None = None
    _orders: dict[tuple[str, bool], list[VendorAttainment]] = field(
        default_factory=dict, repr=False, compare=False
    )
    _positions: dict[int, int] = field(default_factory=dict, repr=False, compare=False)

    @property
    def worst(self) -> list[VendorAttainment]:
        rated = [v for v in self.vendors if v.attainment_pct is not None]
        return sorted(rated, key=lambda v: (v.attainment_pct, -v.missed, v.vendor.name))

    def position(self, row: VendorAttainment) -> int:
        """Where a vendor's row stands in `vendors` (indexed once per portfolio)."""
        if not self._positions:
            self._positions.update({r.vendor.id: i for i, r in enumerate(self.vendors)})
        return self._positions[row.vendor.id]

    def ranked(self, name: str, key: Any, reverse: bool) -> list[VendorAttainment]:
        """The vendors sorted by a named key, sorted once per portfolio (it may be reused)."""
        found = self._orders.get((name, reverse))
        if found is None:
            found = sorted(self.vendors, key=key, reverse=reverse)
            self._orders[(name, reverse)] = found
        return found


class AttainmentCache:
    """Each vendor service's monthly tally of KPI verdicts (domain.monthly_tally), kept per
    process between portfolio requests, with the data version it was computed at.

    An entry is used while the service's stamp in kpi_data_version is the same (any write to
    its incidents, measurements or KPIs replaces the stamp: see versions.py) and every month
    asked for is still valid at the request's time (a month not begun is valid until it
    begins; one with an open incident or a pending delay until its value could first reach
    the target, domain.verdict_valid_until). So a hit gives the same figures as computing
    afresh; the tests compare the two.

    Whole portfolios are kept too, used while no stamp at all changed (versions.fingerprint)
    and every tally they were summed from still holds.
    """

    # Whole portfolios kept (one per range and filter asked for), the oldest dropped first.
    PORTFOLIOS = 16

    def __init__(self) -> None:
        self._entries: dict[int, tuple[int, dict[int, tuple[int, int, int]]]] = {}
        self._portfolios: dict[tuple[Any, ...], tuple[tuple[int, int, int], Portfolio]] = {}

    def portfolio(
        self, key: tuple[Any, ...], stamp: tuple[int, int, int], now_ns: int
    ) -> Portfolio | None:
        """A whole portfolio computed while every stamp was as now (versions.fingerprint),
        if its figures still hold at now_ns."""
        entry = self._portfolios.get(key)
        if entry is None or entry[0] != stamp or entry[1].valid_until <= now_ns:
            return None
        return entry[1]

    def put_portfolio(
        self, key: tuple[Any, ...], stamp: tuple[int, int, int], result: Portfolio
    ) -> None:
        self._portfolios.pop(key, None)
        while len(self._portfolios) >= self.PORTFOLIOS:
            self._portfolios.pop(next(iter(self._portfolios)))
        self._portfolios[key] = (stamp, result)

    def get(
        self, service_id: int, version: int | None, months: range, now_ns: int
    ) -> dict[int, tuple[int, int, int]] | None:
        entry = self._entries.get(service_id)
        if entry is None or version is None or entry[0] != version:
            return None
        tallies = entry[1]
        for month in months:
            found = tallies.get(month)
            if found is None or found[2] <= now_ns:
                return None
        return tallies

    def put(self, service_id: int, version: int, tallies: dict[int, tuple[int, int, int]]) -> None:
        entry = self._entries.get(service_id)
        if entry is not None and entry[0] == version:
            tallies = {**entry[1], **tallies}
        self._entries[service_id] = (version, tallies)  # one assignment: safe across threads


def _kpi_specs(session: Session, service_ids: Sequence[int] | None) -> list[domain.KpiSpec]:
    """Active KPIs as the maths needs them, read as plain rows (no ORM objects)."""
    stmt = (
        select(
            Kpi.id,
            Kpi.vendor_service_id,
            Kpi.metric,
            Kpi.comparator,
            Kpi.threshold,
            Kpi.period,
            Kpi.statistic,
            Kpi.severities,
            Kpi.code,
        )
        .join(VendorService, Kpi.vendor_service_id == VendorService.id)
        .join(Vendor, VendorService.vendor_id == Vendor.id)
        .where(
            Kpi.archived_at.is_(None),
            VendorService.archived_at.is_(None),
            Vendor.archived_at.is_(None),
        )
    )
    if service_ids is not None:
        stmt = stmt.where(Kpi.vendor_service_id.in_(list(service_ids)))
    return [
        domain.KpiSpec(
            kpi_id=row.id,
            service_id=row.vendor_service_id,
            metric=row.metric,
            comparator=row.comparator,
            threshold=row.threshold,
            period=row.period,
            statistic=row.statistic,
            severities=frozenset(row.severities or ()),
            code=row.code,
        )
        for row in session.execute(stmt)
    ]


# Above this many services, load every service's rows rather than list them in an IN clause.
IN_LIST_LIMIT = 1000


def _monthly_tallies(
    session: Session, service_ids: Sequence[int], start: date, end: date, now: datetime
) -> pd.DataFrame:
    chosen = list(service_ids) if len(service_ids) <= IN_LIST_LIMIT else None
    specs = _kpi_specs(session, chosen)
    if chosen is None:
        wanted = set(service_ids)
        specs = [s for s in specs if s.service_id in wanted]
    incidents, measurements = _inputs(session, specs, chosen, start, end)
    evaluations = domain.evaluate(specs, incidents, measurements, start, end, now)
    valid_until = domain.verdict_valid_until(specs, incidents, evaluations, now)
    return domain.monthly_tally(evaluations, valid_until, now)


def portfolio(
    session: Session,
    start: date,
    end: date,
    now: datetime,
    tiers: Sequence[str] | None = None,
    service_types: Sequence[str] | None = None,
    cache: AttainmentCache | None = None,
) -> Portfolio:
    """Attainment of every vendor's KPIs per month: the share of KPI periods on target.

    Summed from each service's monthly tally; with a cache, only services whose data changed
    (or whose figures moved with the clock) are computed again, and the whole portfolio is
    reused while no stamp changed (versions.fingerprint) and every tally still holds."""
    now_ns = domain.to_ns(now)
    key = (start, end, tuple(sorted(tiers or ())), tuple(sorted(service_types or ())))
    # Read before the data, as the stamps: an entry can only be older than its key says.
    stamp = fingerprint(session) if cache is not None else (0, 0, 0)
    if cache is not None:
        found_portfolio = cache.portfolio(key, stamp, now_ns)
        if found_portfolio is not None:
            return found_portfolio
    scope_stmt = (
        select(Kpi.vendor_service_id, VendorService.vendor_id)
        .join(VendorService, Kpi.vendor_service_id == VendorService.id)
        .join(Vendor, VendorService.vendor_id == Vendor.id)
        .where(
            Kpi.archived_at.is_(None),
            VendorService.archived_at.is_(None),
            Vendor.archived_at.is_(None),
        )
        .distinct()
    )
    if tiers:
        scope_stmt = scope_stmt.where(Vendor.tier.in_(tiers))
    if service_types:
        scope_stmt = scope_stmt.where(VendorService.service_type.in_(service_types))
    vendor_of = dict(session.execute(scope_stmt).all())
    months = range(domain.month_number(start), domain.month_number(end) + 1)
    # The stamps are read before the data: an entry can only be older than its stamp says.
    versions = data_versions(session) if cache is not None else {}
    tallies: dict[int, dict[int, tuple[int, int, int]]] = {}
    stale = []
    for service_id in vendor_of:
        found = cache.get(service_id, versions.get(service_id), months, now_ns) if cache else None
        if found is None:
            stale.append(service_id)
        else:
            tallies[service_id] = found
    if stale:
        computed: dict[int, dict[int, tuple[int, int, int]]] = {s: {} for s in stale}
        table = _monthly_tallies(session, sorted(stale), start, end, now)
        for row in table.itertuples(index=False):
            if row.month in months:
                computed[row.service_id][row.month] = (
                    int(row.evaluated),
                    int(row.missed),
                    int(row.valid_until),
                )
        begins = dict(zip(months, domain.month_start_ns(np.array(months)).tolist(), strict=True))
        for service_id, found in computed.items():
            for month in months:  # nothing to count: fixed until the month begins
                if month not in found:
                    begin = begins[month]
                    found[month] = (0, 0, begin if begin > now_ns else domain.FOREVER_NS)
            tallies[service_id] = found
            version = versions.get(service_id)
            if cache is not None and version is not None:
                cache.put(service_id, version, found)
    sums: dict[int, dict[int, list[int]]] = {}
    valid_until = domain.FOREVER_NS
    for service_id, found in tallies.items():
        per_month = sums.setdefault(vendor_of[service_id], {})
        for month in months:
            evaluated, missed, holds = found[month]
            valid_until = min(valid_until, holds)
            if evaluated:
                total = per_month.setdefault(month, [0, 0])
                total[0] += evaluated
                total[1] += missed
    vendors = _vendors(session, set(vendor_of.values()))
    rows = {vid: VendorAttainment(vendors[vid]) for vid in sums}
    for vendor_id, per_month in sums.items():
        for month, (evaluated, missed) in per_month.items():
            rows[vendor_id].by_month[domain.month_start(month)] = (
                100.0 * (evaluated - missed) / evaluated,
                evaluated,
                missed,
            )
    counts = session.execute(
        select(KpiBreach.vendor_id, func.count())
        .where(KpiBreach.status == "open")
        .group_by(KpiBreach.vendor_id)
    )
    for vendor_id, count in counts:
        if vendor_id in rows:
            rows[vendor_id].open_breaches = count
    bounds = period_bounds(start, min(end, now.date()), "month")
    ordered = sorted(rows.values(), key=lambda r: r.vendor.name.lower())
    # The months shown change when a month begins.
    following = domain.month_start_ns(np.array([domain.month_number(now.date()) + 1]))[0]
    result = Portfolio(
        domain.ns_to_date(bounds[:-1]),
        ordered,
        min(valid_until, int(following)),
        stamp if cache is not None else None,
    )
    if cache is not None:
        cache.put_portfolio(key, stamp, result)
    return result


def _vendors(session: Session, ids: set[int]) -> dict[int, VendorRef]:
    found: dict[int, VendorRef] = {}
    ordered = sorted(ids)
    for offset in range(0, len(ordered), KEY_CHUNK):
        chunk = ordered[offset : offset + KEY_CHUNK]
        rows = session.execute(
            select(Vendor.id, Vendor.name, Vendor.tier).where(Vendor.id.in_(chunk))
        )
        found.update({row.id: VendorRef(row.id, row.name, row.tier) for row in rows})
    return found


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
    unchanged: int = 0
    service_ids: set[int] = field(default_factory=set)
    earliest: date | None = None


def _none(value: Any) -> Any:
    if value is None or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def _instants(series: pd.Series) -> list[datetime | None]:
    """UTC instants as the database keeps them (microseconds), None for blanks."""
    values = pd.to_datetime(series, utc=True).dt.floor("us").dt.to_pydatetime()
    return [None if v is pd.NaT else v for v in values]


def _existing(
    session: Session, model: type, key: Sequence[str], columns: Sequence[str], keys: list[tuple]
) -> dict[tuple, tuple]:
    """Stored rows by key (key -> the given columns), for many keys at once.

    The keys are joined on the unique index, from arrays on PostgreSQL and from a temporary
    table on SQLite: SQLite scans the whole table for a long `(a, b) IN (...)` list."""
    if not keys:
        return {}
    connection = session.connection()
    table = model.__table__
    width = len(key)
    if connection.dialect.name == "postgresql":
        # One statement: the keys as arrays, unnested into rows and joined.
        names = [f"k{i}" for i in range(width)]
        given = (
            func.unnest(
                *(
                    bindparam(n, type_=postgresql.ARRAY(table.c[name].type))
                    for n, name in zip(names, key, strict=True)
                )
            )
            .table_valued(*names)
            .render_derived(name="given")
        )
        on = [table.c[name] == given.c[n] for n, name in zip(names, key, strict=True)]
        rows = connection.execute(
            select(*(table.c[name] for name in key), *(table.c[name] for name in columns))
            .select_from(given)
            .join(table, and_(*on)),
            {n: [k[i] for k in keys] for i, n in enumerate(names)},
        )
        return {tuple(row[:width]): tuple(row[width:]) for row in rows}
    temp = Table(
        f"import_keys_{secrets.token_hex(4)}",
        MetaData(),
        *(Column(name, table.c[name].type) for name in key),
        prefixes=["TEMPORARY"],
    )
    temp.create(connection)
    try:
        connection.execute(temp.insert(), [dict(zip(key, k, strict=True)) for k in keys])
        rows = connection.execute(
            select(*(table.c[name] for name in key), *(table.c[name] for name in columns))
            .select_from(temp)
            .join(table, and_(*(table.c[name] == temp.c[name] for name in key)))
        )
        return {tuple(row[:width]): tuple(row[width:]) for row in rows}
    finally:
        temp.drop(connection)


def _upsert_rows(
    session: Session,
    table: Any,
    key: Sequence[str],
    changing: Sequence[str],
    rows: list[dict[str, Any]],
) -> None:
    """INSERT ... ON CONFLICT (key) DO UPDATE, for many rows: rows another transaction stored
    meanwhile are updated instead of failing the whole import.

    SQLite takes them as one executemany. On PostgreSQL psycopg would send one statement per
    row, and a multi-row VALUES costs more to build than to run: the rows go as one array per
    column, unnested by the server."""
    postgres = session.get_bind().dialect.name == "postgresql"
    dialect = postgresql if postgres else sqlite
    columns = list(rows[0])
    if postgres:
        given = (
            func.unnest(*(bindparam(c, type_=postgresql.ARRAY(table.c[c].type)) for c in columns))
            .table_valued(*columns)
            .render_derived(name="given")
        )
        stmt = dialect.insert(table).from_select(columns, select(*given.c))
    else:
        stmt = dialect.insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[name] for name in key],
        set_={name: stmt.excluded[name] for name in changing},
    )
    if postgres:
        session.execute(stmt, {c: [row[c] for row in rows] for c in columns})
    else:
        session.execute(stmt, rows)


def _expire(session: Session, model: type) -> None:
    """Loaded objects of a model no longer match rows changed by bulk statements."""
    for obj in list(session.identity_map.values()):
        if isinstance(obj, model):
            session.expire(obj)


def record_import(
    session: Session,
    entity_type: str,
    result: ImportResult,
    *,
    source: str,
    rows: int,
    origin: Mapping[str, Any] | None,
    before: Mapping[str, dict[str, Any]],
) -> None:
    """One audit event per import, instead of one entry per row: what came in (source, file
    name and SHA-256), what it did (rows created, updated, unchanged), and the previous values
    of every field an update changed, so that the log still shows what was overwritten."""
    record_event(
        session,
        f"{entity_type}.import",
        entity_type,
        None,
        {
            "source": source,
            **(origin or {}),
            "rows": rows,
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "vendor_services": len(result.service_ids),
            "updated_before": dict(before),
        },
    )


INCIDENT_KEY = ("vendor_service_id", "external_id")


def count_existing_incidents(session: Session, frame: pd.DataFrame) -> int:
    keys = list(zip(frame["service_id"].astype(int), frame["external_id"], strict=True))
    return len(_existing(session, Incident, INCIDENT_KEY, [], keys))


def upsert_incidents(
    session: Session,
    frame: pd.DataFrame,
    *,
    source: str,
    user_id: int | None,
    origin: Mapping[str, Any] | None = None,
) -> ImportResult:
    """Store checked incident rows (domain.parse_incidents) in bulk: the same (service,
    external id) updates the incident, a new one is created. Call only with rows free of
    errors; the caller's transaction makes it all or nothing.

    Core statements, not the ORM: a file may hold 100,000 rows. They bypass the per-row audit
    listener, so the import is audited as one event (record_import)."""
    result = ImportResult()
    if frame.empty:
        return result
    stamp = utcnow()
    keys = list(
        zip(frame["service_id"].astype(np.int64).tolist(), frame["external_id"], strict=True)
    )
    columns = {
        "title": frame["title"].tolist(),
        "severity": frame["severity"].tolist(),
        "description": [_none(v) for v in frame["description"]],
        **{name: _instants(frame[name]) for name in domain.INCIDENT_TIME_COLUMNS},
    }
    values = list(zip(*(columns[name] for name in INCIDENT_VALUES), strict=True))
    table = Incident.__table__
    existing = _existing(session, Incident, INCIDENT_KEY, ["id", *INCIDENT_VALUES], keys)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    before: dict[str, dict[str, Any]] = {}
    for key, row in zip(keys, values, strict=True):
        found = existing.get(key)
        if found is None:
            inserts.append(
                {
                    "vendor_service_id": key[0],
                    "external_id": key[1],
                    **dict(zip(INCIDENT_VALUES, row, strict=True)),
                    "source": source,
                    "reported_by_id": user_id,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        elif found[1:] != row:
            updates.append(
                {
                    "_id": found[0],
                    **dict(zip(INCIDENT_VALUES, row, strict=True)),
                    "updated_at": stamp,
                }
            )
            before[str(found[0])] = {
                name: to_jsonable(old)
                for name, old, new in zip(INCIDENT_VALUES, found[1:], row, strict=True)
                if old != new
            }
    if inserts:
        changing = (*INCIDENT_VALUES, "updated_at")
        _upsert_rows(session, table, INCIDENT_KEY, changing, inserts)
    if updates:
        session.execute(update(table).where(table.c.id == bindparam("_id")), updates)
    result.created, result.updated = len(inserts), len(updates)
    result.unchanged = len(keys) - result.created - result.updated
    result.service_ids = {k[0] for k in keys}
    result.earliest = pd.Timestamp(frame["started_at"].min()).date()
    _expire(session, Incident)
    bump_data_versions(session, result.service_ids)
    record_import(
        session, "incident", result, source=source, rows=len(keys), origin=origin, before=before
    )
    return result


MEASUREMENT_KEY = ("vendor_service_id", "code", "period_start")


def _measurement_keys(frame: pd.DataFrame) -> list[tuple[int, str, date]]:
    return list(
        zip(
            frame["service_id"].astype(np.int64).tolist(),
            frame["code"].tolist(),
            frame["period_start"].tolist(),
            strict=True,
        )
    )


def count_existing_measurements(session: Session, frame: pd.DataFrame) -> int:
    return len(_existing(session, KpiMeasurement, MEASUREMENT_KEY, [], _measurement_keys(frame)))


def upsert_measurements(
    session: Session,
    frame: pd.DataFrame,
    *,
    source: str,
    user_id: int | None,
    origin: Mapping[str, Any] | None = None,
) -> ImportResult:
    """Store checked measurement rows in bulk, like upsert_incidents: the same service, code
    and period start updates the value and note."""
    result = ImportResult()
    if frame.empty:
        return result
    stamp = utcnow()
    keys = _measurement_keys(frame)
    values = list(
        zip(
            frame["value"].astype(float).tolist(),
            [_none(v) for v in frame["note"]],
            strict=True,
        )
    )
    table = KpiMeasurement.__table__
    existing = _existing(session, KpiMeasurement, MEASUREMENT_KEY, ["id", "value", "note"], keys)
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    before: dict[str, dict[str, Any]] = {}
    for key, (value, note) in zip(keys, values, strict=True):
        found = existing.get(key)
        if found is None:
            inserts.append(
                {
                    "vendor_service_id": key[0],
                    "code": key[1],
                    "period_start": key[2],
                    "value": value,
                    "note": note,
                    "source": source,
                    "reported_by_id": user_id,
                    "created_at": stamp,
                    "updated_at": stamp,
                }
            )
        elif found[1:] != (value, note):
            updates.append({"_id": found[0], "value": value, "note": note, "updated_at": stamp})
            before[str(found[0])] = {
                name: old
                for name, old, new in zip(("value", "note"), found[1:], (value, note), strict=True)
                if old != new
            }
    if inserts:
        changing = ("value", "note", "updated_at")
        _upsert_rows(session, table, MEASUREMENT_KEY, changing, inserts)
    if updates:
        session.execute(update(table).where(table.c.id == bindparam("_id")), updates)
    result.created, result.updated = len(inserts), len(updates)
    result.unchanged = len(keys) - result.created - result.updated
    result.service_ids = {k[0] for k in keys}
    result.earliest = min(k[2] for k in keys)
    _expire(session, KpiMeasurement)
    bump_data_versions(session, result.service_ids)
    record_import(
        session,
        "kpi_measurement",
        result,
        source=source,
        rows=len(keys),
        origin=origin,
        before=before,
    )
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


class KpiContractMismatch(ValueError):
    """The chosen contract is not one of the service's vendor's contracts."""


def scoped_contracts(session: Session, user: Any) -> list[Contract]:
    """Contracts a KPI may name: those of the vendors whose services the user may report on."""
    stmt = (
        select(Contract)
        .join(Vendor, Contract.vendor_id == Vendor.id)
        .where(Vendor.archived_at.is_(None))
        .options(selectinload(Contract.vendor))
        .order_by(Vendor.name, Contract.title, Contract.id)
    )
    if is_vendor_user(user):
        stmt = stmt.where(Contract.vendor_id == user.vendor_id)
    return list(session.scalars(stmt))


def save_kpi(session: Session, kpi: Kpi | None, values: Mapping[str, Any]) -> Kpi:
    contract_id = values.get("contract_id")
    if contract_id is not None:
        service = session.get(VendorService, values["vendor_service_id"])
        contract = session.get(Contract, contract_id)
        if contract is None or service is None or contract.vendor_id != service.vendor_id:
            raise KpiContractMismatch(
                "Choose a contract of the vendor that delivers this service"
                + (f" ({service.vendor.name})." if service is not None else ".")
            )
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
    outcome = BreachOutcome()
    wanted = None if service_ids is None else sorted(set(service_ids))
    # Plain rows for the maths; KPI objects only for the periods that miss (few).
    chosen = wanted if wanted is None or len(wanted) <= IN_LIST_LIMIT else None
    specs = _kpi_specs(session, chosen)
    if wanted is not None and chosen is None:
        keep = set(wanted)
        specs = [s for s in specs if s.service_id in keep]
    if not specs:
        return outcome
    incidents, measurements = _inputs(session, specs, chosen, start, end)
    evaluations = domain.evaluate(specs, incidents, measurements, start, end, now)
    outcome.evaluated = len(evaluations)
    if evaluations.empty:
        return outcome
    met = evaluations["met"]
    missed = evaluations[met.eq(False).fillna(False).to_numpy(dtype=bool) & evaluations["final"]]
    passed = evaluations[met.eq(True).fillna(False).to_numpy(dtype=bool)]
    kpi_ids = {s.kpi_id for s in specs}
    stmt = select(KpiBreach).where(KpiBreach.period_start >= evaluations["period_start"].min())
    if chosen is not None:
        stmt = stmt.where(KpiBreach.vendor_service_id.in_(chosen))
    existing = {(b.kpi_id, b.period_start): b for b in session.scalars(stmt) if b.kpi_id in kpi_ids}
    kpi_by_id = {
        k.id: k
        for k in session.scalars(
            select(Kpi)
            .where(Kpi.id.in_(sorted({int(i) for i in missed["kpi_id"]})))
            .options(selectinload(Kpi.vendor_service).selectinload(VendorService.vendor))
        )
    }
    counts: list[int] = []
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
            outcome.opened.append(breach)
            counts.append(int(row.count))
            continue
        if breach.value != float(row.value):
            breach.value = float(row.value)
            outcome.updated += 1
        if breach.status == "withdrawn":
            breach.status = "open"
            breach.resolution_note = None
            outcome.opened.append(breach)
            counts.append(int(row.count))
    session.flush()  # every new breach at once: the findings name their ids
    requests = [
        _finding_request(breach, breach.kpi, count)
        for breach, count in zip(outcome.opened, counts, strict=True)
    ]
    for breach, (finding, _) in zip(outcome.opened, open_findings(session, requests), strict=True):
        breach.finding_id = finding.id
    open_breaches = {key: b for key, b in existing.items() if b.status == "open"}
    for row in passed[["kpi_id", "period_start", "value"]].itertuples(index=False):
        breach = open_breaches.get((int(row.kpi_id), row.period_start))
        if breach is not None:
            breach.status = "withdrawn"
            breach.value = float(row.value)
            breach.resolution_note = (
                f"Withdrawn on {now:%Y-%m-%d}: recomputed from corrected data, the KPI meets "
                "its target in this period."
            )
            outcome.withdrawn.append(breach)
    session.flush()
    return outcome


def _finding_request(breach: KpiBreach, kpi: Kpi, count: int) -> FindingRequest:
    service = kpi.vendor_service
    vendor = service.vendor
    label = period_label(breach.period_start, kpi.period)
    severity = domain.breach_severity(
        vendor.tier, breach.value, kpi.comparator, kpi.threshold, kpi.metric
    )
    basis = ""
    if kpi.from_incidents and kpi.metric != Metric.AVAILABILITY:
        basis = f" over {count} incident{'s' if count != 1 else ''}"
    return FindingRequest(
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


class StampedResults(stamped.StampedResults):
    """Results of queries over incidents and breaches (how many match a filter, the latest
    open breaches), kept per process while no stamp changed (versions.fingerprint: every
    write to an incident or breach, or to the KPI, service or vendor they show, changes it).
    Counting a million incidents takes most of a second."""

    def __init__(self) -> None:
        super().__init__(fingerprint)


@dataclass(frozen=True)
class BreachLine:
    """What the portfolio lists of an open breach (plain values: shared between requests)."""

    id: int
    vendor: str
    service: str
    kpi: str
    period: str
    value_label: str
    target_label: str


def latest_open_breaches(session: Session, limit: int) -> list[BreachLine]:
    """The open breaches of the latest periods, with their KPI, vendor and service (joined
    in one statement: each breach has exactly one of each)."""
    breaches = session.scalars(
        select(KpiBreach)
        .where(KpiBreach.status == "open")
        .options(
            joinedload(KpiBreach.kpi, innerjoin=True),
            joinedload(KpiBreach.vendor, innerjoin=True),
            joinedload(KpiBreach.vendor_service, innerjoin=True),
        )
        .order_by(KpiBreach.period_start.desc(), KpiBreach.id)
        .limit(limit)
    )
    return [
        BreachLine(
            b.id,
            b.vendor.name,
            b.vendor_service.name,
            b.kpi.name,
            period_label(b.period_start, b.kpi.period),
            b.value_label,
            b.target_label,
        )
        for b in breaches
    ]


def incident_query(
    *,
    vendor_id: int | None = None,
    service_id: int | None = None,
    severities: Sequence[str] | None = None,
    ongoing: bool = False,
    since: date | None = None,
    until: date | None = None,
    search: str | None = None,
    with_services: bool = True,
) -> Select[Any]:
    """Incidents matching the filters; with_services loads each one's service and vendor
    (for names; the API shows the service id only)."""
    stmt = (
        select(Incident)
        .join(VendorService, Incident.vendor_service_id == VendorService.id)
        .join(Vendor, VendorService.vendor_id == Vendor.id)
    )
    if with_services:
        stmt = stmt.options(
            selectinload(Incident.vendor_service).selectinload(VendorService.vendor)
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
        .options(
            selectinload(Kpi.vendor_service).selectinload(VendorService.vendor),
            selectinload(Kpi.contract),
        )
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
