"""POST/GET /api/v1/evidence: multipart upload, metadata, download, review, scope."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.evidence_factories import EvidenceBuilder, pdf_bytes
from vendor_portal.db import utcnow
from vendor_portal.evidence.models import EvidenceVersion

TODAY = utcnow().date()


@pytest.fixture
def api(app, build):
    class Api:
        def __init__(self) -> None:
            self.client = app.test_client()
            self.headers: dict[str, str] = {}

        def as_role(self, role: str, vendor=None):
            user = build.user(role=role, vendor=vendor)
            self.headers = {"Authorization": f"Bearer {build.token(user)}"}
            return user

        def get(self, path, **kw):
            return self.client.get(path, headers=self.headers, **kw)

        def post(self, path, **kw):
            return self.client.post(path, headers=self.headers, **kw)

        def upload(self, content: bytes, filename: str = "plan.pdf", **fields):
            data = {"evidence_type": "bcp", **fields, "file": (io.BytesIO(content), filename)}
            return self.post("/api/v1/evidence", data=data, content_type="multipart/form-data")

    return Api()


@pytest.fixture
def evidence(session, app) -> EvidenceBuilder:
    return EvidenceBuilder(session, app)


def error(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.get_json()["error"]
    assert body["code"] == code and body["message"]
    return body


def test_vendor_uploads_through_the_api_and_reads_it_back(api, build, session):
    vendor = build.vendor()
    api.as_role("vendor_user", vendor=vendor)
    valid = (TODAY + timedelta(days=365)).isoformat()
    content = pdf_bytes("api")
    response = api.upload(content, "bcp.pdf", valid_until=valid, title="Group BCP")
    assert response.status_code == 201, response.text
    body = response.get_json()
    assert body["vendor_id"] == vendor.id and body["version"] == 1 and body["status"] == "submitted"
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    assert body["valid_until"] == valid and body["title"] == "Group BCP"
    assert response.headers["Location"] == f"/api/v1/evidence/{body['id']}"
    assert api.get(f"/api/v1/evidence/{body['id']}").get_json() == body
    download = api.get(f"/api/v1/evidence/{body['id']}/download", buffered=True)
    assert download.data == content
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    second = api.upload(pdf_bytes("api v2"), "bcp-v2.pdf", item_id=str(body["item_id"]))
    assert second.status_code == 201 and second.get_json()["version"] == 2
    listing = api.get("/api/v1/evidence").get_json()
    assert [item["version"] for item in listing["items"]] == [2]
    everything = api.get("/api/v1/evidence?latest=false&sort=version").get_json()
    assert [item["version"] for item in everything["items"]] == [1, 2]


def test_internal_users_name_the_vendor(api, build):
    vendor = build.vendor()
    api.as_role("vendor_manager")
    missing = api.upload(pdf_bytes())
    assert error(missing, 422, "validation_error")["fields"] == {
        "vendor_id": "Give the id of the vendor this evidence belongs to."
    }
    assert api.upload(pdf_bytes(), vendor_id=str(vendor.id)).status_code == 201
    api.as_role("auditor")
    error(api.upload(pdf_bytes(), vendor_id=str(vendor.id)), 403, "forbidden")


@pytest.mark.parametrize(
    ("content", "filename", "fields", "status", "code"),
    [
        (b"", "empty.pdf", {}, 422, "empty"),
        (b"MZ\x90\x00" + bytes(64), "plan.pdf", {}, 422, "forbidden_type"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "plan.pdf", {}, 422, "type_mismatch"),
        (pdf_bytes(), "../../x.pdf", {}, 422, "bad_name"),
        (pdf_bytes(), "plan.pdf", {"evidence_type": "selfie"}, 422, "validation_error"),
        (pdf_bytes(), "plan.pdf", {"valid_until": "tomorrow"}, 422, "validation_error"),
        (
            pdf_bytes(),
            "cert.pdf",
            {"evidence_type": "insurance_certificate"},
            422,
            "validation_error",
        ),
    ],
)
def test_bad_uploads_get_clear_errors_and_store_nothing(
    api, build, session, app, content, filename, fields, status, code
):
    api.as_role("vendor_user", vendor=build.vendor())
    error(api.upload(content, filename, **fields), status, code)
    assert session.scalar(select(func.count(EvidenceVersion.id))) == 0
    root = Path(app.config["EVIDENCE_DIR"])
    assert not root.exists() or not [p for p in root.rglob("*") if p.is_file()]


def test_too_large_duplicate_and_wrong_media_type(api, build, app, evidence):
    vendor = build.vendor()
    evidence.version(vendor, content=pdf_bytes("dup"))
    api.as_role("vendor_user", vendor=vendor)
    error(api.upload(pdf_bytes("dup"), "again.pdf"), 409, "duplicate")
    app.config["EVIDENCE_MAX_BYTES"] = 1024
    error(api.upload(b"%PDF-" + bytes(4096), "big.pdf"), 413, "too_large")
    error(api.post("/api/v1/evidence", json={"file": "x"}), 415, "unsupported_media_type")


def test_review_through_the_api(api, build, evidence):
    vendor = build.vendor()
    version = evidence.version(vendor)
    api.as_role("vendor_user", vendor=vendor)
    error(
        api.post(f"/api/v1/evidence/{version.id}/review", json={"decision": "accepted"}),
        403,
        "forbidden",
    )
    api.as_role("vendor_manager")
    no_reason = api.post(f"/api/v1/evidence/{version.id}/review", json={"decision": "rejected"})
    assert "Say why" in error(no_reason, 422, "validation_error")["message"]
    done = api.post(
        f"/api/v1/evidence/{version.id}/review", json={"decision": "rejected", "comment": "Old."}
    )
    assert done.status_code == 200 and done.get_json()["status"] == "rejected"


def test_another_vendors_evidence_is_404_in_the_api(api, build, evidence):
    mine, theirs = build.vendor(), build.vendor()
    other = evidence.version(theirs, title="Theirs")
    own = evidence.version(mine, title="Ours")
    api.as_role("vendor_user", vendor=mine)
    for path in (f"/api/v1/evidence/{other.id}", f"/api/v1/evidence/{other.id}/download"):
        error(api.get(path), 404, "not_found")
    error(api.upload(pdf_bytes(), item_id=str(other.item_id)), 404, "not_found")
    error(api.upload(pdf_bytes(), vendor_id=str(theirs.id)), 404, "not_found")
    titles = [item["title"] for item in api.get("/api/v1/evidence").get_json()["items"]]
    assert titles == ["Ours"]
    assert api.get(f"/api/v1/evidence?vendor_id={theirs.id}").get_json()["items"] == []
    assert api.get(f"/api/v1/evidence/{own.id}").status_code == 200


def test_a_tampered_file_is_refused_by_the_api(api, build, app, evidence):
    vendor = build.vendor()
    version = evidence.version(vendor, content=pdf_bytes("good"))
    (Path(app.config["EVIDENCE_DIR"]) / version.storage_key).write_bytes(b"%PDF-evil")
    api.as_role("vendor_manager")
    error(api.get(f"/api/v1/evidence/{version.id}/download"), 500, "integrity_error")
    assert api.get(f"/api/v1/evidence/{version.id}").get_json()["integrity_failed"] is True
