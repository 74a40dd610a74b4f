"""The dependency graph, its analyses, and business services (from the BIA).

- `GET|POST /graph`: the graph in the interchange format; POST replaces it, all or nothing.
- `GET /graph/spof[?service=ID]`: per business service, its SPOFs with witness chains, and gaps;
  paged (`page`, `per_page`) unless one service is asked for.
- `POST /graph/scenario`: fail nodes, vendors, countries or regions; services down beyond RTO.
- `GET /graph/concentration`: nodes ranked by the downtime cost they carry as a SPOF.
- `GET|POST /business-services`, `GET|PATCH|DELETE /business-services/{id}`.

Internal roles read (graph.read); admins and vendor managers change (graph.write). Vendor users
get 403: the graph spans every vendor.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request, url_for

from vendor_portal.api import bp
from vendor_portal.api.errors import ApiError, validation_error
from vendor_portal.api.helpers import is_id, json_object, paginated, require
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
    ref,
)
from vendor_portal.extensions import db
from vendor_portal.graph import services
from vendor_portal.graph.domain import interchange
from vendor_portal.graph.domain.business import Criticality, validate_business_service_input
from vendor_portal.graph.domain.interchange import InvalidGraph
from vendor_portal.graph.domain.model import KINDS
from vendor_portal.graph.models import BusinessService, GraphNode
from vendor_portal.graph.tables import BUSINESS_SERVICE_TABLE
from vendor_portal.tables import MAX_PAGE, BadTableRequest, parse_page_args


def _invalid_graph(exc: InvalidGraph) -> ApiError:
    return ApiError(
        422,
        "invalid_graph",
        str(exc),
        problems=[{"where": p.where, "message": p.message} for p in exc.problems],
    )


@bp.get("/graph")
def export_graph():
    require("graph.read")
    graph = services.export_graph(db.session)
    db.session.commit()
    return interchange.to_document(graph)


@bp.post("/graph")
def import_graph():
    require("graph.write")
    body = json_object()
    try:
        graph = interchange.parse_json(body)
        summary = services.import_graph(db.session, graph, source="api")
    except InvalidGraph as exc:
        db.session.rollback()
        raise _invalid_graph(exc) from exc
    db.session.commit()
    return {
        "graph_version": summary.version,
        "nodes": summary.nodes,
        "edges": summary.edges,
        "business_services_created": summary.business_services_created,
        "business_services_updated": summary.business_services_updated,
    }


@bp.get("/graph/spof")
def spof():
    """One service (`?service=`), or a page of services: the whole document runs to hundreds of
    MB on a large map. Each entry is served as stored (JSON text), not parsed and re-encoded."""
    require("graph.read")
    service = request.args.get("service")
    if service is not None:
        try:
            document = services.spof_document(db.session, service)
        except services.UnknownService as exc:
            raise ApiError(404, "not_found", str(exc)) from exc
        db.session.commit()
        return document
    try:
        page, per_page = parse_page_args(request.args, services.PER_PAGE, services.MAX_PER_PAGE)
    except BadTableRequest as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    current = services.ensure_current(db.session)
    services.commit_if_written(db.session)  # before an analysis is computed, if one must be
    result = services.spof_page(db.session, page, per_page, current)
    db.session.commit()
    head = json.dumps(
        {
            "graph_version": result.graph_version,
            "page": result.page,
            "per_page": result.per_page,
            "total": result.total,
            "pages": result.pages,
        }
    )
    body = f'{head[:-1]},"services":[{",".join(result.entries)}]}}'
    response = Response(body, mimetype="application/json")
    links = []
    for rel, number in (("next", page + 1), ("prev", page - 1)):
        if 1 <= number <= result.pages:
            url = url_for("api.spof", page=number, per_page=per_page, _external=True)
            links.append(f'<{url}>; rel="{rel}"')
    if links:
        response.headers["Link"] = ", ".join(links)
    return response


def _string_list(body: dict[str, Any], key: str, errors: dict[str, str]) -> list[str]:
    value = body.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors[key] = "Must be a list of strings."
        return []
    return value


@bp.post("/graph/scenario")
def scenario():
    require("graph.read")
    body = json_object()
    errors: dict[str, str] = {}
    unknown = sorted(set(body) - {"fail", "countries", "regions", "vendors"})
    for key in unknown:
        errors[key] = "Unknown field; use fail, countries, regions or vendors."
    fail = _string_list(body, "fail", errors)
    countries = _string_list(body, "countries", errors)
    regions = _string_list(body, "regions", errors)
    vendors = body.get("vendors", [])
    if not isinstance(vendors, list) or not all(is_id(v) for v in vendors):
        errors["vendors"] = "Must be a list of vendor ids."
        vendors = []
    if not errors and not (fail or countries or regions or vendors):
        errors["fail"] = "Name at least one node to fail (or countries, regions, vendors)."
    if errors:
        raise validation_error(errors)
    try:
        document = services.scenario_document(
            db.session,
            services.ScenarioRequest(
                fail=fail, countries=countries, regions=regions, vendors=vendors
            ),
        )
    except services.GraphChangeError as exc:
        raise validation_error({exc.field or "fail": str(exc)}) from exc
    db.session.commit()
    return document


@bp.get("/graph/concentration")
def concentration():
    require("graph.read")
    document = services.concentration_document(db.session)
    db.session.commit()
    return document


# --- business services -----------------------------------------------------------------------


def business_service_json(service: BusinessService, node_key: str | None) -> dict[str, Any]:
    return {
        "id": service.id,
        "name": service.name,
        "criticality": service.criticality,
        "owner": service.owner,
        "description": service.description,
        "mtd_hours": service.mtd_hours,
        "rto_hours": service.rto_hours,
        "rpo_hours": service.rpo_hours,
        "downtime_cost_per_hour": service.downtime_cost_per_hour,
        "graph_id": node_key,
        "archived": service.archived,
        "created_at": service.created_at.isoformat(),
        "updated_at": service.updated_at.isoformat(),
    }


def _node_keys(ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    from sqlalchemy import select

    return dict(
        db.session.execute(
            select(GraphNode.business_service_id, GraphNode.key).where(
                GraphNode.business_service_id.in_(ids)
            )
        ).all()
    )


def _get_service(service_id: int) -> BusinessService:
    service = db.session.get(BusinessService, service_id)
    if service is None:
        raise ApiError(404, "not_found", f"No business service with id {service_id}.")
    return service


@bp.get("/business-services")
def list_business_services():
    require("graph.read")
    args = request.args
    stmt = services.business_service_query(
        search=args.get("q"),
        criticalities=args.getlist("criticality") or None,
        archived=args.get("archived") == "true",
    )
    try:
        stmt = BUSINESS_SERVICE_TABLE.sorted(stmt, args.get("sort"), BusinessService.id)
    except BadTableRequest as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    page = paginated(stmt, lambda s: s)
    keys = _node_keys([s.id for s in page["items"]])
    page["items"] = [business_service_json(s, keys.get(s.id)) for s in page["items"]]
    return page


@bp.post("/business-services")
def create_business_service():
    require("graph.write")
    values, errors = validate_business_service_input(json_object())
    if errors:
        raise validation_error(errors)
    service = services.create_business_service(db.session, values)
    node = services.business_service_node(db.session, service)
    db.session.commit()
    return (
        business_service_json(service, node.key if node else None),
        201,
        {"Location": f"/api/v1/business-services/{service.id}"},
    )


@bp.get("/business-services/<int:service_id>")
def get_business_service(service_id: int):
    require("graph.read")
    service = _get_service(service_id)
    return business_service_json(service, _node_keys([service.id]).get(service.id))


@bp.patch("/business-services/<int:service_id>")
def update_business_service(service_id: int):
    require("graph.write")
    service = _get_service(service_id)
    current = {"rto_hours": service.rto_hours, "mtd_hours": service.mtd_hours}
    values, errors = validate_business_service_input(json_object(), partial=True, current=current)
    if errors:
        raise validation_error(errors)
    services.update_business_service(db.session, service, values)
    db.session.commit()
    return business_service_json(service, _node_keys([service.id]).get(service.id))


@bp.delete("/business-services/<int:service_id>")
def archive_business_service(service_id: int):
    require("graph.write")
    service = _get_service(service_id)
    services.archive_business_service(db.session, service)
    db.session.commit()
    return business_service_json(service, _node_keys([service.id]).get(service.id))


# --- OpenAPI ---------------------------------------------------------------------------------

CRITICALITIES = [c.value for c in Criticality]
HOURS = {"type": ["number", "null"], "minimum": 0}
NODE_BRIEF = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "kind": {"type": "string", "enum": sorted(KINDS)},
    },
}
SERVICE_BRIEF = {
    "type": "object",
    "required": ["id"],
    "properties": {
        "id": {"type": "string", "description": "The business service's node id"},
        "name": {"type": "string"},
        "rto_hours": HOURS,
        "downtime_cost_per_hour": {"type": "number"},
        "criticality": {"type": ["string", "null"]},
    },
}
BS_SORTS = [
    p + c.key for c in BUSINESS_SERVICE_TABLE.columns if c.sort is not None for p in ("", "-")
]

document_schemas(
    {
        "GraphNode": {
            "type": "object",
            "required": ["id", "kind"],
            "description": "Other fields are optional and kept. Business services carry rto_hours, "
            "mtd_hours, rpo_hours and downtime_cost_per_hour; nodes built from records carry "
            "vendor_id, vendor_service_id or business_service_id.",
            "properties": {
                "id": {"type": "string", "maxLength": 200},
                "kind": {"type": "string", "enum": sorted(KINDS)},
                "name": {"type": "string"},
                "requires": {
                    "oneOf": [
                        {"type": "string", "enum": ["all", "any"]},
                        {"type": "integer", "minimum": 1},
                    ],
                    "description": "Default: any for a capability, all otherwise.",
                },
                "country": {"type": "string", "description": "ISO 3166-1 alpha-2"},
                "rto_hours": HOURS,
                "mtd_hours": HOURS,
                "rpo_hours": HOURS,
                "downtime_cost_per_hour": HOURS,
            },
            "additionalProperties": True,
        },
        "GraphEdge": {
            "type": "object",
            "required": ["from", "to"],
            "description": "`from` depends on `to`.",
            "properties": {
                "from": {"type": "string"},
                "to": {"type": "string"},
                "switchover_hours": {
                    "type": "number",
                    "minimum": 0,
                    "description": "Out of an any / k-of-n node: time to bring this alternative "
                    "into service (0 for the primary).",
                },
            },
            "additionalProperties": True,
        },
        "Graph": {
            "type": "object",
            "required": ["nodes"],
            "properties": {
                "nodes": {"type": "array", "items": ref("GraphNode")},
                "edges": {"type": "array", "items": ref("GraphEdge")},
            },
        },
        "GraphImportResult": {
            "type": "object",
            "required": ["graph_version", "nodes", "edges"],
            "properties": {
                "graph_version": {"type": "integer"},
                "nodes": {"type": "integer"},
                "edges": {"type": "integer"},
                "business_services_created": {"type": "integer"},
                "business_services_updated": {"type": "integer"},
            },
        },
        "SpofReport": {
            "type": "object",
            "required": ["services"],
            "description": "Without ?service= a page of the services, in a stable order: "
            "page, per_page, total and pages say where it is, and the Link header gives the "
            "next and prev pages.",
            "properties": {
                "graph_version": {"type": "integer"},
                "page": {"type": "integer"},
                "per_page": {"type": "integer"},
                "total": {"type": "integer", "description": "Business services in the analysis"},
                "pages": {"type": "integer"},
                "services": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "spofs", "gaps"],
                        "properties": {
                            "id": {"type": "string"},
                            "spofs": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["id", "witness"],
                                    "properties": {
                                        "id": {"type": "string"},
                                        "witness": {
                                            "type": "array",
                                            "items": {"type": "string"},
                                            "description": "Node ids from the failed node up to "
                                            "the service; each depends on the one before it.",
                                        },
                                        "name": {"type": "string"},
                                        "kind": {"type": "string"},
                                        "common_cause": {"type": "boolean"},
                                        "common_cause_of": {
                                            "type": "array",
                                            "items": {"type": "string"},
                                            "description": "Redundant nodes whose primary and "
                                            "fallback it takes down together.",
                                        },
                                        "explanation": {"type": "string"},
                                    },
                                },
                            },
                            "gaps": {
                                "type": "array",
                                "description": "Nodes of the service's closure that are "
                                "down with nothing failed, those whose own requirement is unmet "
                                "first.",
                                "items": {
                                    "type": "object",
                                    "required": ["id"],
                                    "properties": {
                                        "id": {"type": "string"},
                                        "name": {"type": "string"},
                                        "kind": {"type": "string"},
                                        "unmet": {
                                            "type": "boolean",
                                            "description": "Its own requirement cannot be met "
                                            "(false: down because what it needs is)",
                                        },
                                        "because": {"type": "array", "items": {"type": "string"}},
                                        "required": {"type": "integer"},
                                        "counted": {"type": "integer"},
                                        "total": {"type": "integer"},
                                        "explanation": {"type": "string"},
                                    },
                                },
                            },
                            "name": {"type": "string"},
                            "down": {
                                "type": "boolean",
                                "description": "Down with nothing failed (then spofs is empty)",
                            },
                            "rto_hours": HOURS,
                            "downtime_cost_per_hour": {"type": "number"},
                            "criticality": {"type": ["string", "null"]},
                            "business_service_id": {"type": ["integer", "null"]},
                        },
                    },
                },
            },
        },
        "ScenarioInput": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "fail": {"type": "array", "items": {"type": "string"}, "description": "Node ids"},
                "countries": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "ISO alpha-2: every node located there fails",
                },
                "regions": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Cloud or geographic region names",
                },
                "vendors": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "description": "Vendor ids: the vendor's node fails, and with it its services",
                },
            },
        },
        "ScenarioResult": {
            "type": "object",
            "required": ["down_services"],
            "properties": {
                "graph_version": {"type": "integer"},
                "down_services": {
                    "type": "array",
                    "items": SERVICE_BRIEF,
                    "description": "Business services down beyond their RTO",
                },
                "cost_per_hour": {"type": "number"},
                "failed": {"type": "array", "items": NODE_BRIEF},
                "already_down": {"type": "array", "items": SERVICE_BRIEF},
                "switched_over": {"type": "array", "items": SERVICE_BRIEF},
                "down_nodes": {"type": "array", "items": NODE_BRIEF},
                "restoration_order": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "wave": {"type": "integer"},
                            "nodes": {"type": "array", "items": NODE_BRIEF},
                            "loop": {"type": "boolean"},
                        },
                    },
                },
            },
        },
        "Concentration": {
            "type": "object",
            "required": ["items"],
            "properties": {
                "graph_version": {"type": "integer"},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["id", "service_count", "cost_per_hour"],
                        "properties": {
                            "id": {"type": "string"},
                            "name": {"type": "string"},
                            "kind": {"type": "string"},
                            "rank": {"type": "integer"},
                            "service_count": {"type": "integer"},
                            "services": {"type": "array", "items": {"type": "string"}},
                            "service_names": {"type": "array", "items": {"type": "string"}},
                            "cost_per_hour": {"type": "number"},
                            "common_cause_count": {"type": "integer"},
                        },
                    },
                },
            },
        },
        "BusinessServiceInput": {
            "type": "object",
            "required": ["name", "criticality"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "criticality": {"type": "string", "enum": CRITICALITIES},
                "owner": {"type": ["string", "null"], "maxLength": 200},
                "description": {"type": ["string", "null"], "maxLength": 5000},
                "mtd_hours": HOURS,
                "rto_hours": {**HOURS, "description": "Must not exceed mtd_hours"},
                "rpo_hours": HOURS,
                "downtime_cost_per_hour": HOURS,
            },
        },
        "BusinessService": {
            "type": "object",
            "required": ["id", "name", "criticality", "archived"],
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "criticality": {"type": "string", "enum": CRITICALITIES},
                "owner": {"type": ["string", "null"]},
                "description": {"type": ["string", "null"]},
                "mtd_hours": HOURS,
                "rto_hours": HOURS,
                "rpo_hours": HOURS,
                "downtime_cost_per_hour": HOURS,
                "graph_id": {"type": ["string", "null"], "description": "Its node id"},
                "archived": {"type": "boolean"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
            },
        },
        "BusinessServicePage": page_of("#/components/schemas/BusinessService"),
    }
)

INVALID_GRAPH = {
    "415": error_response("The body is not JSON"),
    "422": error_response("The graph is invalid; error.problems lists each problem and where"),
}

document_paths(
    {
        "/graph": {
            "get": {
                "summary": "The dependency graph in the interchange format",
                "operationId": "exportGraph",
                "responses": {"200": json_content(ref("Graph"), "The graph"), **ERRORS},
            },
            "post": {
                "summary": "Replace the dependency graph (all or nothing)",
                "description": "Business service nodes create or update business services; "
                "nodes built from records come back from the records.",
                "operationId": "importGraph",
                "requestBody": json_body(ref("Graph")),
                "responses": {
                    "200": json_content(ref("GraphImportResult"), "The graph was replaced"),
                    **ERRORS,
                    **INVALID_GRAPH,
                },
            },
        },
        "/graph/spof": {
            "get": {
                "summary": "Single points of failure and gaps per business service",
                "operationId": "graphSpof",
                "parameters": [
                    {
                        "name": "service",
                        "in": "query",
                        "schema": {"type": "string"},
                        "description": "One business service: its node id or its record id "
                        "(then no paging)",
                    },
                    {
                        "name": "page",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": MAX_PAGE,
                            "default": 1,
                        },
                    },
                    {
                        "name": "per_page",
                        "in": "query",
                        "schema": {
                            "type": "integer",
                            "minimum": 1,
                            "maximum": services.MAX_PER_PAGE,
                            "default": services.PER_PAGE,
                        },
                    },
                ],
                "responses": {
                    "200": json_content(ref("SpofReport"), "SPOFs with witnesses, and gaps"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
        "/graph/scenario": {
            "post": {
                "summary": "Fail nodes, vendors, countries or regions; see what goes down",
                "operationId": "graphScenario",
                "requestBody": json_body(ref("ScenarioInput")),
                "responses": {
                    "200": json_content(ref("ScenarioResult"), "Services down beyond RTO"),
                    **ERRORS,
                    **INVALID,
                },
            }
        },
        "/graph/concentration": {
            "get": {
                "summary": "Nodes ranked by the downtime cost they carry as a SPOF",
                "operationId": "graphConcentration",
                "responses": {
                    "200": json_content(ref("Concentration"), "The ranking"),
                    **ERRORS,
                },
            }
        },
        "/business-services": {
            "get": {
                "summary": "List business services",
                "operationId": "listBusinessServices",
                "parameters": [
                    *PAGE_PARAMS,
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                    {
                        "name": "criticality",
                        "in": "query",
                        "schema": {"type": "string", "enum": CRITICALITIES},
                    },
                    {
                        "name": "archived",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["true", "false"]},
                    },
                    {"name": "sort", "in": "query", "schema": {"type": "string", "enum": BS_SORTS}},
                ],
                "responses": {
                    "200": json_content(ref("BusinessServicePage"), "A page of business services"),
                    **ERRORS,
                },
            },
            "post": {
                "summary": "Create a business service (it joins the graph)",
                "operationId": "createBusinessService",
                "requestBody": json_body(ref("BusinessServiceInput")),
                "responses": {
                    "201": json_content(ref("BusinessService"), "The business service created"),
                    **ERRORS,
                    **INVALID,
                },
            },
        },
        "/business-services/{service_id}": {
            "get": {
                "summary": "One business service",
                "operationId": "getBusinessService",
                "parameters": [path_param("service_id")],
                "responses": {
                    "200": json_content(ref("BusinessService"), "The business service"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            },
            "patch": {
                "summary": "Change some fields of a business service",
                "operationId": "updateBusinessService",
                "parameters": [path_param("service_id")],
                "requestBody": json_body(ref("BusinessServiceInput")),
                "responses": {
                    "200": json_content(ref("BusinessService"), "The business service"),
                    **ERRORS,
                    **NOT_FOUND,
                    **INVALID,
                },
            },
            "delete": {
                "summary": "Archive a business service (it leaves the analyses)",
                "operationId": "archiveBusinessService",
                "parameters": [path_param("service_id")],
                "responses": {
                    "200": json_content(ref("BusinessService"), "The archived business service"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            },
        },
    }
)
