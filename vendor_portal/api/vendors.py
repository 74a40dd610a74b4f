from typing import Any

from flask import request

from vendor_portal.api import bp
from vendor_portal.api.errors import ApiError, validation_error
from vendor_portal.api.helpers import api_user, get_scoped, json_object, paginated, require
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
from vendor_portal.security import vendor_scope
from vendor_portal.tables import BadTableRequest
from vendor_portal.vendors import services
from vendor_portal.vendors.domain import (
    MAX_RECOVERY_HOURS,
    ServiceType,
    Tier,
    VendorStatus,
    validate_service_input,
    validate_vendor_input,
)
from vendor_portal.vendors.models import Vendor, VendorService
from vendor_portal.vendors.tables import VENDOR_TABLE


def vendor_json(vendor: Vendor) -> dict[str, Any]:
    return {
        "id": vendor.id,
        "name": vendor.name,
        "lei": vendor.lei,
        "country": vendor.country,
        "tier": vendor.tier,
        "status": vendor.status,
        "website": vendor.website,
        "description": vendor.description,
        "archived": vendor.archived,
        "created_at": vendor.created_at.isoformat(),
        "updated_at": vendor.updated_at.isoformat(),
    }


@bp.get("/vendors")
def list_vendors():
    require("vendors.read")
    args = request.args
    stmt = services.vendor_query(
        search=args.get("q"),
        tiers=args.getlist("tier") or None,
        statuses=args.getlist("status") or None,
        country=args.get("country"),
        archived=args.get("archived") == "true",
    )
    stmt = vendor_scope(stmt, Vendor.id, api_user())
    try:
        stmt = VENDOR_TABLE.sorted(stmt, args.get("sort"), Vendor.id)
    except BadTableRequest as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return paginated(stmt, vendor_json)


@bp.post("/vendors")
def create_vendor():
    require("vendors.write")
    values, errors = validate_vendor_input(json_object())
    if errors:
        raise validation_error(errors)
    try:
        vendor = services.create_vendor(db.session, values)
    except services.VendorConflict as exc:
        raise ApiError(409, "conflict", str(exc), field=exc.field) from exc
    db.session.commit()
    return vendor_json(vendor), 201, {"Location": f"/api/v1/vendors/{vendor.id}"}


@bp.get("/vendors/<int:vendor_id>")
def get_vendor(vendor_id: int):
    require("vendors.read")
    return vendor_json(get_scoped(Vendor, vendor_id, vendor_attr="id"))


TIERS = [t.value for t in Tier]
STATUSES = [s.value for s in VendorStatus]
SORTS = [p + c.key for c in VENDOR_TABLE.columns if c.sort is not None for p in ("", "-")]

