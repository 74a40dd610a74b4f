"""The OpenAPI 3.1 document for /api/v1.

Each API module documents its own routes with `document_paths` and `document_schemas`, next to
the code; a test checks that every API route is documented and every documented path is routed.
"""

from __future__ import annotations

from copy import deepcopy
from typing import Any

from flask import url_for

from vendor_portal.api import bp
from vendor_portal.tables import MAX_PAGE

_PATHS: dict[str, dict[str, Any]] = {}
_SCHEMAS: dict[str, Any] = {}


def error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def query_param(
    name: str, type_: str = "string", description: str | None = None, **schema: Any
) -> dict[str, Any]:
    """A query-string parameter; `schema` adds JSON-schema keywords (enum, default, minimum...)."""
    param: dict[str, Any] = {"name": name, "in": "query", "schema": {"type": type_, **schema}}
    if description is not None:
        param["description"] = description
    return param


ERRORS = {
    "400": error_response("Malformed request (bad JSON, bad query parameter)"),
    "401": error_response("Missing, unknown, revoked or expired token"),
    "403": error_response("The token's user may not do this"),
}
NOT_FOUND = {"404": error_response("No such object (or not visible to you)")}
INVALID = {
    "415": error_response("The body is not JSON"),
    "422": error_response("A field is invalid; error.fields names each"),
}
PAGE_PARAMS = [
    query_param("page", "integer", minimum=1, maximum=MAX_PAGE, default=1),
    query_param("per_page", "integer", minimum=1, maximum=500, default=50),
]


def page_of(ref: str) -> dict[str, Any]:
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


def json_content(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def path_param(name: str, type_: str = "integer") -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": {"type": type_}}


def document_paths(paths: dict[str, dict[str, Any]]) -> None:
    """Add operations, keyed by path relative to /api/v1 (e.g. "/vendors/{vendor_id}")."""
    for path, operations in paths.items():
        existing = _PATHS.setdefault(path, {})
        clash = set(existing) & set(operations)
        if clash:
            raise ValueError(f"{path} {sorted(clash)} documented twice")
        existing.update(operations)


def document_schemas(schemas: dict[str, Any]) -> None:
    clash = set(_SCHEMAS) & set(schemas)
    if clash:
        raise ValueError(f"schemas {sorted(clash)} documented twice")
    _SCHEMAS.update(schemas)


document_schemas(
    {
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
                        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                }
            },
        }
    }
)
document_paths(
    {
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "operationId": "openapi",
                "responses": {
                    "200": {"description": "OpenAPI document", "content": {"application/json": {}}}
                },
            }
        }
    }
)


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Vendor Portal API",
            "version": "1",
            "description": (
                "Third-party and supply-chain resilience portal. Authenticate with "
                "`Authorization: Bearer TOKEN` (create tokens on your account's API tokens page "
                "or with `flask --app vendor_portal create-token`). Errors are "
                '`{"error": {"code": "...", "message": "..."}}`. Lists take `page` and `per_page` '
                "and answer `items`, `page`, `per_page`, `total` and `pages`."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": deepcopy(_SCHEMAS),
        },
        "paths": deepcopy(_PATHS),
    }


@bp.get("/openapi.json")
def openapi():
    doc = document()
    doc["servers"] = [{"url": url_for("api.openapi").rsplit("/", 1)[0]}]
    return doc
