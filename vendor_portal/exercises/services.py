"""Exercise planning, scheduling, answers, recording and the calendar. Services flush; the
request or CLI commits. Who acts is passed in (user ids), never read from the request."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, case, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from vendor_portal.auth.models import User
from vendor_portal.db import utcnow
from vendor_portal.exercises.domain import (
    DEFAULT_COVERAGE_DAYS,
    SCENARIO_LIBRARY,
    Blackout,
    Booking,
    Conflict,
    Coverage,
    ExerciseStatus,
    ExerciseType,
    Outcome,
    TimelineKind,
    VendorResponse,
    Window,
    blackout_problem,
    find_conflicts,
    hours_problem,
)
from vendor_portal.exercises.models import (
    CalendarFeedToken,
    CoveragePolicy,
    Exercise,
    ExerciseContact,
    ExerciseParticipant,
    ExerciseVendor,
    Scenario,
    ServiceResult,
    TimelineEntry,
    VendorBlackout,
)
from vendor_portal.findings.models import Finding
from vendor_portal.findings.services import open_finding
from vendor_portal.security import INTERNAL_ROLES, Role, is_vendor_user
from vendor_portal.vendors.models import Vendor, VendorContact, VendorService


class ExerciseInputError(ValueError):
    """Input that cannot be accepted; `field` names the form field or JSON key at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


# --- the scenario library -----------------------------------------------------------------


def ensure_scenario_library(session: Session) -> int:
    """Add the shipped scenarios that are missing (by code); edited ones are left alone."""
    have = set(session.scalars(select(Scenario.code).where(Scenario.code.is_not(None))))
    added = 0
    for seed in SCENARIO_LIBRARY:
        if seed.code not in have:
            session.add(
                Scenario(
                    code=seed.code,
                    name=seed.name,
                    description=seed.description,
                    injects=seed.injects,
                )
            )
            added += 1
    if added:
        session.flush()
    return added


def scenarios(session: Session, include_archived: bool = False) -> list[Scenario]:
    stmt = select(Scenario).order_by(Scenario.name)
    if not include_archived:
        stmt = stmt.where(Scenario.archived_at.is_(None))
    return list(session.scalars(stmt))


def save_scenario(session: Session, scenario: Scenario | None, values: dict[str, Any]) -> Scenario:
    if scenario is None:
        scenario = Scenario()
        session.add(scenario)
    for key in ("name", "description", "injects"):
        setattr(scenario, key, values.get(key))
    session.flush()
    return scenario


# --- planning -----------------------------------------------------------------------------


@dataclass
class Plan:
    title: str
    exercise_type: str
    objectives: str
    window: Window
    timezone: str
    vendor_ids: list[int]
    contact_ids: list[int] = field(default_factory=list)
    participant_ids: list[int] = field(default_factory=list)
    scenario_id: int | None = None
    scenario_text: str | None = None
    location: str | None = None


def check_plan(session: Session, plan: Plan) -> None:
    """Refuse vendors, contacts and participants that cannot be in this exercise."""
    ExerciseType(plan.exercise_type)
    if not plan.vendor_ids:
        raise ExerciseInputError("vendor_ids", "Invite at least one vendor.")
    vendors = {
        v.id: v for v in session.scalars(select(Vendor).where(Vendor.id.in_(plan.vendor_ids)))
    }
    for vendor_id in plan.vendor_ids:
        vendor = vendors.get(vendor_id)
        if vendor is None:
            raise ExerciseInputError("vendor_ids", f"There is no vendor with id {vendor_id}.")
        if vendor.archived_at is not None:
            raise ExerciseInputError("vendor_ids", f"{vendor.name} is archived.")
    contacts = session.scalars(
        select(VendorContact).where(VendorContact.id.in_(plan.contact_ids or [-1]))
    ).all()
    found = {c.id for c in contacts}
    for contact_id in plan.contact_ids:
        if contact_id not in found:
            raise ExerciseInputError("contact_ids", f"There is no contact with id {contact_id}.")
    for contact in contacts:
        if contact.vendor_id not in vendors:
            raise ExerciseInputError(
                "contact_ids",
                f"{contact.name} is a contact of {contact.vendor.name}, which is not invited "
                "to this exercise; invite the vendor or remove the contact.",
            )
    users = session.scalars(select(User).where(User.id.in_(plan.participant_ids or [-1]))).all()
    known = {u.id: u for u in users}
    for user_id in plan.participant_ids:
        user = known.get(user_id)
        if user is None:
            raise ExerciseInputError("participant_ids", f"There is no user with id {user_id}.")
        if not user.active or Role(user.role) not in INTERNAL_ROLES:
            raise ExerciseInputError(
                "participant_ids",
                f"{user.name} cannot be an internal participant (inactive or a vendor user); "
                "vendor people take part as the vendor's contacts.",
            )
    if plan.scenario_id is not None and session.get(Scenario, plan.scenario_id) is None:
        raise ExerciseInputError("scenario_id", f"There is no scenario with id {plan.scenario_id}.")


