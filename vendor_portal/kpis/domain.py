"""KPI maths over plain data: availability, incident delays, measurements, targets.

Pure Python over pandas and numpy; no flask, no sqlalchemy. Every computation works on whole
columns: calendar periods are an array of boundaries, incidents are located in them with
`searchsorted`, overlaps are merged with grouped running maxima and summed with `bincount`.
There is no Python loop over incidents or periods.

Times are UTC. Inside this module an instant is an int64 count of nanoseconds since the epoch
(numpy's datetime64[ns] as integers); `NAT` (the smallest int64) marks a missing one.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd

# The maths counts nanoseconds in 64 bits (years 1677 to 2262): dates asked for outside these
# bounds are refused, not overflowed.
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2199, 12, 31)

NAT = np.iinfo(np.int64).min
NS_PER_SECOND = 1_000_000_000
NS_PER_HOUR = 3600 * NS_PER_SECOND


# --- vocabulary -------------------------------------------------------------------------------


class IncidentSeverity(StrEnum):
    MINOR = "minor"
    MAJOR = "major"
    CRITICAL = "critical"
    MAINTENANCE = "maintenance"


# Planned maintenance never counts as downtime and never as a late response: it is not offered.
COUNTABLE_SEVERITIES = (IncidentSeverity.MINOR, IncidentSeverity.MAJOR, IncidentSeverity.CRITICAL)
DEFAULT_SEVERITIES = frozenset({IncidentSeverity.MAJOR.value, IncidentSeverity.CRITICAL.value})


class Metric(StrEnum):
    AVAILABILITY = "availability"
    TIME_TO_ACKNOWLEDGE = "time_to_acknowledge"
    TIME_TO_NOTIFY = "time_to_notify"
    TIME_TO_RESOLVE = "time_to_resolve"
    RTO_ACHIEVED = "rto_achieved"
    ON_TIME_DELIVERY = "on_time_delivery"
    CUSTOM = "custom"


class Comparator(StrEnum):
    GTE = "gte"
    GT = "gt"
    LTE = "lte"
    LT = "lt"

    @property
    def symbol(self) -> str:
        return {"gte": "≥", "gt": ">", "lte": "≤", "lt": "<"}[self.value]

    @property
    def higher_is_better(self) -> bool:
        return self in (Comparator.GTE, Comparator.GT)


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"

    @property
    def months(self) -> int:
        return 1 if self is PeriodKind.MONTH else 3


@dataclass(frozen=True)
class MetricInfo:
    label: str
    unit: str
    from_incidents: bool
    comparator: Comparator
    threshold: float
    description: str


METRICS: dict[Metric, MetricInfo] = {
    Metric.AVAILABILITY: MetricInfo(
        "Availability",
        "%",
        True,
        Comparator.GTE,
        99.9,
        "Share of the period without downtime from incidents of the chosen severities.",
    ),
    Metric.TIME_TO_ACKNOWLEDGE: MetricInfo(
        "Time to acknowledge",
        "h",
        True,
        Comparator.LTE,
        1.0,
        "Hours from an incident's start until the vendor acknowledged it.",
    ),
    Metric.TIME_TO_NOTIFY: MetricInfo(
        "Time to notify",
        "h",
        True,
        Comparator.LTE,
        4.0,
        "Hours from an incident's start until the vendor notified us (contracts, DORA).",
    ),
    Metric.TIME_TO_RESOLVE: MetricInfo(
        "Time to resolve",
        "h",
        True,
        Comparator.LTE,
        8.0,
        "Hours from an incident's start until it ended.",
    ),
    Metric.RTO_ACHIEVED: MetricInfo(
        "RTO achieved in a test",
        "h",
        False,
        Comparator.LTE,
        4.0,
        "Recovery time measured in a recovery test, reported as a measurement.",
    ),
    Metric.ON_TIME_DELIVERY: MetricInfo(
        "On-time delivery",
        "%",
        False,
        Comparator.GTE,
        95.0,
        "Share of deliveries on time, reported as a measurement.",
    ),
    Metric.CUSTOM: MetricInfo(
        "Custom KPI",
        "",
        False,
        Comparator.GTE,
        0.0,
        "Any other contractual measure, reported as a measurement under its own code.",
    ),
}
DELAY_METRICS = frozenset(
    {Metric.TIME_TO_ACKNOWLEDGE, Metric.TIME_TO_NOTIFY, Metric.TIME_TO_RESOLVE}
)
# Which incident timestamp ends each delay.
DELAY_END = {
    Metric.TIME_TO_ACKNOWLEDGE: "acknowledged_at",
    Metric.TIME_TO_NOTIFY: "notified_at",
    Metric.TIME_TO_RESOLVE: "ended_at",
}
INCIDENT_TIME_COLUMNS = ("started_at", "acknowledged_at", "notified_at", "ended_at")

_STATISTIC = re.compile(r"^(worst|mean|p([1-9][0-9]?))$")
_CODE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def statistic_problem(statistic: str) -> str | None:
    if not _STATISTIC.match(statistic or ""):
        return "Use worst, mean, or a percentile p1 to p99 (e.g. p95)."
    return None


def code_problem(code: str) -> str | None:
    if not _CODE.match(code or ""):
        return (
            "A KPI code is 1 to 64 lower-case letters, digits or underscores, "
            "starting with a letter (e.g. first_call_resolution)."
        )
    return None


@dataclass(frozen=True)
class KpiSpec:
    """One KPI of one vendor service, as the maths needs it."""

    kpi_id: int
    service_id: int
    metric: str
    comparator: str
    threshold: float
    period: str = PeriodKind.MONTH.value
    statistic: str = "worst"
    severities: frozenset[str] = DEFAULT_SEVERITIES
    code: str = ""

    @property
    def measurement_code(self) -> str:
        return self.code or self.metric


# --- periods ----------------------------------------------------------------------------------


def _month_number(day: date) -> int:
    return day.year * 12 + day.month - 1


def _month_start(number: int) -> date:
    return date(number // 12, number % 12 + 1, 1)


def period_start_for(day: date, kind: str) -> date:
    months = PeriodKind(kind).months
    number = _month_number(day)
    return _month_start(number - number % months)


def period_bounds(start: date, end: date, kind: str = "month") -> np.ndarray:
    """Boundaries (int64 ns, UTC midnight) of the calendar periods that meet [start, end].

    n periods have n + 1 boundaries; the last is the end of the period containing `end`.
    """
    if end < start:
        raise ValueError("the end of a date range comes before its start")
    months = PeriodKind(kind).months
    first = _month_number(start)
    first -= first % months
    last = _month_number(end)
    last = last - last % months + months
    numbers = np.arange(first, last + 1, months)
    # datetime64[M] counts months since 1970-01; midnight UTC of the 1st of each month.
    as_months = (numbers - 1970 * 12).astype("datetime64[M]")
    return as_months.astype("datetime64[ns]").astype(np.int64)


def period_label(start: date, kind: str) -> str:
    if PeriodKind(kind) is PeriodKind.QUARTER:
        return f"{start.year}-Q{(start.month - 1) // 3 + 1}"
    return f"{start.year}-{start.month:02d}"


def to_ns(moment: datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given where a timezone-aware one is required")
    return int(pd.Timestamp(moment).tz_convert(UTC).as_unit("ns").value)


def ns_to_date(values: np.ndarray) -> list[date]:
    return [d.date() for d in pd.to_datetime(values, unit="ns")]


def _utc_ns(series: pd.Series) -> np.ndarray:
    """A column of instants (aware datetimes, Timestamps, NaT/None) as int64 ns, NAT for missing."""
    if len(series) == 0:
        return np.empty(0, dtype=np.int64)
    values = pd.to_datetime(series, utc=True).dt.as_unit("ns")
    return values.dt.tz_convert(None).to_numpy().astype("datetime64[ns]").view(np.int64)


# --- incidents as a frame ---------------------------------------------------------------------

INCIDENT_COLUMNS = ("service_id", "severity", *INCIDENT_TIME_COLUMNS)


def incident_frame(records: Iterable[Mapping[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Incidents with the column types the maths expects (instants as datetime64[ns, UTC])."""
    frame = records if isinstance(records, pd.DataFrame) else pd.DataFrame(list(records))
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    out["service_id"] = (
        frame["service_id"].astype(np.int64).to_numpy() if len(frame) else np.empty(0, np.int64)
    )
    out["severity"] = frame["severity"].astype(str).to_numpy() if len(frame) else []
    for column in INCIDENT_TIME_COLUMNS:
        if column in frame and len(frame):
            out[column] = pd.to_datetime(frame[column], utc=True).dt.as_unit("ns").to_numpy()
        else:
            out[column] = pd.Series(pd.NaT, index=out.index, dtype="datetime64[ns, UTC]")
    return out


