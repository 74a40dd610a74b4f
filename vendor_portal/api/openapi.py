"""The OpenAPI 3.1 document for /api/v1. A test checks it names every API route."""

from __future__ import annotations

from typing import Any

from flask import url_for

from vendor_portal.api import bp
from vendor_portal.vendors.domain import Tier, VendorStatus


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


ERRORS = {
    "400": _error_response("Malformed request (bad JSON, bad query parameter)"),
    "401": _error_response("Missing, unknown, revoked or expired token"),
    "403": _error_response("The token's user may not do this"),
}
PAGE_PARAMS = [
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1}},
    {
        "name": "per_page",
        "in": "query",
        "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
    },
]


def _page_of(ref: str) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "page", "per_page", "total", "pages"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": ref}},
            "page": {"type": "integer"},
            "per_page": {"type": "integer"},
            "total": {"type": "integer"},
            "pages": {"type": "integer"},
        },
    }


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


VENDOR_INPUT = {
    "type": "object",
    "required": ["name", "tier", "country"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "tier": {"type": "string", "enum": [t.value for t in Tier]},
        "country": {
            "type": "string",
            "description": "ISO 3166-1 alpha-2 code",
            "minLength": 2,
            "maxLength": 2,
        },
        "lei": {"type": ["string", "null"], "description": "ISO 17442 Legal Entity Identifier"},
        "status": {"type": "string", "enum": [s.value for s in VendorStatus]},
        "website": {"type": ["string", "null"], "maxLength": 300},
        "description": {"type": ["string", "null"], "maxLength": 5000},
        "notes": {"type": ["string", "null"], "maxLength": 5000},
    },
}

VENDOR = {
    "type": "object",
    "required": ["id", "name", "tier", "country", "status", "archived", "created_at", "updated_at"],
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "lei": {"type": ["string", "null"]},
        "country": {"type": "string"},
        "tier": {"type": "string", "enum": [t.value for t in Tier]},
        "status": {"type": "string", "enum": [s.value for s in VendorStatus]},
        "website": {"type": ["string", "null"]},
        "description": {"type": ["string", "null"]},
        "archived": {"type": "boolean"},
        "created_at": {"type": "string", "format": "date-time"},
        "updated_at": {"type": "string", "format": "date-time"},
    },
}


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Vendor Portal API",
            "version": "1",
            "description": (
                "Third-party and supply-chain resilience portal. Authenticate with "
                "`Authorization: Bearer TOKEN` (create tokens on your account's API tokens page "
                "or with "
                "`flask --app vendor_portal create-token`). Errors are "
                '`{"error": {"code": "...", "message": "..."}}`. Lists take `page` and `per_page` '
                "and answer `items`, `page`, `per_page`, `total` and `pages`."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "fields": {
                                    "type": "object",
                                    "additionalProperties": {"type": "string"},
                                },
                            },
                        }
                    },
                },
                "VendorInput": VENDOR_INPUT,
                "Vendor": VENDOR,
                "VendorPage": _page_of("#/components/schemas/Vendor"),
            },
        },
        "paths": {
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "operationId": "openapi",
                    "responses": {
                        "200": {
                            "description": "OpenAPI document",
                            "content": {"application/json": {}},
                        }
                    },
                }
            },
            "/vendors": {
                "get": {
                    "summary": "List vendors (a vendor user sees only its own)",
                    "operationId": "listVendors",
                    "parameters": [
                        *PAGE_PARAMS,
                        {
                            "name": "q",
                            "in": "query",
                            "schema": {"type": "string"},
                            "description": "Name or LEI contains",
                        },
                        {
                            "name": "tier",
                            "in": "query",
                            "schema": {"type": "string", "enum": [t.value for t in Tier]},
                        },
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"type": "string", "enum": [s.value for s in VendorStatus]},
                        },
                        {"name": "country", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "archived",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["true", "false"]},
                        },
                        {
                            "name": "sort",
                            "in": "query",
                            "schema": {
                                "type": "string",
                                "enum": [
                                    p + k
                                    for k in (
                                        "id",
                                        "name",
                                        "tier",
                                        "status",
                                        "country",
                                        "lei",
                                        "updated_at",
                                    )
                                    for p in ("", "-")
                                ],
                            },
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {"$ref": "#/components/schemas/VendorPage"}, "A page of vendors"
                        ),
                        **ERRORS,
                    },
                },
                "post": {
                    "summary": "Create a vendor",
                    "operationId": "createVendor",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/VendorInput"}
                            }
                        },
                    },
                    "responses": {
                        "201": _json({"$ref": "#/components/schemas/Vendor"}, "The vendor created"),
                        **ERRORS,
                        "409": _error_response("Another vendor has this LEI"),
                        "415": _error_response("The body is not JSON"),
                        "422": _error_response("A field is invalid; error.fields names each"),
                    },
                },
            },
            "/vendors/{vendor_id}": {
                "get": {
                    "summary": "One vendor",
                    "operationId": "getVendor",
                    "parameters": [
                        {
                            "name": "vendor_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer"},
                        }
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Vendor"}, "The vendor"),
                        **ERRORS,
                        "404": _error_response("No such vendor (or not yours)"),
                    },
                }
            },
        },
    }


@bp.get("/openapi.json")
def openapi():
    doc = document()
    doc["servers"] = [{"url": url_for("api.openapi", _external=False).rsplit("/", 1)[0]}]
    return doc
