import hashlib
import hmac
import json
import threading
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import select

from vendor_portal.contracts.models import Contract, Obligation
from vendor_portal.db import utcnow
from vendor_portal.gate.models import (
    GateEvaluation,
    GateException,
    GatePolicyRecord,
    Webhook,
    WebhookDelivery,
)
from vendor_portal.vendors.models import VendorService


def _contract(session, build, tier="critical", clauses=(), **vendor_fields):
    vendor = build.vendor(tier=tier, **vendor_fields)
    obligations = session.scalars(select(Obligation).where(Obligation.code.in_(clauses))).all()
    contract = Contract(
        vendor_id=vendor.id, title="Hosting 2027", status="awaiting_gate", clauses=list(obligations)
    )
    session.add(contract)
    session.commit()
    return contract


def _status(client, contract, status):
    return client.post(
        f"/gate/contracts/{contract.id}/status", data={"status": status}, follow_redirects=True
    )


def test_failing_gate_blocks_approval_and_explains_every_check(client, auth, build, session):
    contract = _contract(session, build)
    auth.login_as("procurement")
    refused = _status(client, contract, "approved")
    assert "does not pass" in refused.text
    session.expire_all()
    assert session.get(Contract, contract.id).status == "awaiting_gate"
    evaluation = session.scalar(select(GateEvaluation))
    assert evaluation.decision == "fail" and evaluation.reason == "status:approved"
    codes = {c["code"]: c for c in evaluation.checks}
    assert set(codes) == {
        "questionnaire",
        "evidence",
        "rto",
        "rpo",
        "exercise",
        "findings",
        "subcontracting",
        "clauses",
    }
    assert (
        codes["evidence"]["status"] == "fail"
        and "business continuity plan" in codes["evidence"]["message"]
    )
    assert any("Upload a DR test report issued after" in f for f in codes["evidence"]["fixes"])
    assert codes["clauses"]["status"] == "fail"
    page = client.get(f"/gate/contracts/{contract.id}")
    assert 'data-testid="gate-checks"' in page.text and "Upload a DR test report" in page.text


def test_exception_approved_by_another_person_lets_the_contract_pass(client, auth, build, session):
    contract = _contract(session, build)
    requester = auth.login_as("procurement")
    client.post(f"/gate/contracts/{contract.id}/evaluate")
    failing = [
        c["code"] for c in session.scalar(select(GateEvaluation)).checks if c["status"] == "fail"
    ]
    client.post(
        f"/gate/contracts/{contract.id}/exceptions",
        data={
            "checks": failing,
            "justification": "Emergency replacement of a failed provider",
            "expires_on": (date.today() + timedelta(days=60)).isoformat(),
        },
    )
    exception = session.scalar(select(GateException))
    assert exception.requested_by_id == requester.id and exception.status == "requested"
    # Procurement cannot approve; the approver must be someone else with the right role.
    assert (
        client.post(
            f"/gate/exceptions/{exception.id}/decide", data={"decision": "approve"}
        ).status_code
        == 403
    )
    auth.logout()
    auth.login_as("vendor_manager")
    client.post(
        f"/gate/exceptions/{exception.id}/decide",
        data={"decision": "approve", "comment": "ok for 60 days"},
    )
    auth.logout()
    auth.login_as("procurement")
    approved = _status(client, contract, "approved")
    assert "Contract is now approved" in approved.text
    latest = session.scalars(select(GateEvaluation).order_by(GateEvaluation.id.desc())).first()
    assert latest.decision == "pass_with_exception" and latest.exception_ids == [exception.id]
    # What changed since the previous evaluation is shown: the decision, the checks unchanged.
    page = client.get(f"/gate/contracts/{contract.id}").text
    assert 'data-testid="gate-changes"' in page
    assert "<code>decision</code>: fail → pass with exception" in page