# --- availability -----------------------------------------------------------------------------


def merged_intervals(
    groups: np.ndarray, starts: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Union of half-open intervals [start, end) within each group; returns (group, start, end).

    Sorted by group then start; a new block begins where an interval starts after the furthest
    end reached so far in its group (a grouped running maximum).
    """
    keep = ends > starts
    groups, starts, ends = groups[keep], starts[keep], ends[keep]
    if len(starts) == 0:
        return groups, starts, ends
    order = np.lexsort((starts, groups))
    groups, starts, ends = groups[order], starts[order], ends[order]
    reach = pd.Series(ends).groupby(groups).cummax().to_numpy()
    new_group = np.r_[True, groups[1:] != groups[:-1]]
    new_block = new_group | np.r_[True, starts[1:] > reach[:-1]]
    first = np.flatnonzero(new_block)
    return groups[first], starts[first], np.maximum.reduceat(ends, first)


def overlap_by_period(
    groups: np.ndarray, starts: np.ndarray, ends: np.ndarray, bounds: np.ndarray, n_groups: int
) -> np.ndarray:
    """Seconds of [start, end) inside each period, summed per group: shape (n_groups, periods).

    Intervals must lie within [bounds[0], bounds[-1]]. One interval spanning k periods becomes
    k pieces (np.repeat), each clipped to its period.
    """
    n_periods = len(bounds) - 1
    keep = ends > starts
    groups, starts, ends = groups[keep], starts[keep], ends[keep]
    first = np.searchsorted(bounds, starts, side="right") - 1
    last = np.searchsorted(bounds, ends, side="left") - 1
    counts = last - first + 1
    piece = np.repeat(np.arange(len(starts)), counts)
    offset = np.arange(len(piece)) - np.repeat(np.cumsum(counts) - counts, counts)
    period = first[piece] + offset
    lo = np.maximum(starts[piece], bounds[period])
    hi = np.minimum(ends[piece], bounds[period + 1])
    seconds = (hi - lo) / NS_PER_SECOND
    totals = np.bincount(
        groups[piece] * n_periods + period, weights=seconds, minlength=n_groups * n_periods
    )
    return totals.reshape(n_groups, n_periods)


def availability(
    incidents: pd.DataFrame,
    service_ids: Sequence[int],
    start: date,
    end: date,
    now: datetime,
    kind: str = "month",
    severities: Iterable[str] = DEFAULT_SEVERITIES,
) -> pd.DataFrame:
    """Availability of each service in each calendar period (UTC) meeting [start, end].

    Downtime is the union of [started_at, ended_at) of the incidents whose severity counts,
    clipped to each period; an ongoing incident (no ended_at) runs until now. Availability is
    100 * (1 - downtime / period length), over the whole period even while it is in progress
    (`complete` says whether it is over). Periods starting after now are not reported.

    Columns: service_id, period_start, period_end (dates), downtime_seconds, period_seconds,
    availability_pct, complete.
    """
    bounds = period_bounds(start, end, kind)
    return _availability_on_bounds(incidents, service_ids, bounds, to_ns(now), severities)


def _availability_on_bounds(
    incidents: pd.DataFrame,
    service_ids: Sequence[int],
    bounds: np.ndarray,
    now_ns: int,
    severities: Iterable[str],
) -> pd.DataFrame:
    # Keep the periods that have begun (the first one always, so an empty answer has columns).
    started = bounds[:-1] <= now_ns
    if not started.any():
        return _empty_availability()
    bounds = bounds[: int(np.flatnonzero(started)[-1]) + 2]
    services = pd.Index(np.asarray(service_ids, dtype=np.int64))
    n_services, n_periods = len(services), len(bounds) - 1
    downtime = np.zeros((n_services, n_periods))
    if len(incidents) and n_services:
        counted = incidents["severity"].isin(list(severities)).to_numpy()
        position = services.get_indexer(incidents["service_id"].to_numpy())
        keep = counted & (position >= 0)
        begins = _utc_ns(incidents["started_at"])[keep]
        finishes = _utc_ns(incidents["ended_at"])[keep]
        finishes = np.where(finishes == NAT, now_ns, finishes)
        # Downtime cannot be in the future, nor outside the periods asked about.
        finishes = np.minimum(finishes, min(now_ns, int(bounds[-1])))
        begins = np.maximum(begins, bounds[0])
        groups, lo, hi = merged_intervals(position[keep], begins, finishes)
        downtime = overlap_by_period(groups, lo, hi, bounds, n_services)
    length = np.diff(bounds) / NS_PER_SECOND
    starts = pd.to_datetime(bounds[:-1], unit="ns").date
    ends = pd.to_datetime(bounds[1:], unit="ns").date
    return pd.DataFrame(
        {
            "service_id": np.repeat(services.to_numpy(), n_periods),
            "period_start": np.tile(starts, n_services),
            "period_end": np.tile(ends, n_services),
            "downtime_seconds": downtime.ravel(),
            "period_seconds": np.tile(length, n_services),
            "availability_pct": (100.0 * (1.0 - downtime / length)).ravel(),
            "complete": np.tile(bounds[1:] <= now_ns, n_services),
        }
    )


def _empty_availability() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "service_id": pd.Series(dtype=np.int64),
            "period_start": pd.Series(dtype=object),
            "period_end": pd.Series(dtype=object),
            "downtime_seconds": pd.Series(dtype=float),
            "period_seconds": pd.Series(dtype=float),
            "availability_pct": pd.Series(dtype=float),
            "complete": pd.Series(dtype=bool),
        }
    )


# --- delays: acknowledge, notify, resolve -----------------------------------------------------


def incident_delays(incidents: pd.DataFrame, metric: str, now: datetime) -> pd.DataFrame:
    """Hours from started_at to the metric's timestamp for each incident.

    An incident not yet acknowledged, notified or ended counts with the time elapsed so far
    (`pending`): the delay is at least that, so a limit already passed is already missed.
    Columns: service_id, started_ns, hours, pending.
    """
    column = DELAY_END[Metric(metric)]
    begins = _utc_ns(incidents["started_at"])
    finishes = _utc_ns(incidents[column])
    pending = finishes == NAT
    finishes = np.where(pending, to_ns(now), finishes)
    hours = np.maximum(finishes - begins, 0) / NS_PER_HOUR
    return pd.DataFrame(
        {
            "service_id": incidents["service_id"].to_numpy(dtype=np.int64),
            "started_ns": begins,
            "hours": hours,
            "pending": pending,
        }
    )


def period_statistic(
    keys: Mapping[str, np.ndarray],
    moments_ns: np.ndarray,
    values: np.ndarray,
    bounds: np.ndarray,
    statistic: str,
    higher_is_better: bool,
) -> pd.DataFrame:
    """The statistic of values per key and period, each value falling at a moment.

    Columns: the key columns, period (index into bounds), value, count.
    """
    period = np.searchsorted(bounds, moments_ns, side="right") - 1
    inside = (period >= 0) & (period < len(bounds) - 1)
    frame = pd.DataFrame({name: np.asarray(column)[inside] for name, column in keys.items()})
    frame["period"] = period[inside]
    frame["value"] = np.asarray(values, dtype=float)[inside]
    columns = [*keys, "period"]
    if frame.empty:
        return frame.assign(count=pd.Series(dtype=np.int64))
    grouped = frame.groupby(columns)["value"]
    if statistic == "worst":
        stat = grouped.min() if higher_is_better else grouped.max()
    elif statistic == "mean":
        stat = grouped.mean()
    else:
        stat = grouped.quantile(int(statistic[1:]) / 100.0)
    return pd.DataFrame({"value": stat, "count": grouped.size()}).reset_index()


# --- comparing with targets -------------------------------------------------------------------


def meets(values: np.ndarray | float, comparator: str, threshold: float | np.ndarray) -> np.ndarray:
    """Whether each value meets its target (False for NaN; callers mask missing values)."""
    values = np.asarray(values, dtype=float)
    match Comparator(comparator):
        case Comparator.GTE:
            return values >= threshold
        case Comparator.GT:
            return values > threshold
        case Comparator.LTE:
            return values <= threshold
        case Comparator.LT:
            return values < threshold


def failure_is_final(metric: str, statistic: str, comparator: str) -> bool:
    """Whether a period already failing can no longer recover before it ends.

    Availability only falls as a period goes on (its denominator is the whole period), and the
    worst delay only grows: a miss is then certain before the period is over.
    """
    higher = Comparator(comparator).higher_is_better
    if Metric(metric) is Metric.AVAILABILITY:
        return higher
    return Metric(metric) in DELAY_METRICS and statistic == "worst" and not higher


EVALUATION_COLUMNS = (
    "kpi_id",
    "service_id",
    "period_start",
    "period_end",
    "value",
    "count",
    "met",
    "complete",
    "final",
)


def evaluate(
    specs: Sequence[KpiSpec],
    incidents: pd.DataFrame,
    measurements: pd.DataFrame,
    start: date,
    end: date,
    now: datetime,
) -> pd.DataFrame:
    """Each KPI in each of its periods meeting [start, end] that has begun.

    `value` is NaN where there is nothing to measure (no incident for a delay KPI, no
    measurement); `met` is then NA. `final` says the verdict will not change: the period is
    over, or the KPI already fails in a way that cannot recover (see failure_is_final).

    KPIs are computed in batches sharing a configuration, each batch vectorised over all its
    services and periods. `measurements` has columns service_id, code, period_start (date),
    value.
    """
    now_ns = to_ns(now)
    frames = []
    batches: dict[tuple[Any, ...], list[KpiSpec]] = {}
    for spec in specs:
        info = METRICS[Metric(spec.metric)]
        key: tuple[Any, ...] = (spec.metric, spec.period)
        if spec.metric == Metric.AVAILABILITY:
            key += (frozenset(spec.severities),)
        elif info.from_incidents:
            key += (frozenset(spec.severities), spec.statistic)
        else:
            key += (spec.statistic, Comparator(spec.comparator).higher_is_better)
        batches.setdefault(key, []).append(spec)
    for batch in batches.values():
        frames.append(_evaluate_batch(batch, incidents, measurements, start, end, now, now_ns))
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EVALUATION_COLUMNS})
    return pd.concat(frames, ignore_index=True)


def _evaluate_batch(
    batch: list[KpiSpec],
    incidents: pd.DataFrame,
    measurements: pd.DataFrame,
    start: date,
    end: date,
    now: datetime,
    now_ns: int,
) -> pd.DataFrame:
    first = batch[0]
    metric = Metric(first.metric)
    bounds = period_bounds(start, end, first.period)
    begun = bounds[:-1] <= now_ns
    if not begun.any():
        return pd.DataFrame({c: pd.Series(dtype=object) for c in EVALUATION_COLUMNS})
    bounds = bounds[: int(np.flatnonzero(begun)[-1]) + 2]
    n_periods = len(bounds) - 1
    specs = pd.DataFrame(
        {
            "kpi_id": [s.kpi_id for s in batch],
            "service_id": [s.service_id for s in batch],
            "comparator": [s.comparator for s in batch],
            "threshold": [float(s.threshold) for s in batch],
            "code": [s.measurement_code for s in batch],
        }
    )
    grid = specs.loc[specs.index.repeat(n_periods)].reset_index(drop=True)
    grid["period"] = np.tile(np.arange(n_periods), len(specs))

    if metric is Metric.AVAILABILITY:
        services = specs["service_id"].drop_duplicates().to_numpy()
        table = _availability_on_bounds(incidents, services, bounds, now_ns, first.severities)
        table["period"] = np.tile(np.arange(n_periods), len(services))
        table = table.rename(columns={"availability_pct": "value"})
        table["count"] = 1
        grid = grid.merge(table[["service_id", "period", "value", "count"]], how="left")
    elif metric in DELAY_METRICS:
        relevant = incidents[
            incidents["severity"].isin(list(first.severities))
            & incidents["service_id"].isin(specs["service_id"])
        ]
        delays = incident_delays(relevant, metric, now)
        stats = period_statistic(
            {"service_id": delays["service_id"].to_numpy()},
            delays["started_ns"].to_numpy(),
            delays["hours"].to_numpy(),
            bounds,
            first.statistic,
            higher_is_better=False,
        )
        grid = grid.merge(stats, how="left", on=["service_id", "period"])
    else:
        relevant = measurements.merge(
            specs[["service_id", "code"]].drop_duplicates(), on=["service_id", "code"]
        )
        moments = (
            pd.to_datetime(relevant["period_start"]).to_numpy().astype("datetime64[ns]")
        ).view(np.int64)
        stats = period_statistic(
            {
                "service_id": relevant["service_id"].to_numpy(dtype=np.int64),
                "code": relevant["code"].to_numpy(dtype=object),
            },
            moments,
            relevant["value"].to_numpy(dtype=float),
            bounds,
            first.statistic,
            higher_is_better=Comparator(first.comparator).higher_is_better,
        )
        grid = grid.merge(stats, how="left", on=["service_id", "code", "period"])

    value = grid["value"].to_numpy(dtype=float)
    has_value = ~np.isnan(value)
    comparators = grid["comparator"]
    passed = np.zeros(len(grid), dtype=bool)
    for comparator in comparators.unique():  # at most four
        rows = (comparators == comparator).to_numpy()
        passed[rows] = meets(value[rows], comparator, grid["threshold"].to_numpy()[rows])
    met = pd.array(passed, dtype="boolean")
    met[~has_value] = pd.NA
    complete = bounds[1:][grid["period"].to_numpy()] <= now_ns
    cannot_recover = comparators.map(
        {c: failure_is_final(first.metric, first.statistic, c) for c in comparators.unique()}
    ).to_numpy(dtype=bool)
    final = complete | (has_value & ~passed & cannot_recover)
    period_index = grid["period"].to_numpy()
    return pd.DataFrame(
        {
            "kpi_id": grid["kpi_id"].to_numpy(),
            "service_id": grid["service_id"].to_numpy(),
            "period_start": pd.to_datetime(bounds[:-1][period_index], unit="ns").date,
            "period_end": pd.to_datetime(bounds[1:][period_index], unit="ns").date,
            "value": value,
            "count": grid["count"].fillna(0).to_numpy(dtype=np.int64),
            "met": met,
            "complete": complete,
            "final": final,
        }
    )


# --- attainment for the portfolio heatmap -----------------------------------------------------


def attainment_by_month(
    evaluations: pd.DataFrame, group_of_service: Mapping[int, Any]
) -> pd.DataFrame:
    """Share (%) of KPI periods met per group (e.g. vendor) and calendar month.

    A quarterly KPI counts in each month of its quarter. Periods with nothing to measure are
    left out. Columns: group, month (date), attainment_pct, evaluated, missed.
    """
    rows = evaluations[evaluations["met"].notna()]
    if rows.empty:
        return pd.DataFrame(
            {
                "group": pd.Series(dtype=object),
                "month": pd.Series(dtype=object),
                "attainment_pct": pd.Series(dtype=float),
                "evaluated": pd.Series(dtype=np.int64),
                "missed": pd.Series(dtype=np.int64),
            }
        )
    first = np.array([_month_number(d) for d in rows["period_start"]], dtype=np.int64)
    last = np.array([_month_number(d) for d in rows["period_end"]], dtype=np.int64)
    spans = last - first
    piece = np.repeat(np.arange(len(rows)), spans)
    month = first[piece] + (np.arange(len(piece)) - np.repeat(np.cumsum(spans) - spans, spans))
    groups = rows["service_id"].map(group_of_service).to_numpy()[piece]
    met = rows["met"].to_numpy(dtype=bool)[piece]
    frame = pd.DataFrame({"group": groups, "month": month, "met": met})
    summary = frame.groupby(["group", "month"]).agg(evaluated=("met", "size"), hit=("met", "sum"))
    summary = summary.reset_index()
    summary["missed"] = summary["evaluated"] - summary["hit"]
    summary["attainment_pct"] = 100.0 * summary["hit"] / summary["evaluated"]
    summary["month"] = [_month_start(int(m)) for m in summary["month"]]
    return summary[["group", "month", "attainment_pct", "evaluated", "missed"]]


# --- what the portfolio may reuse ------------------------------------------------------------

FOREVER_NS = np.iinfo(np.int64).max


def _dates_ns(values: Iterable[date]) -> np.ndarray:
    """Dates as int64 ns of their UTC midnight."""
    days = np.array(list(values), dtype="datetime64[D]")
    return days.astype("datetime64[ns]").view(np.int64)


def _month_numbers(values: Iterable[date]) -> np.ndarray:
    months = np.array(list(values), dtype="datetime64[D]").astype("datetime64[M]")
    return months.astype(np.int64) + 1970 * 12


def moving_values(
    specs: Sequence[KpiSpec], incidents: pd.DataFrame, evaluations: pd.DataFrame, now: datetime
) -> np.ndarray:
    """Which evaluation rows (of `evaluate`) have a value that changes while time passes and
    no data change.

    Only two inputs move with the clock: an availability period in progress with an incident
    that is still open, or ends or starts later than now (its downtime grows up to now), and a
    delay whose end (acknowledged, notified, ended) is still missing (it is counted up to now).
    The check is per service and period, over the incidents the KPI counts.
    """
    flagged = np.zeros(len(evaluations), dtype=bool)
    if evaluations.empty or incidents.empty:
        return flagged
    now_ns = to_ns(now)
    spec_of = {s.kpi_id: s for s in specs}
    rows = pd.DataFrame(
        {
            "row": np.arange(len(evaluations)),
            "kpi_id": evaluations["kpi_id"].to_numpy(),
            "service_id": evaluations["service_id"].to_numpy(dtype=np.int64),
            "start_ns": _dates_ns(evaluations["period_start"]),
            "end_ns": _dates_ns(evaluations["period_end"]),
        }
    )
    started = _utc_ns(incidents["started_at"])
    service = incidents["service_id"].to_numpy(dtype=np.int64)
    severity = incidents["severity"].to_numpy()
    groups: dict[tuple[str, frozenset[str]], list[int]] = {}
    for kpi_id in rows["kpi_id"].unique():
        spec = spec_of[int(kpi_id)]
        metric = Metric(spec.metric)
        if metric is Metric.AVAILABILITY or metric in DELAY_METRICS:
            groups.setdefault((spec.metric, frozenset(spec.severities)), []).append(int(kpi_id))
    for (metric, severities), kpi_ids in groups.items():
        counted = np.isin(severity, list(severities))
        if Metric(metric) is Metric.AVAILABILITY:
            ended = _utc_ns(incidents["ended_at"])
            moving = counted & ((ended == NAT) | (ended > now_ns))
        else:
            moving = counted & (_utc_ns(incidents[DELAY_END[Metric(metric)]]) == NAT)
        if not moving.any():
            continue
        mine = rows[rows["kpi_id"].isin(kpi_ids)]
        pairs = mine.merge(
            pd.DataFrame({"service_id": service[moving], "started_ns": started[moving]}),
            on="service_id",
        )
        if Metric(metric) is Metric.AVAILABILITY:
            # The period is in progress and the incident began before it ends.
            hit = (pairs["end_ns"] > now_ns) & (pairs["started_ns"] < pairs["end_ns"])
        else:
            # A pending delay counts in the period in which its incident started.
            hit = (pairs["started_ns"] >= pairs["start_ns"]) & (
                pairs["started_ns"] < pairs["end_ns"]
            )
        flagged[pairs.loc[hit, "row"].to_numpy()] = True
    return flagged


def _stays_missed(specs: Sequence[KpiSpec], evaluations: pd.DataFrame) -> np.ndarray:
    """Rows that miss a target which time cannot bring back: availability only falls and
    delays only grow, so missing a target that asks for more availability or shorter delays
    is final for the data as they are."""
    spec_of = {s.kpi_id: s for s in specs}
    stays_missed = (
        evaluations["kpi_id"]
        .map(
            {
                k: Comparator(s.comparator).higher_is_better
                == (Metric(s.metric) is Metric.AVAILABILITY)
                for k, s in spec_of.items()
            }
        )
        .to_numpy(dtype=bool)
    )
    missed = evaluations["met"].eq(False).fillna(False).to_numpy(dtype=bool)
    return missed & stays_missed


def now_dependent(
    specs: Sequence[KpiSpec], incidents: pd.DataFrame, evaluations: pd.DataFrame, now: datetime
) -> np.ndarray:
    """Which evaluation rows could change verdict while time passes and no data change: those
    whose value moves (moving_values), unless they already miss for good."""
    if evaluations.empty:
        return np.zeros(0, dtype=bool)
    flagged = moving_values(specs, incidents, evaluations, now)
    return flagged & ~_stays_missed(specs, evaluations)


# A verdict computed from a moving value is trusted until one second before the value could
# first reach its target, far more than the rounding of the figures.
SAFETY_NS = NS_PER_SECOND


def verdict_valid_until(
    specs: Sequence[KpiSpec], incidents: pd.DataFrame, evaluations: pd.DataFrame, now: datetime
) -> np.ndarray:
    """Until when (int64 ns) each evaluation row's verdict holds if no data change: for good
    (FOREVER_NS) unless it is now_dependent; then until its value could first reach the
    target.

    A moving value changes at a bounded rate: downtime is a union of intervals clipped at
    now, so it grows by at most a second per second, and an availability of a period of
    length L falls by at most 100 / L percent per second; a pending delay grows by an hour
    per hour, and so do the worst, the mean and any percentile of delays that each grow so.
    So a verdict cannot change before |value - target| / rate has passed.
    """
    valid = np.full(len(evaluations), FOREVER_NS, dtype=np.int64)
    if evaluations.empty:
        return valid
    moving = now_dependent(specs, incidents, evaluations, now)
    if not moving.any():
        return valid
    now_ns = to_ns(now)
    spec_of = {s.kpi_id: s for s in specs}
    kpi_ids = evaluations["kpi_id"].to_numpy()[moving]
    values = evaluations["value"].to_numpy(dtype=float)[moving]
    thresholds = np.array([float(spec_of[int(k)].threshold) for k in kpi_ids])
    availability = np.array(
        [Metric(spec_of[int(k)].metric) is Metric.AVAILABILITY for k in kpi_ids], dtype=bool
    )
    length_s = (
        _dates_ns(evaluations["period_end"].to_numpy()[moving])
        - _dates_ns(evaluations["period_start"].to_numpy()[moving])
    ) / NS_PER_SECOND
    # Seconds for the value to move by one unit: percent of availability, hour of delay.
    per_unit = np.where(availability, length_s / 100.0, 3600.0)
    seconds = np.abs(values - thresholds) * per_unit
    margin = np.floor(seconds * NS_PER_SECOND) - SAFETY_NS
    margin = np.where(np.isnan(margin), 0, np.clip(margin, 0, FOREVER_NS - now_ns))
    valid[moving] = now_ns + margin.astype(np.int64)
    return valid


TALLY_COLUMNS = ("service_id", "month", "evaluated", "missed", "valid_until")


def monthly_tally(
    evaluations: pd.DataFrame, valid_until: np.ndarray, now: datetime
) -> pd.DataFrame:
    """Per service and calendar month: KPI periods with a verdict, how many missed, and until
    when that holds if no data change (int64 ns; FOREVER_NS for good).

    A quarterly KPI counts in each month of its quarter, as in attainment_by_month, whose
    figures per vendor are sums of these. A row holds until its `valid_until`
    (verdict_valid_until: for good unless its verdict moves with the clock), also once its
    period is over (a verdict depends on the value only, and the value of a period in
    progress is already taken over the whole period); a month that has not begun holds until
    it begins (its monthly KPIs start counting). `month` is a month number
    (year * 12 + month - 1).
    """
    if evaluations.empty:
        return pd.DataFrame({c: pd.Series(dtype=np.int64) for c in TALLY_COLUMNS})
    now_ns = to_ns(now)
    first = _month_numbers(evaluations["period_start"])
    spans = _month_numbers(evaluations["period_end"]) - first
    piece = np.repeat(np.arange(len(evaluations)), spans)
    month = first[piece] + (np.arange(len(piece)) - np.repeat(np.cumsum(spans) - spans, spans))
    met = evaluations["met"]
    valid = np.asarray(valid_until, dtype=np.int64)
    frame = pd.DataFrame(
        {
            "service_id": evaluations["service_id"].to_numpy(dtype=np.int64)[piece],
            "month": month,
            "evaluated": met.notna().to_numpy(dtype=np.int64)[piece],
            "missed": met.eq(False).fillna(False).to_numpy(dtype=np.int64)[piece],
            "valid_until": valid[piece],
        }
    )
    tally = (
        frame.groupby(["service_id", "month"])
        .agg(
            evaluated=("evaluated", "sum"),
            missed=("missed", "sum"),
            valid_until=("valid_until", "min"),
        )
        .reset_index()
    )
    begins = month_start_ns(tally["month"].to_numpy())
    tally["valid_until"] = np.where(
        begins > now_ns, np.minimum(tally["valid_until"], begins), tally["valid_until"]
    )
    return tally[list(TALLY_COLUMNS)]


def month_number(day: date) -> int:
    return _month_number(day)


def month_start(number: int) -> date:
    return _month_start(number)


def month_start_ns(numbers: np.ndarray) -> np.ndarray:
    """Midnight UTC of the first day of each month number, as int64 ns."""
    months = (np.asarray(numbers, dtype=np.int64) - 1970 * 12).astype("datetime64[M]")
    return months.astype("datetime64[ns]").view(np.int64)


# --- breaches ---------------------------------------------------------------------------------

TIER_SEVERITY = {"critical": "high", "high": "medium", "medium": "low", "low": "low"}
_ESCALATE = {"low": "medium", "medium": "high", "high": "critical", "critical": "critical"}


def shortfall_ratio(value: float, comparator: str, threshold: float, metric: str) -> float:
    """How far a value misses its target, relative to the room the target allows.

    Availability 99.0 % against 99.9 %: the downtime (1.0 %) is 10 times the budget (0.1 %).
    A delay of 12 h against 4 h: 3 times the limit.
    """
    if Metric(metric) is Metric.AVAILABILITY:
        budget = max(100.0 - threshold, 1e-9)
        return (100.0 - value) / budget
    if Comparator(comparator).higher_is_better:
        return threshold / value if value > 0 else math.inf
    return value / threshold if threshold > 0 else math.inf


def breach_severity(
    vendor_tier: str, value: float, comparator: str, threshold: float, metric: str
) -> str:
    """Finding severity for a breach: from the vendor's tier, one step up for a gross miss."""
    severity = TIER_SEVERITY.get(vendor_tier, "medium")
    if shortfall_ratio(value, comparator, threshold, metric) >= 2:
        severity = _ESCALATE[severity]
    return severity


def format_value(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if unit == "%":
        return f"{value:.3f}".rstrip("0").rstrip(".") + " %"
    if unit == "h":
        return f"{value:.2f} h"
    return f"{value:g} {unit}".strip()


# --- imports: parsing and checking rows -------------------------------------------------------


@dataclass(frozen=True)
class CellError:
    """A problem in one input row (0-based index) and field; field None for the whole row."""

    index: int
    field: str | None
    message: str


ISO_HINT = "an ISO 8601 date and time such as 2024-03-01T14:05:00+01:00"
# An offset after a time of day ("…T10:00:00+01:00", "…10:00Z"); a bare date has none.
_HAS_OFFSET = re.compile(
    r"\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?\s*(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE
)


def _as_ns(instants: pd.Series) -> pd.Series:
    """In nanoseconds; an instant outside that range (before 1677 or after 2262) becomes NaT,
    so it is reported as a bad value instead of overflowing."""
    low, high = pd.Timestamp.min.tz_localize(UTC), pd.Timestamp.max.tz_localize(UTC)
    return instants.where((instants >= low) & (instants <= high)).dt.as_unit("ns")


def parse_instants(values: pd.Series, naive_timezone: str | None) -> tuple[pd.Series, pd.Series]:
    """Instants in UTC from text (ISO 8601, any offset) or spreadsheet datetimes.

    Values without an offset are read in `naive_timezone` (an IANA name) or rejected when it is
    None. Returns (datetime64[ns, UTC] series with NaT for blanks and errors, error mask).
    """
    index = values.index
    blank = values.isna() | values.astype(str).str.strip().isin(["", "NaT", "nan", "None"])
    result = pd.Series(pd.NaT, index=index, dtype="datetime64[ns, UTC]")
    bad = pd.Series(False, index=index)
    present = values[~blank]
    if present.empty:
        return result, bad
    if pd.api.types.infer_dtype(present, skipna=False) == "string":  # text cells: no datetimes
        is_datetime = pd.Series(False, index=present.index)
    else:
        is_datetime = present.map(lambda v: isinstance(v, datetime | pd.Timestamp))
    text = present.astype(str).str.strip()
    aware = pd.Series(False, index=present.index)
    aware[~is_datetime] = text[~is_datetime].str.contains(_HAS_OFFSET)
    aware[is_datetime] = present[is_datetime].map(lambda v: v.tzinfo is not None)
    if aware.any():
        parsed = pd.to_datetime(text[aware], format="ISO8601", utc=True, errors="coerce")
        result[aware[aware].index] = _as_ns(parsed)
    naive = ~aware
    if naive.any():
        if naive_timezone is None:
            bad[naive[naive].index] = True
        else:
            result[naive[naive].index] = _localize(text[naive], naive_timezone)
    bad = bad | (~blank & result.isna())
    return result, bad


def _localize(text: pd.Series, timezone: str) -> pd.Series:
    """Local times read in `timezone`, in UTC nanoseconds. A value that pandas reads with an
    offset _HAS_OFFSET does not know ("…T10Z") becomes NaT: it is reported, not guessed at."""
    try:
        local = pd.to_datetime(text, format="ISO8601", errors="coerce")
        if local.dt.tz is None:
            local = local.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="NaT")
            return _as_ns(local.dt.tz_convert(UTC))
    except ValueError:  # local times mixed with such offsets: read them one by one
        pass
    if len(text) == 1:
        return pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns, UTC]")
    return pd.concat([_localize(text.iloc[[i]], timezone) for i in range(len(text))])


