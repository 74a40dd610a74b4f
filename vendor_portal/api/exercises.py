"""Exercises over the JSON API, and the caller's iCalendar feed."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, request

from vendor_portal.api import bp
from vendor_portal.api.errors import ApiError
from vendor_portal.api.helpers import api_user, paginated, require
from vendor_portal.api.openapi import (
    ERRORS,
    NOT_FOUND,
    PAGE_PARAMS,
    document_paths,
    document_schemas,
    json_content,
    page_of,
    path_param,
    query_param,
    ref,
)
from vendor_portal.db import utcnow
from vendor_portal.exercises import notices, services
from vendor_portal.exercises.domain import ExerciseStatus, ExerciseType
from vendor_portal.exercises.models import Exercise
from vendor_portal.exercises.tables import EXERCISE_TABLE
from vendor_portal.extensions import db
from vendor_portal.security import is_vendor_user
from vendor_portal.tables import BadTableRequest


def exercise_json(exercise: Exercise) -> dict[str, Any]:
    user = api_user()
    own = user.vendor_id if is_vendor_user(user) else None
    return {
        "id": exercise.id,
        "uid": exercise.uid,
        "sequence": exercise.sequence,
        "title": exercise.title,
        "exercise_type": exercise.exercise_type,
        "status": exercise.status,
        "starts_at": exercise.starts_at.isoformat(),
        "ends_at": exercise.ends_at.isoformat(),
        "timezone": exercise.timezone,
        "location": exercise.location,
        "objectives": exercise.objectives,
        "outcome": exercise.outcome,
        "vendors": [
            {
                "vendor_id": link.vendor_id,
                "name": link.vendor.name,
                "response": link.response,
                "proposed_starts_at": link.proposed_starts_at.isoformat()
                if link.proposed_starts_at
                else None,
                "proposed_ends_at": link.proposed_ends_at.isoformat()
                if link.proposed_ends_at
                else None,
            }
            for link in exercise.vendors
            if own is None or link.vendor_id == own
        ],
    }


@bp.get("/exercises")
def list_exercises():
    require("exercises.read")
    args = request.args
    statuses = args.getlist("status")
    bad = [s for s in statuses if s not in {x.value for x in ExerciseStatus}]
    if bad:
        raise ApiError(400, "bad_request", f"Unknown status {bad[0]!r}.")
    types = args.getlist("type")
    if any(t not in {x.value for x in ExerciseType} for t in types):
        raise ApiError(400, "bad_request", "Unknown exercise type.")
    when = args.get("when")
    if when not in (None, "upcoming", "past"):
        raise ApiError(400, "bad_request", "when must be 'upcoming' or 'past'.")
    stmt = services.scope_exercises(
        services.exercise_query(
            services.ExerciseFilters(statuses=statuses, types=types, when=when), utcnow()
        ),
        api_user(),
    )
    try:
        stmt = EXERCISE_TABLE.sorted(stmt, args.get("sort"), Exercise.id)
    except BadTableRequest as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return paginated(stmt, exercise_json)


@bp.get("/exercises/<int:exercise_id>")
def get_exercise(exercise_id: int):
    require("exercises.read")
    exercise = db.session.get(Exercise, exercise_id)
    if exercise is None or not services.visible_to(exercise, api_user()):
        raise ApiError(404, "not_found", f"No exercise with id {exercise_id}.")
    return exercise_json(exercise)


@bp.get("/exercises.ics")
def exercises_feed():
    require("exercises.read")
    user = api_user()
    body = notices.feed(
        services.feed_exercises(db.session, user, utcnow()),
        current_app.config["BASE_URL"],
        user.vendor_id if is_vendor_user(user) else None,
        f"Continuity exercises ({user.name})",
    )
    return Response(body, mimetype="text/calendar; charset=utf-8")


STATUSES = [s.value for s in ExerciseStatus]
TYPES = [t.value for t in ExerciseType]
SORTS = [p + c.key for c in EXERCISE_TABLE.columns if c.sort is not None for p in ("", "-")]
document_schemas(
    {
        "Exercise": {
            "type": "object",
            "required": ["id", "uid", "sequence", "title", "status", "starts_at", "ends_at"],
            "properties": {
                "id": {"type": "integer"},
                "uid": {"type": "string", "description": "iCalendar UID, stable for the exercise"},
                "sequence": {"type": "integer", "description": "iCalendar SEQUENCE"},
                "title": {"type": "string"},
                "exercise_type": {"type": "string", "enum": TYPES},
                "status": {"type": "string", "enum": STATUSES},
                "starts_at": {"type": "string", "format": "date-time"},
                "ends_at": {"type": "string", "format": "date-time"},
                "timezone": {"type": "string", "description": "IANA time zone it was planned in"},
                "location": {"type": ["string", "null"]},
                "objectives": {"type": "string"},
                "outcome": {"type": ["string", "null"]},
                "vendors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "vendor_id": {"type": "integer"},
                            "name": {"type": "string"},
                            "response": {
                                "type": "string",
                                "enum": ["invited", "confirmed", "declined", "proposed"],
                            },
                            "proposed_starts_at": {"type": ["string", "null"]},
                            "proposed_ends_at": {"type": ["string", "null"]},
                        },
                    },
                },
            },
        },
        "ExercisePage": page_of("#/components/schemas/Exercise"),
    }
)
document_paths(
    {
        "/exercises": {
            "get": {
                "summary": "List exercises (a vendor user sees those its vendor is invited to)",
                "operationId": "listExercises",
                "parameters": [
                    *PAGE_PARAMS,
                    query_param("status", enum=STATUSES),
                    query_param("type", enum=TYPES),
                    query_param("when", enum=["upcoming", "past"]),
                    query_param("sort", enum=SORTS),
                ],
                "responses": {
                    "200": json_content(ref("ExercisePage"), "A page of exercises"),
                    **ERRORS,
                },
            }
        },
        "/exercises/{exercise_id}": {
            "get": {
                "summary": "One exercise",
                "operationId": "getExercise",
                "parameters": [path_param("exercise_id")],
                "responses": {
                    "200": json_content(ref("Exercise"), "The exercise"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
        "/exercises.ics": {
            "get": {
                "summary": "iCalendar feed of the caller's exercises",
                "description": (
                    "RFC 5545 VCALENDAR (METHOD:PUBLISH) with one VEVENT per exercise the "
                    "caller organises or takes part in (a vendor user: every exercise its "
                    "vendor is invited to), from a year back. UID is stable per exercise and "
                    "SEQUENCE grows with every change; cancelled exercises stay in the feed "
                    "with STATUS:CANCELLED. Calendar apps that cannot send a token use the "
                    "secret address from the portal's Calendar feed page instead."
                ),
                "operationId": "exercisesFeed",
                "responses": {
                    "200": {
                        "description": "The calendar",
                        "content": {"text/calendar": {"schema": {"type": "string"}}},
                    },
                    **ERRORS,
                },
            }
        },
    }
)