def conflicts_for(session: Session, plan: Plan, exclude_id: int | None = None) -> list[Conflict]:
    window = plan.window
    stmt = (
        select(Exercise)
        .where(
            Exercise.status != ExerciseStatus.CANCELLED.value,
            Exercise.starts_at < window.end,
            Exercise.ends_at > window.start,
        )
        .options(selectinload(Exercise.participants), selectinload(Exercise.contacts))
    )
    if exclude_id is not None:
        stmt = stmt.where(Exercise.id != exclude_id)
    bookings = [
        Booking(
            exercise_id=ex.id,
            title=ex.title,
            window=ex.window,
            user_ids=frozenset(p.user_id for p in ex.participants)
            | frozenset([ex.organizer_id] if ex.organizer_id else []),
            contact_ids=frozenset(c.contact_id for c in ex.contacts),
        )
        for ex in session.scalars(stmt)
    ]
    start_day = (window.start - timedelta(days=1)).date()
    end_day = (window.end + timedelta(days=1)).date()
    blackouts = [
        Blackout(b.vendor_id, b.vendor.name, b.starts_on, b.ends_on, b.reason)
        for b in session.scalars(
            select(VendorBlackout)
            .where(
                VendorBlackout.vendor_id.in_(plan.vendor_ids or [-1]),
                VendorBlackout.starts_on <= end_day,
                VendorBlackout.ends_on >= start_day,
            )
            .options(selectinload(VendorBlackout.vendor))
        )
    ]
    names: dict[tuple[str, int], str] = {}
    if plan.participant_ids:
        for user in session.scalars(select(User).where(User.id.in_(plan.participant_ids))):
            names[("user", user.id)] = user.name
    if plan.contact_ids:
        for contact in session.scalars(
            select(VendorContact).where(VendorContact.id.in_(plan.contact_ids))
        ):
            names[("contact", contact.id)] = f"{contact.name} ({contact.vendor.name})"
    return find_conflicts(
        window,
        plan.timezone,
        plan.participant_ids,
        plan.contact_ids,
        plan.vendor_ids,
        bookings,
        blackouts,
        names,
    )


def _apply_plan(session: Session, exercise: Exercise, plan: Plan) -> None:
    exercise.title = plan.title
    exercise.exercise_type = plan.exercise_type
    exercise.objectives = plan.objectives
    exercise.location = plan.location
    exercise.starts_at = plan.window.start
    exercise.ends_at = plan.window.end
    exercise.timezone = plan.timezone
    exercise.scenario_id = plan.scenario_id
    if plan.scenario_text is not None:
        exercise.scenario_text = plan.scenario_text
    elif plan.scenario_id and not exercise.scenario_text:
        scenario = session.get(Scenario, plan.scenario_id)
        exercise.scenario_text = scenario.description if scenario else None

    existing_vendors = {v.vendor_id: v for v in exercise.vendors}
    for vendor_id in plan.vendor_ids:
        if vendor_id not in existing_vendors:
            exercise.vendors.append(ExerciseVendor(vendor_id=vendor_id, response="invited"))
    for vendor_id, link in existing_vendors.items():
        if vendor_id not in plan.vendor_ids:
            exercise.vendors.remove(link)
    existing_contacts = {c.contact_id: c for c in exercise.contacts}
    for contact_id in plan.contact_ids:
        if contact_id not in existing_contacts:
            exercise.contacts.append(ExerciseContact(contact_id=contact_id))
    for contact_id, link in existing_contacts.items():
        if contact_id not in plan.contact_ids:
            exercise.contacts.remove(link)
    existing_people = {p.user_id: p for p in exercise.participants}
    for user_id in plan.participant_ids:
        if user_id not in existing_people:
            exercise.participants.append(ExerciseParticipant(user_id=user_id))
    for user_id, link in existing_people.items():
        if user_id not in plan.participant_ids:
            exercise.participants.remove(link)


def schedule_exercise(session: Session, plan: Plan, organizer_id: int | None) -> Exercise:
    check_plan(session, plan)
    exercise = Exercise(
        uid=f"exercise-{uuid.uuid4()}@vendor-portal",
        sequence=0,
        status=ExerciseStatus.SCHEDULED.value,
        organizer_id=organizer_id,
    )
    session.add(exercise)
    _apply_plan(session, exercise, plan)
    session.flush()
    return exercise


