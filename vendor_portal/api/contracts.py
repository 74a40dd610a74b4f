"""Contracts, their procurement gate and status changes (which the gate guards)."""

from datetime import date
from typing import Any

from vendor_portal.api import bp
from vendor_portal.api.errors import ApiError, validation_error
from vendor_portal.api.helpers import api_user, is_id, json_object, paginated, require
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
from vendor_portal.contracts import services
from vendor_portal.contracts.domain import ContractStatus
from vendor_portal.contracts.models import Contract
from vendor_portal.extensions import db
from vendor_portal.vendors.models import Vendor


def contract_json(contract: Contract) -> dict[str, Any]:
    return {
        "id": contract.id,
        "vendor_id": contract.vendor_id,
        "title": contract.title,
        "reference": contract.reference,
        "status": contract.status,
        "start_date": contract.start_date.isoformat() if contract.start_date else None,
        "end_date": contract.end_date.isoformat() if contract.end_date else None,
        "vendor_service_ids": sorted(s.id for s in contract.services),
        "clauses": [o.code for o in contract.clauses],
    }


def _date(data: dict[str, Any], key: str, errors: dict[str, str]) -> date | None:
    value = data.get(key)
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        errors[key] = "Must be a date like 2026-01-31."
        return None


def _ids(data: dict[str, Any], key: str, errors: dict[str, str]) -> list[int]:
    value = data.get(key) or []
    if not isinstance(value, list) or not all(is_id(i) for i in value):
        errors[key] = "Must be a list of ids."
        return []
    return value


@bp.get("/contracts")
def list_contracts():
    require("contracts.read")
    return paginated(services.contracts_query().order_by(Contract.id), contract_json)


@bp.post("/contracts")
def create_contract():
    require("contracts.write")
    data = json_object()
    errors: dict[str, str] = {}
    known = {
        "vendor_id",
        "title",
        "reference",
        "start_date",
        "end_date",
        "vendor_service_ids",
        "clauses",
    }
    for key in set(data) - known:
        errors[key] = "Unknown field."
    vendor = db.session.get(Vendor, data.get("vendor_id")) if is_id(data.get("vendor_id")) else None
    if vendor is None:
        errors["vendor_id"] = "Must be the id of a vendor."
    title = data.get("title")
    if not isinstance(title, str) or not title.strip() or len(title) > 300:
        errors["title"] = "A title of 1 to 300 characters is required."
    start, end = _date(data, "start_date", errors), _date(data, "end_date", errors)
    service_ids = _ids(data, "vendor_service_ids", errors)
    codes = data.get("clauses") or []
    if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
        errors["clauses"] = "Must be a list of obligation codes."
        codes = []
    by_code = {o.code: o.id for o in services.library(db.session)}
    unknown = [c for c in codes if c not in by_code]
    if unknown:
        errors["clauses"] = f"Unknown obligation codes: {', '.join(unknown)}."
    if errors:
        raise validation_error(errors)
    try:
        contract = services.create_contract(
            db.session,
            vendor,
            title=title.strip(),
            reference=data.get("reference"),
            start_date=start,
            end_date=end,
            vendor_service_ids=service_ids,
            clause_ids=[by_code[c] for c in codes],
        )
    except services.ContractError as exc:
        raise validation_error({exc.field or "title": str(exc)}) from exc
    db.session.commit()
    return contract_json(contract), 201, {"Location": f"/api/v1/contracts/{contract.id}"}


@bp.get("/contracts/<int:contract_id>")
def get_contract(contract_id: int):
    require("contracts.read")
    contract = db.session.get(Contract, contract_id)
    if contract is None:
        raise ApiError(404, "not_found", f"No contract with id {contract_id}.")
    return contract_json(contract)


