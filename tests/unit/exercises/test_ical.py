"""The iCalendar documents, parsed back with `icalendar` and checked against RFC 5545/5546."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from icalendar import Calendar

from vendor_portal.exercises.ical import Attendee, CalendarEvent, Person, calendar

STAMP = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def event(**overrides):
    values = {
        "uid": "exercise-42@vendor-portal",
        "sequence": 0,
        "summary": "Region loss (Simulation exercise)",
        "start": datetime(2026, 3, 29, 7, 0, tzinfo=UTC),
        "end": datetime(2026, 3, 29, 10, 30, tzinfo=UTC),
        "tz_name": "Europe/Berlin",
        "organizer": Person("Morgan Manager", "manager@example.com"),
        "attendees": (
            Attendee("Ann, Nimbus", "ann@nimbus.example", "ACCEPTED", organisation="Nimbus"),
            Attendee("Lars", "lars@ledgerline.example"),
        ),
        "description": "Objectives:\nFail over; check; report, then restore.",
        "location": "Bridge 4",
        "url": "https://portal.example/exercises/42",
    }
    values.update(overrides)
    return CalendarEvent(**values)


def parse(data: bytes):
    assert data.endswith(b"\r\n") and b"\r\n" in data  # CRLF line endings (RFC 5545 3.1)
    for line in data.split(b"\r\n"):
        assert len(line) <= 75, line  # folded at 75 octets
    return Calendar.from_ical(data)


def test_request_has_the_required_properties():
    cal = parse(calendar([event()], method="REQUEST", stamp=STAMP))
    assert cal["VERSION"] == "2.0" and cal["PRODID"]
    assert cal["METHOD"] == "REQUEST"
    (vevent,) = cal.walk("VEVENT")
    for required in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SEQUENCE", "ORGANIZER", "SUMMARY"):
        assert required in vevent, required
    assert vevent.decoded("DTSTAMP") == STAMP
    assert vevent["DTSTAMP"].to_ical().endswith(b"Z")  # DTSTAMP in UTC (RFC 5545 3.8.7.2)
    assert vevent["STATUS"] == "CONFIRMED"
    assert str(vevent["ORGANIZER"]) == "mailto:manager@example.com"
    assert vevent["ORGANIZER"].params["CN"] == "Morgan Manager"
    attendees = vevent["ATTENDEE"]
    assert [str(a) for a in attendees] == [
        "mailto:ann@nimbus.example",
        "mailto:lars@ledgerline.example",
    ]
    assert (
        attendees[0].params["CN"] == "Ann, Nimbus" and attendees[0].params["PARTSTAT"] == "ACCEPTED"
    )
    assert (
        attendees[1].params["PARTSTAT"] == "NEEDS-ACTION"
        and attendees[1].params["ROLE"] == "REQ-PARTICIPANT"
    )
    assert (
        str(vevent.decoded("DESCRIPTION")) == "Objectives:\nFail over; check; report, then restore."
    )


def test_local_time_zone_round_trips_with_a_vtimezone():
    cal = parse(calendar([event()], method="REQUEST", stamp=STAMP))
    (vevent,) = cal.walk("VEVENT")
    start = vevent.decoded("DTSTART")
    assert vevent["DTSTART"].params["TZID"] == "Europe/Berlin"
    # 07:00 UTC on the day summer time starts is 09:00 CEST
    assert (start.hour, start.utcoffset()) == (9, timedelta(hours=2))
    assert start == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)
    assert vevent.decoded("DTEND") == datetime(2026, 3, 29, 10, 30, tzinfo=UTC)
    (vtimezone,) = cal.walk("VTIMEZONE")
    assert vtimezone["TZID"] == "Europe/Berlin"
    # Each TZID used by a property has a VTIMEZONE (RFC 5545 3.2.19)
    assert cal.get_missing_tzids() == set()
    # The VTIMEZONE describes the zone correctly on both sides of the change.
    tz = vtimezone.to_tz()
    assert datetime(2026, 3, 28, 12, tzinfo=tz).utcoffset() == timedelta(hours=1)
    assert datetime(2026, 3, 30, 12, tzinfo=tz).utcoffset() == timedelta(hours=2)


@pytest.mark.parametrize("zone", ["America/New_York", "Asia/Kolkata", "Australia/Sydney"])
def test_other_zones_round_trip(zone):
    start = datetime(2030, 11, 5, 6, 30, tzinfo=UTC)
    cal = parse(
        calendar(
            [event(tz_name=zone, start=start, end=start + timedelta(hours=2))],
            method="REQUEST",
            stamp=STAMP,
        )
    )
    vevent = cal.walk("VEVENT")[0]
    assert vevent["DTSTART"].params["TZID"] == zone
    assert vevent.decoded("DTSTART") == start
    assert vevent.decoded("DTSTART").utcoffset() == start.astimezone(ZoneInfo(zone)).utcoffset()
    assert cal.get_missing_tzids() == set()


def test_the_second_occurrence_of_a_repeated_hour_is_written_in_utc():
    # 1 November 2026, New York: 01:30 happens twice; RFC 5545 reads TZID times as the first.
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST
    cal = parse(
        calendar(
            [event(tz_name="America/New_York", start=first, end=second + timedelta(hours=1))],
            method="REQUEST",
            stamp=STAMP,
        )
    )
    vevent = cal.walk("VEVENT")[0]
    assert vevent["DTSTART"].params["TZID"] == "America/New_York"
    # (a time in a repeated hour never compares equal across zones: PEP 495)
    assert vevent.decoded("DTSTART").astimezone(UTC) == first
    later = parse(
        calendar(
            [event(tz_name="America/New_York", start=second, end=second + timedelta(hours=1))],
            method="REQUEST",
            stamp=STAMP,
        )
    ).walk("VEVENT")[0]
    assert later["DTSTART"].to_ical() == b"20261101T063000Z"
    assert later.decoded("DTSTART") == second


def test_utc_exercises_use_utc_times_and_no_vtimezone():
    cal = parse(calendar([event(tz_name="UTC")], method="REQUEST", stamp=STAMP))
    vevent = cal.walk("VEVENT")[0]
    assert vevent["DTSTART"].to_ical() == b"20260329T070000Z"
    assert "TZID" not in vevent["DTSTART"].params
    assert cal.walk("VTIMEZONE") == []


def test_cancel_keeps_the_uid_and_has_a_higher_sequence():
    request = parse(calendar([event(sequence=3)], method="REQUEST", stamp=STAMP))
    cancel = parse(calendar([event(sequence=4, cancelled=True)], method="CANCEL", stamp=STAMP))
    assert cancel["METHOD"] == "CANCEL"
    before, after = request.walk("VEVENT")[0], cancel.walk("VEVENT")[0]
    assert before["UID"] == after["UID"]
    assert after.decoded("SEQUENCE") > before.decoded("SEQUENCE")
    assert after["STATUS"] == "CANCELLED"


def test_feed_without_method_or_with_publish_holds_many_events():
    events = [
        event(uid=f"exercise-{n}@vendor-portal", tz_name=z)
        for n, z in enumerate(["UTC", "Europe/Paris", "Europe/Paris", "America/Chicago"])
    ]
    cal = parse(calendar(events, method="PUBLISH", stamp=STAMP, name="My exercises"))
    assert cal["METHOD"] == "PUBLISH" and cal["X-WR-CALNAME"] == "My exercises"
    assert len(cal.walk("VEVENT")) == 4
    assert sorted(tz["TZID"] for tz in cal.walk("VTIMEZONE")) == ["America/Chicago", "Europe/Paris"]
    assert len({e["UID"] for e in cal.walk("VEVENT")}) == 4
