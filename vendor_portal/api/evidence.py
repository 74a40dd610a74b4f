"""Evidence over the API: upload (multipart, streamed to storage), list, metadata, download,
review."""

from __future__ import annotations

from typing import Any

from flask import current_app, request
from werkzeug.exceptions import RequestEntityTooLarge

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
from vendor_portal.db import utcnow
from vendor_portal.evidence import services
from vendor_portal.evidence.delivery import IntegrityProblem, parse_date, send_version
from vendor_portal.evidence.domain import (
    EXPIRY_WINDOWS,
    EvidenceType,
    ReviewStatus,
    validity_problems,
)
from vendor_portal.evidence.models import EvidenceItem, EvidenceVersion
from vendor_portal.evidence.tables import EVIDENCE_TABLE
from vendor_portal.extensions import db
from vendor_portal.security import is_vendor_user, vendor_scope
from vendor_portal.storage import (
    ALLOWED_EXTENSIONS,
    UploadRejected,
    format_size,
    storage_for,
    stream_request_uploads,
    upload_limit,
)
from vendor_portal.tables import BadTableRequest
from vendor_portal.vendors.models import Vendor


def evidence_json(version: EvidenceVersion) -> dict[str, Any]:
    return {
        "id": version.id,
        "item_id": version.item_id,
        "vendor_id": version.vendor_id,
        "evidence_type": version.item.evidence_type,
        "title": version.item.title,
        "version": version.number,
        "is_latest": version.is_latest,
        "filename": version.filename,
        "size": version.size,
        "sha256": version.sha256,
        "content_type": version.mimetype,
        "issued_on": version.issued_on.isoformat() if version.issued_on else None,
        "valid_until": version.valid_until.isoformat() if version.valid_until else None,
        "status": version.status,
        "review_comment": version.review_comment,
        "reviewed_at": version.reviewed_at.isoformat() if version.reviewed_at else None,
        "uploaded_at": version.uploaded_at.isoformat(),
        "integrity_failed": version.integrity_failed_at is not None,
        "download_url": f"/api/v1/evidence/{version.id}/download",
    }


@bp.get("/evidence")
def list_evidence():
    require("evidence.read")
    args = request.args
    for name, allowed in (
        ("evidence_type", {t.value for t in EvidenceType}),
        ("status", {s.value for s in ReviewStatus}),
    ):
        bad = [v for v in args.getlist(name) if v not in allowed]
        if bad:
            raise ApiError(
                400, "bad_request", f"{name} must be one of {', '.join(sorted(allowed))}."
            )
    within = args.get("expires_within", type=int)
    if "expires_within" in args and within not in EXPIRY_WINDOWS:
        raise ApiError(400, "bad_request", "expires_within must be 30, 60 or 90.")
    stmt = services.version_query(
        vendor_id=int_arg("vendor_id"),
        evidence_types=args.getlist("evidence_type") or None,
        statuses=args.getlist("status") or None,
        latest_only=args.get("latest", "true") != "false",
        expires_within=within,
    )
    stmt = vendor_scope(stmt, EvidenceVersion.vendor_id, api_user())
    try:
        stmt = EVIDENCE_TABLE.sorted(stmt, args.get("sort"), EvidenceVersion.id)
    except BadTableRequest as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return paginated(stmt, evidence_json)


