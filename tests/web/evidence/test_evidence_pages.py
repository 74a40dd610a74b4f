"""Evidence uploads, versions, review, download and expiry through the pages."""

from __future__ import annotations

import io
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.evidence_factories import EvidenceBuilder, pdf_bytes
from vendor_portal.audit.models import AuditEntry
from vendor_portal.db import utcnow
from vendor_portal.evidence import services
from vendor_portal.evidence.models import EvidenceItem, EvidenceVersion

TODAY = utcnow().date()
EXE = b"MZ\x90\x00" + bytes(200)


@pytest.fixture
def evidence(session, app) -> EvidenceBuilder:
    return EvidenceBuilder(session, app)


def stored_files(app) -> list[Path]:
    root = Path(app.config["EVIDENCE_DIR"])
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def upload(client, content: bytes, filename: str = "plan.pdf", url="/evidence/upload", **fields):
    data = {"evidence_type": "bcp", "title": "", **fields}
    data["file"] = (io.BytesIO(content), filename)
    return client.post(url, data=data, content_type="multipart/form-data")


def count_versions(session) -> int:
    return session.scalar(select(func.count(EvidenceVersion.id)))


def test_vendor_uploads_a_plan_and_it_is_stored_hashed_and_awaits_review(
    client, auth, build, session, app
):
    vendor = build.vendor()
    auth.login_as("vendor_user", vendor=vendor)
    content = pdf_bytes("bcp")
    response = upload(
        client,
        content,
        "Group BCP 2026.pdf",
        title="Group BCP",
        issued_on="2026-01-15",
        valid_until=(TODAY + timedelta(days=300)).isoformat(),
    )
    assert response.status_code == 302, response.text
    version = session.scalar(select(EvidenceVersion))
    assert version.vendor_id == vendor.id and version.number == 1 and version.is_latest
    assert version.status == "submitted"
    assert version.filename == "Group BCP 2026.pdf"
    assert version.issued_on == date(2026, 1, 15)
    import hashlib

    assert version.sha256 == hashlib.sha256(content).hexdigest()
    assert stored_files(app) == [Path(app.config["EVIDENCE_DIR"]) / version.storage_key]
    page = client.get(response.headers["Location"])
    assert "uploaded as version 1 of &#39;Group BCP&#39;" in page.text
    assert version.sha256 in page.text


def test_form_page_offers_drag_and_drop_and_progress(client, auth, build):
    auth.login_as("vendor_user")
    page = client.get("/evidence/upload")
    assert page.status_code == 200
    assert "data-drop-zone" in page.text and "<progress" in page.text
    assert "/static/js/evidence.js" in page.text
    assert 'name="vendor_id"' not in page.text  # a vendor user uploads for its own vendor only


def test_a_manager_uploads_on_behalf_of_a_chosen_vendor(client, auth, build, session):
    vendor = build.vendor(name="Acme")
    auth.login_as("vendor_manager")
    response = upload(client, pdf_bytes(), evidence_type="soc2_report", vendor_id=str(vendor.id))
    assert response.status_code == 302
    item = session.scalar(select(EvidenceItem))
    assert (item.vendor_id, item.evidence_type, item.title) == (
        vendor.id,
        "soc2_report",
        "SOC 2 report",
    )
    missing = upload(client, pdf_bytes(), vendor_id="")
    assert missing.status_code == 422 and "Choose the vendor." in missing.text