document_schemas(
    {
        "ContractInput": {
            "type": "object",
            "required": ["vendor_id", "title"],
            "additionalProperties": False,
            "properties": {
                "vendor_id": {"type": "integer"},
                "title": {"type": "string", "minLength": 1, "maxLength": 300},
                "reference": {"type": ["string", "null"]},
                "start_date": {"type": ["string", "null"], "format": "date"},
                "end_date": {"type": ["string", "null"], "format": "date"},
                "vendor_service_ids": {"type": "array", "items": {"type": "integer"}},
                "clauses": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "Obligation codes",
                },
            },
        },
        "Contract": {
            "type": "object",
            "required": ["id", "vendor_id", "title", "status", "vendor_service_ids", "clauses"],
            "properties": {
                "id": {"type": "integer"},
                "vendor_id": {"type": "integer"},
                "title": {"type": "string"},
                "reference": {"type": ["string", "null"]},
                "status": {"type": "string", "enum": [s.value for s in ContractStatus]},
                "start_date": {"type": ["string", "null"], "format": "date"},
                "end_date": {"type": ["string", "null"], "format": "date"},
                "vendor_service_ids": {"type": "array", "items": {"type": "integer"}},
                "clauses": {"type": "array", "items": {"type": "string"}},
            },
        },
        "ContractPage": page_of("#/components/schemas/Contract"),
    }
)
document_paths(
    {
        "/contracts": {
            "get": {
                "summary": "List contracts (internal users)",
                "operationId": "listContracts",
                "parameters": PAGE_PARAMS,
                "responses": {
                    "200": json_content(ref("ContractPage"), "A page of contracts"),
                    **ERRORS,
                },
            },
            "post": {
                "summary": "Draft a contract",
                "operationId": "createContract",
                "requestBody": json_body(ref("ContractInput")),
                "responses": {
                    "201": json_content(ref("Contract"), "The contract"),
                    **ERRORS,
                    **INVALID,
                },
            },
        },
        "/contracts/{contract_id}": {
            "get": {
                "summary": "One contract",
                "operationId": "getContract",
                "parameters": [path_param("contract_id")],
                "responses": {
                    "200": json_content(ref("Contract"), "The contract"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
    }
)


def gate_json(evaluation) -> dict[str, Any]:
    return {
        "contract_id": evaluation.contract_id,
        "decision": evaluation.decision,
        "checks": [
            {
                "code": c["code"],
                "status": c["status"],
                "message": c["message"],
                "fixes": c.get("fixes", []),
            }
            for c in evaluation.checks
        ],
        "exception_ids": evaluation.exception_ids,
        "evaluated_at": evaluation.evaluated_at.isoformat(),
    }


@bp.get("/contracts/<int:contract_id>/gate")
def contract_gate(contract_id: int):
    """Evaluate now (kept in the history) and answer the decision."""
    require("contracts.read")
    from vendor_portal.gate.services import evaluate_contract

    contract = db.session.get(Contract, contract_id)
    if contract is None:
        raise ApiError(404, "not_found", f"No contract with id {contract_id}.")
    evaluation = evaluate_contract(db.session, contract, api_user().id, reason="api")
    db.session.commit()
    return gate_json(evaluation)


@bp.post("/contracts/<int:contract_id>/status")
def contract_status(contract_id: int):
    require("contracts.write")
    from vendor_portal.gate.services import GateBlocked, GateError, change_status

    contract = db.session.get(Contract, contract_id)
    if contract is None:
        raise ApiError(404, "not_found", f"No contract with id {contract_id}.")
    data = json_object()
    status = data.get("status")
    if status not in [s.value for s in ContractStatus]:  # a list: status may be unhashable
        raise validation_error(
            {"status": f"Must be one of {', '.join(s.value for s in ContractStatus)}."}
        )
    try:
        change_status(db.session, contract, status, api_user().id)
    except GateBlocked as exc:
        db.session.commit()
        raise ApiError(409, "gate_failed", str(exc), gate=gate_json(exc.evaluation)) from exc
    except GateError as exc:
        raise ApiError(409, "conflict", str(exc)) from exc
    db.session.commit()
    return contract_json(contract)


CHECK = {
    "type": "object",
    "required": ["code", "status", "message"],
    "properties": {
        "code": {
            "type": "string",
            "enum": [
                "questionnaire",
                "evidence",
                "rto",
                "rpo",
                "exercise",
                "findings",
                "subcontracting",
                "clauses",
            ],
        },
        "status": {"type": "string", "enum": ["pass", "fail"]},
        "message": {"type": "string"},
        "fixes": {"type": "array", "items": {"type": "string"}},
    },
}
document_schemas(
    {
        "GateDecision": {
            "type": "object",
            "required": ["contract_id", "decision", "checks", "evaluated_at"],
            "properties": {
                "contract_id": {"type": "integer"},
                "decision": {"type": "string", "enum": ["pass", "fail", "pass_with_exception"]},
                "checks": {"type": "array", "items": CHECK},
                "exception_ids": {"type": "array", "items": {"type": "integer"}},
                "evaluated_at": {"type": "string", "format": "date-time"},
            },
        }
    }
)
document_paths(
    {
        "/contracts/{contract_id}/gate": {
            "get": {
                "summary": "Evaluate the contract's procurement gate now (kept in its history)",
                "operationId": "getContractGate",
                "parameters": [path_param("contract_id")],
                "responses": {
                    "200": json_content(ref("GateDecision"), "The decision"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
        "/contracts/{contract_id}/status": {
            "post": {
                "summary": "Move the contract to a status; approved and active need a passing gate",
                "operationId": "setContractStatus",
                "parameters": [path_param("contract_id")],
                "requestBody": json_body(
                    {
                        "type": "object",
                        "required": ["status"],
                        "properties": {
                            "status": {"type": "string", "enum": [s.value for s in ContractStatus]}
                        },
                    }
                ),
                "responses": {
                    "200": json_content(ref("Contract"), "The contract"),
                    **ERRORS,
                    **NOT_FOUND,
                    **INVALID,
                    "409": error_response(
                        "Refused: the gate fails (error.gate has the checks) or the move is invalid"
                    ),
                },
            }
        },
    }
)
