"""Subcontractor declarations and flow-down reviews."""

from typing import Any

from vendor_portal.api import bp
from vendor_portal.api.errors import ApiError, validation_error
from vendor_portal.api.helpers import api_user, get_scoped, is_id, json_object, require
from vendor_portal.api.openapi import (
    ERRORS,
    INVALID,
    NOT_FOUND,
    document_paths,
    document_schemas,
    error_response,
    json_body,
    json_content,
    path_param,
    ref,
)
from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.security import is_vendor_user
from vendor_portal.subcontracting import services
from vendor_portal.subcontracting.domain import FlowDown
from vendor_portal.subcontracting.models import (
    FlowDownItem,
    FlowDownReview,
    SubcontractorDeclaration,
)
from vendor_portal.vendors.domain import country_codes, country_problem, lei_problem, normalise_lei
from vendor_portal.vendors.models import Vendor


def declaration_json(d: SubcontractorDeclaration) -> dict[str, Any]:
    return {
        "id": d.id,
        "vendor_id": d.vendor_id,
        "subcontractor_id": d.subcontractor_id,
        "name": d.subcontractor.name,
        "country": d.subcontractor.country,
        "lei": d.subcontractor.lei,
        "parent_id": d.parent_id,
        "rank": d.rank,
        "function": d.function,
        "service_ids": sorted(s.id for s in d.services),
        "data_storage_countries": d.data_storage_countries or [],
        "data_processing_countries": d.data_processing_countries or [],
    }


def _country_list(value: Any, field: str, errors: dict[str, str]) -> list[str]:
    codes, problem = country_codes(value)
    if problem:
        errors[field] = problem
    return codes


def _declaration_input(data: dict[str, Any]) -> dict[str, Any]:
    errors: dict[str, str] = {}
    known = {
        "name",
        "country",
        "lei",
        "parent_id",
        "function",
        "service_ids",
        "data_storage_countries",
        "data_processing_countries",
    }
    for key in set(data) - known:
        errors[key] = "Unknown field."
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors["name"] = "A company name of 1 to 200 characters is required."
    country = data.get("country")
    if not isinstance(country, str) or country_problem(country.upper()):
        errors["country"] = "An ISO 3166 two-letter country code is required."
    lei = data.get("lei")
    if lei is not None:
        lei = normalise_lei(lei) if isinstance(lei, str) else lei
        problem = lei_problem(lei) if isinstance(lei, str) else "Must be a string."
        if lei and problem:
            errors["lei"] = problem
    parent_id = data.get("parent_id")
    if parent_id is not None and not is_id(parent_id):
        errors["parent_id"] = "Must be the id of an entry of this vendor's chain, or null."
    service_ids = data.get("service_ids") or []
    if not isinstance(service_ids, list) or not all(is_id(i) for i in service_ids):
        errors["service_ids"] = "Must be a list of the vendor's service ids."
    function = data.get("function")
    if function is not None and (not isinstance(function, str) or len(function) > 2000):
        errors["function"] = "At most 2000 characters of text."
    storage = _country_list(data.get("data_storage_countries"), "data_storage_countries", errors)
    processing = _country_list(
        data.get("data_processing_countries"), "data_processing_countries", errors
    )
    if errors:
        raise validation_error(errors)
    return {
        "name": name.strip(),
        "country": country.upper(),
        "lei": lei or None,
        "parent_id": parent_id,
        "function": function,
        "service_ids": service_ids,
        "data_storage_countries": storage,
        "data_processing_countries": processing,
    }


@bp.get("/vendors/<int:vendor_id>/subcontractors")
def list_subcontractors(vendor_id: int):
    require("subcontractors.read")
    vendor = get_scoped(Vendor, vendor_id, vendor_attr="id")
    chain = services.active_chain(db.session, vendor.id)
    attestation = None if chain else services.no_subcontractors_attestation(db.session, vendor.id)
    return {
        "vendor": {"id": vendor.id, "name": vendor.name, "rank": 1},
        "items": [declaration_json(d) for d in chain],
        "no_subcontractors": attestation_json(attestation),
    }


