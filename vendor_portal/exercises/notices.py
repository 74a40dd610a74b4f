"""Invitations, updates and cancellations by email with an iCalendar attachment, and the
calendar documents of the feeds. Each person gets the event as their side sees it: internal
people see every vendor's attendees, a vendor's people see their own and the organisation's."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from vendor_portal import mail
from vendor_portal.db import utcnow
from vendor_portal.exercises.ical import PARTSTAT, Attendee, CalendarEvent, Person, calendar
from vendor_portal.exercises.models import Exercise
from vendor_portal.exercises.services import Recipient

logger = logging.getLogger(__name__)


def event_for(exercise: Exercise, base_url: str, vendor_id: int | None = None) -> CalendarEvent:
    """The exercise as an iCalendar event, for internal people (vendor_id None) or one vendor."""
    responses = {link.vendor_id: link.response for link in exercise.vendors}
    attendees: list[Attendee] = []
    for participant in exercise.participants:
        user = participant.user
        if user is not None and user.active:
            attendees.append(Attendee(user.name, user.email, "NEEDS-ACTION", "REQ-PARTICIPANT"))
    for link in exercise.contacts:
        contact = link.contact
        if contact is None or (vendor_id is not None and contact.vendor_id != vendor_id):
            continue
        attendees.append(
            Attendee(
                contact.name,
                contact.email,
                PARTSTAT.get(responses.get(contact.vendor_id, "invited"), "NEEDS-ACTION"),
                "REQ-PARTICIPANT",
                contact.vendor.name if contact.vendor else None,
            )
        )
    vendors = [
        link.vendor.name
        for link in exercise.vendors
        if link.vendor and (vendor_id is None or link.vendor_id == vendor_id)
    ]
    url = f"{base_url.rstrip('/')}/exercises/{exercise.id}"
    lines = [
        f"{exercise.type_label} exercise with {', '.join(vendors) or 'vendors'}.",
        "",
        "Objectives:",
        exercise.objectives,
    ]
    if exercise.scenario_text:
        lines += ["", "Scenario:", exercise.scenario_text]
    if exercise.status == "cancelled":
        lines = ["This exercise is cancelled." + _reason(exercise), "", *lines]
    lines += ["", f"Confirm, decline or propose another time in the portal: {url}"]
    organizer = exercise.organizer
    return CalendarEvent(
        uid=exercise.uid,
        sequence=exercise.sequence,
        summary=f"{exercise.title} ({exercise.type_label} exercise)",
        start=exercise.starts_at,
        end=exercise.ends_at,
        tz_name=exercise.timezone,
        organizer=Person(organizer.name, organizer.email)
        if organizer
        else Person("Vendor Portal", "no-reply@vendor-portal.local"),
        attendees=tuple(attendees),
        description="\n".join(lines),
        location=exercise.location,
        url=url,
        cancelled=exercise.status == "cancelled",
        created=exercise.created_at,
        last_modified=exercise.updated_at,
        categories=("Continuity exercise",),
    )


def _reason(exercise: Exercise) -> str:
    return f" Reason: {exercise.cancel_reason}" if exercise.cancel_reason else ""


def ics(exercise: Exercise, base_url: str, method: str, vendor_id: int | None = None) -> bytes:
    return calendar([event_for(exercise, base_url, vendor_id)], method=method, stamp=utcnow())


def feed(exercises: Iterable[Exercise], base_url: str, vendor_id: int | None, name: str) -> bytes:
    return calendar(
        [event_for(ex, base_url, vendor_id) for ex in exercises],
        method="PUBLISH",
        stamp=utcnow(),
        name=name,
    )


@dataclass(frozen=True)
class Outgoing:
    to: str
    subject: str
    text: str
    attachment: mail.Attachment | None


def _when(exercise: Exercise) -> str:
    start, end = exercise.local_start, exercise.local_end
    same_day = start.date() == end.date()
    until = f"{end:%H:%M}" if same_day else f"{end:%a %d %b %Y %H:%M}"
    return f"{start:%a %d %b %Y %H:%M}-{until} ({exercise.timezone})"


def invitations(
    exercise: Exercise, people: Iterable[Recipient], base_url: str, method: str, headline: str
) -> list[Outgoing]:
    """One message per person, each with the event as their side sees it."""
    out = []
    cache: dict[int | None, bytes] = {}
    for person in people:
        if person.vendor_id not in cache:
            cache[person.vendor_id] = ics(exercise, base_url, method, person.vendor_id)
        verb = "Cancelled" if method == "CANCEL" else headline
        text = (
            f"Hello {person.name},\n\n"
            f"{verb}: {exercise.title}\n"
            f"{exercise.type_label} exercise, {_when(exercise)}\n"
            + (f"Where: {exercise.location}\n" if exercise.location else "")
            + (
                f"\nReason: {exercise.cancel_reason}\n"
                if method == "CANCEL" and exercise.cancel_reason
                else ""
            )
            + f"\nObjectives:\n{exercise.objectives}\n\n"
            f"Details, and to confirm, decline or propose another time:\n"
            f"{base_url.rstrip('/')}/exercises/{exercise.id}\n\n"
            "The attached calendar entry updates the one you already have.\n"
        )
        out.append(
            Outgoing(
                to=person.email,
                subject=f"{verb}: {exercise.title}"[:200],
                text=text,
                attachment=mail.Attachment(
                    "cancel.ics" if method == "CANCEL" else "invite.ics",
                    cache[person.vendor_id],
                    "text",
                    "calendar",
                    {"method": method, "charset": "utf-8"},
                ),
            )
        )
    return out


@dataclass
class Delivery:
    sent: list[str]
    logged: list[str]  # no SMTP server configured: written to the log only
    failed: list[tuple[str, str]]


def deliver(config: Any, messages: Iterable[Outgoing]) -> Delivery:
    result = Delivery([], [], [])
    for message in messages:
        try:
            delivered = mail.send(
                config,
                [message.to],
                message.subject,
                message.text,
                [message.attachment] if message.attachment else None,
            )
        except Exception as exc:  # an unreachable server or bad address must not lose the change
            logger.exception("Could not send exercise notice to %s", message.to)
            result.failed.append((message.to, str(exc)))
            continue
        (result.sent if delivered else result.logged).append(message.to)
    return result


def response_notice(exercise: Exercise, vendor_id: int, base_url: str) -> Outgoing | None:
    """Tell the organiser how a vendor answered (no calendar attachment: nothing moved)."""
    link = exercise.vendor_link(vendor_id)
    organizer = exercise.organizer
    if link is None or organizer is None or not organizer.active:
        return None
    vendor = link.vendor.name if link.vendor else f"Vendor {vendor_id}"
    lines = [f"{vendor}: {link.response_label} for “{exercise.title}” ({_when(exercise)})."]
    if link.proposed_starts_at and link.proposed_ends_at:
        start = link.proposed_starts_at.astimezone(exercise.local_start.tzinfo)
        end = link.proposed_ends_at.astimezone(exercise.local_start.tzinfo)
        lines.append(
            f"Proposed instead: {start:%a %d %b %Y %H:%M}-{end:%H:%M} ({exercise.timezone})."
        )
    if link.response_comment:
        lines += ["", link.response_comment]
    lines += ["", f"{base_url.rstrip('/')}/exercises/{exercise.id}"]
    return Outgoing(
        to=organizer.email,
        subject=f"{vendor} {link.response_label.lower()}: {exercise.title}"[:200],
        text="\n".join(lines) + "\n",
        attachment=None,
    )
