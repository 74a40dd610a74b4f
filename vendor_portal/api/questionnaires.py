"""Questionnaire assignments over the API: a vendor lists its assignments, reads the questions,
saves draft answers and submits; internal users read assignments, answers and scores."""

from __future__ import annotations

from typing import Any

from flask import request

from vendor_portal.api import bp
from vendor_portal.api.errors import ApiError, validation_error
from vendor_portal.api.helpers import api_user, get_scoped, int_arg, json_object, paginated
from vendor_portal.api.openapi import (
    ERRORS,
    INVALID,
    NOT_FOUND,
    PAGE_PARAMS,
    document_paths,
    document_schemas,
    error_response,
    json_body,
    json_content,
    page_of,
    path_param,
    query_param,
    ref,
)
from vendor_portal.extensions import db
from vendor_portal.questionnaires import domain, services
from vendor_portal.questionnaires.domain import AssignmentStatus, QuestionType
from vendor_portal.questionnaires.models import Assignment
from vendor_portal.questionnaires.tables import ASSIGNMENT_TABLE
from vendor_portal.security import has_permission, is_vendor_user, vendor_scope
from vendor_portal.tables import BadTableRequest


def require_reader() -> None:
    user = api_user()
    if not (
        has_permission(user, "questionnaires.read") or has_permission(user, "questionnaires.answer")
    ):
        raise ApiError(403, "forbidden", "Your role may not read questionnaires.")


def assignment_json(assignment: Assignment) -> dict[str, Any]:
    internal = not is_vendor_user(api_user())
    out = {
        "id": assignment.id,
        "vendor_id": assignment.vendor_id,
        "template_id": assignment.template_id,
        "template": assignment.version.template.name,
        "version": assignment.version.number,
        "status": assignment.status,
        "due_date": assignment.due_date.isoformat(),
        "round": assignment.current_round,
        "progress_percent": assignment.progress_percent,
        "submitted_at": assignment.submitted_at.isoformat() if assignment.submitted_at else None,
        "accepted_at": assignment.accepted_at.isoformat() if assignment.accepted_at else None,
        "previous_id": assignment.previous_id,
    }
    if internal:
        out["score"] = assignment.score
        out["red_flag_count"] = assignment.red_flag_count
    return out


def question_json(spec: domain.QuestionSpec) -> dict[str, Any]:
    return {
        "code": spec.code,
        "text": spec.text,
        "type": spec.qtype.value,
        "help": spec.help_text,
        "required": spec.required,
        "choices": [{"value": c.value, "label": c.label} for c in spec.choices],
        "show_if": {"question": spec.show_if.question, "values": list(spec.show_if.values)}
        if spec.show_if
        else None,
        "hours_metric": spec.hours_metric.value if spec.hours_metric else None,
        "evidence_type": spec.evidence_type,
    }


def detail_json(assignment: Assignment) -> dict[str, Any]:
    spec = assignment.version.spec()
    round_ = assignment.round()
    answers = services.answers_by_code(round_)
    progress = domain.progress(spec, answers)
    previous = (
        next((r for r in assignment.rounds if r.number == round_.number - 1), None)
        if round_.number > 1
        else None
    )
    codes = {q.id: q.code for q in assignment.version.questions}
    out = {
        **assignment_json(assignment),
        "sections": [
            {"title": s.title, "questions": [question_json(q) for q in s.questions]}
            for s in spec.sections
        ],
        "services": [
            {"id": s.id, "name": s.name}
            for s in services.active_services(db.session, assignment.vendor_id)
        ],
        "answers": answers,
        "visible": sorted(domain.visible_codes(spec, answers)),
        "missing_required": list(progress.missing_required),
        "comments": [
            {"question": codes.get(c.question_id), "comment": c.body} for c in previous.comments
        ]
        if previous
        else [],
        "review_note": previous.review_note if previous else None,
    }
    if not is_vendor_user(api_user()):
        shown = (
            round_
            if round_.locked
            else next((r for r in reversed(assignment.rounds) if r.locked), None)
        )
        out["scorecard"] = shown.scorecard if shown else None
    return out


@bp.get("/questionnaires/assignments")
def list_assignments():
    require_reader()
    args = request.args
    statuses = args.getlist("status")
    bad = [s for s in statuses if s not in {x.value for x in AssignmentStatus}]
    if bad:
        raise ApiError(
            400,
            "bad_request",
            f"status must be one of {', '.join(s.value for s in AssignmentStatus)}.",
        )
    stmt = services.assignment_query(
        vendor_id=int_arg("vendor_id"),
        statuses=statuses or None,
        template_id=int_arg("template_id"),
    )
    stmt = vendor_scope(stmt, Assignment.vendor_id, api_user())
    try:
        stmt = ASSIGNMENT_TABLE.sorted(stmt, args.get("sort"), Assignment.id)
    except BadTableRequest as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return paginated(stmt, assignment_json)


@bp.get("/questionnaires/assignments/<int:assignment_id>")
def get_assignment(assignment_id: int):
    require_reader()
    return detail_json(get_scoped(Assignment, assignment_id))


def _answering(assignment_id: int) -> Assignment:
    user = api_user()
    if not has_permission(user, "questionnaires.answer"):
        raise ApiError(403, "forbidden", "Only the vendor's users answer its questionnaires.")
    return get_scoped(Assignment, assignment_id)


