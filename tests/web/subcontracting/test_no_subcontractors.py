"""A vendor that relies on no subcontractors says so; the gate accepts the statement while the
chain stays empty, and a declaration withdraws it."""

from datetime import timedelta

from sqlalchemy import func, select

from vendor_portal.audit.models import AuditEntry
from vendor_portal.contracts.models import Contract
from vendor_portal.db import utcnow
from vendor_portal.gate.services import gather_facts
from vendor_portal.subcontracting.models import NoSubcontractorsAttestation


def _statements(session):
    session.expire_all()
    return session.scalars(select(NoSubcontractorsAttestation)).all()


def test_vendor_states_it_has_none_and_a_declaration_withdraws_it(client, auth, build, session):
    vendor = build.vendor(name="Solo Systems", tier="critical")
    user = auth.login_as("vendor_user", vendor=vendor)
    home = client.get("/").text
    assert "Declare your subcontractors (or confirm you have none)" in home
    page = client.get(f"/subcontracting/vendors/{vendor.id}").text
    assert "Confirm: no subcontractors" in page

    done = client.post(f"/subcontracting/vendors/{vendor.id}/none", follow_redirects=True)
    assert "Recorded: Solo Systems relies on no subcontractors." in done.text
    [statement] = _statements(session)
    assert (statement.vendor_id, statement.attested_by_id) == (vendor.id, user.id)
    assert "stated on" in done.text and "Confirm again: still no subcontractors" in done.text
    assert "Keep your subcontractors current" in client.get("/").text
    assert session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.entity_type == "no_subcontractors_attestation")
    )

    declared = client.post(
        f"/subcontracting/vendors/{vendor.id}",
        data={"name": "Colo Nord AB", "country": "SE", "lei": "", "parent_id": "", "function": ""},
    )
    assert declared.status_code == 302
    assert _statements(session) == []
    refused = client.post(f"/subcontracting/vendors/{vendor.id}/none", follow_redirects=True)
    assert "has subcontractors declared: remove them first" in refused.text
    assert _statements(session) == []


def test_another_vendors_user_cannot_state_it_for_them(client, auth, build, session):
    vendor_a, vendor_b = build.vendor(name="Vendor A"), build.vendor(name="Vendor B")
    auth.login_as("vendor_user", vendor=vendor_b)
    assert client.post(f"/subcontracting/vendors/{vendor_a.id}/none").status_code == 404
    headers = {"Authorization": f"Bearer {build.token(build.user('vendor_user', vendor=vendor_b))}"}
    api = client.post(f"/api/v1/vendors/{vendor_a.id}/subcontractors/none", headers=headers)
    assert api.status_code == 404
    assert _statements(session) == []


def test_api_states_it_and_lists_it_until_a_declaration(client, build, session):
    vendor = build.vendor(tier="high")
    headers = {"Authorization": f"Bearer {build.token(build.user('vendor_user', vendor=vendor))}"}
    url = f"/api/v1/vendors/{vendor.id}/subcontractors"
    assert client.get(url, headers=headers).get_json()["no_subcontractors"] is None
    stated = client.post(f"{url}/none", headers=headers)
    assert stated.status_code == 200, stated.text
    today = utcnow().date().isoformat()
    assert stated.get_json() == {
        "vendor_id": vendor.id,
        "no_subcontractors": {"attested_on": today, "current": True},
    }
    assert client.get(url, headers=headers).get_json()["no_subcontractors"]["attested_on"] == today
    client.post(url, json={"name": "Grid Power", "country": "SE"}, headers=headers)
    listing = client.get(url, headers=headers).get_json()
    assert listing["no_subcontractors"] is None and len(listing["items"]) == 1
    conflict = client.post(f"{url}/none", headers=headers)
    assert conflict.status_code == 409
    assert conflict.get_json()["error"]["code"] == "conflict"


def test_gate_accepts_a_current_statement_and_asks_again_when_it_is_stale(build, session):
    vendor = build.vendor(tier="critical")
    contract = Contract(vendor_id=vendor.id, title="Hosting 2027", status="awaiting_gate")
    session.add(contract)
    session.commit()
    today = utcnow().date()
    assert gather_facts(session, contract, today).subcontracting.declared is False
    assert gather_facts(session, contract, today).subcontracting.attested_none_on is None

    statement = NoSubcontractorsAttestation(vendor_id=vendor.id)
    session.add(statement)
    session.commit()
    fact = gather_facts(session, contract, today).subcontracting
    assert (fact.attested_none_on, fact.attestation_current) == (today, True)

    statement.attested_at = utcnow() - timedelta(days=400)  # critical: confirmed yearly
    session.commit()
    fact = gather_facts(session, contract, today).subcontracting
    assert fact.attestation_current is False
