"""What the portfolio may reuse between requests: monthly tallies and their validity.

The portfolio sums per-service monthly tallies (domain.monthly_tally) and keeps them until the
data change or, for the few that move with the clock (domain.now_dependent), until their value
could first reach the target (domain.verdict_valid_until). These properties are what makes that
exact: the sums equal attainment_by_month, and a tally said to hold until some time gives the
same figures when computed afresh at any moment before it, with the same data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vendor_portal.kpis.domain import (
    FOREVER_NS,
    KpiSpec,
    attainment_by_month,
    evaluate,
    incident_frame,
    month_start,
    monthly_tally,
    now_dependent,
    to_ns,
    verdict_valid_until,
)

NOW = datetime(2024, 6, 15, 12, tzinfo=UTC)
START, END = date(2024, 1, 1), date(2024, 9, 30)
SEVERITIES = ("minor", "major", "critical")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def frame(rows):
    keys = ("service_id", "severity", "started_at", "acknowledged_at", "notified_at", "ended_at")
    return incident_frame([dict(zip(keys, row, strict=True)) for row in rows])


def measurements(rows=()):
    return pd.DataFrame(rows, columns=["service_id", "code", "period_start", "value"]).astype(
        {"service_id": np.int64, "value": float}
    )


@st.composite
def portfolios(draw):
    services = draw(st.integers(1, 3))
    specs = []
    for service in range(1, services + 1):
        metrics = draw(
            st.lists(
                st.sampled_from(
                    ["availability", "time_to_acknowledge", "time_to_notify", "on_time_delivery"]
                ),
                min_size=1,
                max_size=4,
                unique=True,
            )
        )
        for metric in metrics:
            period = draw(st.sampled_from(["month", "quarter"]))
            comparator = draw(st.sampled_from(["gte", "gt", "lte", "lt"]))
            if metric == "availability":
                threshold = draw(st.sampled_from([99.0, 99.9, 100.0]))
            elif metric == "on_time_delivery":
                threshold = 90.0
            else:
                threshold = draw(st.sampled_from([0.5, 2.0, 48.0]))
            specs.append(
                KpiSpec(
                    kpi_id=len(specs) + 1,
                    service_id=service,
                    metric=metric,
                    comparator=comparator,
                    threshold=threshold,
                    period=period,
                    statistic=draw(st.sampled_from(["worst", "mean", "p90"])),
                    severities=frozenset(
                        draw(st.lists(st.sampled_from(SEVERITIES), min_size=1, unique=True))
                    ),
                    code=metric,
                )
            )
    minutes = st.integers(0, 60 * 24 * 260)  # from 2024-01-01, past NOW and `later`
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        begin = at(2024, 1, 1) + timedelta(minutes=draw(minutes))
        span = draw(st.one_of(st.none(), st.integers(1, 60 * 24 * 50)))
        ack = draw(st.one_of(st.none(), st.integers(0, 60 * 72)))
        told = draw(st.one_of(st.none(), st.integers(0, 60 * 72)))
        rows.append(
            (
                draw(st.integers(1, services)),
                draw(st.sampled_from(SEVERITIES)),
                begin,
                None if ack is None else begin + timedelta(minutes=ack),
                None if told is None else begin + timedelta(minutes=told),
                None if span is None else begin + timedelta(minutes=span),
            )
        )
    values = [
        (service, "on_time_delivery", date(2024, month, 1), draw(st.sampled_from([80.0, 95.0])))
        for service in range(1, services + 1)
        for month in draw(st.lists(st.integers(1, 9), unique=True, max_size=4))
    ]
    later = NOW + timedelta(minutes=draw(st.integers(1, 60 * 24 * 45)))
    return specs, frame(rows), measurements(values), later


def tallies(specs, incidents, measured, now):
    evaluations = evaluate(specs, incidents, measured, START, END, now)
    valid_until = verdict_valid_until(specs, incidents, evaluations, now)
    return evaluations, monthly_tally(evaluations, valid_until, now)


def assert_holds_at(specs, incidents, measured, before, later):
    _, after = tallies(specs, incidents, measured, later)
    fresh = {(r.service_id, r.month): (r.evaluated, r.missed) for r in after.itertuples()}
    later_ns = to_ns(later)
    for row in before.itertuples():
        if row.valid_until > later_ns:
            assert fresh.get((row.service_id, row.month)) == (row.evaluated, row.missed), row


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios())
def test_a_tally_holds_until_its_validity_ends(case):
    specs, incidents, measured, later = case
    _, before = tallies(specs, incidents, measured, NOW)
    assert_holds_at(specs, incidents, measured, before, later)
    # The last moment a tally that moves with the clock is said to hold: the margin is tight.
    limits = {int(v) for v in before["valid_until"] if to_ns(NOW) < v < FOREVER_NS}
    for limit in sorted(limits)[:3]:
        moment = pd.Timestamp(limit - 1, unit="ns", tz="UTC").to_pydatetime(warn=False)
        assert_holds_at(specs, incidents, measured, before, moment)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(portfolios())
def test_tallies_sum_to_the_attainment_per_vendor_and_month(case):
    specs, incidents, measured, _ = case
    evaluations, tally = tallies(specs, incidents, measured, NOW)
    vendor_of = {1: "a", 2: "b", 3: "a"}
    expected = {
        (r.group, r.month): (int(r.evaluated), int(r.missed))
        for r in attainment_by_month(evaluations, vendor_of).itertuples()
    }
    summed: dict = {}
    for row in tally.itertuples():
        if row.evaluated:
            key = (vendor_of[row.service_id], month_start(int(row.month)))
            evaluated, missed = summed.get(key, (0, 0))
            summed[key] = (evaluated + int(row.evaluated), missed + int(row.missed))
    assert summed == expected


def test_an_open_incident_moves_a_met_availability_but_not_a_missed_one():
    specs = [
        KpiSpec(1, 1, "availability", "gte", 99.0, severities=frozenset({"major"})),
        KpiSpec(2, 2, "availability", "gte", 99.0, severities=frozenset({"major"})),
    ]
    incidents = frame(
        [
            (1, "major", at(2024, 6, 15, 11), None, None, None),  # open for an hour: met so far
            (2, "major", at(2024, 6, 1), None, None, None),  # open for two weeks: missed for good
            (2, "minor", at(2024, 5, 1), None, None, None),  # not counted
        ]
    )
    evaluations, tally = tallies(specs, incidents, measurements(), NOW)
    june = {
        r.kpi_id: i for i, r in enumerate(evaluations.itertuples()) if r.period_start.month == 6
    }
    moving = now_dependent(specs, incidents, evaluations, NOW)
    assert moving[june[1]] and not moving[june[2]]
    assert moving.sum() == 1  # complete months never move
    by_key = {(r.service_id, r.month): r.valid_until for r in tally.itertuples()}
    june_number = 2024 * 12 + 5
    # 99 % of June allows 7.2 h down, one hour used: it holds until 6.2 h from now at most.
    assert by_key[(1, june_number)] == to_ns(NOW + timedelta(hours=6, minutes=12, seconds=-1))
    assert by_key[(2, june_number)] == FOREVER_NS
    # July and later have not begun: nothing to tally yet.
    assert max(r.month for r in tally.itertuples()) == june_number


def test_a_pending_notification_moves_its_period_until_it_misses():
    specs = [KpiSpec(1, 1, "time_to_notify", "lte", 4.0, severities=frozenset({"major"}))]
    incidents = frame(
        [
            (1, "major", at(2024, 6, 15, 10), None, None, None),  # 2 h, still within 4 h
            (1, "major", at(2024, 5, 2), None, None, at(2024, 5, 3)),  # never notified: missed
        ]
    )
    evaluations, _ = tallies(specs, incidents, measurements(), NOW)
    moving = dict(
        zip(
            evaluations["period_start"],
            now_dependent(specs, incidents, evaluations, NOW),
            strict=True,
        )
    )
    assert moving == {
        date(2024, 1, 1): False,
        date(2024, 2, 1): False,
        date(2024, 3, 1): False,
        date(2024, 4, 1): False,
        date(2024, 5, 1): False,
        date(2024, 6, 1): True,
    }


def test_a_met_target_with_an_open_incident_holds_until_the_downtime_could_reach_it():
    # 99 % of June (30 days) allows 7.2 h down; an outage open since 10:00 has used 2 h at NOW.
    specs = [KpiSpec(1, 1, "availability", "gte", 99.0, severities=frozenset({"major"}))]
    incidents = frame([(1, "major", at(2024, 6, 15, 10), None, None, None)])
    _, tally = tallies(specs, incidents, measurements(), NOW)
    june = tally[tally["month"] == 2024 * 12 + 5].iloc[0]
    expected = NOW + timedelta(hours=5, minutes=12) - timedelta(seconds=1)
    assert abs(int(june["valid_until"]) - to_ns(expected)) < 1_000_000  # to the millisecond
    assert_holds_at(specs, incidents, measurements(), tally, expected)
    _, later = tallies(specs, incidents, measurements(), NOW + timedelta(hours=5, minutes=13))
    assert later[later["month"] == 2024 * 12 + 5].iloc[0]["missed"] == 1  # and then it misses


def test_a_pending_acknowledgement_holds_until_its_limit():
    specs = [KpiSpec(1, 1, "time_to_acknowledge", "lte", 2.0, severities=frozenset({"major"}))]
    incidents = frame([(1, "major", at(2024, 6, 15, 11, 30), None, None, at(2024, 6, 15, 11, 45))])
    _, tally = tallies(specs, incidents, measurements(), NOW)
    june = tally[tally["month"] == 2024 * 12 + 5].iloc[0]
    assert (june["evaluated"], june["missed"]) == (1, 0)
    expected = at(2024, 6, 15, 13, 30) - timedelta(seconds=1)
    assert abs(int(june["valid_until"]) - to_ns(expected)) < 1_000_000
