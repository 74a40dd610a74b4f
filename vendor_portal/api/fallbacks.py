"""The fallback-provider register and region risk ratings.

- `GET /fallbacks[?flagged=true&capability=ID]`: each capability with its providers (primary,
  fallbacks, switchover, status, last test, capacity) and flags with their reasons;
- `GET /region-risk`: ratings per country and region (paginated, filterable);
- `POST /region-risk`: import ratings from a CSV body (all or nothing; problems by line and
  column).

Internal roles read (graph.read); admins and vendor managers import (graph.write).
"""

from __future__ import annotations

from typing import Any

from flask import request

from vendor_portal.api import bp
from vendor_portal.api.errors import ApiError
from vendor_portal.api.helpers import paginated, require
from vendor_portal.api.openapi import (
    ERRORS,
    NOT_FOUND,
    PAGE_PARAMS,
    document_paths,
    document_schemas,
    error_response,
    json_content,
    page_of,
    query_param,
    ref,
)
from vendor_portal.extensions import db
from vendor_portal.graph import fallbacks, regions
from vendor_portal.graph.domain import fallbacks as fallback_domain
from vendor_portal.graph.domain.regions import RATING_KINDS, InvalidRatings, Level
from vendor_portal.graph.models import RegionRisk
from vendor_portal.graph.tables import REGION_TABLE
from vendor_portal.tables import BadTableRequest

TRUE = ("true", "1", "yes")
FALSE = ("false", "0", "no")


def _flag(name: str) -> bool:
    raw = request.args.get(name, "false").strip().lower()
    if raw not in TRUE + FALSE:
        raise ApiError(400, "bad_request", f"{name} must be true or false.")
    return raw in TRUE


@bp.get("/fallbacks")
def list_fallbacks():
    require("graph.read")
    flagged = _flag("flagged")
    try:
        result = fallbacks.register(db.session, capability=request.args.get("capability"))
    except fallbacks.UnknownCapability as exc:
        raise ApiError(404, "not_found", str(exc)) from exc
    db.session.commit()
    return {
        "graph_version": result.graph_version,
        "as_of": result.as_of.isoformat(),
        "capabilities": [
            fallback_domain.entry_document(e) for e in result.entries if e.flagged or not flagged
        ],
    }


def region_document(row: RegionRisk) -> dict[str, Any]:
    document = fallback_domain.rating_document(regions.to_rating(row))
    document["id"] = row.id
    document["source_detail"] = row.source_detail
    document["details"] = row.details or {}
    document["updated_at"] = row.updated_at.isoformat()
    return document


def _choices(name: str, allowed: set[str]) -> list[str] | None:
    values = [v for raw in request.args.getlist(name) for v in raw.split(",") if v]
    bad = [v for v in values if v not in allowed]
    if bad:
        raise ApiError(400, "bad_request", f"{name} must be one of {', '.join(sorted(allowed))}.")
    return values or None


@bp.get("/region-risk")
def list_region_risk():
    require("graph.read")
    stmt = regions.region_query(
        search=request.args.get("q"),
        kinds=_choices("kind", set(RATING_KINDS)),
        levels=_choices("level", {level.value for level in Level}),
        sources=_choices("source", set(regions.SOURCE_LABELS)),
    )
    try:
        stmt = REGION_TABLE.sorted(stmt, request.args.get("sort"), RegionRisk.id)
    except BadTableRequest as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return paginated(stmt, region_document)


@bp.post("/region-risk")
def import_region_risk():
    require("graph.write")
    if (request.mimetype or "") not in ("text/csv", "text/plain"):
        raise ApiError(
            415, "unsupported_media_type", "Send the ratings as CSV with Content-Type: text/csv."
        )
    try:
        result = regions.import_csv(db.session, request.get_data(), "api")
    except InvalidRatings as exc:
        db.session.rollback()
        raise ApiError(
            422,
            "invalid_ratings",
            str(exc),
            problems=[
                {"line": p.line, "column": p.column, "message": p.message} for p in exc.problems
            ],
        ) from exc
    db.session.commit()
    return {"created": result.created, "updated": result.updated}


LEVELS = [level.value for level in Level]
LEVEL_OR_NULL = {"type": ["string", "null"], "enum": [*LEVELS, None]}
SCORE_OR_NULL = {"type": ["number", "null"], "minimum": 0, "maximum": 100}
FLAG = {
    "type": "object",
    "required": ["code", "level", "message"],
    "properties": {
        "code": {"type": "string", "enum": [c.value for c in fallback_domain.FlagCode]},
        "level": {"type": "string", "enum": ["danger", "warning", "info"]},
        "message": {"type": "string"},
        "nodes": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Node ids (or country:XX / region:name) the flag is about",
        },
    },
}