@bp.post("/evidence")
def upload_evidence():
    require("evidence.upload")
    user = api_user()
    if not (request.mimetype or "").startswith("multipart/form-data"):
        raise ApiError(
            415,
            "unsupported_media_type",
            "Send multipart/form-data with a 'file' part and the fields evidence_type and "
            "valid_until.",
        )
    storage = storage_for(current_app)
    limit = upload_limit(current_app)
    with stream_request_uploads(request, storage, limit) as uploads:
        try:
            form, files = request.form, request.files
        except UploadRejected as exc:
            raise ApiError(413 if exc.code == "too_large" else 422, exc.code, exc.message) from exc
        except RequestEntityTooLarge as exc:
            raise ApiError(
                413, "too_large", f"The upload is larger than the limit of {format_size(limit)}."
            ) from exc
        if "\x00" in "".join([*form.values(), *(f.filename or "" for f in files.values())]):
            raise ApiError(400, "bad_request", "Text may not contain NUL (U+0000) characters.")
        errors: dict[str, str] = {}
        item = None
        if form.get("item_id"):
            if not form["item_id"].isdigit():
                raise validation_error({"item_id": "Must be an evidence item id."})
            item = get_scoped(EvidenceItem, int(form["item_id"]))
        if is_vendor_user(user):
            vendor = user.vendor
            if form.get("vendor_id") and form["vendor_id"] != str(user.vendor_id):
                raise ApiError(404, "not_found", f"No vendor with id {form['vendor_id']}.")
        elif item is not None:
            vendor = item.vendor
        else:
            vendor_id = form.get("vendor_id", "")
            number = int(vendor_id) if vendor_id.isascii() and vendor_id.isdigit() else None
            vendor = db.session.get(Vendor, number) if is_id(number) else None
            if vendor is None:
                errors["vendor_id"] = "Give the id of the vendor this evidence belongs to."
        dates = {}
        for name in ("issued_on", "valid_until"):
            try:
                dates[name] = parse_date(form.get(name))
            except ValueError:
                errors[name] = "A date as YYYY-MM-DD."
        file = files.get("file")
        if file is None or not file.filename:
            errors["file"] = (
                f"Send the document as the 'file' part (one of {', '.join(ALLOWED_EXTENSIONS)})."
            )
        if item is None and not form.get("evidence_type"):
            errors["evidence_type"] = f"One of {', '.join(t.value for t in EvidenceType)}."
        if errors:
            raise validation_error(errors)
        details = services.UploadDetails(
            vendor=vendor,
            evidence_type=item.evidence_type if item else form["evidence_type"],
            title=(form.get("title") or "").strip() or None,
            issued_on=dates["issued_on"],
            valid_until=dates["valid_until"],
            item=item,
        )
        errors = services.check_details(details) | validity_problems(
            details.issued_on, details.valid_until, utcnow().date()
        )
        if errors:
            raise validation_error(errors)
        try:
            version = services.store_upload(
                db.session, storage, uploads.pending_for(file), file.filename, details, user
            )
        except UploadRejected as exc:
            status = 413 if exc.code == "too_large" else 422
            raise ApiError(status, exc.code, exc.message, fields={"file": exc.message}) from exc
        except services.EvidenceError as exc:
            raise ApiError(409, "duplicate", exc.message, fields={exc.field: exc.message}) from exc
        db.session.commit()
    return evidence_json(version), 201, {"Location": f"/api/v1/evidence/{version.id}"}


@bp.get("/evidence/<int:version_id>")
def get_evidence(version_id: int):
    require("evidence.read")
    return evidence_json(get_scoped(EvidenceVersion, version_id))


@bp.get("/evidence/<int:version_id>/download")
def download_evidence(version_id: int):
    require("evidence.read")
    version = get_scoped(EvidenceVersion, version_id)
    try:
        return send_version(version)
    except IntegrityProblem as problem:
        raise ApiError(500, "integrity_error", problem.message) from problem


@bp.post("/evidence/<int:version_id>/review")
def review_evidence(version_id: int):
    require("evidence.review")
    version = get_scoped(EvidenceVersion, version_id)
    data = json_object()
    decision, comment = data.get("decision"), data.get("comment")
    if not isinstance(decision, str) or (comment is not None and not isinstance(comment, str)):
        raise validation_error({"decision": "'accepted' or 'rejected'; comment a string."})
    try:
        services.review_version(db.session, version, decision, comment, api_user())
    except services.EvidenceError as exc:
        raise validation_error({exc.field: exc.message}) from exc
    db.session.commit()
    return evidence_json(version)


TYPES = [t.value for t in EvidenceType]
STATUSES = [s.value for s in ReviewStatus]
SORTS = [p + c.key for c in EVIDENCE_TABLE.columns if c.sort is not None for p in ("", "-")]
DATE = {"type": ["string", "null"], "format": "date"}