@bp.post("/questionnaires/assignments/<int:assignment_id>/answers")
def save_answers(assignment_id: int):
    assignment = _answering(assignment_id)
    data = json_object()
    answers = data.get("answers")
    if not isinstance(answers, dict):
        raise validation_error({"answers": "An object of question code -> answer."})
    hours_codes = {q.code for q in assignment.version.questions if q.qtype == QuestionType.HOURS}
    for code in hours_codes & set(answers):
        if isinstance(answers[code], dict):
            answers[code] = {str(k): v for k, v in answers[code].items()}
    try:
        errors = services.save_answers(db.session, assignment, answers, api_user())
    except services.QuestionnaireError as exc:
        raise ApiError(409, "locked", exc.message) from exc
    db.session.commit()
    if errors:
        raise validation_error(errors)
    return detail_json(assignment)


@bp.post("/questionnaires/assignments/<int:assignment_id>/submit")
def submit_assignment(assignment_id: int):
    assignment = _answering(assignment_id)
    try:
        services.submit(db.session, assignment, api_user())
    except services.SubmitBlocked as exc:
        raise validation_error(exc.problems) from exc
    except services.QuestionnaireError as exc:
        raise ApiError(409, "locked", exc.message) from exc
    db.session.commit()
    return detail_json(assignment)


STATUSES = [s.value for s in AssignmentStatus]
SORTS = [p + c.key for c in ASSIGNMENT_TABLE.columns if c.sort is not None for p in ("", "-")]

document_schemas(
    {
        "Assignment": {
            "type": "object",
            "required": ["id", "vendor_id", "template", "version", "status", "due_date"],
            "properties": {
                "id": {"type": "integer"},
                "vendor_id": {"type": "integer"},
                "template_id": {"type": "integer"},
                "template": {"type": "string"},
                "version": {"type": "integer"},
                "status": {"type": "string", "enum": STATUSES},
                "due_date": {"type": "string", "format": "date"},
                "round": {"type": "integer"},
                "progress_percent": {"type": "integer"},
                "submitted_at": {"type": ["string", "null"], "format": "date-time"},
                "accepted_at": {"type": ["string", "null"], "format": "date-time"},
                "previous_id": {"type": ["integer", "null"]},
                "score": {"type": ["number", "null"], "description": "Internal users only"},
                "red_flag_count": {"type": "integer", "description": "Internal users only"},
            },
        },
        "AssignmentPage": page_of("#/components/schemas/Assignment"),
        "AssignmentDetail": {
            "allOf": [
                ref("Assignment"),
                {
                    "type": "object",
                    "properties": {
                        "sections": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "title": {"type": "string"},
                                    "questions": {"type": "array", "items": {"type": "object"}},
                                },
                            },
                        },
                        "services": {"type": "array", "items": {"type": "object"}},
                        "answers": {
                            "type": "object",
                            "description": "Question code -> answer (see AnswersInput)",
                        },
                        "visible": {"type": "array", "items": {"type": "string"}},
                        "missing_required": {"type": "array", "items": {"type": "string"}},
                        "comments": {"type": "array", "items": {"type": "object"}},
                        "review_note": {"type": ["string", "null"]},
                        "scorecard": {"type": ["object", "null"]},
                    },
                },
            ]
        },
        "AnswersInput": {
            "type": "object",
            "required": ["answers"],
            "properties": {
                "answers": {
                    "type": "object",
                    "description": "Question code -> answer: a choice value (yes_no, "
                    "single_choice), a list of values (multiple_choice), text, a number, a date "
                    "YYYY-MM-DD, {service id: hours} (hours; 'general' when the vendor has no "
                    "services), or a list of evidence version ids (evidence). null clears.",
                }
            },
        },
    }
)
document_paths(
    {
        "/questionnaires/assignments": {
            "get": {
                "summary": "Questionnaire assignments (a vendor user sees its own)",
                "operationId": "listAssignments",
                "parameters": [
                    *PAGE_PARAMS,
                    query_param("status", enum=STATUSES),
                    query_param("vendor_id", "integer"),
                    query_param("template_id", "integer"),
                    query_param("sort", enum=SORTS),
                ],
                "responses": {
                    "200": json_content(ref("AssignmentPage"), "A page of assignments"),
                    **ERRORS,
                },
            }
        },
        "/questionnaires/assignments/{assignment_id}": {
            "get": {
                "summary": "An assignment with its questions and current answers",
                "operationId": "getAssignment",
                "parameters": [path_param("assignment_id")],
                "responses": {
                    "200": json_content(ref("AssignmentDetail"), "The assignment"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
        "/questionnaires/assignments/{assignment_id}/answers": {
            "post": {
                "summary": "Save draft answers (vendor users)",
                "operationId": "saveAnswers",
                "parameters": [path_param("assignment_id")],
                "requestBody": json_body(ref("AnswersInput")),
                "responses": {
                    "200": json_content(ref("AssignmentDetail"), "Saved"),
                    **ERRORS,
                    **NOT_FOUND,
                    **INVALID,
                    "409": error_response("Submitted or closed: answers are locked"),
                },
            }
        },
        "/questionnaires/assignments/{assignment_id}/submit": {
            "post": {
                "summary": "Submit the answers for review (vendor users)",
                "operationId": "submitAssignment",
                "parameters": [path_param("assignment_id")],
                "responses": {
                    "200": json_content(ref("AssignmentDetail"), "Submitted"),
                    **ERRORS,
                    **NOT_FOUND,
                    "409": error_response("Already submitted or closed"),
                    "422": error_response("Required answers missing; error.fields names them"),
                },
            }
        },
    }
)
