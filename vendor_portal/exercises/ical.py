"""iCalendar (RFC 5545) documents for exercises: invitations (iTIP REQUEST/CANCEL, RFC 5546)
and subscription feeds. Plain data in, bytes out; no web framework, no database."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from icalendar import Calendar, Event, vCalAddress, vText

PRODID = "-//Vendor Portal//Joint continuity exercises//EN"
UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu"})

PARTSTAT = {
    "invited": "NEEDS-ACTION",
    "proposed": "TENTATIVE",
    "confirmed": "ACCEPTED",
    "declined": "DECLINED",
}


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class Attendee:
    name: str
    email: str
    partstat: str = "NEEDS-ACTION"
    role: str = "REQ-PARTICIPANT"
    organisation: str | None = None


@dataclass(frozen=True)
class CalendarEvent:
    uid: str
    sequence: int
    summary: str
    start: datetime  # aware
    end: datetime
    tz_name: str
    organizer: Person
    attendees: tuple[Attendee, ...] = ()
    description: str = ""
    location: str | None = None
    url: str | None = None
    cancelled: bool = False
    created: datetime | None = None
    last_modified: datetime | None = None
    categories: tuple[str, ...] = field(default_factory=tuple)


def _address(email: str, name: str, **params: str) -> vCalAddress:
    address = vCalAddress(f"mailto:{email}")
    address.params["CN"] = vText(name)
    for key, value in params.items():
        address.params[key] = value
    return address


def _when(moment: datetime, tz_name: str) -> datetime:
    """In the event's zone (serialised with TZID and a VTIMEZONE), or in UTC (…Z).

    A wall-clock time that occurs twice (clocks going back) means its first occurrence in
    iCalendar (RFC 5545 3.3.5); the second occurrence is therefore written in UTC."""
    if tz_name in UTC_NAMES:
        return moment.astimezone(UTC)
    local = moment.astimezone(ZoneInfo(tz_name))
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return moment.astimezone(UTC)
    return local


def vevent(item: CalendarEvent, stamp: datetime) -> Event:
    event = Event()
    event.add("uid", item.uid)
    event.add("dtstamp", stamp.astimezone(UTC))
    event.add("sequence", item.sequence)
    event.add("summary", item.summary)
    event.add("dtstart", _when(item.start, item.tz_name))
    event.add("dtend", _when(item.end, item.tz_name))
    event.add("status", "CANCELLED" if item.cancelled else "CONFIRMED")
    event.add("transp", "OPAQUE")
    if item.description:
        event.add("description", item.description)
    if item.location:
        event.add("location", item.location)
    if item.url:
        event.add("url", item.url)
    if item.created:
        event.add("created", item.created.astimezone(UTC))
    if item.last_modified:
        event.add("last-modified", item.last_modified.astimezone(UTC))
    if item.categories:
        event.add("categories", list(item.categories))
    event.add("organizer", _address(item.organizer.email, item.organizer.name))
    for person in item.attendees:
        params = {
            "ROLE": person.role,
            "PARTSTAT": person.partstat,
            "CUTYPE": "INDIVIDUAL",
            # Answers go through the portal, not by email replies to the organiser.
            "RSVP": "FALSE",
        }
        event.add("attendee", _address(person.email, person.name, **params))
    return event


def calendar(
    events: Iterable[CalendarEvent],
    *,
    method: str | None,
    stamp: datetime,
    name: str | None = None,
) -> bytes:
    """A VCALENDAR with the events and the VTIMEZONEs their times refer to.

    `method` is "REQUEST" or "CANCEL" for an emailed invitation (RFC 5546), "PUBLISH" or None
    for a subscription feed."""
    cal = Calendar()
    cal.add("prodid", PRODID)
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    if method:
        cal.add("method", method)
    if name:
        cal.add("x-wr-calname", name)
    items = list(events)
    for item in items:
        cal.add_component(vevent(item, stamp))
    if items:
        # Transitions around the events only, not 1970-2038: short, and right after 2038 too.
        first = min(i.start for i in items).date().replace(month=1, day=1)
        last = max(i.end for i in items).date()
        cal.add_missing_timezones(
            first_date=first.replace(year=first.year - 1), last_date=date(last.year + 2, 1, 1)
        )
    return cal.to_ical()