@dataclass(frozen=True)
class Recipient:
    email: str
    name: str
    vendor_id: int | None  # None: an internal person who sees every vendor


def recipients(session: Session, exercise: Exercise) -> list[Recipient]:
    """Everyone to notify: organizer, participants, invited contacts and the vendors' users."""
    out: dict[str, Recipient] = {}

    def add(email: str, name: str, vendor_id: int | None) -> None:
        out.setdefault(email.lower(), Recipient(email.lower(), name, vendor_id))

    if exercise.organizer is not None and exercise.organizer.active:
        add(exercise.organizer.email, exercise.organizer.name, None)
    for participant in exercise.participants:
        user = participant.user or session.get(User, participant.user_id)
        if user is not None and user.active:
            add(user.email, user.name, None)
    for link in exercise.contacts:
        contact = link.contact or session.get(VendorContact, link.contact_id)
        if contact is not None:
            add(contact.email, contact.name, contact.vendor_id)
    vendor_ids = [v.vendor_id for v in exercise.vendors]
    if vendor_ids:
        for user in session.scalars(
            select(User)
            .where(User.vendor_id.in_(vendor_ids), User.active, User.role == Role.VENDOR_USER)
            .order_by(User.id)
        ):
            add(user.email, user.name, user.vendor_id)
    return list(out.values())


EVENT_FIELDS = (
    "title",
    "exercise_type",
    "objectives",
    "location",
    "starts_at",
    "ends_at",
    "timezone",
    "scenario_text",
)


@dataclass
class Change:
    changed: bool
    rescheduled: bool
    removed: list[Recipient]


def update_exercise(session: Session, exercise: Exercise, plan: Plan) -> Change:
    """Apply a new plan. Any change bumps the iCalendar SEQUENCE; a new time resets answers."""
    if exercise.status != ExerciseStatus.SCHEDULED:
        raise ExerciseInputError("status", f"A {exercise.status} exercise cannot be changed.")
    check_plan(session, plan)
    before_recipients = recipients(session, exercise)
    before = {key: getattr(exercise, key) for key in EVENT_FIELDS}
    before_people = (
        {v.vendor_id for v in exercise.vendors},
        {c.contact_id for c in exercise.contacts},
        {p.user_id for p in exercise.participants},
    )
    _apply_plan(session, exercise, plan)
    session.flush()
    session.expire(exercise, ["vendors", "contacts", "participants"])
    after = {key: getattr(exercise, key) for key in EVENT_FIELDS}
    after_people = (
        {v.vendor_id for v in exercise.vendors},
        {c.contact_id for c in exercise.contacts},
        {p.user_id for p in exercise.participants},
    )
    rescheduled = (before["starts_at"], before["ends_at"]) != (after["starts_at"], after["ends_at"])
    changed = before != after or before_people != after_people
    if rescheduled:
        for link in exercise.vendors:
            matches_proposal = (link.proposed_starts_at, link.proposed_ends_at) == (
                exercise.starts_at,
                exercise.ends_at,
            )
            # The vendor whose proposal was taken has in effect confirmed the new time.
            link.response = (
                VendorResponse.CONFIRMED.value if matches_proposal else VendorResponse.INVITED.value
            )
            link.proposed_starts_at = link.proposed_ends_at = None
            if not matches_proposal:
                link.responded_at = None
                link.responded_by_id = None
                link.response_comment = None
    if changed:
        exercise.sequence += 1
    session.flush()
    now = {r.email for r in recipients(session, exercise)}
    return Change(changed, rescheduled, [r for r in before_recipients if r.email not in now])


def plan_of(exercise: Exercise) -> Plan:
    return Plan(
        title=exercise.title,
        exercise_type=exercise.exercise_type,
        objectives=exercise.objectives,
        window=exercise.window,
        timezone=exercise.timezone,
        vendor_ids=[v.vendor_id for v in exercise.vendors],
        contact_ids=[c.contact_id for c in exercise.contacts],
        participant_ids=[p.user_id for p in exercise.participants],
        scenario_id=exercise.scenario_id,
        scenario_text=exercise.scenario_text,
        location=exercise.location,
    )


def reschedule_to_proposal(session: Session, exercise: Exercise, vendor_id: int) -> Change:
    link = exercise.vendor_link(vendor_id)
    if link is None or link.response != VendorResponse.PROPOSED or not link.proposed_starts_at:
        raise ExerciseInputError("vendor_id", "That vendor has not proposed another time.")
    plan = plan_of(exercise)
    plan.window = Window(link.proposed_starts_at, link.proposed_ends_at)  # type: ignore[arg-type]
    return update_exercise(session, exercise, plan)


