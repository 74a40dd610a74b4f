"""Exercise rules that need no database: types, the scenario library, time windows in a time
zone, scheduling conflicts, the month grid, RTO results and exercise coverage."""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones


class ExerciseType(StrEnum):
    TABLETOP = "tabletop"
    WALKTHROUGH = "walkthrough"
    SIMULATION = "simulation"
    FULL_FAILOVER = "full_failover"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class ExerciseStatus(StrEnum):
    SCHEDULED = "scheduled"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class VendorResponse(StrEnum):
    INVITED = "invited"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    PROPOSED = "proposed"  # proposed another time

    @property
    def label(self) -> str:
        return {"invited": "Awaiting answer", "proposed": "Proposed another time"}.get(
            self.value, self.value.capitalize()
        )


class Outcome(StrEnum):
    MET = "met"
    PARTIALLY_MET = "partially_met"
    NOT_MET = "not_met"

    @property
    def label(self) -> str:
        return {
            "met": "Objectives met",
            "partially_met": "Objectives partly met",
            "not_met": "Objectives not met",
        }[self.value]


class TimelineKind(StrEnum):
    INJECT = "inject"
    RESPONSE = "response"
    DECISION = "decision"
    OBSERVATION = "observation"

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(frozen=True)
class ScenarioSeed:
    code: str
    name: str
    description: str
    injects: str


# The library shipped with the product; admins and managers edit their copies in the portal.
SCENARIO_LIBRARY: tuple[ScenarioSeed, ...] = (
    ScenarioSeed(
        "vendor-outage",
        "Vendor outage",
        "The vendor's service is unavailable for longer than its attested RTO. Walk through "
        "detection, the vendor's notification to us, switchover to the fallback and return.",
        "T+0 monitoring alarms on the service\nT+30m vendor status page still green\n"
        "T+2h vendor confirms a major incident, no ETA\nT+4h RTO reached: invoke fallback?",
    ),
    ScenarioSeed(
        "cloud-region-loss",
        "Loss of a cloud region",
        "A whole cloud region (compute, storage, managed databases) is lost. Tests the "
        "vendor's multi-region design, data replication (RPO) and capacity in the other region.",
        "T+0 region-wide API errors\nT+15m provider declares a regional event\n"
        "T+1h decide on regional failover\nT+3h capacity limits in the secondary region",
    ),
    ScenarioSeed(
        "vendor-ransomware",
        "Ransomware at the vendor",
        "The vendor's corporate and production networks are encrypted by ransomware. Tests "
        "isolation, notification duties, restoring from immutable backups and what we do "
        "while the vendor is dark.",
        "T+0 vendor's support line unreachable\nT+1h vendor notifies a cyber incident\n"
        "T+6h question of data exfiltration\nT+24h restoration plan and integrity checks",
    ),
    ScenarioSeed(
        "subcontractor-failure",
        "Subcontractor failure",
        "A subcontractor the vendor relies on (nth party) fails or becomes insolvent. Tests "
        "whether the vendor knows its dependencies and has an exit or fallback for them.",
        "T+0 news of the subcontractor's insolvency\nT+2h vendor assesses impact\n"
        "T+1d alternative supplier options\nT+5d contractual and regulatory notifications",
    ),
    ScenarioSeed(
        "key-site-loss",
        "Loss of a key site",
        "A key vendor site (data centre, office, warehouse) is unavailable: fire, flood or "
        "power loss. Tests workplace recovery, remote operation and physical logistics.",
        "T+0 site evacuated\nT+1h staff relocation decision\nT+4h remote operations check\n"
        "T+1d supply of physical goods from another site",
    ),
)

MAX_EXERCISE_DAYS = 14