def _text(values: pd.Series) -> pd.Series:
    out = values.astype(object).where(values.notna(), "")
    if pd.api.types.infer_dtype(out, skipna=False) != "string":  # CSV cells are text already
        out = out.map(lambda v: v if isinstance(v, str) else str(v))
    return out.str.strip()


def _number_text(values: pd.Series) -> pd.Series:
    """Ids typed into spreadsheets come back as 12.0: show them as 12."""

    def clean(v: Any) -> Any:
        if isinstance(v, float) and v.is_integer():
            return str(int(v))
        return v

    return _text(values.map(clean))


@dataclass(frozen=True)
class ServiceLookup:
    """How an import names vendor services: by id or by unique name (lower-case)."""

    by_key: Mapping[str, int]
    ambiguous: frozenset[str] = frozenset()

    def resolve(self, key: str) -> tuple[int | None, str | None]:
        folded = key.strip().lower()
        if folded in self.ambiguous:
            return None, f"The name {key!r} matches several vendor services; use the service id."
        found = self.by_key.get(folded)
        if found is None:
            return None, f"No vendor service {key!r} (by id or name) that you may report on."
        return found, None


@dataclass
class ParsedRows:
    frame: pd.DataFrame
    errors: list[CellError] = field(default_factory=list)


INCIDENT_FIELDS = (
    "vendor_service",
    "external_id",
    "title",
    "severity",
    "started_at",
    "acknowledged_at",
    "notified_at",
    "ended_at",
    "description",
)
INCIDENT_REQUIRED = ("vendor_service", "external_id", "title", "severity", "started_at")
MEASUREMENT_FIELDS = ("vendor_service", "code", "period_start", "value", "note")
MEASUREMENT_REQUIRED = ("vendor_service", "code", "period_start", "value")
FIELD_LABELS = {
    "vendor_service": "Vendor service",
    "external_id": "External id",
    "title": "Title",
    "severity": "Severity",
    "started_at": "Started at",
    "acknowledged_at": "Acknowledged at",
    "notified_at": "Notified at",
    "ended_at": "Ended at",
    "description": "Description",
    "code": "KPI code",
    "period_start": "Period start",
    "value": "Value",
    "note": "Note",
}
MAX_LENGTHS = {"external_id": 200, "title": 300, "description": 10_000, "note": 2000}