def cancel_exercise(session: Session, exercise: Exercise, reason: str | None) -> None:
    if exercise.status != ExerciseStatus.SCHEDULED:
        raise ExerciseInputError("status", f"A {exercise.status} exercise cannot be cancelled.")
    exercise.status = ExerciseStatus.CANCELLED.value
    exercise.cancelled_at = utcnow()
    exercise.cancel_reason = reason
    exercise.sequence += 1
    session.flush()


# --- vendor answers -----------------------------------------------------------------------


def respond(
    session: Session,
    exercise: Exercise,
    vendor_id: int | None,
    user_id: int,
    response: str,
    comment: str | None = None,
    proposed: Window | None = None,
) -> ExerciseVendor:
    """A vendor confirms, declines or proposes another time for an exercise it is invited to."""
    answer = VendorResponse(response)
    link = exercise.vendor_link(vendor_id) if vendor_id is not None else None
    if link is None:
        raise ExerciseInputError(
            "response",
            "Your company is not invited to this exercise, so there is nothing to answer.",
        )
    if exercise.status == ExerciseStatus.CANCELLED:
        raise ExerciseInputError("response", "This exercise was cancelled; nothing to answer.")
    if exercise.status == ExerciseStatus.COMPLETED:
        raise ExerciseInputError("response", "This exercise has already taken place.")
    if answer == VendorResponse.INVITED:
        raise ExerciseInputError("response", "Confirm, decline or propose another time.")
    if answer == VendorResponse.DECLINED and not (comment or "").strip():
        raise ExerciseInputError("comment", "Say why you decline, so the organiser can plan.")
    if answer == VendorResponse.PROPOSED:
        if proposed is None:
            raise ExerciseInputError("proposed_starts_local", "Give the time you propose.")
        if proposed.start <= utcnow():
            raise ExerciseInputError("proposed_starts_local", "Propose a time in the future.")
        if (proposed.start, proposed.end) == (exercise.starts_at, exercise.ends_at):
            raise ExerciseInputError(
                "proposed_starts_local", "That is the planned time; confirm it instead."
            )
    link.response = answer.value
    link.responded_at = utcnow()
    link.responded_by_id = user_id
    link.response_comment = (comment or "").strip() or None
    if answer == VendorResponse.PROPOSED and proposed is not None:
        link.proposed_starts_at, link.proposed_ends_at = proposed.start, proposed.end
    else:
        link.proposed_starts_at = link.proposed_ends_at = None
    session.flush()
    return link


# --- blackout dates -------------------------------------------------------------------------


def add_blackout(
    session: Session,
    vendor_id: int,
    starts_on: date | None,
    ends_on: date | None,
    reason: str | None,
    user_id: int | None,
) -> VendorBlackout:
    problem = blackout_problem(starts_on, ends_on, utcnow().date())
    if problem:
        raise ExerciseInputError("ends_on" if "last day" in problem else "starts_on", problem)
    blackout = VendorBlackout(
        vendor_id=vendor_id,
        starts_on=starts_on,
        ends_on=ends_on,
        reason=reason,
        created_by_id=user_id,
    )
    session.add(blackout)
    session.flush()
    return blackout


def blackouts_of(session: Session, vendor_id: int, include_past: bool = False) -> list[Any]:
    stmt = select(VendorBlackout).where(VendorBlackout.vendor_id == vendor_id)
    if not include_past:
        stmt = stmt.where(VendorBlackout.ends_on >= utcnow().date())
    return list(session.scalars(stmt.order_by(VendorBlackout.starts_on)))


# --- which exercises a user sees --------------------------------------------------------------


def invited_clause(vendor_id: int | None) -> Any:
    return exists().where(
        ExerciseVendor.exercise_id == Exercise.id, ExerciseVendor.vendor_id == vendor_id
    )


def scope_exercises(stmt: Select[Any], user: Any) -> Select[Any]:
    """Vendor users see only the exercises their vendor is invited to."""
    if is_vendor_user(user):
        return stmt.where(invited_clause(user.vendor_id))
    return stmt


def visible_to(exercise: Exercise, user: Any) -> bool:
    return not is_vendor_user(user) or exercise.vendor_link(user.vendor_id) is not None


@dataclass
class ExerciseFilters:
    statuses: list[str] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    vendor_id: int | None = None
    when: str | None = None  # "upcoming" or "past"
    search: str | None = None


