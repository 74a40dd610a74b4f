"""Findings register over the JSON API: list (scoped), one, create by hand, status changes."""

from __future__ import annotations

from datetime import date
from typing import Any

from flask import request

from vendor_portal.api import bp
from vendor_portal.api.errors import ApiError, validation_error
from vendor_portal.api.helpers import (
    api_user,
    get_scoped,
    int_arg,
    is_id,
    json_object,
    paginated,
    require,
)
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
from vendor_portal.auth.models import User
from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.findings import services
from vendor_portal.findings.domain import (
    VERIFY,
    FindingSource,
    FindingStatus,
    Severity,
    transition_rule,
)
from vendor_portal.findings.models import Finding
from vendor_portal.findings.tables import FINDING_TABLE
from vendor_portal.security import INTERNAL_ROLES, has_permission, vendor_scope
from vendor_portal.tables import BadTableRequest
from vendor_portal.vendors.models import Vendor


def finding_json(finding: Finding) -> dict[str, Any]:
    today = utcnow().date()
    return {
        "id": finding.id,
        "vendor_id": finding.vendor_id,
        "vendor_name": finding.vendor.name,
        "source": finding.source,
        "source_ref": finding.source_ref,
        "title": finding.title,
        "description": finding.description,
        "severity": finding.severity,
        "status": finding.status,
        "owner_id": finding.owner_id,
        "due_date": finding.due_date.isoformat(),
        "overdue": finding.overdue_on(today),
        "days_overdue": finding.days_overdue_on(today),
        "remediation_plan": finding.remediation_plan,
        "risk_accepted_until": finding.risk_accepted_until.isoformat()
        if finding.risk_accepted_until
        else None,
        "risk_accepted_by_id": finding.risk_accepted_by_id,
        "created_at": finding.created_at.isoformat(),
        "updated_at": finding.updated_at.isoformat(),
        "closed_at": finding.closed_at.isoformat() if finding.closed_at else None,
    }


def _list_arg(name: str, allowed: set[str]) -> list[str]:
    values = request.args.getlist(name)
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ApiError(
            400,
            "bad_request",
            f"{name} must be one of {', '.join(sorted(allowed))}; got {bad[0]!r}.",
        )
    return values


@bp.get("/findings")
def list_findings():
    require("findings.read")
    args = request.args
    filters = services.FindingFilters(
        vendor_id=int_arg("vendor_id"),
        severities=_list_arg("severity", {s.value for s in Severity}),
        statuses=_list_arg("status", {s.value for s in FindingStatus}),
        sources=_list_arg("source", {s.value for s in FindingSource}),
        overdue=args.get("overdue") == "true",
        search=args.get("q"),
    )
    stmt = vendor_scope(
        services.finding_query(filters, utcnow().date()), Finding.vendor_id, api_user()
    )
    try:
        stmt = FINDING_TABLE.sorted(stmt, args.get("sort"), Finding.id)
    except BadTableRequest as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return paginated(stmt, finding_json)


@bp.get("/findings/<int:finding_id>")
def get_finding(finding_id: int):
    require("findings.read")
    return finding_json(get_scoped(Finding, finding_id))


