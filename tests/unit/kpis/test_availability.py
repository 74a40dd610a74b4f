"""Availability per calendar period: hand-computed cases and a minute-by-minute reference."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vendor_portal.kpis.domain import availability, incident_frame, period_bounds

NOW = datetime(2030, 1, 1, tzinfo=UTC)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def incident(service_id=1, severity="major", start=None, end=None):
    return {"service_id": service_id, "severity": severity, "started_at": start, "ended_at": end}


def table(incidents, start, end, now=NOW, services=(1,), kind="month", **kw):
    result = availability(incident_frame(incidents), list(services), start, end, now, kind, **kw)
    return result.set_index(["service_id", "period_start"])


def minutes(result, service_id, month_start):
    return result.loc[(service_id, month_start), "downtime_seconds"] / 60


def test_one_hour_in_january_of_a_31_day_month():
    result = table(
        [incident(start=at(2023, 1, 10, 8), end=at(2023, 1, 10, 9))], *[date(2023, 1, 1)] * 2
    )
    row = result.loc[(1, date(2023, 1, 1))]
    assert row["downtime_seconds"] == 3600
    assert row["period_seconds"] == 31 * 86400
    assert row["availability_pct"] == pytest.approx(100 * (1 - 1 / 744))
    assert row["period_end"] == date(2023, 2, 1) and bool(row["complete"])


def test_overlapping_and_nested_incidents_are_counted_once():
    incidents = [
        incident(start=at(2023, 3, 1, 10), end=at(2023, 3, 1, 12)),
        incident(start=at(2023, 3, 1, 11), end=at(2023, 3, 1, 13), severity="critical"),
        incident(start=at(2023, 3, 1, 11, 30), end=at(2023, 3, 1, 11, 45)),  # nested
        incident(start=at(2023, 3, 1, 13), end=at(2023, 3, 1, 14)),  # touches: [13, 14)
        incident(start=at(2023, 3, 2, 0), end=at(2023, 3, 2, 0, 30)),  # separate
    ]
    result = table(incidents, date(2023, 3, 1), date(2023, 3, 31))
    assert minutes(result, 1, date(2023, 3, 1)) == 4 * 60 + 30


def test_short_incidents_inside_a_long_one_add_nothing():
    incidents = [
        incident(start=at(2023, 3, 1, 0), end=at(2023, 3, 1, 10)),
        incident(start=at(2023, 3, 1, 1), end=at(2023, 3, 1, 2)),
        incident(start=at(2023, 3, 1, 3), end=at(2023, 3, 1, 4)),  # after the short one ended
        incident(start=at(2023, 3, 1, 9), end=at(2023, 3, 1, 11)),  # runs past the long one
    ]
    result = table(incidents, date(2023, 3, 1), date(2023, 3, 31))
    assert minutes(result, 1, date(2023, 3, 1)) == 11 * 60


def test_an_incident_spanning_months_is_clipped_to_each_and_leap_february_has_29_days():
    incidents = [incident(start=at(2024, 1, 31, 23), end=at(2024, 3, 1, 1))]
    result = table(incidents, date(2024, 1, 1), date(2024, 3, 31))
    assert minutes(result, 1, date(2024, 1, 1)) == 60
    assert minutes(result, 1, date(2024, 2, 1)) == 29 * 24 * 60
    assert result.loc[(1, date(2024, 2, 1)), "availability_pct"] == 0
    assert result.loc[(1, date(2024, 2, 1)), "period_seconds"] == 29 * 86400
    assert minutes(result, 1, date(2024, 3, 1)) == 60


def test_february_of_a_common_year_has_28_days():
    result = table(
        [incident(start=at(2023, 2, 5), end=at(2023, 2, 5, 1))], date(2023, 2, 1), date(2023, 2, 1)
    )
    assert result.loc[(1, date(2023, 2, 1)), "availability_pct"] == pytest.approx(
        100 * (1 - 1 / 672)
    )


def test_offsets_are_converted_and_periods_are_utc_months_whatever_local_dst_does():
    cest = timezone(timedelta(hours=2))
    # 00:30 on 1 April in Paris is 22:30 on 31 March in UTC: March downtime, not April.
    incidents = [
        incident(
            start=datetime(2024, 4, 1, 0, 30, tzinfo=cest),
            end=datetime(2024, 4, 1, 1, 30, tzinfo=cest),
        ),
    ]
    result = table(incidents, date(2024, 3, 1), date(2024, 4, 30))
    assert minutes(result, 1, date(2024, 3, 1)) == 60
    assert minutes(result, 1, date(2024, 4, 1)) == 0
    # The European clock change on 31 March changes nothing: March is 744 hours.
    assert result.loc[(1, date(2024, 3, 1)), "period_seconds"] == 744 * 3600


def test_an_ongoing_incident_runs_to_now_and_stops_at_each_period_end():
    now = at(2024, 5, 10, 12)
    incidents = [incident(start=at(2024, 4, 30, 12), end=None)]
    result = table(incidents, date(2024, 4, 1), date(2024, 12, 31), now=now)
    assert minutes(result, 1, date(2024, 4, 1)) == 12 * 60
    assert minutes(result, 1, date(2024, 5, 1)) == (9 * 24 + 12) * 60
    # The current month is measured against its whole length and flagged as in progress.
    may = result.loc[(1, date(2024, 5, 1))]
    assert may["period_seconds"] == 31 * 86400 and not may["complete"]
    # Months that have not begun are not reported.
    assert set(result.index.get_level_values(1)) == {date(2024, 4, 1), date(2024, 5, 1)}


def test_an_ongoing_incident_in_a_past_period_runs_to_the_period_end():
    result = table(
        [incident(start=at(2023, 6, 30, 0), end=None)], date(2023, 6, 1), date(2023, 6, 30)
    )
    assert minutes(result, 1, date(2023, 6, 1)) == 24 * 60


def test_maintenance_never_counts_and_minor_only_when_chosen():
    incidents = [
        incident(severity="maintenance", start=at(2023, 5, 1), end=at(2023, 5, 2)),
        incident(severity="minor", start=at(2023, 5, 3), end=at(2023, 5, 3, 2)),
        incident(severity="critical", start=at(2023, 5, 4), end=at(2023, 5, 4, 1)),
    ]
    default = table(incidents, date(2023, 5, 1), date(2023, 5, 31))
    assert minutes(default, 1, date(2023, 5, 1)) == 60
    chosen = table(incidents, date(2023, 5, 1), date(2023, 5, 31), severities={"minor", "critical"})
    assert minutes(chosen, 1, date(2023, 5, 1)) == 180


def test_services_are_separate_and_a_service_without_incidents_is_fully_available():
    incidents = [
        incident(service_id=1, start=at(2023, 7, 1), end=at(2023, 7, 1, 1)),
        incident(service_id=2, start=at(2023, 7, 1), end=at(2023, 7, 1, 3)),
        incident(service_id=99, start=at(2023, 7, 1), end=at(2023, 7, 2)),  # not asked about
    ]
    result = table(incidents, date(2023, 7, 1), date(2023, 7, 31), services=(1, 2, 3))
    assert minutes(result, 1, date(2023, 7, 1)) == 60
    assert minutes(result, 2, date(2023, 7, 1)) == 180
    assert result.loc[(3, date(2023, 7, 1)), "availability_pct"] == 100


def test_quarters_and_incidents_before_the_range():
    incidents = [
        incident(start=at(2023, 12, 31, 23), end=at(2024, 1, 1, 2)),  # 2 h inside Q1
        incident(start=at(2024, 3, 31, 23), end=at(2024, 4, 1, 1)),
    ]
    result = table(incidents, date(2024, 2, 15), date(2024, 4, 2), kind="quarter")
    q1 = result.loc[(1, date(2024, 1, 1))]
    assert q1["period_seconds"] == 91 * 86400 and q1["period_end"] == date(2024, 4, 1)
    assert q1["downtime_seconds"] == 3 * 3600
    assert minutes(result, 1, date(2024, 4, 1)) == 60


def test_no_incidents_at_all():
    result = table([], date(2023, 1, 1), date(2023, 3, 31), services=(5,))
    assert list(result["availability_pct"]) == [100.0, 100.0, 100.0]


def test_period_bounds_cover_the_range():
    bounds = pd.to_datetime(period_bounds(date(2023, 11, 15), date(2024, 2, 1)), unit="ns")
    assert [b.date() for b in bounds] == [
        date(2023, 11, 1),
        date(2023, 12, 1),
        date(2024, 1, 1),
        date(2024, 2, 1),
        date(2024, 3, 1),
    ]
    with pytest.raises(ValueError):
        period_bounds(date(2024, 1, 2), date(2024, 1, 1))


# --- property: the vectorised answer equals a minute-by-minute count --------------------------

BASE = datetime(2024, 1, 1, tzinfo=UTC)
WINDOW_MINUTES = 60 * 24 * (31 + 29 + 31)  # January to March 2024 (leap February)
MONTH_STARTS = [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
MONTH_OFFSETS = [0, 31 * 1440, 60 * 1440, 91 * 1440]
SEVERITIES = ["minor", "major", "critical", "maintenance"]

incidents_strategy = st.lists(
    st.tuples(
        st.integers(1, 3),  # service
        st.sampled_from(SEVERITIES),
        st.integers(-3 * 1440, WINDOW_MINUTES + 1440),  # start minute (may be outside)
        st.one_of(
            st.none(),  # ongoing
            st.integers(0, 6 * 60),  # short
            st.integers(0, 40 * 1440),  # long, possibly across months
        ),
    ),
    max_size=12,
)


def reference_downtime(rows, now_minute, severities):
    """Mark every minute of the window that some counted incident covers; count per month."""
    down = {s: np.zeros(WINDOW_MINUTES, dtype=bool) for s in (1, 2, 3)}
    for service, severity, start, duration in rows:
        if severity not in severities:
            continue
        end = now_minute if duration is None else start + duration
        end = min(end, now_minute)
        for minute in range(max(start, 0), min(end, WINDOW_MINUTES)):
            down[service][minute] = True
    return {
        (s, MONTH_STARTS[m]): int(down[s][MONTH_OFFSETS[m] : MONTH_OFFSETS[m + 1]].sum())
        for s in (1, 2, 3)
        for m in range(3)
        if MONTH_OFFSETS[m] < now_minute
    }


@settings(max_examples=120, deadline=None)
@given(
    rows=st.one_of(
        incidents_strategy,
        # Crowded: many incidents of one service within a day, so they nest and overlap.
        st.lists(
            st.tuples(
                st.just(1),
                st.sampled_from(["major", "critical"]),
                st.integers(40 * 1440, 40 * 1440 + 600),
                st.one_of(st.integers(0, 300), st.integers(0, 30), st.none()),
            ),
            min_size=3,
            max_size=10,
        ),
    ),
    now_minute=st.one_of(st.just(WINDOW_MINUTES + 1440), st.integers(1, WINDOW_MINUTES + 1440)),
    severities=st.one_of(
        st.just({"major", "critical"}),
        st.sets(st.sampled_from(["minor", "major", "critical"]), min_size=1),
    ),
)
def test_matches_a_minute_by_minute_reference(rows, now_minute, severities):
    frame = incident_frame(
        [
            {
                "service_id": service,
                "severity": severity,
                "started_at": BASE + timedelta(minutes=start),
                "ended_at": None
                if duration is None
                else BASE + timedelta(minutes=start + duration),
            }
            for service, severity, start, duration in rows
        ]
    )
    now = BASE + timedelta(minutes=now_minute)
    result = availability(
        frame, [1, 2, 3], date(2024, 1, 1), date(2024, 3, 31), now, severities=severities
    )
    got = {
        (int(r.service_id), r.period_start): r.downtime_seconds / 60 for r in result.itertuples()
    }
    # Incidents that start after now are not downtime yet.
    expected = reference_downtime([r for r in rows if r[2] < now_minute], now_minute, severities)
    assert got == pytest.approx(expected)