def exercise_query(filters: ExerciseFilters, now: datetime) -> Select[Any]:
    stmt = select(Exercise).options(
        selectinload(Exercise.vendors).selectinload(ExerciseVendor.vendor)
    )
    if filters.statuses:
        stmt = stmt.where(Exercise.status.in_(filters.statuses))
    if filters.types:
        stmt = stmt.where(Exercise.exercise_type.in_(filters.types))
    if filters.vendor_id:
        stmt = stmt.where(invited_clause(filters.vendor_id))
    if filters.when == "upcoming":
        stmt = stmt.where(Exercise.ends_at >= now)
    elif filters.when == "past":
        stmt = stmt.where(Exercise.ends_at < now)
    if filters.search:
        stmt = stmt.where(func.lower(Exercise.title).like(f"%{filters.search.strip().lower()}%"))
    return stmt


def feed_exercises(session: Session, user: Any, now: datetime) -> list[Exercise]:
    """The user's own exercises for a calendar: invited (vendor users), organised or joined."""
    stmt = (
        select(Exercise)
        .where(Exercise.ends_at >= now - timedelta(days=365))
        .options(
            selectinload(Exercise.vendors).selectinload(ExerciseVendor.vendor),
            selectinload(Exercise.contacts)
            .selectinload(ExerciseContact.contact)
            .selectinload(VendorContact.vendor),
            selectinload(Exercise.participants).selectinload(ExerciseParticipant.user),
            selectinload(Exercise.organizer),
        )
        .order_by(Exercise.starts_at, Exercise.id)
    )
    if is_vendor_user(user):
        stmt = stmt.where(invited_clause(user.vendor_id))
    else:
        stmt = stmt.where(
            or_(
                Exercise.organizer_id == user.id,
                exists().where(
                    ExerciseParticipant.exercise_id == Exercise.id,
                    ExerciseParticipant.user_id == user.id,
                ),
            )
        )
    return list(session.scalars(stmt))


def in_month(session: Session, user: Any, first: datetime, last: datetime) -> list[Exercise]:
    stmt = (
        select(Exercise)
        .where(Exercise.starts_at < last, Exercise.ends_at > first)
        .options(selectinload(Exercise.vendors).selectinload(ExerciseVendor.vendor))
        .order_by(Exercise.starts_at)
    )
    return list(session.scalars(scope_exercises(stmt, user)))


# --- calendar feed tokens -------------------------------------------------------------------