def test_requester_cannot_approve_own_exception_and_expired_ones_stop_counting(
    client, auth, build, session
):
    contract = _contract(session, build, tier="low")
    record = session.get(GatePolicyRecord, "low")
    record.required_clauses = ["bcp_bia"]
    session.commit()
    admin = auth.login_as("admin")
    client.post(
        f"/gate/contracts/{contract.id}/exceptions",
        data={
            "checks": ["clauses"],
            "justification": "Clause agreed by email",
            "expires_on": (date.today() + timedelta(days=5)).isoformat(),
        },
    )
    exception = session.scalar(select(GateException))
    refused = client.post(
        f"/gate/exceptions/{exception.id}/decide",
        data={"decision": "approve"},
        follow_redirects=True,
    )
    assert "someone other than its requester" in refused.text
    # Approved by another admin, but already expired: the gate fails again by itself.
    other = build.user(role="admin")
    exception.status, exception.decided_by_id = "approved", other.id
    exception.expires_on = date.today() - timedelta(days=1)
    session.commit()
    client.post(f"/gate/contracts/{contract.id}/evaluate")
    latest = session.scalars(select(GateEvaluation).order_by(GateEvaluation.id.desc())).first()
    assert latest.decision == "fail"
    assert admin.id == exception.requested_by_id


def test_bad_exception_requests_are_explained(client, auth, build, session):
    contract = _contract(session, build)
    auth.login_as("procurement")
    past = client.post(
        f"/gate/contracts/{contract.id}/exceptions",
        data={"checks": ["rto"], "justification": "x", "expires_on": "2020-01-01"},
        follow_redirects=True,
    )
    assert "must be in the future" in past.text
    empty = client.post(f"/gate/contracts/{contract.id}/exceptions", data={}, follow_redirects=True)
    assert "This field is required." in empty.text
    assert session.scalar(select(GateException)) is None


def test_passing_gate_moves_the_contract_through_its_lifecycle(client, auth, build, session):
    contract = _contract(session, build, tier="low")
    auth.login_as("procurement")
    for status in ("approved", "active"):
        assert f"Contract is now {status}" in _status(client, contract, status).text
    wrong = _status(client, contract, "draft")
    assert "cannot become draft" in wrong.text


def test_rto_check_uses_the_business_services_in_the_map(client, auth, build, session):
    from vendor_portal.graph.models import BusinessService, GraphEdge, GraphNode

    contract = _contract(session, build, tier="low")
    service = VendorService(
        vendor_id=contract.vendor_id,
        name="Acme hosting",
        attested_rto_hours=24,
        attested_rpo_hours=1,
        hosting_countries=[],
        cloud_regions=[],
    )
    session.add(service)
    payments = BusinessService(
        name="Card payments", criticality="critical", rto_hours=4, rpo_hours=1
    )
    session.add(payments)
    session.flush()
    contract.services = [service]
    top = GraphNode(
        key="bs-pay",
        kind="business_service",
        name="Card payments",
        requires="all",
        business_service_id=payments.id,
    )
    cap = GraphNode(key="cap-host", kind="capability", name="Hosting", requires="any")
    leaf = GraphNode(
        key="vs-acme",
        kind="vendor_service",
        name="Acme hosting",
        requires="all",
        vendor_service_id=service.id,
    )
    session.add_all([top, cap, leaf])
    session.flush()
    session.add_all(
        [
            GraphEdge(source_id=top.id, target_id=cap.id),
            GraphEdge(source_id=cap.id, target_id=leaf.id),
        ]
    )
    session.commit()
    auth.login_as("procurement")
    client.post(f"/gate/contracts/{contract.id}/evaluate")
    checks = {c["code"]: c for c in session.scalar(select(GateEvaluation)).checks}
    assert checks["rto"]["status"] == "fail"
    assert (
        "attested RTO of 24 h for Acme hosting exceeds the 4 h RTO of Card payments"
        in checks["rto"]["message"]
    )
    assert checks["rpo"]["status"] == "pass"


def test_api_and_cli_refuse_to_approve_a_failing_contract(client, build, session, runner):
    contract = _contract(session, build)
    headers = {"Authorization": f"Bearer {build.token(build.user(role='procurement'))}"}
    gate = client.get(f"/api/v1/contracts/{contract.id}/gate", headers=headers)
    body = gate.get_json()
    assert body["contract_id"] == contract.id and body["decision"] == "fail"
    assert {c["code"] for c in body["checks"]} >= {"evidence", "clauses"} and body["evaluated_at"]
    refused = client.post(
        f"/api/v1/contracts/{contract.id}/status", json={"status": "approved"}, headers=headers
    )
    assert refused.status_code == 409 and refused.get_json()["error"]["code"] == "gate_failed"
    result = runner.invoke(args=["gate", "set-status", str(contract.id), "active"])
    assert result.exit_code != 0 and "cannot become active" in result.output
    result = runner.invoke(args=["gate", "set-status", str(contract.id), "approved"])
    assert result.exit_code != 0 and "gate does not pass" in result.output
    session.expire_all()
    assert session.get(Contract, contract.id).status == "awaiting_gate"
    assert len(session.scalars(select(GateEvaluation)).all()) == 3  # every evaluation kept