class ScheduleProblem(ValueError):
    """A time window that cannot be scheduled; `field` names the form field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@cache
def time_zone_names() -> tuple[str, ...]:
    return tuple(sorted(available_timezones()))


def time_zone_problem(name: str | None) -> str | None:
    if not name or not name.strip():
        return "Choose a time zone (an IANA name such as Europe/Paris)."
    if name not in time_zone_names():
        return f"{name!r} is not a time zone; use an IANA name such as Europe/Paris or UTC."
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"{name!r} is not a time zone on this server."
    return None


def to_utc(local: datetime, tz_name: str, field: str) -> datetime:
    """A wall-clock time in a zone as aware UTC; refuses times the clock skips (DST gaps).

    An ambiguous time (clocks going back) is the first of the two, as calendars do.
    """
    zone = ZoneInfo(tz_name)
    aware = local.replace(tzinfo=zone, fold=0)
    utc = aware.astimezone(UTC)
    if utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ScheduleProblem(
            field,
            f"{local:%Y-%m-%d %H:%M} does not exist in {tz_name}: the clocks skip that hour. "
            "Choose another time.",
        )
    return utc


def local_time(moment: datetime, tz_name: str) -> datetime:
    return moment.astimezone(ZoneInfo(tz_name))


@dataclass(frozen=True)
class Window:
    start: datetime  # aware UTC
    end: datetime

    def overlaps(self, other: Window) -> bool:
        return self.start < other.end and other.start < self.end

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


def window_from_local(
    starts_local: datetime | None, ends_local: datetime | None, tz_name: str | None
) -> Window:
    """Check and convert a planned window given as wall-clock times in a time zone."""
    problem = time_zone_problem(tz_name)
    if problem:
        raise ScheduleProblem("timezone", problem)
    assert tz_name is not None
    if starts_local is None:
        raise ScheduleProblem("starts_local", "Give the start date and time.")
    if ends_local is None:
        raise ScheduleProblem("ends_local", "Give the end date and time.")
    start = to_utc(starts_local, tz_name, "starts_local")
    end = to_utc(ends_local, tz_name, "ends_local")
    if end <= start:
        raise ScheduleProblem("ends_local", "The end must be after the start.")
    if end - start > timedelta(days=MAX_EXERCISE_DAYS):
        raise ScheduleProblem(
            "ends_local", f"An exercise lasts at most {MAX_EXERCISE_DAYS} days; split it."
        )
    return Window(start, end)


# --- conflicts ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Booking:
    """Another exercise in the calendar: its window and who is in it."""

    exercise_id: int
    title: str
    window: Window
    user_ids: frozenset[int]
    contact_ids: frozenset[int]


@dataclass(frozen=True)
class Blackout:
    vendor_id: int
    vendor_name: str
    starts_on: date
    ends_on: date  # inclusive
    reason: str | None = None


@dataclass(frozen=True)
class Conflict:
    kind: str  # "participant", "contact" or "blackout"
    message: str
    exercise_id: int | None = None


def local_dates(window: Window, tz_name: str) -> tuple[date, date]:
    """The first and last calendar day the window touches in the zone."""
    first = local_time(window.start, tz_name).date()
    last = local_time(window.end - timedelta(microseconds=1), tz_name).date()
    return first, last


def find_conflicts(
    window: Window,
    tz_name: str,
    user_ids: Iterable[int],
    contact_ids: Iterable[int],
    vendor_ids: Iterable[int],
    bookings: Iterable[Booking],
    blackouts: Iterable[Blackout],
    names: dict[tuple[str, int], str] | None = None,
) -> list[Conflict]:
    """People already booked in an overlapping exercise, and vendor blackout dates hit.

    Blackout dates are calendar days in the exercise's time zone."""
    names = names or {}
    users, contacts, vendors = set(user_ids), set(contact_ids), set(vendor_ids)
    found: list[Conflict] = []
    for booking in sorted(bookings, key=lambda b: (b.window.start, b.exercise_id)):
        if not booking.window.overlaps(window):
            continue
        for user_id in sorted(users & booking.user_ids):
            who = names.get(("user", user_id), f"user {user_id}")
            found.append(
                Conflict(
                    "participant",
                    f"{who} is already booked in “{booking.title}” at an overlapping time.",
                    booking.exercise_id,
                )
            )
        for contact_id in sorted(contacts & booking.contact_ids):
            who = names.get(("contact", contact_id), f"contact {contact_id}")
            found.append(
                Conflict(
                    "contact",
                    f"{who} is already booked in “{booking.title}” at an overlapping time.",
                    booking.exercise_id,
                )
            )
    first, last = local_dates(window, tz_name)
    for blackout in sorted(blackouts, key=lambda b: (b.starts_on, b.vendor_id)):
        if (
            blackout.vendor_id in vendors
            and blackout.starts_on <= last
            and first <= blackout.ends_on
        ):
            reason = f" ({blackout.reason})" if blackout.reason else ""
            found.append(
                Conflict(
                    "blackout",
                    f"{blackout.vendor_name} declared {blackout.starts_on.isoformat()} to "
                    f"{blackout.ends_on.isoformat()} as blackout dates{reason}.",
                )
            )
    return found


def blackout_problem(starts_on: date | None, ends_on: date | None, today: date) -> str | None:
    if starts_on is None or ends_on is None:
        return "Give the first and last day."
    if ends_on < starts_on:
        return "The last day must be on or after the first day."
    if ends_on < today:
        return "The period is already over."
    if (ends_on - starts_on).days > 366:
        return "A blackout period lasts at most a year."
    return None


# --- the month view -------------------------------------------------------------------------


def month_weeks(year: int, month: int) -> list[list[date]]:
    """The weeks (Monday first) covering a month, with the neighbouring months' days."""
    return calendar.Calendar(firstweekday=0).monthdatescalendar(year, month)


def parse_month(value: str | None, today: date) -> tuple[int, int]:
    if value:
        try:
            year, month = (int(part) for part in value.split("-", 1))
            if 1 <= month <= 12 and 1900 < year < 3000:
                return year, month
        except ValueError:
            pass
    return today.year, today.month


def shift_month(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def days_covered(window: Window, tz_name: str) -> list[date]:
    first, last = local_dates(window, tz_name)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


# --- results --------------------------------------------------------------------------------


def rto_met(target_hours: float | None, achieved_hours: float | None) -> bool | None:
    """True when the service was restored within its attested RTO; None when unknown."""
    if target_hours is None or achieved_hours is None:
        return None
    return achieved_hours <= target_hours


def hours_problem(value: float | None) -> str | None:
    if value is None:
        return None
    if value < 0 or value > 8760:
        return "Hours must be between 0 and 8760."
    return None


# --- coverage -------------------------------------------------------------------------------

# Days within which a vendor of the tier must have completed a joint exercise (None: no rule).
DEFAULT_COVERAGE_DAYS: dict[str, int | None] = {
    "critical": 365,
    "high": 365,
    "medium": None,
    "low": None,
}


@dataclass(frozen=True)
class Coverage:
    vendor_id: int
    tier: str
    required_days: int | None
    last_completed: date | None

    @property
    def required(self) -> bool:
        return self.required_days is not None

    def covered_on(self, today: date) -> bool:
        if self.required_days is None:
            return True
        return (
            self.last_completed is not None
            and (today - self.last_completed).days <= self.required_days
        )

    def due_by(self) -> date | None:
        if self.required_days is None or self.last_completed is None:
            return None
        return self.last_completed + timedelta(days=self.required_days)