def attestation_json(attestation: Any) -> dict[str, Any] | None:
    """The vendor's "no subcontractors" statement, while its chain is empty."""
    if attestation is None:
        return None
    return {
        "attested_on": attestation.attested_on.isoformat(),
        "current": attestation.current_on(utcnow().date()),
    }


@bp.post("/vendors/<int:vendor_id>/subcontractors/none")
def attest_no_subcontractors(vendor_id: int):
    require("subcontractors.declare")
    vendor = get_scoped(Vendor, vendor_id, vendor_attr="id")
    try:
        attestation = services.attest_no_subcontractors(db.session, vendor, api_user().id)
    except services.SubcontractingError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    db.session.commit()
    return {"vendor_id": vendor.id, "no_subcontractors": attestation_json(attestation)}


@bp.post("/vendors/<int:vendor_id>/subcontractors")
def declare_subcontractor(vendor_id: int):
    require("subcontractors.declare")
    vendor = get_scoped(Vendor, vendor_id, vendor_attr="id")
    values = _declaration_input(json_object())
    try:
        declaration = services.declare(db.session, vendor, declared_by_id=api_user().id, **values)
    except services.SubcontractingError as exc:
        raise validation_error({exc.field or "name": str(exc)}) from exc
    db.session.commit()
    return declaration_json(declaration), 201


@bp.post("/vendors/<int:vendor_id>/subcontractors/<int:declaration_id>/remove")
def remove_subcontractor(vendor_id: int, declaration_id: int):
    require("subcontractors.declare")
    vendor = get_scoped(Vendor, vendor_id, vendor_attr="id")
    declaration = db.session.get(SubcontractorDeclaration, declaration_id)
    if (
        declaration is None
        or declaration.vendor_id != vendor.id
        or declaration.removed_at is not None
    ):
        raise ApiError(404, "not_found", f"No entry {declaration_id} in this vendor's chain.")
    removed = services.remove_declaration(db.session, declaration)
    db.session.commit()
    return {"removed": removed}


def review_json(review: FlowDownReview) -> dict[str, Any]:
    return {
        "id": review.id,
        "vendor_id": review.vendor_id,
        "status": review.status,
        "signed_off_at": review.signed_off_at.isoformat() if review.signed_off_at else None,
        "next_due_date": review.next_due_date.isoformat() if review.next_due_date else None,
        "items": [
            {
                "id": i.id,
                "declaration_id": i.declaration_id,
                "subcontractor": i.declaration.subcontractor.name,
                "obligation": i.obligation.code,
                "outcome": i.outcome,
                "comment": i.comment,
                "finding_id": i.finding_id,
            }
            for i in review.items
        ],
    }


def _internal_review(review_id: int) -> FlowDownReview:
    if is_vendor_user(api_user()):
        raise ApiError(403, "forbidden", "Flow-down reviews are internal.")
    review = db.session.get(FlowDownReview, review_id)
    if review is None:
        raise ApiError(404, "not_found", f"No flow-down review with id {review_id}.")
    return review


@bp.post("/vendors/<int:vendor_id>/flow-down-reviews")
def start_flow_down_review(vendor_id: int):
    require("obligations.review")
    vendor = get_scoped(Vendor, vendor_id, vendor_attr="id")
    try:
        review = services.start_review(db.session, vendor, api_user().id)
    except services.SubcontractingError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    db.session.commit()
    return review_json(review), 201


@bp.get("/flow-down-reviews/<int:review_id>")
def get_flow_down_review(review_id: int):
    require("subcontractors.read")
    return review_json(_internal_review(review_id))


