"""The S3 implementation of the storage interface, against a real moto server on loopback."""

import io
import socket
import subprocess
import sys
import time

import pytest

from vendor_portal.storage import S3Storage, StoredFileCorrupt, StoredFileMissing, UploadRejected

PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"


@pytest.fixture(scope="module")
def s3_endpoint():
    pytest.importorskip("moto")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with socket.socket() as conn:
                if conn.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        else:
            pytest.fail("moto server did not start")
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def store(s3_endpoint, tmp_path, monkeypatch):
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    bucket = f"evidence-{tmp_path.name.lower().replace('_', '-')[:40]}"
    client.create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    yield S3Storage(client, bucket, prefix="tenant-a", incoming=str(tmp_path))
    client.close()


def test_saves_by_hash_and_reads_back_verified(store):
    stored = store.save(io.BytesIO(PDF), "plan.pdf")
    assert stored.key.startswith("sha256/") and stored.size == len(PDF)
    assert store.exists(stored.key)
    head = store.client.head_object(Bucket=store.bucket, Key="tenant-a/" + stored.key)
    assert head["Metadata"]["sha256"] == stored.sha256
    with store.open_verified(stored.key, stored.sha256) as handle:
        assert handle.read() == PDF


def test_refused_uploads_leave_no_object_and_no_temporary_file(store, tmp_path):
    with pytest.raises(UploadRejected):
        store.save(io.BytesIO(b"MZ\x90\x00" + bytes(512)), "report.pdf")
    with pytest.raises(UploadRejected):
        store.save(io.BytesIO(b""), "empty.pdf")
    assert store.client.list_objects_v2(Bucket=store.bucket).get("KeyCount", 0) == 0
    assert list((tmp_path / "vendor-portal-incoming").glob("*")) == []


def test_a_changed_object_is_refused_and_a_missing_one_reported(store):
    stored = store.save(io.BytesIO(PDF), "plan.pdf")
    store.client.put_object(Bucket=store.bucket, Key="tenant-a/" + stored.key, Body=PDF + b"x")
    with pytest.raises(StoredFileCorrupt):
        store.open_verified(stored.key, stored.sha256)
    with pytest.raises(StoredFileMissing):
        store.open_verified("sha256/00/00/" + "0" * 64, "0" * 64)