def _add(errors: list[CellError], mask: pd.Series, field_name: str, message: Any) -> None:
    """Record one error per row where mask holds; message may depend on the row's value."""
    for index in np.flatnonzero(mask.to_numpy()):
        text = message(int(index)) if callable(message) else message
        errors.append(CellError(int(index), field_name, text))


def _resolve_services(
    frame: pd.DataFrame, lookup: ServiceLookup, errors: list[CellError]
) -> pd.Series:
    keys = _number_text(frame["vendor_service"])
    # A file names a few thousand services at most, over up to 100,000 rows: resolve each once.
    answers = {k: lookup.resolve(k) if k else (None, None) for k in keys.unique()}
    ids = keys.map({k: found for k, (found, _) in answers.items()})
    unresolved = {k: problem for k, (found, problem) in answers.items() if k and found is None}
    if unresolved:
        for index, key in enumerate(keys):
            if key in unresolved:
                message = unresolved[key] or "Unknown vendor service."
                errors.append(CellError(index, "vendor_service", message))
    return ids


def _required(frame: pd.DataFrame, fields: Sequence[str], errors: list[CellError]) -> None:
    for name in fields:
        _add(errors, _text(frame[name]) == "", name, "This value is required.")


def _lengths(frame: pd.DataFrame, errors: list[CellError]) -> None:
    for name, limit in MAX_LENGTHS.items():
        if name in frame:
            _add(errors, _text(frame[name]).str.len() > limit, name, f"At most {limit} characters.")