document_schemas(
    {
        "VendorInput": {
            "type": "object",
            "required": ["name", "tier", "country"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "tier": {"type": "string", "enum": TIERS},
                "country": {"type": "string", "description": "ISO 3166-1 alpha-2 code"},
                "lei": {
                    "type": ["string", "null"],
                    "description": "ISO 17442 Legal Entity Identifier",
                },
                "status": {"type": "string", "enum": STATUSES},
                "website": {"type": ["string", "null"], "maxLength": 300},
                "description": {"type": ["string", "null"], "maxLength": 5000},
                "notes": {"type": ["string", "null"], "maxLength": 5000},
            },
        },
        "Vendor": {
            "type": "object",
            "required": [
                "id",
                "name",
                "tier",
                "country",
                "status",
                "archived",
                "created_at",
                "updated_at",
            ],
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "lei": {"type": ["string", "null"]},
                "country": {"type": "string"},
                "tier": {"type": "string", "enum": TIERS},
                "status": {"type": "string", "enum": STATUSES},
                "website": {"type": ["string", "null"]},
                "description": {"type": ["string", "null"]},
                "archived": {"type": "boolean"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
            },
        },
        "VendorPage": page_of("#/components/schemas/Vendor"),
    }
)
document_paths(
    {
        "/vendors": {
            "get": {
                "summary": "List vendors (a vendor user sees only its own)",
                "operationId": "listVendors",
                "parameters": [
                    *PAGE_PARAMS,
                    query_param("q", description="Name or LEI contains"),
                    query_param("tier", enum=TIERS),
                    query_param("status", enum=STATUSES),
                    query_param("country"),
                    query_param("archived", enum=["true", "false"]),
                    query_param("sort", enum=SORTS),
                ],
                "responses": {
                    "200": json_content(ref("VendorPage"), "A page of vendors"),
                    **ERRORS,
                },
            },
            "post": {
                "summary": "Create a vendor",
                "operationId": "createVendor",
                "requestBody": json_body(ref("VendorInput")),
                "responses": {
                    "201": json_content(ref("Vendor"), "The vendor created"),
                    **ERRORS,
                    **INVALID,
                    "409": error_response("Another vendor has this LEI"),
                },
            },
        },
        "/vendors/{vendor_id}": {
            "get": {
                "summary": "One vendor",
                "operationId": "getVendor",
                "parameters": [path_param("vendor_id")],
                "responses": {
                    "200": json_content(ref("Vendor"), "The vendor"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
    }
)


def service_json(service: VendorService) -> dict[str, Any]:
    return {
        "id": service.id,
        "vendor_id": service.vendor_id,
        "name": service.name,
        "service_type": service.service_type,
        "description": service.description,
        "hosting_countries": service.hosting_countries or [],
        "cloud_regions": service.cloud_regions or [],
        "attested_rto_hours": service.attested_rto_hours,
        "attested_rpo_hours": service.attested_rpo_hours,
        "attestation_source": service.attestation_source,
        "attested_at": service.attested_at.isoformat() if service.attested_at else None,
        "archived": service.archived_at is not None,
    }


@bp.get("/vendors/<int:vendor_id>/services")
def list_services(vendor_id: int):
    require("vendors.read")
    vendor = get_scoped(Vendor, vendor_id, vendor_attr="id")
    return {"items": [service_json(s) for s in services.active_services(db.session, vendor.id)]}


@bp.post("/vendors/<int:vendor_id>/services")
def create_service(vendor_id: int):
    require("vendors.write")
    vendor = get_scoped(Vendor, vendor_id, vendor_attr="id")
    values, errors = validate_service_input(json_object())
    if errors:
        raise validation_error(errors)
    service = services.create_service(db.session, vendor, values, source="api")
    db.session.commit()
    return service_json(service), 201, {"Location": f"/api/v1/vendor-services/{service.id}"}


@bp.get("/vendor-services/<int:service_id>")
def get_service(service_id: int):
    require("vendors.read")
    return service_json(get_scoped(VendorService, service_id))


SERVICE_TYPES = [t.value for t in ServiceType]
HOURS = {"type": ["number", "null"], "minimum": 0, "maximum": MAX_RECOVERY_HOURS}
document_schemas(
    {
        "VendorServiceInput": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "service_type": {"type": "string", "enum": SERVICE_TYPES},
                "description": {"type": ["string", "null"], "maxLength": 5000},
                "hosting_countries": {"type": "array", "items": {"type": "string"}},
                "cloud_regions": {"type": "array", "items": {"type": "string", "maxLength": 64}},
                "attested_rto_hours": HOURS,
                "attested_rpo_hours": HOURS,
            },
        },
        "VendorService": {
            "type": "object",
            "required": [
                "id",
                "vendor_id",
                "name",
                "service_type",
                "hosting_countries",
                "cloud_regions",
            ],
            "properties": {
                "id": {"type": "integer"},
                "vendor_id": {"type": "integer"},
                "name": {"type": "string"},
                "service_type": {"type": "string", "enum": SERVICE_TYPES},
                "description": {"type": ["string", "null"]},
                "hosting_countries": {"type": "array", "items": {"type": "string"}},
                "cloud_regions": {"type": "array", "items": {"type": "string"}},
                "attested_rto_hours": {"type": ["number", "null"]},
                "attested_rpo_hours": {"type": ["number", "null"]},
                "attestation_source": {"type": ["string", "null"]},
                "attested_at": {"type": ["string", "null"], "format": "date-time"},
                "archived": {"type": "boolean"},
            },
        },
    }
)
document_paths(
    {
        "/vendors/{vendor_id}/services": {
            "get": {
                "summary": "The vendor's services (not archived)",
                "operationId": "listVendorServices",
                "parameters": [path_param("vendor_id")],
                "responses": {
                    "200": json_content(
                        {
                            "type": "object",
                            "properties": {
                                "items": {"type": "array", "items": ref("VendorService")}
                            },
                        },
                        "The services",
                    ),
                    **ERRORS,
                    **NOT_FOUND,
                },
            },
            "post": {
                "summary": "Record a service the vendor delivers",
                "operationId": "createVendorService",
                "parameters": [path_param("vendor_id")],
                "requestBody": json_body(ref("VendorServiceInput")),
                "responses": {
                    "201": json_content(ref("VendorService"), "The service created"),
                    **ERRORS,
                    **NOT_FOUND,
                    **INVALID,
                },
            },
        },
        "/vendor-services/{service_id}": {
            "get": {
                "summary": "One vendor service",
                "operationId": "getVendorService",
                "parameters": [path_param("service_id")],
                "responses": {
                    "200": json_content(ref("VendorService"), "The service"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
    }
)
