from sqlalchemy import select

from vendor_portal.contracts.models import Contract, Obligation
from vendor_portal.vendors.models import VendorService


def test_obligation_library_is_seeded_by_the_migrations(session):
    codes = set(session.scalars(select(Obligation.code)))
    assert {
        "bcp_bia",
        "bcp_testing",
        "incident_notification",
        "joint_exercises",
        "audit_access",
        "subcontracting_approval",
        "exit_assistance",
        "data_location",
        "committed_rto_rpo",
    } <= codes


def test_procurement_drafts_a_contract_and_records_its_clauses(client, auth, build, session):
    vendor = build.vendor(tier="critical", name="Acme")
    service = VendorService(
        vendor_id=vendor.id, name="Hosting", hosting_countries=[], cloud_regions=[]
    )
    session.add(service)
    session.commit()
    bcp = session.scalar(select(Obligation).where(Obligation.code == "bcp_bia"))
    auth.login_as("procurement")
    response = client.post(
        "/contracts/new",
        data={
            "vendor_id": vendor.id,
            "title": "Hosting 2027",
            "clause_ids": [bcp.id],
            "start_date": "2027-01-01",
        },
    )
    assert response.status_code == 302, response.text
    contract = session.scalar(select(Contract))
    page = client.get(f"/contracts/{contract.id}")
    assert "Keep a business continuity plan" in page.text
    assert 'data-testid="missing-clauses"' in page.text  # the other mandatory clauses
    edit = client.post(
        f"/contracts/{contract.id}/edit",
        data={
            "title": "Hosting 2027",
            "vendor_service_ids": [service.id],
            "clause_ids": [o.id for o in session.scalars(select(Obligation))],
        },
    )
    assert edit.status_code == 302
    session.expire_all()
    stored = session.get(Contract, contract.id)
    assert stored.status == "draft" and [s.id for s in stored.services] == [service.id]
    assert 'data-testid="missing-clauses"' not in client.get(f"/contracts/{contract.id}").text


def test_bad_contract_input(client, auth, build, session):
    vendor = build.vendor()
    auth.login_as("procurement")
    response = client.post(
        "/contracts/new",
        data={
            "vendor_id": vendor.id,
            "title": "",
            "start_date": "2027-02-01",
            "end_date": "2027-01-01",
        },
    )
    assert "This field is required." in response.text
    dates = client.post(
        "/contracts/new",
        data={
            "vendor_id": vendor.id,
            "title": "X",
            "start_date": "2027-02-01",
            "end_date": "2027-01-01",
        },
    )
    assert "end date is before the start date" in dates.text
    assert session.scalar(select(Contract)) is None


def test_admins_edit_the_obligation_library(client, auth, session):
    auth.login_as("vendor_manager")
    assert client.get("/contracts/obligations/new").status_code == 403
    auth.logout()
    auth.login_as("admin")
    client.post(
        "/contracts/obligations/new",
        data={
            "code": "cyber_insurance",
            "title": "Hold cyber insurance",
            "mandatory_tiers": ["critical"],
        },
    )
    created = session.scalar(select(Obligation).where(Obligation.code == "cyber_insurance"))
    assert created.mandatory_tiers == ["critical"]
    clash = client.post("/contracts/obligations/new", data={"code": "bcp_bia", "title": "dup"})
    assert "already used" in clash.text


def test_contracts_are_internal(client, auth, build):
    auth.login_as("vendor_user", vendor=build.vendor())
    assert client.get("/contracts/").status_code == 403


def test_contracts_api(client, build, session):
    vendor = build.vendor()
    headers = {"Authorization": f"Bearer {build.token(build.user(role='procurement'))}"}
    created = client.post(
        "/api/v1/contracts",
        json={
            "vendor_id": vendor.id,
            "title": "Payroll",
            "start_date": "2027-01-01",
            "end_date": "2028-01-01",
            "vendor_service_ids": [],
            "clauses": ["bcp_bia"],
        },
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.get_json()["status"] == "draft" and created.get_json()["clauses"] == ["bcp_bia"]
    bad = client.post(
        "/api/v1/contracts",
        json={"vendor_id": 999, "title": "", "start_date": "soon", "clauses": ["nope"]},
        headers=headers,
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"vendor_id", "title", "start_date", "clauses"}
    listing = client.get("/api/v1/contracts", headers=headers).get_json()
    assert listing["total"] == 1
    vendor_user = {
        "Authorization": f"Bearer {build.token(build.user(role='vendor_user', vendor=vendor))}"
    }
    assert client.get("/api/v1/contracts", headers=vendor_user).status_code == 403


def test_a_renewal_records_its_terms_and_is_gated_like_any_contract(client, auth, build, session):
    vendor = build.vendor(tier="critical")
    auth.login_as("procurement")
    client.post("/contracts/new", data={"vendor_id": vendor.id, "title": "Hosting 2024"})
    first = session.scalar(select(Contract))
    client.post(
        "/contracts/new",
        data={
            "vendor_id": vendor.id,
            "title": "Hosting 2027",
            "renews_id": first.id,
            "value": "125000.50",
            "currency": "eur",
            "renewal_date": "2027-12-01",
            "notice_date": "2027-09-01",
        },
    )
    renewal = session.scalar(select(Contract).where(Contract.title == "Hosting 2027"))
    assert (
        renewal.renews_id == first.id
        and str(renewal.value) == "125000.50"
        and renewal.currency == "EUR"
    )
    assert "Hosting 2024" in client.get(f"/contracts/{renewal.id}").text
    client.post(f"/gate/contracts/{renewal.id}/status", data={"status": "awaiting_gate"})
    refused = client.post(
        f"/gate/contracts/{renewal.id}/status", data={"status": "approved"}, follow_redirects=True
    )
    assert "does not pass" in refused.text
    session.expire_all()
    assert session.get(Contract, renewal.id).status == "awaiting_gate"