def _parse_finding(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    known = {"vendor_id", "title", "description", "severity", "owner_id", "due_date", "source"}
    for key in sorted(set(data) - known):
        errors[key] = "Unknown field."
    vendor_id = data.get("vendor_id")
    if not isinstance(vendor_id, int) or isinstance(vendor_id, bool):
        errors["vendor_id"] = "A vendor id (integer) is required."
    elif not is_id(vendor_id) or db.session.get(Vendor, vendor_id) is None:
        errors["vendor_id"] = f"No vendor with id {vendor_id}."
    else:
        values["vendor_id"] = vendor_id
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        errors["title"] = "A title is required."
    elif len(title.strip()) > 300:
        errors["title"] = "At most 300 characters."
    else:
        values["title"] = title.strip()
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        errors["description"] = "Must be a string or null."
    else:
        values["description"] = (description or "").strip() or None
    severity = data.get("severity")
    if severity not in [s.value for s in Severity]:  # lists: JSON values may be unhashable
        errors["severity"] = f"One of {', '.join(s.value for s in Severity)}."
    else:
        values["severity"] = severity
    source = data.get("source", FindingSource.MANUAL.value)
    if source not in [s.value for s in FindingSource]:
        errors["source"] = f"One of {', '.join(s.value for s in FindingSource)}."
    else:
        values["source"] = source
    owner_id = data.get("owner_id")
    if owner_id is not None:
        owner = db.session.get(User, owner_id) if is_id(owner_id) else None
        if owner is None or not owner.active or owner.role not in INTERNAL_ROLES:
            errors["owner_id"] = "Must be the id of an active internal user."
        else:
            values["owner_id"] = owner_id
    due = data.get("due_date")
    if due is not None:
        try:
            values["due_date"] = date.fromisoformat(due)
        except (TypeError, ValueError):
            errors["due_date"] = "A date as YYYY-MM-DD."
    return values, errors


@bp.post("/findings")
def create_finding():
    require("findings.write")
    values, errors = _parse_finding(json_object())
    if errors:
        raise validation_error(errors)
    finding = services.create_finding(db.session, values)
    db.session.commit()
    return finding_json(finding), 201, {"Location": f"/api/v1/findings/{finding.id}"}


@bp.post("/findings/<int:finding_id>/status")
def change_finding_status(finding_id: int):
    require("findings.remediate")
    finding = get_scoped(Finding, finding_id)
    data = json_object()
    status = data.get("status")
    comment = data.get("comment")
    if not isinstance(status, str):
        raise validation_error({"status": "The new status is required."})
    if comment is not None and not isinstance(comment, str):
        raise validation_error({"comment": "Must be a string."})
    can_verify = has_permission(api_user(), "findings.write")
    rule = transition_rule(finding.status, status)
    if rule is not None and rule.by == VERIFY and not can_verify:
        raise ApiError(403, "forbidden", "Only the organisation's reviewers can make this change.")
    try:
        services.change_status(
            db.session,
            finding,
            status,
            comment=comment,
            can_verify=can_verify,
            can_remediate=True,
        )
    except services.FindingRuleError as exc:
        db.session.rollback()
        raise ApiError(409, "conflict", str(exc)) from exc
    db.session.commit()
    return finding_json(finding)


SEVERITIES = [s.value for s in Severity]
STATUSES = [s.value for s in FindingStatus]
SOURCES = [s.value for s in FindingSource]
SORTS = [p + c.key for c in FINDING_TABLE.columns if c.sort is not None for p in ("", "-")]

document_schemas(
    {
        "Finding": {
            "type": "object",
            "required": ["id", "vendor_id", "source", "title", "severity", "status", "due_date"],
            "properties": {
                "id": {"type": "integer"},
                "vendor_id": {"type": "integer"},
                "vendor_name": {"type": "string"},
                "source": {"type": "string", "enum": SOURCES},
                "source_ref": {"type": ["string", "null"]},
                "title": {"type": "string"},
                "description": {"type": ["string", "null"]},
                "severity": {"type": "string", "enum": SEVERITIES},
                "status": {"type": "string", "enum": STATUSES},
                "owner_id": {"type": ["integer", "null"]},
                "due_date": {"type": "string", "format": "date"},
                "overdue": {"type": "boolean"},
                "days_overdue": {"type": "integer"},
                "remediation_plan": {"type": ["string", "null"]},
                "risk_accepted_until": {"type": ["string", "null"], "format": "date"},
                "risk_accepted_by_id": {"type": ["integer", "null"]},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "closed_at": {"type": ["string", "null"], "format": "date-time"},
            },
        },
        "FindingInput": {
            "type": "object",
            "required": ["vendor_id", "title", "severity"],
            "additionalProperties": False,
            "properties": {
                "vendor_id": {"type": "integer"},
                "title": {"type": "string", "minLength": 1, "maxLength": 300},
                "description": {"type": ["string", "null"]},
                "severity": {"type": "string", "enum": SEVERITIES},
                "source": {"type": "string", "enum": SOURCES, "default": "manual"},
                "owner_id": {"type": ["integer", "null"]},
                "due_date": {
                    "type": ["string", "null"],
                    "format": "date",
                    "description": "Default: opened today plus the policy's days for the severity",
                },
            },
        },
        "FindingStatusChange": {
            "type": "object",
            "required": ["status"],
            "properties": {
                "status": {"type": "string", "enum": [s for s in STATUSES if s != "risk_accepted"]},
                "comment": {
                    "type": "string",
                    "description": "Required to close without verification, reopen or send back",
                },
            },
        },
        "FindingPage": page_of("#/components/schemas/Finding"),
    }
)
document_paths(
    {
        "/findings": {
            "get": {
                "summary": "List findings (a vendor user sees only its own vendor's)",
                "operationId": "listFindings",
                "parameters": [
                    *PAGE_PARAMS,
                    query_param("vendor_id", "integer"),
                    query_param("severity", enum=SEVERITIES),
                    query_param("status", enum=STATUSES),
                    query_param("source", enum=SOURCES),
                    query_param("overdue", enum=["true", "false"]),
                    query_param("q"),
                    query_param("sort", enum=SORTS),
                ],
                "responses": {
                    "200": json_content(ref("FindingPage"), "A page of findings"),
                    **ERRORS,
                },
            },
            "post": {
                "summary": "Record a finding by hand (findings.write)",
                "operationId": "createFinding",
                "requestBody": json_body(ref("FindingInput")),
                "responses": {
                    "201": json_content(ref("Finding"), "The finding opened"),
                    **ERRORS,
                    **INVALID,
                },
            },
        },
        "/findings/{finding_id}": {
            "get": {
                "summary": "One finding",
                "operationId": "getFinding",
                "parameters": [path_param("finding_id")],
                "responses": {
                    "200": json_content(ref("Finding"), "The finding"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
        "/findings/{finding_id}/status": {
            "post": {
                "summary": "Move a finding through the workflow",
                "description": (
                    "open → in_remediation → ready_for_verification (the vendor or a manager); "
                    "ready_for_verification → closed or back to in_remediation, closing "
                    "without verification and reopening (reviewers, with a comment). Risk "
                    "acceptance needs a second person's approval and is done in the portal."
                ),
                "operationId": "changeFindingStatus",
                "parameters": [path_param("finding_id")],
                "requestBody": json_body(ref("FindingStatusChange")),
                "responses": {
                    "200": json_content(ref("Finding"), "The finding after the change"),
                    **ERRORS,
                    **NOT_FOUND,
                    **INVALID,
                    "409": error_response("The workflow does not allow this change"),
                },
            }
        },
    }
)