document_schemas(
    {
        "RegionRating": {
            "type": "object",
            "required": ["kind", "code", "name", "overall", "high_risk"],
            "properties": {
                "id": {"type": "integer"},
                "kind": {"type": "string", "enum": list(RATING_KINDS)},
                "code": {
                    "type": "string",
                    "description": "ISO 3166 alpha-2 for a country; the name for a region",
                },
                "name": {"type": "string"},
                "natural_hazard": LEVEL_OR_NULL,
                "natural_hazard_score": SCORE_OR_NULL,
                "political_instability": LEVEL_OR_NULL,
                "political_instability_score": SCORE_OR_NULL,
                "overall": LEVEL_OR_NULL,
                "high_risk": {"type": "boolean"},
                "source": {"type": "string", "enum": list(regions.SOURCE_LABELS)},
                "source_detail": {"type": ["string", "null"]},
                "details": {"type": "object"},
                "updated_at": {"type": "string", "format": "date-time"},
            },
        },
        "RegionRatingPage": page_of("#/components/schemas/RegionRating"),
        "RegionRiskImportResult": {
            "type": "object",
            "required": ["created", "updated"],
            "properties": {"created": {"type": "integer"}, "updated": {"type": "integer"}},
        },
        "FallbackRegister": {
            "type": "object",
            "required": ["graph_version", "as_of", "capabilities"],
            "properties": {
                "graph_version": {"type": "integer"},
                "as_of": {"type": "string", "format": "date"},
                "capabilities": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "name", "fallback_status", "flags", "providers"],
                        "properties": {
                            "id": {"type": "string", "description": "The capability's node id"},
                            "name": {"type": "string"},
                            "requires": {"type": ["string", "integer"]},
                            "fallback_status": {
                                "type": "string",
                                "enum": [
                                    *(s.value for s in fallback_domain.Status),
                                    "missing",
                                    "not recorded",
                                ],
                            },
                            "flagged": {"type": "boolean"},
                            "flags": {"type": "array", "items": FLAG},
                            "needed_by": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "properties": {
                                        "id": {"type": "string"},
                                        "name": {"type": "string"},
                                        "criticality": {"type": ["string", "null"]},
                                        "rto_hours": {"type": ["number", "null"]},
                                    },
                                },
                            },
                            "providers": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["id", "role", "switchover_hours", "flags"],
                                    "properties": {
                                        "id": {"type": "string"},
                                        "name": {"type": "string"},
                                        "kind": {"type": "string"},
                                        "role": {"type": "string", "enum": ["primary", "fallback"]},
                                        "switchover_hours": {"type": "number", "minimum": 0},
                                        "status": {
                                            "type": ["string", "null"],
                                            "enum": [
                                                *(s.value for s in fallback_domain.Status),
                                                None,
                                            ],
                                        },
                                        "last_tested": {
                                            "type": ["string", "null"],
                                            "format": "date",
                                        },
                                        "capacity_pct": {"type": ["number", "null"]},
                                        "notes": {"type": ["string", "null"]},
                                        "flags": {"type": "array", "items": FLAG},
                                        "common_causes": {
                                            "type": "array",
                                            "items": {
                                                "type": "object",
                                                "properties": {
                                                    "id": {"type": "string"},
                                                    "name": {"type": "string"},
                                                    "kind": {"type": "string"},
                                                    "primary": {"type": "string"},
                                                    "chain": {
                                                        "type": "array",
                                                        "items": {"type": "string"},
                                                    },
                                                },
                                            },
                                        },
                                        "ratings": {
                                            "type": "array",
                                            "items": ref("RegionRating"),
                                        },
                                    },
                                },
                            },
                        },
                    },
                },
            },
        },
    }
)

document_paths(
    {
        "/fallbacks": {
            "get": {
                "summary": "The fallback-provider register with its flags",
                "description": "Each capability node of the graph with its primary and fallback "
                "providers (switchover from the graph, terms from the register) and the flags: "
                "no fallback for a critical service, common cause with the primary (found "
                "through the graph), switchover slower than an RTO, untested for 12 months, "
                "high-risk region, not contracted.",
                "operationId": "listFallbacks",
                "parameters": [
                    query_param(
                        "flagged",
                        description="Only capabilities with a danger or warning flag",
                        enum=["true", "false"],
                    ),
                    query_param("capability", description="One capability, by its node id"),
                ],
                "responses": {
                    "200": json_content(ref("FallbackRegister"), "The register"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
        "/region-risk": {
            "get": {
                "summary": "Region risk ratings (natural hazards, political instability)",
                "operationId": "listRegionRisk",
                "parameters": [
                    *PAGE_PARAMS,
                    query_param("q"),
                    query_param("kind", enum=list(RATING_KINDS)),
                    query_param("level", description="The overall (worse) level", enum=LEVELS),
                    query_param("source", enum=list(regions.SOURCE_LABELS)),
                    query_param("sort"),
                ],
                "responses": {
                    "200": json_content(ref("RegionRatingPage"), "A page of ratings"),
                    **ERRORS,
                },
            },
            "post": {
                "summary": "Import ratings from CSV (all or nothing)",
                "description": "Columns code, name, natural_hazard, political_instability, and "
                "optionally kind (country or region) and notes. A rating is a level (low, "
                "medium, high, very_high) or a score 0-100. Imported ratings take precedence "
                "over the public indices.",
                "operationId": "importRegionRisk",
                "requestBody": {
                    "required": True,
                    "content": {"text/csv": {"schema": {"type": "string"}}},
                },
                "responses": {
                    "200": json_content(ref("RegionRiskImportResult"), "Ratings stored"),
                    **ERRORS,
                    "415": error_response("The body is not CSV"),
                    "422": error_response(
                        "The file is invalid; error.problems lists each line and column"
                    ),
                },
            },
        },
    }
)
