"""Delays, measurement KPIs, targets, attainment and breach severity: hand-computed cases."""

from __future__ import annotations

from datetime import UTC, date, datetime

import numpy as np
import pandas as pd
import pytest

from vendor_portal.kpis.domain import (
    KpiSpec,
    attainment_by_month,
    breach_severity,
    evaluate,
    failure_is_final,
    format_value,
    incident_delays,
    incident_frame,
    meets,
    period_label,
    period_start_for,
    shortfall_ratio,
    statistic_problem,
)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


NOW = at(2024, 6, 15, 12)
NO_MEASUREMENTS = pd.DataFrame(
    {"service_id": [], "code": [], "period_start": [], "value": []}
).astype({"service_id": np.int64, "value": float})


def incidents(*rows):
    keys = ("service_id", "severity", "started_at", "acknowledged_at", "notified_at", "ended_at")
    return incident_frame([dict(zip(keys, row, strict=True)) for row in rows])


def by_period(frame):
    return {
        (int(r.kpi_id), r.period_start): (
            r.value,
            pd.NA if r.met is pd.NA else bool(r.met),
            bool(r.final),
        )
        for r in frame.itertuples()
    }


def test_delays_are_hours_from_start_and_pending_ones_run_to_now():
    frame = incidents(
        (1, "major", at(2024, 6, 1, 8), at(2024, 6, 1, 8, 30), at(2024, 6, 1, 11), None),
        (1, "critical", at(2024, 6, 15, 10), None, None, None),
    )
    ack = incident_delays(frame, "time_to_acknowledge", NOW)
    assert list(ack["hours"]) == [0.5, 2.0] and list(ack["pending"]) == [False, True]
    notify = incident_delays(frame, "time_to_notify", NOW)
    assert list(notify["hours"]) == [3.0, 2.0]
    resolve = incident_delays(frame, "time_to_resolve", NOW)
    assert list(resolve["hours"]) == [(14 * 24 + 4), 2.0]


def test_time_to_notify_worst_and_percentile_per_month_against_the_limit():
    frame = incidents(
        # May: notified after 1, 2, 3 and 10 hours; a minor one is not counted by default.
        (7, "major", at(2024, 5, 1), None, at(2024, 5, 1, 1), at(2024, 5, 1, 2)),
        (7, "major", at(2024, 5, 2), None, at(2024, 5, 2, 2), at(2024, 5, 2, 3)),
        (7, "critical", at(2024, 5, 3), None, at(2024, 5, 3, 3), at(2024, 5, 3, 4)),
        (7, "critical", at(2024, 5, 31, 23), None, at(2024, 6, 1, 9), at(2024, 6, 1, 10)),
        (7, "minor", at(2024, 5, 4), None, at(2024, 5, 9), at(2024, 5, 9)),
        # April: one incident, notified within 2 hours.
        (7, "major", at(2024, 4, 10), None, at(2024, 4, 10, 2), at(2024, 4, 10, 3)),
    )
    specs = [
        KpiSpec(1, 7, "time_to_notify", "lte", 4.0, statistic="worst"),
        KpiSpec(2, 7, "time_to_notify", "lte", 4.0, statistic="p50"),
    ]
    result = by_period(
        evaluate(specs, frame, NO_MEASUREMENTS, date(2024, 3, 1), date(2024, 5, 31), NOW)
    )
    # The May incident notified in June belongs to May, the month it started.
    assert result[(1, date(2024, 5, 1))] == (10.0, False, True)
    assert result[(2, date(2024, 5, 1))] == (2.5, True, True)  # median of 1, 2, 3, 10
    assert result[(1, date(2024, 4, 1))] == (2.0, True, True)
    value, met, final = result[(1, date(2024, 3, 1))]  # nothing to measure
    assert np.isnan(value) and met is pd.NA and final


def test_an_unnotified_incident_already_past_the_limit_fails_the_month_in_progress():
    frame = incidents((3, "critical", at(2024, 6, 14), None, None, None))
    spec = KpiSpec(5, 3, "time_to_notify", "lte", 24.0)
    result = by_period(
        evaluate([spec], frame, NO_MEASUREMENTS, date(2024, 6, 1), date(2024, 6, 30), NOW)
    )
    assert result[(5, date(2024, 6, 1))] == (36.0, False, True)
    # With a median the verdict could still change before the month ends.
    median = KpiSpec(6, 3, "time_to_notify", "lte", 24.0, statistic="p50")
    result = by_period(
        evaluate([median], frame, NO_MEASUREMENTS, date(2024, 6, 1), date(2024, 6, 30), NOW)
    )
    assert result[(6, date(2024, 6, 1))] == (36.0, False, False)


def test_availability_kpis_with_their_own_severities_and_periods():
    frame = incidents(
        (1, "minor", at(2024, 4, 1), None, None, at(2024, 4, 1, 6)),
        (1, "major", at(2024, 5, 1), None, None, at(2024, 5, 1, 1)),
    )
    specs = [
        KpiSpec(1, 1, "availability", "gte", 99.9),
        KpiSpec(2, 1, "availability", "gte", 99.9, severities=frozenset({"minor", "major"})),
        KpiSpec(3, 1, "availability", "gte", 99.95, period="quarter"),
    ]
    result = by_period(
        evaluate(specs, frame, NO_MEASUREMENTS, date(2024, 4, 1), date(2024, 5, 31), NOW)
    )
    assert result[(1, date(2024, 4, 1))] == (100.0, True, True)
    value, met, _ = result[(2, date(2024, 4, 1))]
    assert value == pytest.approx(100 * (1 - 6 / 720)) and met is False
    # One hour is more than the 44.64 minutes a 99.9 % target allows in a 31-day month.
    value, met, _ = result[(1, date(2024, 5, 1))]
    assert value == pytest.approx(100 * (1 - 1 / 744)) and met is False
    # Q2 2024 is 91 days: 1 hour of downtime is 99.954 %; in progress, not yet final.
    value, met, final = result[(3, date(2024, 4, 1))]
    assert value == pytest.approx(100 * (1 - 1 / (91 * 24))) and met is True and not final


