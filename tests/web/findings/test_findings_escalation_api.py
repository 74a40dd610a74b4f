"""Overdue escalation by email (CLI), expired risk acceptances, home tasks and the API."""

from datetime import timedelta

from sqlalchemy import select

from tests.findings_factories import days_ago, finding
from vendor_portal.findings.models import Finding, FindingEscalation


def test_escalation_emails_each_owner_once_a_day_and_records_it(
    runner, build, session, smtp_server
):
    vendor = build.vendor(name="Acme")
    owner = build.user(role="vendor_manager", email="owner@example.com")
    late = finding(session, vendor, title="Late", due_date=days_ago(3), owner_id=owner.id)
    finding(session, vendor, title="Unowned", due_date=days_ago(1))
    finding(session, vendor, title="On time", due_date=days_ago(-5), owner_id=owner.id)
    finding(
        session, vendor, title="Closed", status="closed", due_date=days_ago(9), owner_id=owner.id
    )

    first = runner.invoke(args=["findings", "escalate"])
    assert first.exit_code == 0, first.output
    assert f"finding {late.id}: reminder sent to owner@example.com" in first.output
    assert "has no active owner" in first.output
    (message,) = smtp_server.messages
    assert message["To"] == "owner@example.com"
    assert message["Subject"] == f"Overdue finding #{late.id}: Late"
    assert "is 3 days overdue" in message.get_content()
    assert f"/findings/{late.id}" in message.get_content()
    (record,) = session.scalars(select(FindingEscalation)).all()
    assert (record.finding_id, record.recipient, record.days_overdue, record.delivered) == (
        late.id,
        "owner@example.com",
        3,
        True,
    )

    again = runner.invoke(args=["findings", "escalate"])
    assert "already reminded" in again.output and len(smtp_server.messages) == 1
    tomorrow = (days_ago(0) + timedelta(days=1)).isoformat()
    runner.invoke(args=["findings", "escalate", "--date", tomorrow])
    assert len(smtp_server.messages) == 2
    assert "is 4 days overdue" in smtp_server.messages[1].get_content()


def test_expired_risk_acceptance_is_reopened_and_flagged(runner, client, auth, build, session):
    vendor = build.vendor()
    owner = build.user(role="vendor_manager")
    item = finding(
        session, vendor, owner_id=owner.id, due_date=days_ago(20), status="risk_accepted"
    )
    item.risk_accepted_until = days_ago(1)
    item.risk_accepted_by_id = owner.id
    session.commit()
    auth.login_as("vendor_manager")
    assert "acceptance expired" in client.get("/findings/").text
    result = runner.invoke(args=["findings", "escalate"])
    assert f"finding {item.id}: risk acceptance expired, reopened" in result.output
    session.expire_all()
    reopened = session.get(Finding, item.id)
    assert reopened.status == "open" and reopened.risk_accepted_until is None
    history = client.get(f"/findings/{item.id}").text
    assert "Risk acceptance expired on" in history and "20 days overdue" in history


def test_home_page_counts_overdue_findings_for_managers_and_open_ones_for_vendors(
    client, auth, build, session
):
    vendor, other = build.vendor(), build.vendor()
    finding(session, vendor, due_date=days_ago(2))
    finding(session, vendor, status="ready_for_verification")
    finding(session, other, title="Not yours")
    auth.login_as("vendor_manager")
    home = client.get("/").text
    assert "Overdue findings" in home and "Verify remediated findings" in home
    auth.logout()
    auth.login_as("vendor_user", vendor=vendor)
    home = client.get("/").text
    assert "Remediate your findings" in home and "Overdue findings" not in home


def test_findings_api_is_scoped_and_validates(client, build, session):
    vendor, other = build.vendor(name="Acme"), build.vendor(name="Other")
    mine = finding(session, vendor, title="Mine", due_date=days_ago(1))
    theirs = finding(session, other, title="Theirs")
    manager = build.user(role="vendor_manager")
    headers = {"Authorization": f"Bearer {build.token(manager)}"}
    listing = client.get("/api/v1/findings?overdue=true", headers=headers).get_json()
    assert [i["title"] for i in listing["items"]] == ["Mine"] and listing["items"][0][
        "days_overdue"
    ] == 1
    assert client.get("/api/v1/findings?severity=huge", headers=headers).status_code == 400
    assert client.get("/api/v1/findings?sort=nope", headers=headers).status_code == 400

    bad = client.post(
        "/api/v1/findings", json={"vendor_id": 999, "severity": "huge", "extra": 1}, headers=headers
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"vendor_id", "title", "severity", "extra"}
    created = client.post(
        "/api/v1/findings",
        json={
            "vendor_id": vendor.id,
            "title": "No exit plan",
            "severity": "medium",
            "owner_id": manager.id,
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    body = created.get_json()
    assert body["source"] == "manual" and body["status"] == "open"
    assert body["due_date"] == (days_ago(0) + timedelta(days=90)).isoformat()

    closing = client.post(
        f"/api/v1/findings/{body['id']}/status", json={"status": "closed"}, headers=headers
    )
    assert (
        closing.status_code == 409 and "needs a comment" in closing.get_json()["error"]["message"]
    )
    moved = client.post(
        f"/api/v1/findings/{body['id']}/status",
        json={"status": "closed", "comment": "Duplicate"},
        headers=headers,
    )
    assert moved.status_code == 200 and moved.get_json()["status"] == "closed"

    vendor_user = build.user(role="vendor_user", vendor=vendor)
    vendor_headers = {"Authorization": f"Bearer {build.token(vendor_user)}"}
    items = client.get("/api/v1/findings", headers=vendor_headers).get_json()["items"]
    assert {i["title"] for i in items} == {"Mine", "No exit plan"}
    assert client.get(f"/api/v1/findings/{theirs.id}", headers=vendor_headers).status_code == 404
    assert client.get(f"/api/v1/findings/{mine.id}", headers=vendor_headers).status_code == 200
    assert (
        client.post(
            f"/api/v1/findings/{theirs.id}/status",
            json={"status": "in_remediation"},
            headers=vendor_headers,
        ).status_code
        == 404
    )
    assert client.post("/api/v1/findings", json={}, headers=vendor_headers).status_code == 403
    forward = client.post(
        f"/api/v1/findings/{mine.id}/status",
        json={"status": "ready_for_verification"},
        headers=vendor_headers,
    )
    assert forward.status_code == 200
    refused = client.post(
        f"/api/v1/findings/{mine.id}/status", json={"status": "closed"}, headers=vendor_headers
    )
    assert refused.status_code == 403