FEED_TOKEN_PREFIX = "vpcal_"  # noqa: S105 (a prefix, not a secret)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_feed_token(session: Session, user: User) -> str:
    """A new secret feed URL token (returned once); any earlier one stops working."""
    revoke_feed_tokens(session, user)
    plain = FEED_TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        CalendarFeedToken(user=user, token_hash=_digest(plain), prefix=plain[: len(plain) // 4])
    )
    session.flush()
    return plain


def revoke_feed_tokens(session: Session, user: User) -> int:
    active = session.scalars(
        select(CalendarFeedToken).where(
            CalendarFeedToken.user_id == user.id, CalendarFeedToken.revoked_at.is_(None)
        )
    ).all()
    for token in active:
        token.revoked_at = utcnow()
    session.flush()
    return len(active)


def active_feed_token(session: Session, user: User) -> CalendarFeedToken | None:
    return session.scalar(
        select(CalendarFeedToken).where(
            CalendarFeedToken.user_id == user.id, CalendarFeedToken.revoked_at.is_(None)
        )
    )


def user_for_feed_token(session: Session, plain: str) -> User | None:
    if not plain.startswith(FEED_TOKEN_PREFIX):
        return None
    token = session.scalar(
        select(CalendarFeedToken).where(CalendarFeedToken.token_hash == _digest(plain))
    )
    if token is None or token.revoked_at is not None or not token.user.active:
        return None
    token.last_used_at = utcnow()
    session.flush()
    return token.user


# --- running and recording ----------------------------------------------------------------


def _recordable(exercise: Exercise) -> None:
    if exercise.status == ExerciseStatus.CANCELLED:
        raise ExerciseInputError("status", "A cancelled exercise cannot be recorded.")


def add_timeline_entry(
    session: Session,
    exercise: Exercise,
    occurred_at: datetime,
    kind: str,
    description: str,
    actor: str | None,
    vendor_id: int | None,
    user_id: int | None,
) -> TimelineEntry:
    _recordable(exercise)
    TimelineKind(kind)
    if vendor_id is not None and exercise.vendor_link(vendor_id) is None:
        raise ExerciseInputError("vendor_id", "That vendor is not part of this exercise.")
    window = exercise.window
    if not (window.start - timedelta(days=1) <= occurred_at <= window.end + timedelta(days=1)):
        raise ExerciseInputError(
            "occurred_local",
            "The time is outside the exercise (allowing a day either side); check the date.",
        )
    entry = TimelineEntry(
        exercise=exercise,
        occurred_at=occurred_at,
        kind=kind,
        description=description,
        actor=actor,
        vendor_id=vendor_id,
        recorded_by_id=user_id,
    )
    session.add(entry)
    session.flush()
    return entry


def record_attendance(
    session: Session, exercise: Exercise, user_ids: set[int], contact_ids: set[int]
) -> None:
    _recordable(exercise)
    for participant in exercise.participants:
        participant.attended = participant.user_id in user_ids
    for contact in exercise.contacts:
        contact.attended = contact.contact_id in contact_ids
    session.flush()


def services_exercised(session: Session, exercise: Exercise) -> list[VendorService]:
    """The services of the invited vendors, for recording RTO results."""
    ids = exercise.vendor_ids
    if not ids:
        return []
    return list(
        session.scalars(
            select(VendorService)
            .where(VendorService.vendor_id.in_(ids), VendorService.archived_at.is_(None))
            .options(selectinload(VendorService.vendor))
            .order_by(VendorService.vendor_id, VendorService.name)
        )
    )


def record_results(
    session: Session,
    exercise: Exercise,
    achieved: dict[int, float | None],
    notes: dict[int, str | None] | None = None,
) -> list[ServiceResult]:
    """RTO achieved per service (None removes a result); the target is the attested RTO now."""
    _recordable(exercise)
    notes = notes or {}
    allowed = {s.id: s for s in services_exercised(session, exercise)}
    for service_id, hours in achieved.items():
        service = allowed.get(service_id)
        if service is None:
            raise ExerciseInputError(
                f"achieved_{service_id}",
                f"Service {service_id} is not delivered by a vendor of this exercise.",
            )
        problem = hours_problem(hours)
        if problem:
            raise ExerciseInputError(f"achieved_{service_id}", f"{service.name}: {problem}")
    existing = {r.vendor_service_id: r for r in exercise.results}
    for service_id, hours in achieved.items():
        result = existing.get(service_id)
        if hours is None:
            if result is not None:
                exercise.results.remove(result)
            continue
        if result is None:
            result = ServiceResult(vendor_service_id=service_id, achieved_rto_hours=hours)
            exercise.results.append(result)
        result.achieved_rto_hours = hours
        result.target_rto_hours = allowed[service_id].attested_rto_hours
        result.notes = notes.get(service_id)
    session.flush()
    sync_rto_measurements(session, exercise, set(achieved))
    return list(exercise.results)


RTO_KPI_CODE = "rto_achieved"
MEASUREMENT_SOURCE = "exercise"


def sync_rto_measurements(session: Session, exercise: Exercise, service_ids: set[int]) -> None:
    """Keep the KPI measurements `rto_achieved` in step with the exercises' results.

    One measurement per service and calendar month (UTC) of the exercise: the worst (longest)
    RTO achieved in that month's exercises. A measurement entered another way is left alone.
    """
    from vendor_portal.kpis.models import KpiMeasurement

    start = exercise.starts_at
    month_start = start.date().replace(day=1)
    month_end = (month_start + timedelta(days=32)).replace(day=1)
    for service_id in sorted(service_ids):
        rows = session.execute(
            select(ServiceResult.achieved_rto_hours, Exercise.id)
            .join(Exercise, Exercise.id == ServiceResult.exercise_id)
            .where(
                ServiceResult.vendor_service_id == service_id,
                Exercise.status != ExerciseStatus.CANCELLED.value,
                Exercise.starts_at >= datetime.combine(month_start, time(), UTC),
                Exercise.starts_at < datetime.combine(month_end, time(), UTC),
            )
        ).all()
        measurement = session.scalar(
            select(KpiMeasurement).where(
                KpiMeasurement.vendor_service_id == service_id,
                KpiMeasurement.code == RTO_KPI_CODE,
                KpiMeasurement.period_start == month_start,
            )
        )
        if measurement is not None and measurement.source != MEASUREMENT_SOURCE:
            continue
        if not rows:
            if measurement is not None:
                session.delete(measurement)
            continue
        worst, worst_exercise = max(rows)
        note = (
            f"Longest RTO achieved in {len(rows)} exercise(s) this month "
            f"(exercise #{worst_exercise})."
        )
        if measurement is None:
            session.add(
                KpiMeasurement(
                    vendor_service_id=service_id,
                    code=RTO_KPI_CODE,
                    period_start=month_start,
                    value=worst,
                    note=note,
                    source=MEASUREMENT_SOURCE,
                )
            )
        else:
            measurement.value = worst
            measurement.note = note
    session.flush()


def complete_exercise(
    session: Session, exercise: Exercise, outcome: str, lessons: str, user_id: int | None
) -> None:
    if exercise.status == ExerciseStatus.CANCELLED:
        raise ExerciseInputError("outcome", "A cancelled exercise cannot be completed.")
    Outcome(outcome)
    if not lessons.strip():
        raise ExerciseInputError("lessons_learned", "Write down the lessons learned.")
    exercise.status = ExerciseStatus.COMPLETED.value
    exercise.outcome = outcome
    exercise.lessons_learned = lessons.strip()
    if exercise.completed_at is None:
        exercise.completed_at = utcnow()
        exercise.completed_by_id = user_id
    session.flush()


def raise_finding(
    session: Session,
    exercise: Exercise,
    *,
    vendor_id: int,
    title: str,
    severity: str,
    description: str | None,
    owner_id: int | None,
    key: str,
) -> tuple[Finding, bool]:
    """A finding from the exercise record; `key` makes a repeated submission a no-op."""
    if exercise.vendor_link(vendor_id) is None:
        raise ExerciseInputError("vendor_id", "That vendor is not part of this exercise.")
    if exercise.status == ExerciseStatus.CANCELLED:
        raise ExerciseInputError("vendor_id", "A cancelled exercise raises no findings.")
    return open_finding(
        session,
        source="exercise",
        vendor_id=vendor_id,
        title=title,
        severity=severity,
        description=description,
        source_ref=f"exercise:{exercise.id}:{key}"[:200],
        owner_id=owner_id,
    )


def exercise_findings(session: Session, exercise_id: int, vendor_id: int | None = None) -> list:
    stmt = (
        select(Finding)
        .where(Finding.source == "exercise", Finding.source_ref.like(f"exercise:{exercise_id}:%"))
        .options(selectinload(Finding.vendor), selectinload(Finding.owner))
        .order_by(Finding.id)
    )
    if vendor_id is not None:
        stmt = stmt.where(Finding.vendor_id == vendor_id)
    return list(session.scalars(stmt))


# --- coverage -----------------------------------------------------------------------------


def coverage_policy(session: Session) -> dict[str, int | None]:
    policy = dict(DEFAULT_COVERAGE_DAYS)
    for row in session.scalars(select(CoveragePolicy)):
        policy[row.tier] = row.max_age_days
    return policy


def set_coverage_policy(session: Session, days_by_tier: dict[str, int | None]) -> None:
    for tier, days in days_by_tier.items():
        row = session.get(CoveragePolicy, tier)
        if row is None:
            session.add(CoveragePolicy(tier=tier, max_age_days=days))
        elif row.max_age_days != days:
            row.max_age_days = days
    session.flush()


def _completed_participations() -> Select[Any]:
    """Joint exercises that count for coverage: completed, and the vendor did not decline."""
    return (
        select(ExerciseVendor.vendor_id, Exercise.ends_at)
        .join(Exercise, Exercise.id == ExerciseVendor.exercise_id)
        .where(
            Exercise.status == ExerciseStatus.COMPLETED.value,
            ExerciseVendor.response != VendorResponse.DECLINED.value,
        )
    )


def last_completed_exercises(
    session: Session, vendor_ids: list[int] | None = None
) -> dict[int, date]:
    """Per vendor (every vendor, or those of `vendor_ids`), the day its latest completed joint
    exercise ended (not counting a decline)."""
    stmt = (
        _completed_participations()
        .with_only_columns(ExerciseVendor.vendor_id, func.max(Exercise.ends_at))
        .group_by(ExerciseVendor.vendor_id)
    )
    if vendor_ids is not None:
        stmt = stmt.where(ExerciseVendor.vendor_id.in_(vendor_ids))
    out: dict[int, date] = {}
    for vendor_id, ended in session.execute(stmt):
        if ended is not None:
            ended = ended if ended.tzinfo else ended.replace(tzinfo=utcnow().tzinfo)
            out[vendor_id] = ended.date()
    return out


def vendor_coverage(session: Session, vendor: Vendor) -> Coverage:
    """For the vendor page and the procurement gate's `exercise` check."""
    policy = coverage_policy(session)
    return Coverage(
        vendor.id,
        vendor.tier,
        policy.get(vendor.tier),
        last_completed_exercises(session, [vendor.id]).get(vendor.id),
    )


def required_vendors(policy: dict[str, int | None]) -> Select[Any]:
    """The vendors the coverage policy asks an exercise of (live, active or offboarding, of a
    tier with a rule), by name."""
    tiers = sorted(tier for tier, days in policy.items() if days is not None)
    return (
        select(Vendor)
        .where(
            Vendor.archived_at.is_(None),
            Vendor.status.in_(("active", "offboarding")),
            Vendor.tier.in_(tiers),
        )
        .order_by(Vendor.name, Vendor.id)
    )


def _coverage_counts_query(policy: dict[str, int | None], today: date) -> Select[Any] | None:
    """(required, covered) as Coverage.covered_on counts them, or None when no tier has a rule."""
    covered = []
    for tier, days in policy.items():
        if days is None:
            continue
        # covered_on: the UTC day of the latest end is at most `days` before today, i.e. it
        # ended at or after midnight UTC of that day.
        since = datetime.combine(today - timedelta(days=days), time.min, tzinfo=UTC)
        recent = (
            _completed_participations()
            .with_only_columns(ExerciseVendor.id)
            .where(ExerciseVendor.vendor_id == Vendor.id, Exercise.ends_at >= since)
        )
        covered.append((Vendor.tier == tier) & recent.exists())
    if not covered:
        return None
    return (
        required_vendors(policy)
        .order_by(None)
        .with_only_columns(
            func.count().label("required"), func.count(case((or_(*covered), 1))).label("covered")
        )
        .select_from(Vendor)
    )


def coverage_counts(
    session: Session, today: date, policy: dict[str, int | None] | None = None
) -> tuple[int, int]:
    """(vendors the policy asks an exercise of, how many of them are covered on `today`),
    counted by the database: the home page needs only these numbers."""
    query = _coverage_counts_query(coverage_policy(session) if policy is None else policy, today)
    if query is None:
        return 0, 0
    required, covered = session.execute(query).one()
    return required, covered


def coverage_rows(
    session: Session, vendors: list[Vendor], policy: dict[str, int | None] | None = None
) -> list[tuple[Vendor, Coverage]]:
    """The coverage of these vendors (a page of `required_vendors`, say), in their order."""
    policy = coverage_policy(session) if policy is None else policy
    last = last_completed_exercises(session, [v.id for v in vendors]) if vendors else {}
    return [(v, Coverage(v.id, v.tier, policy.get(v.tier), last.get(v.id))) for v in vendors]


# --- what people must do next -------------------------------------------------------------


def invitations_to_answer(session: Session, vendor_id: int, now: datetime) -> int:
    return (
        session.scalar(
            select(func.count(ExerciseVendor.id))
            .join(Exercise, Exercise.id == ExerciseVendor.exercise_id)
            .where(
                ExerciseVendor.vendor_id == vendor_id,
                ExerciseVendor.response == VendorResponse.INVITED.value,
                Exercise.status == ExerciseStatus.SCHEDULED.value,
                Exercise.starts_at > now,
            )
        )
        or 0
    )


@dataclass(frozen=True)
class ManagerCounts:
    """What the home page counts for the people who plan exercises."""

    to_record: int  # scheduled exercises that have ended
    proposals: int  # vendors that proposed another time or declined a scheduled exercise
    required: int  # vendors the coverage policy asks an exercise of
    covered: int  # of those, the ones with a recent enough completed exercise


def manager_counts(session: Session, now: datetime) -> ManagerCounts:
    """The counts in one round trip (after the small coverage policy)."""
    to_record = (
        select(func.count())
        .select_from(Exercise)
        .where(Exercise.status == ExerciseStatus.SCHEDULED.value, Exercise.ends_at < now)
        .scalar_subquery()
    )
    proposals = (
        select(func.count())
        .select_from(ExerciseVendor)
        .join(Exercise, Exercise.id == ExerciseVendor.exercise_id)
        .where(
            ExerciseVendor.response.in_(
                (VendorResponse.PROPOSED.value, VendorResponse.DECLINED.value)
            ),
            Exercise.status == ExerciseStatus.SCHEDULED.value,
        )
        .scalar_subquery()
    )
    coverage = _coverage_counts_query(coverage_policy(session), now.date())
    if coverage is None:
        recorded, proposed = session.execute(select(to_record, proposals)).one()
        return ManagerCounts(recorded, proposed, 0, 0)
    counts = coverage.subquery()
    row = session.execute(
        select(to_record, proposals, counts.c.required, counts.c.covered).select_from(counts)
    ).one()
    return ManagerCounts(*row)
