"""KPI API: incidents and measurements in (monitoring and status-page feeds), availability,
scorecards and breaches out. Vendor users see and report only their own vendor's services."""

from __future__ import annotations

import math
import weakref
from datetime import date
from typing import Any

from flask import current_app, request

from vendor_portal.api import bp
from vendor_portal.api.errors import ApiError, validation_error
from vendor_portal.api.helpers import api_user, get_scoped, int_arg, paginated, require
from vendor_portal.api.openapi import (
    ERRORS,
    INVALID,
    NOT_FOUND,
    PAGE_PARAMS,
    document_paths,
    document_schemas,
    json_body,
    json_content,
    page_of,
    path_param,
    ref,
)
from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.kpis import imports, services
from vendor_portal.kpis.caches import scorecard_cache, stamped_results
from vendor_portal.kpis.domain import (
    EARLIEST_DATE,
    LATEST_DATE,
    IncidentSeverity,
    Metric,
    months_back,
)
from vendor_portal.kpis.models import Incident, KpiBreach
from vendor_portal.kpis.tables import BREACH_TABLE, INCIDENT_TABLE
from vendor_portal.security import is_vendor_user, vendor_scope
from vendor_portal.stamped import Kept
from vendor_portal.tables import BadTableRequest, Page, parse_page_args
from vendor_portal.vendors.models import Vendor, VendorService

MAX_RANGE_DAYS = 366 * 20


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _number(value: float | None, digits: int) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), digits)


def incident_json(incident: Incident) -> dict[str, Any]:
    return {
        "id": incident.id,
        "vendor_service": incident.vendor_service_id,
        "external_id": incident.external_id,
        "title": incident.title,
        "severity": incident.severity,
        "description": incident.description,
        "started_at": _iso(incident.started_at),
        "acknowledged_at": _iso(incident.acknowledged_at),
        "notified_at": _iso(incident.notified_at),
        "ended_at": _iso(incident.ended_at),
        "source": incident.source,
    }


def breach_json(breach: KpiBreach) -> dict[str, Any]:
    return {
        "id": breach.id,
        "kpi_id": breach.kpi_id,
        "kpi": breach.kpi.name,
        "vendor_id": breach.vendor_id,
        "vendor_service_id": breach.vendor_service_id,
        "period_start": breach.period_start.isoformat(),
        "period_end": breach.period_end.isoformat(),
        "value": breach.value,
        "comparator": breach.comparator,
        "threshold": breach.threshold,
        "status": breach.status,
        "opened_at": breach.opened_at.isoformat(),
        "finding_id": breach.finding_id,
    }


def _json_list() -> Any:
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type", "Send a JSON body with Content-Type: application/json."
        )
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "bad_json", "The request body is not valid JSON.")
    return data


def _recompute(result: services.ImportResult) -> int:
    """Bring breaches of the services touched up to date; commit; notify managers."""
    if not result.service_ids or result.earliest is None:
        return 0
    now = utcnow()
    outcome = services.recompute_breaches(
        db.session,
        min(result.earliest, now.date()),
        now.date(),
        now,
        service_ids=sorted(result.service_ids),
    )
    db.session.commit()
    if outcome.opened:
        services.notify_breaches(db.session, current_app.config)
        db.session.commit()
    return len(outcome.opened)


@bp.post("/incidents")
def post_incidents():
    require("incidents.report")
    try:
        result = imports.store_api_incidents(db.session, _json_list(), api_user())
    except imports.ImportRefused as exc:
        db.session.rollback()
        raise validation_error(imports.api_fields(exc.problems)) from exc
    db.session.commit()
    opened = _recompute(result)
    return {"created": result.created, "updated": result.updated, "breaches_opened": opened}