def test_vendor_sees_what_it_must_provide_and_only_for_its_own_contracts(
    client, auth, build, session
):
    contract = _contract(session, build)
    other = _contract(session, build)
    auth.login_as("procurement")
    for c in (contract, other):
        client.post(f"/gate/contracts/{c.id}/evaluate")
    auth.logout()
    auth.login_as("vendor_user", vendor=contract.vendor)
    page = client.get("/gate/my-contracts")
    assert page.text.count('data-testid="vendor-contract"') == 1
    assert "Upload a business continuity plan issued after" in page.text
    assert client.get(f"/gate/contracts/{other.id}").status_code == 403
    assert client.get("/gate/").status_code == 403


def test_pipeline_stages_and_export(client, auth, build, session):
    blocked = _contract(session, build)
    _contract(session, build, tier="low")
    auth.login_as("procurement")
    client.post(f"/gate/contracts/{blocked.id}/evaluate")
    page = client.get("/gate/?stage=blocked")
    assert blocked.title in page.text
    csv = client.get("/gate/?export=csv")
    assert csv.text.splitlines()[0].startswith("ID,Contract,Vendor,Tier,Status,Gate")
    assert "blocked" in csv.text and "awaiting gate" in csv.text


def test_admin_edits_a_policy(client, auth, session):
    auth.login_as("vendor_manager")
    assert client.post("/gate/policies?tier=medium", data={}).status_code == 403
    auth.logout()
    auth.login_as("admin")
    bad = client.post(
        "/gate/policies?tier=medium",
        data={
            "evidence_bcp": "soon",
            "questionnaire_max_age_days": 365,
            "exercise_max_age_days": 365,
        },
    )
    assert bad.status_code == 422 and "Whole days" in bad.text
    client.post(
        "/gate/policies?tier=medium",
        data={
            "evidence_bcp": "400",
            "evidence_soc2_report": "365",
            "questionnaire_required": "y",
            "questionnaire_min_score": "65",
            "questionnaire_max_age_days": 365,
            "exercise_max_age_days": 365,
            "blocking_severities": ["critical", "high"],
            "required_clauses": ["bcp_bia"],
        },
    )
    session.expire_all()
    record = session.get(GatePolicyRecord, "medium")
    assert record.required_evidence == {"bcp": 400, "soc2_report": 365}
    assert record.questionnaire_min_score == 65 and record.blocking_severities == [
        "critical",
        "high",
    ]


class Receiver(BaseHTTPRequestHandler):
    responses: list[int] = []
    received: list[tuple[dict, bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(Receiver.responses.pop(0) if Receiver.responses else 200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    Receiver.responses, Receiver.received = [500, 200], []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()
    server.server_close()
    thread.join()


def test_decision_changes_reach_webhooks_signed_and_retried(
    client, auth, build, session, receiver, app
):
    from vendor_portal.extensions import db
    from vendor_portal.gate.services import deliver_due

    auth.login_as("admin")
    page = client.post("/gate/webhooks", data={"url": receiver})
    hook = session.scalar(select(Webhook))
    assert hook.secret in page.text  # shown once
    contract = _contract(session, build)
    client.post(f"/gate/contracts/{contract.id}/evaluate")
    client.post(f"/gate/contracts/{contract.id}/evaluate")  # same decision: no new event
    assert len(session.scalars(select(WebhookDelivery)).all()) == 1
    with app.app_context():
        first = deliver_due(db.session)
        db.session.commit()
        assert first == {"delivered": 0, "retrying": 1, "failed": 0}
        assert deliver_due(db.session) == {
            "delivered": 0,
            "retrying": 0,
            "failed": 0,
        }  # not due yet
        later = deliver_due(db.session, now=utcnow() + timedelta(minutes=2))
        db.session.commit()
        assert later["delivered"] == 1
    session.expire_all()
    delivery = session.scalar(select(WebhookDelivery))
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 2, 200)
    headers, body = Receiver.received[-1]
    expected = "sha256=" + hmac.new(hook.secret.encode(), body, hashlib.sha256).hexdigest()
    assert headers["X-Vendor-Portal-Signature"] == expected
    payload = json.loads(body)
    assert payload["event"] == "gate.decision_changed" and payload["data"]["decision"] == "fail"
    assert "Delivery log" in client.get("/gate/webhooks").text