@bp.post("/flow-down-reviews/<int:review_id>/items/<int:item_id>")
def record_flow_down_item(review_id: int, item_id: int):
    require("obligations.review")
    review = _internal_review(review_id)
    item = db.session.get(FlowDownItem, item_id)
    if item is None or item.review_id != review.id:
        raise ApiError(404, "not_found", f"No item {item_id} in review {review_id}.")
    data = json_object()
    outcomes = [o.value for o in FlowDown]
    errors = {}
    if data.get("outcome") not in outcomes:
        errors["outcome"] = f"Must be one of {', '.join(outcomes)}."
    if data.get("comment") is not None and not isinstance(data.get("comment"), str):
        errors["comment"] = "Must be text."
    if errors:
        raise validation_error(errors)
    try:
        services.record_item(db.session, item, outcome=data["outcome"], comment=data.get("comment"))
    except services.SubcontractingError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    db.session.commit()
    return review_json(review)


@bp.post("/flow-down-reviews/<int:review_id>/sign-off")
def sign_off_flow_down_review(review_id: int):
    require("obligations.review")
    review = _internal_review(review_id)
    try:
        services.sign_off(db.session, review, api_user().id)
    except services.SubcontractingError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    db.session.commit()
    return review_json(review)


COUNTRIES = {"type": "array", "items": {"type": "string", "minLength": 2, "maxLength": 2}}
document_schemas(
    {
        "SubcontractorInput": {
            "type": "object",
            "required": ["name", "country"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "country": {"type": "string", "minLength": 2, "maxLength": 2},
                "lei": {"type": ["string", "null"]},
                "parent_id": {
                    "type": ["integer", "null"],
                    "description": (
                        "The entry above it in this vendor's chain; null directly under the vendor"
                    ),
                },
                "function": {"type": ["string", "null"], "maxLength": 2000},
                "service_ids": {"type": "array", "items": {"type": "integer"}},
                "data_storage_countries": COUNTRIES,
                "data_processing_countries": COUNTRIES,
            },
        },
        "Subcontractor": {
            "type": "object",
            "required": [
                "id",
                "vendor_id",
                "subcontractor_id",
                "name",
                "country",
                "parent_id",
                "rank",
            ],
            "properties": {
                "id": {"type": "integer", "description": "This chain entry"},
                "vendor_id": {"type": "integer", "description": "The head vendor (rank 1)"},
                "subcontractor_id": {
                    "type": "integer",
                    "description": "The company's vendor record",
                },
                "name": {"type": "string"},
                "country": {"type": "string"},
                "lei": {"type": ["string", "null"]},
                "parent_id": {"type": ["integer", "null"]},
                "rank": {"type": "integer", "minimum": 2},
                "function": {"type": ["string", "null"]},
                "service_ids": {"type": "array", "items": {"type": "integer"}},
                "data_storage_countries": COUNTRIES,
                "data_processing_countries": COUNTRIES,
            },
        },
        "FlowDownReview": {
            "type": "object",
            "required": ["id", "vendor_id", "status", "items"],
            "properties": {
                "id": {"type": "integer"},
                "vendor_id": {"type": "integer"},
                "status": {"type": "string", "enum": ["in_progress", "signed_off"]},
                "signed_off_at": {"type": ["string", "null"], "format": "date-time"},
                "next_due_date": {"type": ["string", "null"], "format": "date"},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "id": {"type": "integer"},
                            "declaration_id": {"type": "integer"},
                            "subcontractor": {"type": "string"},
                            "obligation": {"type": "string"},
                            "outcome": {"type": "string", "enum": [o.value for o in FlowDown]},
                            "comment": {"type": ["string", "null"]},
                            "finding_id": {"type": ["integer", "null"]},
                        },
                    },
                },
            },
        },
    }
)
NO_SUBCONTRACTORS = {
    "type": ["object", "null"],
    "description": "The vendor's statement that it has no subcontractors (null when none, or "
    "when subcontractors are declared); `current` is false once it is due to be confirmed again",
    "properties": {
        "attested_on": {"type": "string", "format": "date"},
        "current": {"type": "boolean"},
    },
}
CONFLICT = {"409": error_response("The review cannot change in its current state")}
document_paths(
    {
        "/vendors/{vendor_id}/subcontractors": {
            "get": {
                "summary": "The vendor's subcontracting chain (vendor users: their own only)",
                "operationId": "listSubcontractors",
                "parameters": [path_param("vendor_id")],
                "responses": {
                    "200": json_content(
                        {
                            "type": "object",
                            "properties": {
                                "vendor": {"type": "object"},
                                "items": {"type": "array", "items": ref("Subcontractor")},
                                "no_subcontractors": NO_SUBCONTRACTORS,
                            },
                        },
                        "The chain, ordered by rank",
                    ),
                    **ERRORS,
                    **NOT_FOUND,
                },
            },
            "post": {
                "summary": (
                    "Declare a subcontractor (matched to an existing company by LEI, "
                    "else name and country)"
                ),
                "operationId": "declareSubcontractor",
                "parameters": [path_param("vendor_id")],
                "requestBody": json_body(ref("SubcontractorInput")),
                "responses": {
                    "201": json_content(ref("Subcontractor"), "The new chain entry"),
                    **ERRORS,
                    **NOT_FOUND,
                    **INVALID,
                },
            },
        },
        "/vendors/{vendor_id}/subcontractors/none": {
            "post": {
                "summary": (
                    "State (or confirm again) that the vendor relies on no subcontractors; "
                    "declaring one later withdraws the statement"
                ),
                "operationId": "attestNoSubcontractors",
                "parameters": [path_param("vendor_id")],
                "responses": {
                    "200": json_content(
                        {
                            "type": "object",
                            "required": ["vendor_id", "no_subcontractors"],
                            "properties": {
                                "vendor_id": {"type": "integer"},
                                "no_subcontractors": NO_SUBCONTRACTORS,
                            },
                        },
                        "The statement",
                    ),
                    **ERRORS,
                    **NOT_FOUND,
                    "409": error_response("Subcontractors are declared: remove them first"),
                },
            }
        },
        "/vendors/{vendor_id}/subcontractors/{declaration_id}/remove": {
            "post": {
                "summary": "Remove an entry and everything declared below it",
                "operationId": "removeSubcontractor",
                "parameters": [path_param("vendor_id"), path_param("declaration_id")],
                "responses": {
                    "200": json_content(
                        {"type": "object", "properties": {"removed": {"type": "integer"}}},
                        "Removed",
                    ),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
        "/vendors/{vendor_id}/flow-down-reviews": {
            "post": {
                "summary": "Start a flow-down review of the vendor's chain",
                "operationId": "startFlowDownReview",
                "parameters": [path_param("vendor_id")],
                "responses": {
                    "201": json_content(ref("FlowDownReview"), "The review"),
                    **ERRORS,
                    **NOT_FOUND,
                    **CONFLICT,
                },
            }
        },
        "/flow-down-reviews/{review_id}": {
            "get": {
                "summary": "A flow-down review with its items",
                "operationId": "getFlowDownReview",
                "parameters": [path_param("review_id")],
                "responses": {
                    "200": json_content(ref("FlowDownReview"), "The review"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
        "/flow-down-reviews/{review_id}/items/{item_id}": {
            "post": {
                "summary": "Record whether an obligation binds a subcontractor",
                "operationId": "recordFlowDownItem",
                "parameters": [path_param("review_id"), path_param("item_id")],
                "requestBody": json_body(
                    {
                        "type": "object",
                        "required": ["outcome"],
                        "properties": {
                            "outcome": {"type": "string", "enum": [o.value for o in FlowDown]},
                            "comment": {"type": ["string", "null"]},
                        },
                    }
                ),
                "responses": {
                    "200": json_content(ref("FlowDownReview"), "The review"),
                    **ERRORS,
                    **NOT_FOUND,
                    **INVALID,
                    **CONFLICT,
                },
            }
        },
        "/flow-down-reviews/{review_id}/sign-off": {
            "post": {
                "summary": "Sign off; every no/unknown opens a finding",
                "operationId": "signOffFlowDownReview",
                "parameters": [path_param("review_id")],
                "responses": {
                    "200": json_content(ref("FlowDownReview"), "The review"),
                    **ERRORS,
                    **NOT_FOUND,
                    **CONFLICT,
                },
            }
        },
    }
)