@bp.get("/incidents")
def list_incidents():
    require("kpis.read")
    args = request.args
    filters = {
        "vendor_id": int_arg("vendor_id"),
        "service_id": int_arg("vendor_service"),
        "severities": sorted(set(args.getlist("severity"))) or None,
        "ongoing": args.get("ongoing") == "true",
    }
    stmt = services.incident_query(**filters, with_services=False)
    user = api_user()
    stmt = vendor_scope(stmt, VendorService.vendor_id, user)
    try:
        stmt = INCIDENT_TABLE.sorted(stmt, args.get("sort"), Incident.id)
        page, per_page = parse_page_args(
            args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
        )
    except BadTableRequest as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    # The same pagination convention as paginated(), with the total reused between requests
    # while no incident changed (counting a million of them takes most of a second).
    scope = user.vendor_id if is_vendor_user(user) else None
    key = (scope, *(tuple(v) if isinstance(v, list) else v for v in filters.values()))
    total = stamped_results().total(db.session, ("incidents", *key), stmt)
    items = db.session.scalars(stmt.limit(per_page).offset((page - 1) * per_page))
    return {
        "items": [incident_json(item) for item in items],
        "page": page,
        "per_page": per_page,
        "total": total,
        "pages": Page([], page, per_page, total).pages,
    }


@bp.get("/incidents/<int:incident_id>")
def get_incident(incident_id: int):
    require("kpis.read")
    return incident_json(get_scoped(Incident, incident_id))


@bp.post("/kpi/measurements")
def post_measurements():
    require("kpis.write")
    try:
        result = imports.store_api_measurements(db.session, _json_list(), api_user())
    except imports.ImportRefused as exc:
        db.session.rollback()
        raise validation_error(imports.api_fields(exc.problems)) from exc
    db.session.commit()
    opened = _recompute(result)
    return {"created": result.created, "updated": result.updated, "breaches_opened": opened}


@bp.get("/kpi/breaches")
def list_breaches():
    require("kpis.read")
    statuses = request.args.getlist("status") or None
    stmt = services.breach_query(statuses=statuses, vendor_id=int_arg("vendor_id"))
    stmt = vendor_scope(stmt, KpiBreach.vendor_id, api_user())
    try:
        stmt = BREACH_TABLE.sorted(stmt, request.args.get("sort"), KpiBreach.id)
    except BadTableRequest as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return paginated(stmt, breach_json)


def _date_range() -> tuple[date, date]:
    today = utcnow().date()
    problems: dict[str, str] = {}
    values: dict[str, date] = {}
    for name, default in (("from", months_back(today, 12)), ("to", today)):
        text = request.args.get(name)
        if not text:
            values[name] = default
            continue
        try:
            values[name] = date.fromisoformat(text)
        except ValueError:
            problems[name] = f"{text!r} is not a date; use YYYY-MM-DD."
            continue
        # The KPI maths counts nanoseconds in 64 bits, which reach only the years 1677 to 2262.
        if not EARLIEST_DATE <= values[name] <= LATEST_DATE:
            problems[name] = f"Must be between {EARLIEST_DATE} and {LATEST_DATE}."
    if problems:
        raise ApiError(
            400, "bad_request", "; ".join(f"{k}: {v}" for k, v in problems.items()), fields=problems
        )
    if values["to"] < values["from"]:
        raise ApiError(400, "bad_request", "to comes before from.")
    if (values["to"] - values["from"]).days > MAX_RANGE_DAYS:
        raise ApiError(400, "bad_request", "Ask for at most 20 years at a time.")
    return values["from"], values["to"]


def _availability_periods(table) -> list[dict[str, Any]]:
    return [
        {
            "start": row.period_start.isoformat(),
            "end": row.period_end.isoformat(),
            "availability_pct": round(float(row.availability_pct), 6),
            "downtime_minutes": round(float(row.downtime_seconds) / 60, 3),
            "complete": bool(row.complete),
        }
        for row in table.itertuples(index=False)
    ]


@bp.get("/vendor-services/<int:service_id>/availability")
def service_availability(service_id: int):
    require("kpis.read")
    service = get_scoped(VendorService, service_id)
    start, end = _date_range()
    severities = services.availability_severities(db.session, service.id)
    table = services.service_availability(db.session, service.id, start, end, utcnow(), severities)
    return {
        "vendor_service": service.id,
        "from": start.isoformat(),
        "to": end.isoformat(),
        "severities": sorted(severities),
        "periods": _availability_periods(table),
    }


