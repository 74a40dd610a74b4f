"""Builders for exercises (kept apart from tests/factories.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from vendor_portal.audit.services import Actor, acting_as
from vendor_portal.exercises import services
from vendor_portal.exercises.domain import Window
from vendor_portal.exercises.models import Exercise


def soon(days: int = 10, hour: int = 9) -> datetime:
    day = datetime.now(UTC) + timedelta(days=days)
    return day.replace(hour=hour, minute=0, second=0, microsecond=0)


def exercise(session: Session, vendors: list, organizer=None, **fields: Any) -> Exercise:
    start = fields.pop("start", soon())
    hours = fields.pop("hours", 3)
    plan = services.Plan(
        title=fields.pop("title", "Region loss drill"),
        exercise_type=fields.pop("exercise_type", "tabletop"),
        objectives=fields.pop("objectives", "Fail over within the RTO."),
        window=Window(start, start + timedelta(hours=hours)),
        timezone=fields.pop("timezone", "Europe/Paris"),
        vendor_ids=[v.id for v in vendors],
        contact_ids=fields.pop("contact_ids", []),
        participant_ids=fields.pop("participant_ids", []),
        location=fields.pop("location", None),
    )
    with acting_as(Actor(None, "test")):
        created = services.schedule_exercise(
            session, plan, organizer.id if organizer is not None else None
        )
        for key, value in fields.items():
            setattr(created, key, value)
        session.commit()
    return created