def _duplicates(keys: pd.DataFrame, field_name: str, what: str, errors: list[CellError]) -> None:
    complete = keys.notna().all(axis=1)
    dup = keys.duplicated(keep="first") & complete
    if dup.any():
        first_of = (
            keys[complete].reset_index().groupby(list(keys.columns))["index"].transform("min")
        )
        first_index = pd.Series(first_of.to_numpy(), index=keys[complete].index)
        for index in np.flatnonzero(dup.to_numpy()):
            errors.append(
                CellError(
                    int(index),
                    field_name,
                    f"Duplicate {what}: the same as input row index {int(first_index[index])}.",
                )
            )


def parse_incidents(
    raw: pd.DataFrame, lookup: ServiceLookup, naive_timezone: str | None
) -> ParsedRows:
    """Check incident rows (columns named as INCIDENT_FIELDS) and convert them.

    Every problem is reported with its row index and field; nothing is dropped silently.
    The result frame has service_id, external_id, title, severity, description and the four
    instants in UTC.
    """
    frame = raw.reset_index(drop=True).copy()
    for name in INCIDENT_FIELDS:
        if name not in frame:
            frame[name] = None
    errors: list[CellError] = []
    _required(frame, INCIDENT_REQUIRED, errors)
    _lengths(frame, errors)
    service_id = _resolve_services(frame, lookup, errors)
    severity = _text(frame["severity"]).str.lower()
    allowed = {s.value for s in IncidentSeverity}
    _add(
        errors,
        (severity != "") & ~severity.isin(allowed),
        "severity",
        lambda i: (
            f"{frame['severity'].iloc[i]!r} is not a severity; use one of "
            + ", ".join(s.value for s in IncidentSeverity)
            + "."
        ),
    )
    instants: dict[str, pd.Series] = {}
    for name in INCIDENT_TIME_COLUMNS:
        parsed, bad = parse_instants(frame[name], naive_timezone)
        hint = (
            f"Not a date and time; expected {ISO_HINT}."
            if naive_timezone
            else f"Not a date and time with a UTC offset; expected {ISO_HINT}."
        )
        _add(errors, bad, name, lambda i, name=name, hint=hint: f"{frame[name].iloc[i]!r}: {hint}")
        instants[name] = parsed
    started = instants["started_at"]
    for name, what in (
        ("ended_at", "ends"),
        ("acknowledged_at", "is acknowledged"),
        ("notified_at", "is notified"),
    ):
        before = instants[name].notna() & started.notna() & (instants[name] < started)
        _add(errors, before, name, f"The incident {what} before it started.")
    external_id = _text(frame["external_id"])
    keys = pd.DataFrame({"service": service_id, "external_id": external_id.replace("", None)})
    _duplicates(keys, "external_id", "incident (same vendor service and external id)", errors)
    out = pd.DataFrame(
        {
            "service_id": service_id,
            "external_id": external_id,
            "title": _text(frame["title"]),
            "severity": severity,
            "description": _text(frame["description"]).replace("", None),
            **instants,
        }
    )
    return ParsedRows(out, sorted(errors, key=lambda e: (e.index, e.field or "")))


