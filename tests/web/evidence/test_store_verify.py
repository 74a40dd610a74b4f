"""`flask evidence verify` on the filesystem store and on S3 (moto on loopback)."""

from __future__ import annotations

import io
import os
import time

import pytest

from tests.evidence_factories import EvidenceBuilder, pdf_bytes
from tests.unit.evidence.test_s3_storage import s3_endpoint  # noqa: F401 (fixture)
from vendor_portal.storage import TEMP_PREFIX, FilesystemStorage, storage_for


def _verify(app, *args: str):
    return app.test_cli_runner().invoke(args=["evidence", "verify", *args])


def test_an_intact_store_passes(app, build, session):
    builder = EvidenceBuilder(session, app)
    builder.version(build.vendor())
    builder.version(build.vendor())
    result = _verify(app)
    assert result.exit_code == 0, result.output
    assert "Checked 2 stored files" in result.output
    assert "Evidence store intact" in result.output


def test_an_altered_file_is_a_mismatch_and_fails(app, build, session):
    version = EvidenceBuilder(session, app).version(build.vendor())
    path = FilesystemStorage(app.config["EVIDENCE_DIR"]).path_for(version.storage_key)
    path.write_bytes(path.read_bytes() + b"tampered")
    result = _verify(app)
    assert result.exit_code == 1
    assert f"MISMATCH {version.storage_key}" in result.output
    assert f"evidence_version {version.id}" in result.output
    assert "Evidence store damaged: 1 files altered, 0 missing" in result.output


def test_a_missing_file_fails_and_names_its_row(app, build, session):
    version = EvidenceBuilder(session, app).version(build.vendor())
    FilesystemStorage(app.config["EVIDENCE_DIR"]).path_for(version.storage_key).unlink()
    result = _verify(app)
    assert result.exit_code == 1
    assert f"MISSING {version.storage_key}: named by evidence_version {version.id}" in result.output


def test_orphans_and_temp_files_are_reported_and_cleaned_when_old_enough(app, build, session):
    EvidenceBuilder(session, app).version(build.vendor())
    store = FilesystemStorage(app.config["EVIDENCE_DIR"])
    orphan = store.save(io.BytesIO(pdf_bytes("orphan")), "orphan.pdf")  # no row
    store.incoming.mkdir(parents=True, exist_ok=True)
    old_temp = store.incoming / f"{TEMP_PREFIX}crashed"
    old_temp.write_bytes(b"%PDF-half")
    hours_ago = time.time() - 3 * 3600
    os.utime(old_temp, (hours_ago, hours_ago))
    young_temp = store.incoming / f"{TEMP_PREFIX}in-progress"
    young_temp.write_bytes(b"%PDF-")

    result = _verify(app)
    assert result.exit_code == 0, result.output  # nothing lost: only space wasted
    assert f"ORPHAN {orphan.key}" in result.output
    assert f"TEMP {TEMP_PREFIX}crashed (9 bytes, 3 h old)" in result.output
    assert f"TEMP {TEMP_PREFIX}in-progress" in result.output
    assert "1 orphaned and 2 temporary files" in result.output

    cleaned = _verify(app, "--clean-temp", "--clean-orphans", "--older-than", "60")
    assert "Removed 1 temporary and 0 orphaned files" in cleaned.output
    assert not old_temp.exists() and young_temp.exists()
    assert store.exists(orphan.key)  # stored just now: it may be an upload in progress

    cleaned = _verify(app, "--clean-temp", "--clean-orphans", "--older-than", "0")
    assert "Removed 1 temporary and 1 orphaned files" in cleaned.output
    assert not store.exists(orphan.key)
    final = _verify(app)
    assert final.exit_code == 0 and "Evidence store intact" in final.output


def test_files_named_by_findings_are_not_orphans(app, build, session):
    from tests.findings_factories import finding
    from vendor_portal.findings.models import FindingEvidence

    vendor = build.vendor()
    stored = FilesystemStorage(app.config["EVIDENCE_DIR"]).save(
        io.BytesIO(pdf_bytes("finding")), "fix.pdf"
    )
    session.add(
        FindingEvidence(
            finding=finding(session, vendor),
            filename=stored.filename,
            media_type=stored.mimetype,
            size=stored.size,
            sha256=stored.sha256,
            storage_key=stored.key,
        )
    )
    session.commit()
    result = _verify(app)
    assert result.exit_code == 0 and "ORPHAN" not in result.output, result.output
    assert "against 1 rows" in result.output


@pytest.fixture
def s3_app(app, s3_endpoint, monkeypatch):  # noqa: F811
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    bucket = f"verify-{id(app)}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    app.config.update(STORAGE="s3", S3_BUCKET=bucket, S3_ENDPOINT_URL=s3_endpoint, S3_PREFIX="t1")
    return app


def test_verify_on_s3_finds_mismatches_missing_files_and_orphans(s3_app, build):
    app = s3_app
    vendor = build.vendor()
    token = build.token(build.user(role="vendor_user", vendor=vendor))
    client = app.test_client()
    ids = []
    for label in ("a", "b", "c"):
        response = client.post(
            "/api/v1/evidence",
            data={"file": (io.BytesIO(pdf_bytes(f"s3-{label}")), "p.pdf"), "evidence_type": "bcp"},
            headers={"Authorization": f"Bearer {token}"},
            content_type="multipart/form-data",
        )
        assert response.status_code == 201, response.text
        ids.append(response.get_json())
    assert _verify(app).exit_code == 0

    store = storage_for(app)
    altered, removed = ids[0], ids[1]
    key_of = {o.sha256: o.key for o in store.iter_objects()}
    store.client.put_object(
        Bucket=store.bucket, Key="t1/" + key_of[altered["sha256"]], Body=b"%PDF-changed"
    )
    store.delete_object(key_of[removed["sha256"]])
    orphan = store.import_object(io.BytesIO(pdf_bytes("s3-orphan")), _sha(pdf_bytes("s3-orphan")))

    result = _verify(app)
    assert result.exit_code == 1
    assert f"MISMATCH {key_of[altered['sha256']]}" in result.output
    assert f"MISSING {key_of[removed['sha256']]}: named by evidence_version {removed['id']}" in (
        result.output
    )
    assert f"ORPHAN {orphan}" in result.output
    assert "Checked 3 stored files" in result.output  # the altered, the intact, the orphan


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()