def test_script_uploads_get_json_answers(client, auth, build, session):
    auth.login_as("vendor_user")
    headers = {"X-Requested-With": "XMLHttpRequest"}
    ok = client.post(
        "/evidence/upload",
        data={"evidence_type": "bia", "file": (io.BytesIO(pdf_bytes()), "bia.pdf")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert ok.status_code == 200
    item_id = session.scalar(select(EvidenceItem.id))
    assert ok.json == {"ok": True, "redirect": f"/evidence/items/{item_id}", "version_id": 1} or (
        ok.json["ok"] and ok.json["redirect"] == f"/evidence/items/{item_id}"
    )
    bad = client.post(
        "/evidence/upload",
        data={"evidence_type": "bia", "file": (io.BytesIO(EXE), "bia.pdf")},
        headers=headers,
        content_type="multipart/form-data",
    )
    assert bad.status_code == 422
    assert bad.json["ok"] is False
    assert "not an allowed file type" in bad.json["errors"]["file"][0]


def test_a_new_upload_of_an_item_is_a_new_version_and_the_old_one_stays(
    client, auth, build, session, evidence
):
    vendor = build.vendor()
    first = evidence.version(vendor, "bcp", content=pdf_bytes("v1"), status="accepted")
    auth.login_as("vendor_user", vendor=vendor)
    response = upload(
        client, pdf_bytes("v2"), "plan-v2.pdf", url=f"/evidence/upload?item={first.item_id}"
    )
    assert response.status_code == 302, response.text
    session.expire_all()
    versions = session.scalars(select(EvidenceVersion).order_by(EvidenceVersion.number)).all()
    assert [(v.number, v.is_latest, v.status) for v in versions] == [
        (1, False, "accepted"),
        (2, True, "submitted"),
    ]
    old = client.get(f"/evidence/versions/{first.id}/download", buffered=True)
    assert old.status_code == 200 and old.data == pdf_bytes("v1")


@pytest.mark.parametrize(
    ("content", "filename", "message"),
    [
        (b"", "empty.pdf", "is empty (0 bytes)"),
        (EXE, "plan.pdf", "is not an allowed file type"),
        (EXE, "setup.exe", "allowed types are"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), "plan.pdf", "its content is a PNG image"),
        (pdf_bytes(), "../../x.pdf", "contains a path"),
    ],
)
def test_bad_uploads_are_explained_and_leave_no_row_and_no_file(
    client, auth, build, session, app, content, filename, message
):
    auth.login_as("vendor_user")
    response = upload(client, content, filename)
    assert response.status_code == 422
    assert message in response.text.replace("&#39;", "'")
    assert count_versions(session) == 0
    assert stored_files(app) == []


def test_too_large_uploads_are_refused_while_streaming(client, auth, build, session, app):
    app.config["EVIDENCE_MAX_BYTES"] = 64 * 1024
    auth.login_as("vendor_user")
    # Content-Length above the limit: refused before reading.
    body = multipart_body("XyZ", b"%PDF-" + bytes(2 * 1024 * 1024))
    big = client.post(
        "/evidence/upload",
        input_stream=io.BytesIO(body),
        content_type="multipart/form-data; boundary=XyZ",
        content_length=len(body),
    )
    assert big.status_code == 413
    assert "larger than the limit of 64 KB" in big.text
    # Just over the file limit but inside the form allowance: refused while writing.
    over = upload(client, b"%PDF-" + bytes(100 * 1024), "over.pdf")
    assert over.status_code == 413
    assert "larger than the limit of 64 KB" in over.text
    assert count_versions(session) == 0
    assert stored_files(app) == []


class DisconnectingStream(io.BytesIO):
    """A request body that stops half-way, as when the browser tab is closed mid-upload."""

    def __init__(self, body: bytes, fail_after: int) -> None:
        super().__init__(body)
        self.fail_after = fail_after

    def read(self, size: int | None = -1) -> bytes:
        if self.tell() >= self.fail_after:
            from werkzeug.exceptions import ClientDisconnected

            raise ClientDisconnected()
        if size is None or size < 0:
            size = self.fail_after - self.tell()
        return super().read(min(size, self.fail_after - self.tell()))

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def multipart_body(boundary: str, content: bytes) -> bytes:
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="evidence_type"\r\n\r\nbcp\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="plan.pdf"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{boundary}--\r\n".encode()


@pytest.mark.parametrize("how", ["disconnect", "truncated"])
def test_an_interrupted_upload_leaves_neither_row_nor_file(client, auth, build, session, app, how):
    auth.login_as("vendor_user")
    body = multipart_body("XyZ", b"%PDF-1.7\n" + bytes(3_000_000))
    if how == "disconnect":
        stream = DisconnectingStream(body, fail_after=2_000_000)
        length = len(body)
    else:  # the body ends early: the client announced more than it sent
        stream, length = io.BytesIO(body[:2_000_000]), len(body)
    response = client.post(
        "/evidence/upload",
        input_stream=stream,
        content_type="multipart/form-data; boundary=XyZ",
        content_length=length,
    )
    # Werkzeug answers 400 to a disconnect; a body cut short parses as a form without the file.
    assert response.status_code == (400 if how == "disconnect" else 422)
    assert count_versions(session) == 0
    assert stored_files(app) == []  # neither the file nor its temporary


def test_the_same_file_twice_is_refused_with_a_clear_message(
    client, auth, build, session, evidence
):
    vendor = build.vendor()
    evidence.version(vendor, content=pdf_bytes("same"), title="Group BCP")
    auth.login_as("vendor_user", vendor=vendor)
    response = upload(client, pdf_bytes("same"), "copy.pdf")
    assert response.status_code == 409
    assert "already uploaded as &#39;Group BCP&#39; version 1" in response.text
    assert count_versions(session) == 1


def test_dates_are_checked(client, auth, build, session):
    auth.login_as("vendor_user")
    expired = upload(client, pdf_bytes(), valid_until=(TODAY - timedelta(days=1)).isoformat())
    assert expired.status_code == 422 and "This evidence expired on" in expired.text
    no_end = upload(client, pdf_bytes(), evidence_type="iso22301_certificate")
    assert no_end.status_code == 422
    assert "A ISO 22301 certificate needs its valid-until date." in no_end.text
    future = upload(client, pdf_bytes(), issued_on=(TODAY + timedelta(days=3)).isoformat())
    assert future.status_code == 422 and "is in the future" in future.text
    assert count_versions(session) == 0


def test_download_is_an_attachment_with_the_original_name_and_nosniff(
    client, auth, build, session, evidence
):
    vendor = build.vendor()
    version = evidence.version(vendor, content=pdf_bytes("dl"), filename="Plan été.pdf")
    auth.login_as("vendor_user", vendor=vendor)
    response = client.get(f"/evidence/versions/{version.id}/download", buffered=True)
    assert response.status_code == 200
    assert response.data == pdf_bytes("dl")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "filename*=UTF-8''Plan%20%C3%A9t%C3%A9.pdf" in response.headers["Content-Disposition"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Type"] == "application/pdf"
    assert "sandbox" in response.headers["Content-Security-Policy"]
    assert (
        session.scalar(
            select(func.count(AuditEntry.id)).where(AuditEntry.action == "evidence.download")
        )
        == 1
    )


def test_a_tampered_file_is_refused_logged_and_shown_to_admins(
    client, auth, build, session, app, evidence
):
    vendor = build.vendor()
    version = evidence.version(vendor, content=pdf_bytes("original"))
    (Path(app.config["EVIDENCE_DIR"]) / version.storage_key).write_bytes(pdf_bytes("altered"))
    auth.login_as("vendor_manager")
    response = client.get(f"/evidence/versions/{version.id}/download")
    assert response.status_code == 500
    assert "failed its integrity check" in response.text
    assert pdf_bytes("altered") not in response.data
    session.expire_all()
    assert session.get(EvidenceVersion, version.id).integrity_failed_at is not None
    entry = session.scalar(
        select(AuditEntry).where(AuditEntry.action == "evidence.integrity_failure")
    )
    assert entry is not None and entry.entity_id == str(version.id)
    auth.logout()
    auth.login_as("admin")
    assert "Evidence failed its integrity check" in client.get("/").text
    listing = client.get("/evidence/?integrity=failed&all_versions=1")
    assert "integrity check failed" in listing.text


def test_manager_accepts_and_rejects_versions(client, auth, build, session, evidence):
    vendor = build.vendor()
    one = evidence.version(vendor)
    two = evidence.version(vendor, "soc2_report")
    auth.login_as("vendor_manager")
    client.post(f"/evidence/versions/{one.id}/review", data={"decision": "accepted"})
    no_reason = client.post(
        f"/evidence/versions/{two.id}/review", data={"decision": "rejected"}, follow_redirects=True
    )
    assert "Say why it is rejected" in no_reason.text
    client.post(
        f"/evidence/versions/{two.id}/review",
        data={"decision": "rejected", "comment": "Report period ended in 2023."},
    )
    session.expire_all()
    assert session.get(EvidenceVersion, one.id).status == "accepted"
    rejected = session.get(EvidenceVersion, two.id)
    assert (
        rejected.status == "rejected" and rejected.review_comment == "Report period ended in 2023."
    )
    again = client.post(
        f"/evidence/versions/{one.id}/review",
        data={"decision": "rejected", "comment": "x"},
        follow_redirects=True,
    )
    assert "already accepted" in again.text


def test_vendor_users_cannot_review(client, auth, build, evidence):
    vendor = build.vendor()
    version = evidence.version(vendor)
    auth.login_as("vendor_user", vendor=vendor)
    assert (
        client.post(
            f"/evidence/versions/{version.id}/review", data={"decision": "accepted"}
        ).status_code
        == 403
    )


def test_vendor_user_gets_404_for_another_vendors_evidence_everywhere(
    client, auth, build, session, evidence
):
    mine, theirs = build.vendor(name="Mine Ltd"), build.vendor(name="Theirs Ltd")
    own = evidence.version(mine, title="Our plan")
    other = evidence.version(theirs, title="Secret plan of theirs")
    auth.login_as("vendor_user", vendor=mine)
    for url in (
        f"/evidence/items/{other.item_id}",
        f"/evidence/versions/{other.id}",
        f"/evidence/versions/{other.id}/download",
        f"/evidence/upload?item={other.item_id}",
    ):
        assert client.get(url).status_code == 404, url
    assert (
        upload(client, pdf_bytes(), url=f"/evidence/upload?item={other.item_id}").status_code == 404
    )
    assert client.get(f"/evidence/items/{own.item_id}").status_code == 200
    listing = client.get("/evidence/?all_versions=1").text
    assert "Our plan" in listing and "Secret plan of theirs" not in listing
    export = client.get("/evidence/?export=csv").text
    assert "Our plan" in export and "Secret plan" not in export
    expiring = client.get("/evidence/expiring").text
    assert "Theirs Ltd" not in expiring


def test_list_filters_sorts_and_exports(client, auth, build, evidence):
    acme, beta = build.vendor(name="Acme"), build.vendor(name="Beta")
    evidence.version(acme, "bcp", title="Acme BCP", status="accepted")
    evidence.version(beta, "soc2_report", title="Beta SOC 2")
    auth.login_as("procurement")
    page = client.get("/evidence/?type=soc2_report").text
    assert "Beta SOC 2" in page and "Acme BCP" not in page
    page = client.get("/evidence/?status=accepted").text
    assert "Acme BCP" in page and "Beta SOC 2" not in page
    page = client.get("/evidence/?sort=-vendor").text
    assert page.index("Beta SOC 2") < page.index("Acme BCP")
    csv = client.get("/evidence/?export=csv&sort=vendor")
    assert csv.headers["Content-Disposition"].startswith("attachment")
    lines = csv.text.splitlines()
    assert lines[0].startswith("Version ID,Vendor,Type,Title")
    assert "Acme BCP" in lines[1] and "Beta SOC 2" in lines[2]
    xlsx = client.get("/evidence/?export=xlsx")
    assert xlsx.data[:2] == b"PK"
    bad = client.get("/evidence/?sort=nonsense", follow_redirects=True)
    assert "Cannot sort by" in bad.text


def test_expiring_page_and_coverage(client, auth, build, evidence):
    vendor = build.vendor(name="Critical Co", tier="critical")
    evidence.version(
        vendor,
        "iso22301_certificate",
        title="ISO cert",
        status="accepted",
        valid_until=TODAY + timedelta(days=20),
    )
    plan = evidence.version(vendor, "bcp", title="Plan", status="accepted")
    evidence.version(vendor, item=plan.item)  # a newer version, not reviewed yet
    auth.login_as("vendor_manager")
    page = client.get("/evidence/expiring?within=30").text
    assert "ISO cert" in page and "in 20 d" in page
    assert 'class="coverage-expiring table-warning small text-center">expiring' in page
    assert 'class="coverage-accepted table-success small text-center">accepted' in page
    assert 'class="coverage-missing text-muted small text-center">missing' in page
    assert "coverage-submitted" not in page  # the new BCP version awaits review; v1 counts
    export = client.get("/evidence/expiring?within=30&export=csv").text
    assert "ISO cert" in export and "Plan" not in export


def test_home_tasks_for_vendors_and_reviewers(client, auth, build, evidence):
    vendor = build.vendor()
    evidence.version(vendor, "soc2_report", status="rejected", comment="Out of date")
    evidence.version(
        vendor, "insurance_certificate", status="accepted", valid_until=TODAY + timedelta(days=5)
    )
    evidence.version(vendor, "bia")
    auth.login_as("vendor_user", vendor=vendor)
    home = client.get("/").text
    assert "Replace rejected evidence" in home and "Renew evidence expiring soon" in home
    auth.logout()
    auth.login_as("vendor_manager")
    home = client.get("/").text
    assert "Review uploaded evidence" in home and "Evidence expiring within 30 days" in home


def test_current_accepted_evidence_for_the_gate(session, build, evidence):
    vendor, other = build.vendor(), build.vendor()
    old = evidence.version(vendor, "bcp", status="accepted", issued_on=date(2024, 1, 1))
    new = evidence.version(
        vendor, "bcp", item=old.item, status="accepted", issued_on=date(2025, 6, 1)
    )
    evidence.version(vendor, "bcp", item=old.item, status="submitted")  # not accepted: ignored
    cert = evidence.version(
        vendor, "iso22301_certificate", status="accepted", valid_until=date(2027, 1, 1)
    )
    evidence.version(vendor, "soc2_report", status="rejected", comment="no")
    evidence.version(other, "bia", status="accepted")
    current = services.current_accepted_evidence(session, vendor.id)
    assert set(current) == {"bcp", "iso22301_certificate"}
    assert current["bcp"].id == new.id and current["bcp"].issued_on == date(2025, 6, 1)
    assert current["iso22301_certificate"].id == cert.id
    assert current["iso22301_certificate"].valid_until == date(2027, 1, 1)
    yesterday = TODAY - timedelta(days=1)
    assert services.current_accepted_evidence(session, vendor.id, as_of=yesterday) == {}
