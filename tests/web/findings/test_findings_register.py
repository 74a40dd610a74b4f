import io
from datetime import timedelta

from openpyxl import load_workbook
from sqlalchemy import func, select

from tests.findings_factories import days_ago, finding
from vendor_portal.findings.models import Finding, FindingEvidence, FindingUpdate

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def test_list_filters_highlights_overdue_and_exports(client, auth, build, session):
    a, b = build.vendor(name="Acme"), build.vendor(name="Beta")
    late = finding(session, a, title="Late one", severity="critical", due_date=days_ago(3))
    finding(session, b, title="On time", severity="low")
    finding(session, b, title="Done", severity="low", status="closed", due_date=days_ago(9))
    auth.login_as("vendor_manager")

    page = client.get("/findings/")
    assert page.status_code == 200
    assert 'data-overdue="3"' in page.text and "Late one" in page.text
    assert "1</strong> open finding past its due date" in page.text

    overdue = client.get("/findings/?overdue=1")
    assert "Late one" in overdue.text and "On time" not in overdue.text
    assert "Done" not in overdue.text
    by_vendor = client.get(f"/findings/?vendor={b.id}&severity=low&status=open")
    assert (
        "On time" in by_vendor.text
        and "Late one" not in by_vendor.text
        and "Done" not in by_vendor.text
    )
    by_source = client.get("/findings/?source=exercise")
    assert "No findings match" in by_source.text

    ordered = client.get("/findings/?sort=severity").text
    assert ordered.index("Late one") < ordered.index("On time")
    assert (
        client.get("/findings/?sort=nope", follow_redirects=True).text.count("Cannot sort by") == 1
    )

    csv = client.get("/findings/?export=csv&sort=id")
    assert csv.headers["Content-Disposition"].startswith("attachment")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("ID,Title,Vendor,Severity,Status")
    assert len(lines) == 4 and f"{late.id},Late one,Acme,critical,open" in lines[1]
    xlsx = client.get("/findings/?export=xlsx&overdue=1")
    rows = list(load_workbook(io.BytesIO(xlsx.data)).active.values)
    assert rows[1][1] == "Late one" and len(rows) == 2


def test_vendor_user_sees_only_own_findings_everywhere(client, auth, build, session):
    own, other = build.vendor(), build.vendor()
    mine = finding(session, own, title="Mine")
    theirs = finding(session, other, title="Theirs")
    auth.login_as("vendor_user", vendor=own)
    listing = client.get("/findings/")
    assert "Mine" in listing.text and "Theirs" not in listing.text
    assert "Theirs" not in client.get(f"/findings/?vendor={other.id}").text
    assert "Theirs" not in client.get("/findings/?export=csv").text
    assert client.get(f"/findings/{mine.id}").status_code == 200
    for path in (
        f"/findings/{theirs.id}",
        f"/findings/{theirs.id}/evidence/1",
    ):
        assert client.get(path).status_code == 404, path
    for path in ("plan", "comments", "status", "evidence"):
        assert client.post(f"/findings/{theirs.id}/{path}", data={}).status_code == 404, path
    # reviewer-only pages are forbidden outright
    assert client.get(f"/findings/{mine.id}/edit").status_code == 403
    assert client.get("/findings/new").status_code == 403
    assert client.get("/findings/policy").status_code == 403