def test_availability_already_below_target_mid_month_is_final():
    frame = incidents((1, "critical", at(2024, 6, 2), None, None, at(2024, 6, 3)))
    spec = KpiSpec(1, 1, "availability", "gte", 99.9)
    result = by_period(
        evaluate([spec], frame, NO_MEASUREMENTS, date(2024, 6, 1), date(2024, 6, 30), NOW)
    )
    value, met, final = result[(1, date(2024, 6, 1))]
    assert value == pytest.approx(100 * (1 - 24 / 720)) and met is False and final


def test_measurement_kpis_take_the_worst_in_the_direction_of_the_target():
    measurements = pd.DataFrame(
        {
            "service_id": [4, 4, 4, 4, 9],
            "code": [
                "on_time_delivery",
                "on_time_delivery",
                "rto_achieved",
                "first_fix",
                "on_time_delivery",
            ],
            "period_start": [
                date(2024, 1, 1),
                date(2024, 2, 1),
                date(2024, 2, 1),
                date(2024, 1, 1),
                date(2024, 1, 1),
            ],
            "value": [97.0, 93.5, 6.0, 80.0, 10.0],
        }
    )
    specs = [
        KpiSpec(1, 4, "on_time_delivery", "gte", 95.0, period="quarter"),
        KpiSpec(2, 4, "on_time_delivery", "gte", 95.0, period="quarter", statistic="mean"),
        KpiSpec(3, 4, "rto_achieved", "lte", 4.0),
        KpiSpec(4, 4, "custom", "gte", 75.0, code="first_fix"),
    ]
    result = by_period(
        evaluate(specs, incidents(), measurements, date(2024, 1, 1), date(2024, 3, 31), NOW)
    )
    assert result[(1, date(2024, 1, 1))] == (93.5, False, True)
    assert result[(2, date(2024, 1, 1))] == (95.25, True, True)
    assert result[(3, date(2024, 2, 1))] == (6.0, False, True)
    assert np.isnan(result[(3, date(2024, 1, 1))][0])
    assert result[(4, date(2024, 1, 1))] == (80.0, True, True)
    # Another service's measurements do not leak into service 4's KPIs.
    assert len([k for k in result if k[0] == 1]) == 1


def test_comparators():
    values = np.array([99.0, 99.9, 100.0, np.nan])
    assert list(meets(values, "gte", 99.9)) == [False, True, True, False]
    assert list(meets(values, "gt", 99.9)) == [False, False, True, False]
    assert list(meets(values, "lte", 99.9)) == [True, True, False, False]
    assert list(meets(values, "lt", 99.9)) == [True, False, False, False]


def test_which_failures_are_final_before_the_period_ends():
    assert failure_is_final("availability", "worst", "gte")
    assert failure_is_final("time_to_notify", "worst", "lte")
    assert not failure_is_final("time_to_notify", "p95", "lte")
    assert not failure_is_final("on_time_delivery", "worst", "gte")


def test_attainment_counts_a_quarter_in_each_of_its_months():
    evaluations = pd.DataFrame(
        {
            "service_id": [1, 1, 2, 2],
            "period_start": [
                date(2024, 1, 1),
                date(2024, 2, 1),
                date(2024, 1, 1),
                date(2024, 1, 1),
            ],
            "period_end": [date(2024, 2, 1), date(2024, 3, 1), date(2024, 4, 1), date(2024, 2, 1)],
            "met": pd.array([True, False, False, pd.NA], dtype="boolean"),
        }
    )
    table = attainment_by_month(evaluations, {1: "Acme", 2: "Acme"})
    rows = {
        (r.group, r.month): (r.attainment_pct, r.evaluated, r.missed) for r in table.itertuples()
    }
    assert rows == {
        ("Acme", date(2024, 1, 1)): (50.0, 2, 1),
        ("Acme", date(2024, 2, 1)): (0.0, 2, 2),
        ("Acme", date(2024, 3, 1)): (0.0, 1, 1),
    }


def test_breach_severity_follows_the_tier_and_rises_for_a_gross_miss():
    assert shortfall_ratio(99.0, "gte", 99.9, "availability") == pytest.approx(10)
    assert shortfall_ratio(12.0, "lte", 4.0, "time_to_notify") == 3
    assert breach_severity("critical", 99.85, "gte", 99.9, "availability") == "high"
    assert breach_severity("critical", 99.0, "gte", 99.9, "availability") == "critical"
    assert breach_severity("low", 5.0, "lte", 4.0, "time_to_notify") == "low"
    assert breach_severity("medium", 9.0, "lte", 4.0, "time_to_notify") == "medium"


def test_labels_and_small_helpers():
    assert period_label(date(2024, 4, 1), "quarter") == "2024-Q2"
    assert period_label(date(2024, 4, 1), "month") == "2024-04"
    assert period_start_for(date(2024, 8, 31), "quarter") == date(2024, 7, 1)
    assert (
        format_value(99.95, "%") == "99.95 %"
        and format_value(100.0, "%") == "100 %"
        and format_value(float("nan"), "h") == "—"
    )
    assert statistic_problem("p95") is None and statistic_problem("p100")