@bp.get("/vendors/<int:vendor_id>/scorecard")
def vendor_scorecard(vendor_id: int):
    require("kpis.read")
    vendor = get_scoped(Vendor, vendor_id, vendor_attr="id")
    start, end = _date_range()
    card = services.scorecard(db.session, vendor, start, end, utcnow(), cache=scorecard_cache())
    if card.figures is None:
        return _scorecard_json(card)
    # Kept while the same figures object comes from the scorecard cache (it hands out the
    # same one only while they hold) with the same stamps of the vendor's services: every
    # write to what the answer shows (the vendor, its services, their KPIs and breaches)
    # replaces one. Shared between requests: read only.
    kept: Kept = current_app.extensions.setdefault("api_scorecards", Kept(KEPT_SCORECARDS))
    key = (vendor.id, start, end)
    found = kept.get(key)
    if found is not None and found[0]() is card.figures and found[1] == card.stamps:
        return found[2]
    answer = _scorecard_json(card)
    kept.put(key, (weakref.ref(card.figures), card.stamps, answer))
    return answer


KEPT_SCORECARDS = 256


def _scorecard_json(card: services.Scorecard) -> dict[str, Any]:
    vendor, start, end = card.vendor, card.start, card.end
    availability = []
    for service in card.services:
        rows = card.availability[card.availability["service_id"] == service.id]
        availability.append(
            {
                "vendor_service_id": service.id,
                "vendor_service": service.name,
                "periods": _availability_periods(rows),
            }
        )
    return {
        "vendor": {"id": vendor.id, "name": vendor.name, "tier": vendor.tier},
        "from": start.isoformat(),
        "to": end.isoformat(),
        "attainment_pct": _number(card.attainment_pct, 3),
        "kpis": [
            {
                "id": r.kpi.id,
                "vendor_service_id": r.kpi.vendor_service_id,
                "vendor_service": r.kpi.vendor_service.name,
                "name": r.kpi.name,
                "metric": r.kpi.metric,
                "code": r.kpi.code,
                "unit": r.kpi.unit,
                "comparator": r.kpi.comparator,
                "threshold": r.kpi.threshold,
                "period": r.kpi.period,
                "statistic": r.kpi.statistic,
                "severities": r.kpi.severities or [],
                "contract_id": r.kpi.contract_id,
                "attainment_pct": _number(r.attainment_pct, 3),
                "periods": [
                    {
                        "start": p.start.isoformat(),
                        "end": p.end.isoformat(),
                        "value": _number(p.value, 6),
                        "met": p.met,
                        "complete": p.complete,
                        "final": p.final,
                        "count": p.count,
                    }
                    for p in r.periods
                ],
            }
            for r in card.results
        ],
        "availability": availability,
        "open_breaches": [breach_json(b) for b in card.open_breaches],
    }


# --- OpenAPI ----------------------------------------------------------------------------------