document_schemas(
    {
        "Evidence": {
            "type": "object",
            "description": "One version of an evidence item (a new upload of an item is a new "
            "version; versions are never overwritten).",
            "required": ["id", "item_id", "vendor_id", "evidence_type", "version", "sha256"],
            "properties": {
                "id": {"type": "integer", "description": "The version's id"},
                "item_id": {"type": "integer"},
                "vendor_id": {"type": "integer"},
                "evidence_type": {"type": "string", "enum": TYPES},
                "title": {"type": "string"},
                "version": {"type": "integer"},
                "is_latest": {"type": "boolean"},
                "filename": {"type": "string"},
                "size": {"type": "integer"},
                "sha256": {"type": "string"},
                "content_type": {"type": "string"},
                "issued_on": DATE,
                "valid_until": DATE,
                "status": {"type": "string", "enum": STATUSES},
                "review_comment": {"type": ["string", "null"]},
                "reviewed_at": {"type": ["string", "null"], "format": "date-time"},
                "uploaded_at": {"type": "string", "format": "date-time"},
                "integrity_failed": {"type": "boolean"},
                "download_url": {"type": "string"},
            },
        },
        "EvidencePage": page_of("#/components/schemas/Evidence"),
        "EvidenceUpload": {
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": {
                    "type": "string",
                    "format": "binary",
                    "description": "PDF, Office, image, text/CSV or ZIP "
                    f"({', '.join(ALLOWED_EXTENSIONS)}); the content must match the extension. "
                    "Limit: VENDOR_PORTAL_EVIDENCE_MAX_BYTES "
                    "(100 MB by default).",
                },
                "evidence_type": {"type": "string", "enum": TYPES},
                "valid_until": {"type": "string", "format": "date"},
                "issued_on": {"type": "string", "format": "date"},
                "title": {"type": "string", "maxLength": 200},
                "item_id": {
                    "type": "integer",
                    "description": "Add a new version to this item (its type is kept)",
                },
                "vendor_id": {
                    "type": "integer",
                    "description": "Required for internal users; a vendor user's own vendor",
                },
            },
        },
        "EvidenceReview": {
            "type": "object",
            "required": ["decision"],
            "properties": {
                "decision": {"type": "string", "enum": ["accepted", "rejected"]},
                "comment": {"type": "string", "description": "Required to reject"},
            },
        },
    }
)
document_paths(
    {
        "/evidence": {
            "get": {
                "summary": "List evidence versions (a vendor user sees only its own)",
                "operationId": "listEvidence",
                "parameters": [
                    *PAGE_PARAMS,
                    query_param("vendor_id", "integer"),
                    query_param("evidence_type", enum=TYPES),
                    query_param("status", enum=STATUSES),
                    query_param(
                        "latest",
                        description="Only the current version of each item",
                        enum=["true", "false"],
                        default="true",
                    ),
                    query_param("expires_within", "integer", enum=list(EXPIRY_WINDOWS)),
                    query_param("sort", enum=SORTS),
                ],
                "responses": {
                    "200": json_content(ref("EvidencePage"), "A page of evidence"),
                    **ERRORS,
                },
            },
            "post": {
                "summary": "Upload evidence (a new item, or a new version of item_id)",
                "operationId": "uploadEvidence",
                "requestBody": {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": ref("EvidenceUpload")}},
                },
                "responses": {
                    "201": json_content(ref("Evidence"), "The version stored"),
                    **ERRORS,
                    **NOT_FOUND,
                    "409": error_response("This file was already uploaded for the vendor"),
                    "413": error_response("Larger than the size limit"),
                    "415": error_response("Not multipart/form-data"),
                    "422": error_response("A field or the file is invalid (type, dates, empty)"),
                },
            },
        },
        "/evidence/{version_id}": {
            "get": {
                "summary": "One evidence version's metadata",
                "operationId": "getEvidence",
                "parameters": [path_param("version_id")],
                "responses": {
                    "200": json_content(ref("Evidence"), "The version"),
                    **ERRORS,
                    **NOT_FOUND,
                },
            }
        },
        "/evidence/{version_id}/download": {
            "get": {
                "summary": "The file, as an attachment, after checking its SHA-256",
                "operationId": "downloadEvidence",
                "parameters": [path_param("version_id")],
                "responses": {
                    "200": {
                        "description": (
                            "The file (Content-Disposition: attachment), with the media type it "
                            "was uploaded as"
                        ),
                        "content": {"*/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **ERRORS,
                    **NOT_FOUND,
                    "500": error_response("The stored file failed its integrity check"),
                },
            }
        },
        "/evidence/{version_id}/review": {
            "post": {
                "summary": "Accept or reject a submitted version",
                "operationId": "reviewEvidence",
                "parameters": [path_param("version_id")],
                "requestBody": json_body(ref("EvidenceReview")),
                "responses": {
                    "200": json_content(ref("Evidence"), "The reviewed version"),
                    **ERRORS,
                    **NOT_FOUND,
                    **INVALID,
                },
            }
        },
    }
)