def parse_measurements(
    raw: pd.DataFrame, lookup: ServiceLookup, known_codes: Mapping[int, set[str]]
) -> ParsedRows:
    """Check measurement rows (columns as MEASUREMENT_FIELDS): each names a KPI code defined
    for its vendor service, a period start date and a number."""
    frame = raw.reset_index(drop=True).copy()
    for name in MEASUREMENT_FIELDS:
        if name not in frame:
            frame[name] = None
    errors: list[CellError] = []
    _required(frame, MEASUREMENT_REQUIRED, errors)
    _lengths(frame, errors)
    service_id = _resolve_services(frame, lookup, errors)
    code = _text(frame["code"]).str.lower()
    unknown = pd.Series(
        [
            bool(c) and s is not None and not pd.isna(s) and c not in known_codes.get(int(s), set())
            for c, s in zip(code, service_id, strict=True)
        ]
    )
    _add(
        errors,
        unknown,
        "code",
        lambda i: (
            f"No KPI with code {code.iloc[i]!r} is defined for this vendor service; "
            "define the KPI first."
        ),
    )
    day_text = _text(
        frame["period_start"].map(lambda v: v.date() if isinstance(v, datetime) else v)
    )
    days = pd.to_datetime(day_text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
    bad_day = (day_text != "") & (days.isna() | (day_text.str.len() > 10))
    _add(
        errors,
        bad_day,
        "period_start",
        lambda i: f"{frame['period_start'].iloc[i]!r} is not a date; use YYYY-MM-DD.",
    )
    value_text = _text(frame["value"])
    values = pd.to_numeric(value_text.str.replace(",", ".", regex=False), errors="coerce")
    bad_value = (value_text != "") & (values.isna() | ~np.isfinite(values.fillna(0)))
    _add(errors, bad_value, "value", lambda i: f"{frame['value'].iloc[i]!r} is not a number.")
    period_start = days.dt.date.where(days.notna(), None)
    keys = pd.DataFrame(
        {"service": service_id, "code": code.replace("", None), "day": period_start}
    )
    _duplicates(keys, "period_start", "measurement (same service, KPI code and period)", errors)
    out = pd.DataFrame(
        {
            "service_id": service_id,
            "code": code,
            "period_start": period_start,
            "value": values,
            "note": _text(frame["note"]).replace("", None),
        }
    )
    return ParsedRows(out, sorted(errors, key=lambda e: (e.index, e.field or "")))


# --- the column-mapping step ------------------------------------------------------------------

_SYNONYMS = {
    "vendor_service": ("vendor_service", "service", "service_id", "vendor_service_id"),
    "external_id": ("external_id", "id", "incident_id", "reference", "ticket", "number"),
    "title": ("title", "summary", "name", "subject", "external_desc"),
    "severity": ("severity", "priority", "impact"),
    "started_at": ("started_at", "start", "begin", "started", "start_time", "opened_at"),
    "acknowledged_at": ("acknowledged_at", "acknowledged", "ack", "ack_at"),
    "notified_at": ("notified_at", "notified", "notification", "customer_notified_at"),
    "ended_at": ("ended_at", "end", "ended", "end_time", "resolved_at", "resolved", "closed_at"),
    "description": ("description", "details", "notes"),
    "code": ("code", "kpi", "kpi_code", "metric"),
    "period_start": ("period_start", "period", "month", "date"),
    "value": ("value", "measurement", "result"),
    "note": ("note", "notes", "comment"),
}


def _fold(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", str(name).strip().lower()).strip("_")


def guess_mapping(columns: Sequence[str], fields: Sequence[str]) -> dict[str, str]:
    """A first guess of which file column holds each field, from common header names."""
    folded = {_fold(c): c for c in columns}
    mapping: dict[str, str] = {}
    used: set[str] = set()
    for name in fields:
        for candidate in _SYNONYMS.get(name, (name,)):
            column = folded.get(candidate)
            if column is not None and column not in used:
                mapping[name] = column
                used.add(column)
                break
    return mapping


def apply_mapping(
    table: pd.DataFrame, mapping: Mapping[str, str], fields: Sequence[str]
) -> tuple[pd.DataFrame, list[str]]:
    """Rename the file's columns to fields; returns the frame and problems with the mapping."""
    problems = []
    out = pd.DataFrame(index=table.index)
    for name in fields:
        column = mapping.get(name)
        if not column:
            continue
        if column not in table.columns:
            problems.append(f"The file has no column {column!r} (chosen for {FIELD_LABELS[name]}).")
            continue
        out[name] = table[column]
    return out, problems


# --- status feeds (Google Cloud's incidents.json and the same shape elsewhere) ----------------


def status_feed_severities(disruption: str = "minor") -> dict[str, str]:
    """Feed severity -> incident severity. An outage (high) is critical, information (low)
    minor. A disruption (medium) is partial: some customers, some features, often for days
    (Google's include a mispriced SKU open 88 hours). Recorded as minor by default so that it
    is not downtime; `major` when the contract counts disruptions as downtime."""
    if disruption not in ("minor", "major"):
        raise ValueError("a disruption is recorded as minor or major")
    return {"high": "critical", "medium": disruption, "low": "minor"}


def status_feed_frame(
    feed: Sequence[Mapping[str, Any]],
    products: Iterable[str] = (),
    locations: Iterable[str] = (),
    disruption: str = "minor",
) -> pd.DataFrame:
    """Incident rows (INCIDENT_FIELDS except vendor_service) from a status-page history.

    Google Cloud's format: `id`, `begin`, `end` (empty while ongoing), `created` (first public
    post: when customers were told), `severity` high/medium/low (outage, disruption,
    information), `service_name`, `affected_products`, `previously_affected_locations`.
    Optional filters keep incidents affecting one of the named products (title or id) or
    locations (id such as europe-west1); an incident naming no location affects all.
    """
    severities = status_feed_severities(disruption)
    wanted_products = {p.strip().lower() for p in products if p.strip()}
    wanted_locations = {loc.strip().lower() for loc in locations if loc.strip()}
    rows = []
    positions = []
    for position, item in enumerate(feed):
        names = {str(item.get("service_name", "")).lower()}
        for product in item.get("affected_products") or []:
            names.add(str(product.get("title", "")).lower())
            names.add(str(product.get("id", "")).lower())
        places = {
            str(loc.get("id", "")).lower()
            for loc in (item.get("previously_affected_locations") or [])
            + (item.get("currently_affected_locations") or [])
        }
        if wanted_products and not names & wanted_products:
            continue
        if wanted_locations and places and not places & wanted_locations:
            continue
        severity = str(item.get("severity", "")).lower()
        title = str(item.get("external_desc") or item.get("service_name") or "").strip()
        told = _not_before(item.get("created"), item.get("begin"))
        positions.append(position)
        rows.append(
            {
                "external_id": item.get("id") or item.get("number"),
                "title": " ".join(title.split())[:300],
                "severity": severities.get(severity, severity),
                "started_at": item.get("begin"),
                # The first public post is the vendor's acknowledgement and its notification.
                "acknowledged_at": told,
                "notified_at": told,
                "ended_at": item.get("end") or None,
                "description": _feed_description(item),
            }
        )
    # The index keeps each incident's position in the feed, for error messages.
    return pd.DataFrame(
        rows, columns=[f for f in INCIDENT_FIELDS if f != "vendor_service"], index=positions
    )


def _not_before(posted: Any, begin: Any) -> Any:
    """The first post, or the declared start when the post came earlier: providers revise
    `begin` after posting (Google did on 2021-09-17), and telling customers before the start
    they later declare is a delay of zero, not a notification before the incident."""
    try:
        if posted and begin and pd.Timestamp(posted) < pd.Timestamp(begin):
            return begin
    except (ValueError, TypeError):
        pass  # unparseable: left for parse_incidents to report with its item number
    return posted


def _feed_description(item: Mapping[str, Any]) -> str:
    products = ", ".join(p.get("title", "") for p in item.get("affected_products") or [])
    latest = (item.get("most_recent_update") or {}).get("text") or ""
    parts = [f"Products: {products}" if products else "", latest.strip()]
    return "\n\n".join(p for p in parts if p)[:10_000]


def feed_problem(data: Any) -> str | None:
    if not isinstance(data, list):
        return "A status feed is a JSON list of incidents."
    for position, item in enumerate(data):
        if not isinstance(item, dict) or "begin" not in item or "id" not in item:
            return (
                f"Item {position} of the feed is not a status-page incident "
                "(it needs at least 'id' and 'begin')."
            )
        problem = _feed_item_problem(item)
        if problem:
            return f"Item {position} of the feed: {problem}"
    return None


_FEED_LISTS = ("affected_products", "previously_affected_locations", "currently_affected_locations")
_FEED_VALUES = ("id", "number", "begin", "created", "end", "severity", "service_name")


def _feed_item_problem(item: Mapping[str, Any]) -> str | None:
    """The shape status_feed_frame relies on: lists of objects, an update object, text values."""
    for key in _FEED_LISTS:
        value = item.get(key)
        if value is not None and not (
            isinstance(value, list) and all(isinstance(v, dict) for v in value)
        ):
            return f"'{key}' must be a list of objects."
    if any(not isinstance(p.get("title", ""), str) for p in item.get("affected_products") or []):
        return "each affected product's 'title' must be text."
    update = item.get("most_recent_update")
    if update is not None and not (
        isinstance(update, dict) and isinstance(update.get("text") or "", str)
    ):
        return "'most_recent_update' must be an object whose 'text' is text."
    for key in (*_FEED_VALUES, "external_desc"):
        if isinstance(item.get(key), dict | list):
            return f"'{key}' must be a single value, not {type(item[key]).__name__}."
    return None


def months_back(today: date, count: int) -> date:
    """The first day of the month `count - 1` months before today's month."""
    return _month_start(_month_number(today) - (count - 1))


def end_of_day(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