def test_vendor_writes_plan_progress_and_evidence_then_manager_closes(client, auth, build, session):
    vendor = build.vendor()
    item = finding(session, vendor)
    auth.login_as("vendor_user", vendor=vendor)
    response = client.post(
        f"/findings/{item.id}/plan", data={"remediation_plan": "Restore test by March."}
    )
    assert response.status_code == 302
    session.expire_all()
    assert session.get(Finding, item.id).status == "in_remediation"
    client.post(f"/findings/{item.id}/comments", data={"body": "Test booked for 3 March."})
    upload = client.post(
        f"/findings/{item.id}/evidence",
        data={"file": (io.BytesIO(PDF), "restore-test.pdf")},
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302, upload.text
    evidence = session.scalar(select(FindingEvidence))
    assert evidence.sha256 and evidence.size == len(PDF)
    download = client.get(f"/findings/{item.id}/evidence/{evidence.id}")
    assert download.data == PDF
    assert download.headers["Content-Disposition"].startswith("attachment")
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    download.close()
    # a vendor cannot close its own finding
    refused = client.post(f"/findings/{item.id}/status", data={"status": "closed"})
    assert refused.status_code == 422
    client.post(f"/findings/{item.id}/status", data={"status": "ready_for_verification"})
    auth.logout()

    manager = auth.login_as("vendor_manager")
    page = client.get(f"/findings/{item.id}")
    assert "Restore test by March." in page.text and "Test booked for 3 March." in page.text
    assert "restore-test.pdf" in page.text
    client.post(f"/findings/{item.id}/status", data={"status": "closed"})
    session.expire_all()
    closed = session.get(Finding, item.id)
    assert closed.status == "closed" and closed.closed_by_id == manager.id
    kinds = [u.kind for u in session.scalars(select(FindingUpdate).order_by(FindingUpdate.id))]
    assert kinds == ["status", "plan", "status", "comment", "evidence", "status", "status"]
    history = client.get(f"/findings/{item.id}").text
    assert history.count("<time datetime=") == 7 and manager.name in history


def test_bad_evidence_is_refused_with_a_reason_and_nothing_is_stored(
    client, auth, build, session, app
):
    vendor = build.vendor()
    item = finding(session, vendor)
    auth.login_as("vendor_user", vendor=vendor)
    cases = [
        (b"MZ\x90\x00binary", "plan.pdf", "not a PDF document"),
        (b"%PDF-1.4 fake", "plan.exe", "attach a PDF, PNG"),
        (b"hello", "notes.csv", "attach a PDF, PNG"),
        (PDF, "report.docx", "content is a PDF document"),
    ]
    for content, name, message in cases:
        response = client.post(
            f"/findings/{item.id}/evidence",
            data={"file": (io.BytesIO(content), name)},
            content_type="multipart/form-data",
        )
        assert response.status_code == 422, name
        assert message in response.text, (name, response.text[-2000:])
    app.config["FINDING_EVIDENCE_MAX_BYTES"] = 10
    too_big = client.post(
        f"/findings/{item.id}/evidence",
        data={"file": (io.BytesIO(PDF), "big.pdf")},
        content_type="multipart/form-data",
    )
    assert too_big.status_code == 422 and "larger than the limit" in too_big.text
    assert session.scalar(select(func.count(FindingEvidence.id))) == 0


def test_internal_notes_are_hidden_from_the_vendor(client, auth, build, session):
    vendor = build.vendor()
    item = finding(session, vendor)
    auth.login_as("vendor_manager")
    client.post(
        f"/findings/{item.id}/comments", data={"body": "Vendor is stalling", "internal": "y"}
    )
    client.post(f"/findings/{item.id}/comments", data={"body": "Please send the plan"})
    auth.logout()
    auth.login_as("vendor_user", vendor=vendor)
    page = client.get(f"/findings/{item.id}").text
    assert "Please send the plan" in page and "Vendor is stalling" not in page


def test_risk_acceptance_needs_another_approver_and_an_expiry(client, auth, build, session):
    vendor = build.vendor()
    item = finding(session, vendor)
    requester = auth.login_as("vendor_manager")
    no_expiry = client.post(f"/findings/{item.id}/risk", data={"justification": "Compensated"})
    assert no_expiry.status_code == 422 and "This field is required" in no_expiry.text
    past = client.post(
        f"/findings/{item.id}/risk",
        data={"justification": "x", "until": days_ago(1).isoformat()},
    )
    assert "must be in the future" in past.text
    until = days_ago(-90)
    client.post(
        f"/findings/{item.id}/risk",
        data={"justification": "Compensating control in place", "until": until.isoformat()},
    )
    self_approve = client.post(f"/findings/{item.id}/risk/approve", follow_redirects=True)
    assert "someone other than the person who asked" in self_approve.text
    session.expire_all()
    assert session.get(Finding, item.id).status == "open"
    # setting the status directly is not a way round it
    direct = client.post(f"/findings/{item.id}/status", data={"status": "risk_accepted"})
    assert direct.status_code == 422
    auth.logout()
    approver = auth.login_as("admin")
    client.post(f"/findings/{item.id}/risk/approve")
    session.expire_all()
    accepted = session.get(Finding, item.id)
    assert accepted.status == "risk_accepted"
    assert accepted.risk_accepted_by_id == approver.id != requester.id
    assert accepted.risk_requested_by_id == requester.id
    assert accepted.risk_accepted_until == until


def test_manual_finding_gets_its_due_date_from_the_admin_policy(client, auth, build, session):
    vendor = build.vendor()
    auth.login_as("admin")
    page = client.get("/findings/policy")
    assert 'value="30"' in page.text
    bad = client.post(
        "/findings/policy", data={"critical": "0", "high": "60", "medium": "90", "low": "180"}
    )
    assert bad.status_code == 200 and "Number must be between 1 and 3650" in bad.text
    client.post(
        "/findings/policy", data={"critical": "7", "high": "60", "medium": "90", "low": "180"}
    )
    created = client.post(
        "/findings/new",
        data={
            "vendor_id": vendor.id,
            "title": "No DR site",
            "severity": "critical",
            "owner_id": "0",
        },
    )
    assert created.status_code == 302, created.text
    item = session.scalar(select(Finding))
    assert item.source == "manual" and item.due_date == days_ago(-7)
    missing = client.post("/findings/new", data={"vendor_id": "0", "title": "", "severity": "low"})
    assert "Choose the vendor" in missing.text and "This field is required" in missing.text


def test_edit_changes_owner_and_due_date_with_history(client, auth, build, session):
    vendor = build.vendor()
    item = finding(session, vendor)
    manager = auth.login_as("vendor_manager")
    new_due = item.due_date + timedelta(days=10)
    client.post(
        f"/findings/{item.id}/edit",
        data={
            "title": item.title,
            "severity": "high",
            "owner_id": manager.id,
            "due_date": new_due.isoformat(),
        },
    )
    session.expire_all()
    edited = session.get(Finding, item.id)
    assert edited.owner_id == manager.id and edited.due_date == new_due
    assert "Changed owner_id" not in client.get(f"/findings/{item.id}").text
    assert "Changed owner, due date." in client.get(f"/findings/{item.id}").text
