"""Evidence end to end on the S3 storage (a moto server on loopback)."""

import io

from tests.unit.evidence.test_s3_storage import PDF, s3_endpoint  # noqa: F401 (fixture)


def test_upload_and_download_through_the_api_on_s3(app, build, s3_endpoint, monkeypatch):  # noqa: F811
    import boto3

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    bucket = f"portal-{id(app)}"
    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"}
    )
    app.config.update(STORAGE="s3", S3_BUCKET=bucket, S3_ENDPOINT_URL=s3_endpoint)
    vendor = build.vendor()
    headers = {
        "Authorization": f"Bearer {build.token(build.user(role='vendor_user', vendor=vendor))}"
    }
    client = app.test_client()
    created = client.post(
        "/api/v1/evidence",
        data={
            "file": (io.BytesIO(PDF), "bcp.pdf"),
            "evidence_type": "bcp",
            "valid_until": "2030-01-01",
        },
        headers=headers,
        content_type="multipart/form-data",
    )
    assert created.status_code == 201, created.text
    evidence_id = created.get_json()["id"]
    with client.get(f"/api/v1/evidence/{evidence_id}/download", headers=headers) as download:
        assert download.status_code == 200 and download.data == PDF
    objects = boto3.client("s3", endpoint_url=s3_endpoint).list_objects_v2(Bucket=bucket)
    assert objects["KeyCount"] == 1