SEVERITIES = [s.value for s in IncidentSeverity]
INSTANT = {
    "type": ["string", "null"],
    "format": "date-time",
    "description": "ISO 8601 with a UTC offset (any offset; stored in UTC)",
}
COUNTS = {
    "type": "object",
    "required": ["created", "updated"],
    "properties": {
        "created": {"type": "integer"},
        "updated": {"type": "integer"},
        "breaches_opened": {"type": "integer"},
    },
}
RANGE_PARAMS = [
    {
        "name": "from",
        "in": "query",
        "schema": {"type": "string", "format": "date"},
        "description": "First day (YYYY-MM-DD, 1900 to 2199); its whole month is included. "
        "Default: 11 months before this one.",
    },
    {
        "name": "to",
        "in": "query",
        "schema": {"type": "string", "format": "date"},
        "description": "Last day (YYYY-MM-DD, 1900 to 2199); its whole month is included. "
        "Default: today.",
    },
]
AVAILABILITY_PERIOD = {
    "type": "object",
    "required": ["start", "availability_pct", "downtime_minutes"],
    "properties": {
        "start": {"type": "string", "format": "date"},
        "end": {"type": "string", "format": "date", "description": "First day after the month"},
        "availability_pct": {"type": "number"},
        "downtime_minutes": {"type": "number"},
        "complete": {"type": "boolean", "description": "False for the month in progress"},
    },
}
document_schemas(
    {
        "IncidentInput": {
            "type": "object",
            "required": ["vendor_service", "external_id", "title", "severity", "started_at"],
            "additionalProperties": False,
            "properties": {
                "vendor_service": {"type": "integer", "description": "Vendor service id"},
                "external_id": {
                    "type": "string",
                    "maxLength": 200,
                    "description": "Unique per vendor service; sending it again updates",
                },
                "title": {"type": "string", "maxLength": 300},
                "severity": {"type": "string", "enum": SEVERITIES},
                "started_at": {**INSTANT, "type": "string"},
                "acknowledged_at": INSTANT,
                "notified_at": INSTANT,
                "ended_at": {**INSTANT, "description": "Empty while ongoing"},
                "description": {"type": ["string", "null"], "maxLength": 10000},
            },
        },
        "Incident": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "vendor_service": {"type": "integer"},
                "external_id": {"type": ["string", "null"]},
                "title": {"type": "string"},
                "severity": {"type": "string", "enum": SEVERITIES},
                "description": {"type": ["string", "null"]},
                "started_at": {"type": "string", "format": "date-time"},
                "acknowledged_at": INSTANT,
                "notified_at": INSTANT,
                "ended_at": INSTANT,
                "source": {"type": "string"},
            },
        },
        "IncidentPage": page_of("#/components/schemas/Incident"),
        "MeasurementInput": {
            "type": "object",
            "required": ["vendor_service", "code", "period_start", "value"],
            "additionalProperties": False,
            "properties": {
                "vendor_service": {"type": "integer"},
                "code": {
                    "type": "string",
                    "description": "Code of a KPI defined for the service (e.g. "
                    "on_time_delivery, rto_achieved, or a custom code)",
                },
                "period_start": {"type": "string", "format": "date"},
                "value": {"type": "number"},
                "note": {"type": ["string", "null"], "maxLength": 2000},
            },
        },
        "ImportCounts": COUNTS,
        "AvailabilityPeriod": AVAILABILITY_PERIOD,
        "Availability": {
            "type": "object",
            "required": ["periods"],
            "properties": {
                "vendor_service": {"type": "integer"},
                "from": {"type": "string", "format": "date"},
                "to": {"type": "string", "format": "date"},
                "severities": {"type": "array", "items": {"type": "string"}},
                "periods": {"type": "array", "items": ref("AvailabilityPeriod")},
            },
        },
        "KpiBreach": {
            "type": "object",
            "properties": {
                "id": {"type": "integer"},
                "kpi_id": {"type": "integer"},
                "kpi": {"type": "string"},
                "vendor_id": {"type": "integer"},
                "vendor_service_id": {"type": "integer"},
                "period_start": {"type": "string", "format": "date"},
                "period_end": {"type": "string", "format": "date"},
                "value": {"type": "number"},
                "comparator": {"type": "string", "enum": ["gte", "gt", "lte", "lt"]},
                "threshold": {"type": "number"},
                "status": {"type": "string", "enum": ["open", "closed", "withdrawn"]},
                "opened_at": {"type": "string", "format": "date-time"},
                "finding_id": {"type": ["integer", "null"]},
            },
        },
        "KpiBreachPage": page_of("#/components/schemas/KpiBreach"),
        "Scorecard": {
            "type": "object",
            "required": ["vendor", "kpis", "availability", "open_breaches"],
            "properties": {
                "vendor": {"type": "object"},
                "from": {"type": "string", "format": "date"},
                "to": {"type": "string", "format": "date"},
                "attainment_pct": {"type": ["number", "null"]},
                "kpis": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "vendor_service_id": {"type": "integer"},
                            "name": {"type": "string"},
                            "metric": {"type": "string", "enum": [m.value for m in Metric]},
                            "code": {"type": "string"},
                            "comparator": {"type": "string"},
                            "threshold": {"type": "number"},
                            "period": {"type": "string", "enum": ["month", "quarter"]},
                            "contract_id": {
                                "type": ["integer", "null"],
                                "description": "The contract that sets this target, if recorded",
                            },
                            "periods": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "start": {"type": "string", "format": "date"},
                                        "end": {"type": "string", "format": "date"},
                                        "value": {"type": ["number", "null"]},
                                        "met": {"type": ["boolean", "null"]},
                                        "complete": {"type": "boolean"},
                                        "final": {"type": "boolean"},
                                        "count": {"type": "integer"},
                                    },
                                },
                            },
                        },
                    },
                },
                "availability": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "vendor_service_id": {"type": "integer"},
                            "periods": {"type": "array", "items": ref("AvailabilityPeriod")},
                        },
                    },
                },
                "open_breaches": {"type": "array", "items": ref("KpiBreach")},
            },
        },
    }
)


