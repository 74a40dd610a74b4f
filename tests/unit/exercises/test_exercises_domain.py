from datetime import UTC, date, datetime

import pytest

from vendor_portal.exercises.domain import (
    SCENARIO_LIBRARY,
    Blackout,
    Booking,
    Coverage,
    ScheduleProblem,
    Window,
    days_covered,
    find_conflicts,
    month_weeks,
    parse_month,
    rto_met,
    shift_month,
    time_zone_problem,
    window_from_local,
)


def utc(*args):
    return datetime(*args, tzinfo=UTC)


def test_local_times_are_stored_in_utc_across_daylight_saving():
    winter = window_from_local(datetime(2026, 1, 15, 9), datetime(2026, 1, 15, 11), "Europe/Paris")
    summer = window_from_local(datetime(2026, 7, 15, 9), datetime(2026, 7, 15, 11), "Europe/Paris")
    assert winter == Window(utc(2026, 1, 15, 8), utc(2026, 1, 15, 10))
    assert summer == Window(utc(2026, 7, 15, 7), utc(2026, 7, 15, 9))
    # the night the clocks go forward lasts an hour less
    night = window_from_local(datetime(2026, 3, 29, 0), datetime(2026, 3, 29, 6), "Europe/Paris")
    assert night.hours == 5


@pytest.mark.parametrize(
    ("start", "end", "tz", "field", "message"),
    [
        (datetime(2026, 5, 1, 9), datetime(2026, 5, 1, 8), "UTC", "ends_local", "after the start"),
        (datetime(2026, 5, 1, 9), datetime(2026, 5, 1, 9), "UTC", "ends_local", "after the start"),
        (datetime(2026, 5, 1, 9), datetime(2026, 5, 20, 9), "UTC", "ends_local", "at most 14"),
        (
            datetime(2026, 5, 1, 9),
            datetime(2026, 5, 1, 10),
            "Mars/Olympus",
            "timezone",
            "not a time zone",
        ),
        (datetime(2026, 5, 1, 9), datetime(2026, 5, 1, 10), "", "timezone", "Choose a time zone"),
        (
            datetime(2026, 3, 29, 2, 30),
            datetime(2026, 3, 29, 4),
            "Europe/Berlin",
            "starts_local",
            "does not exist in Europe/Berlin",
        ),
        (None, datetime(2026, 5, 1, 10), "UTC", "starts_local", "start"),
    ],
)
def test_bad_windows_name_the_field(start, end, tz, field, message):
    with pytest.raises(ScheduleProblem) as caught:
        window_from_local(start, end, tz)
    assert caught.value.field == field and message in str(caught.value)


def test_time_zone_names_must_be_iana():
    assert time_zone_problem("America/New_York") is None
    assert time_zone_problem("UTC") is None
    assert time_zone_problem("../../etc/passwd")
    assert time_zone_problem("EST5EDT ") is not None


def test_conflicts_name_people_booked_elsewhere_and_blackouts():
    window = Window(utc(2026, 5, 4, 9), utc(2026, 5, 4, 12))
    bookings = [
        Booking(
            7,
            "Other drill",
            Window(utc(2026, 5, 4, 11), utc(2026, 5, 4, 13)),
            frozenset({1, 2}),
            frozenset({10}),
        ),
        Booking(
            8,
            "Touching only",
            Window(utc(2026, 5, 4, 12), utc(2026, 5, 4, 13)),
            frozenset({1}),
            frozenset(),
        ),
    ]
    blackouts = [
        Blackout(5, "Acme", date(2026, 5, 4), date(2026, 5, 4), "quarter close"),
        Blackout(5, "Acme", date(2026, 5, 5), date(2026, 5, 9)),
        Blackout(6, "Beta", date(2026, 5, 1), date(2026, 5, 30)),
    ]
    found = find_conflicts(
        window, "UTC", [1, 3], [10], [5], bookings, blackouts, {("user", 1): "Ann"}
    )
    messages = [c.message for c in found]
    assert messages == [
        "Ann is already booked in “Other drill” at an overlapping time.",
        "contact 10 is already booked in “Other drill” at an overlapping time.",
        "Acme declared 2026-05-04 to 2026-05-04 as blackout dates (quarter close).",
    ]
    assert [c.kind for c in found] == ["participant", "contact", "blackout"]


def test_blackout_days_are_read_in_the_exercise_time_zone():
    # 23:00-01:00 UTC on 4-5 May is 5 May 08:00-10:00 in Tokyo
    window = Window(utc(2026, 5, 4, 23), utc(2026, 5, 5, 1))
    blackout = [Blackout(5, "Acme", date(2026, 5, 4), date(2026, 5, 4))]
    assert find_conflicts(window, "UTC", [], [], [5], [], blackout)
    assert not find_conflicts(window, "Asia/Tokyo", [], [], [5], [], blackout)
    assert days_covered(window, "UTC") == [date(2026, 5, 4), date(2026, 5, 5)]
    assert days_covered(window, "Asia/Tokyo") == [date(2026, 5, 5)]


def test_month_grid_and_navigation():
    weeks = month_weeks(2026, 2)
    assert weeks[0][0] == date(2026, 1, 26) and weeks[-1][-1] == date(2026, 3, 1)
    assert all(len(week) == 7 for week in weeks)
    assert parse_month("2026-13", date(2026, 4, 2)) == (2026, 4)
    assert parse_month("2027-01", date(2026, 4, 2)) == (2027, 1)
    assert shift_month(2026, 1, -1) == (2025, 12) and shift_month(2026, 12, 1) == (2027, 1)


def test_rto_and_coverage():
    assert rto_met(4, 3.5) is True and rto_met(4, 6.5) is False and rto_met(None, 2) is None
    today = date(2026, 6, 1)
    assert Coverage(1, "critical", 365, date(2025, 6, 2)).covered_on(today)
    assert not Coverage(1, "critical", 365, date(2025, 5, 31)).covered_on(today)
    assert not Coverage(1, "high", 365, None).covered_on(today)
    assert Coverage(1, "low", None, None).covered_on(today)
    assert Coverage(1, "high", 365, date(2026, 1, 1)).due_by() == date(2027, 1, 1)


def test_the_library_ships_the_five_scenarios():
    assert [s.name for s in SCENARIO_LIBRARY] == [
        "Vendor outage",
        "Loss of a cloud region",
        "Ransomware at the vendor",
        "Subcontractor failure",
        "Loss of a key site",
    ]
    assert len({s.code for s in SCENARIO_LIBRARY}) == 5