def _list_or_one(name: str) -> dict[str, Any]:
    return {"oneOf": [{"type": "array", "items": ref(name), "minItems": 1}, ref(name)]}


document_paths(
    {
        "/incidents": {
            "post": {
                "summary": "Create or update incidents (all or nothing; same external_id "
                "updates). Breaches are recomputed and managers notified.",
                "operationId": "postIncidents",
                "requestBody": json_body(_list_or_one("IncidentInput")),
                "responses": {
                    "200": json_content(ref("ImportCounts"), "How many were created and updated"),
                    **ERRORS,
                    **INVALID,
                },
            },
            "get": {
                "summary": "List incidents (a vendor user sees only its own)",
                "operationId": "listIncidents",
                "parameters": [
                    *PAGE_PARAMS,
                    {"name": "vendor_id", "in": "query", "schema": {"type": "integer"}},
                    {"name": "vendor_service", "in": "query", "schema": {"type": "integer"}},
                    {
                        "name": "severity",
                        "in": "query",
                        "schema": {"type": "string", "enum": SEVERITIES},
                    },
                    {
                        "name": "ongoing",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    },
                    {"name": "sort", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": json_content(ref("IncidentPage"), "A page of incidents"),
                    **ERRORS,
                },
            },
        },
        "/incidents/{incident_id}": {
            "get": {
                "summary": "One incident",
                "operationId": "getIncident",
                "parameters": [path_param("incident_id")],
                "responses": {
                    "200": json_content(ref("Incident"), "The incident"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
        "/kpi/measurements": {
            "post": {
                "summary": "Record KPI measurements (all or nothing; the same service, code and "
                "period start updates)",
                "operationId": "postKpiMeasurements",
                "requestBody": json_body(_list_or_one("MeasurementInput")),
                "responses": {
                    "200": json_content(ref("ImportCounts"), "How many were created and updated"),
                    **ERRORS,
                    **INVALID,
                },
            }
        },
        "/kpi/breaches": {
            "get": {
                "summary": "KPI breaches (a vendor user sees only its own)",
                "operationId": "listKpiBreaches",
                "parameters": [
                    *PAGE_PARAMS,
                    {
                        "name": "status",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["open", "closed", "withdrawn"]},
                    },
                    {"name": "vendor_id", "in": "query", "schema": {"type": "integer"}},
                    {"name": "sort", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": json_content(ref("KpiBreachPage"), "A page of breaches"),
                    **ERRORS,
                },
            }
        },
        "/vendor-services/{service_id}/availability": {
            "get": {
                "summary": "Monthly availability (UTC calendar months) of a vendor service",
                "operationId": "getServiceAvailability",
                "parameters": [path_param("service_id"), *RANGE_PARAMS],
                "responses": {
                    "200": json_content(ref("Availability"), "One entry per month"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
        "/vendors/{vendor_id}/scorecard": {
            "get": {
                "summary": "A vendor's KPIs against their targets, availability per month and "
                "open breaches",
                "operationId": "getVendorScorecard",
                "parameters": [path_param("vendor_id"), *RANGE_PARAMS],
                "responses": {
                    "200": json_content(ref("Scorecard"), "The scorecard"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
    }
)
