import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from vendor_portal.graph.models import BusinessService, GraphNode, GraphState

VALID = {
    "name": "Card payments",
    "criticality": "critical",
    "owner": "Head of Payments",
    "mtd_hours": "8",
    "rto_hours": "2",
    "rpo_hours": "0",
    "downtime_cost_per_hour": "85000",
}


def test_vendor_manager_records_a_business_service_and_it_joins_the_graph(client, auth, session):
    auth.login_as("vendor_manager")
    response = client.post("/graph/services/new", data=VALID)
    assert response.status_code == 302, response.text
    service = session.scalar(select(BusinessService))
    assert (service.name, service.rto_hours, service.mtd_hours) == ("Card payments", 2.0, 8.0)
    assert service.downtime_cost_per_hour == 85000.0 and service.criticality == "critical"
    assert response.headers["Location"] == f"/graph/services/{service.id}"
    node = session.scalar(select(GraphNode).where(GraphNode.business_service_id == service.id))
    assert (node.key, node.kind, node.origin) == ("card-payments", "business_service", "record")
    page = client.get(response.headers["Location"])
    assert "Card payments" in page.text and "85,000 per hour" in page.text
    assert "No single node can take Card payments down" in page.text
    assert "nothing is mapped under it yet" in page.text


def test_bad_objectives_are_explained_next_to_the_field_and_not_stored(client, auth, session):
    auth.login_as("vendor_manager")
    response = client.post(
        "/graph/services/new",
        data={**VALID, "rto_hours": "12", "downtime_cost_per_hour": "-1", "name": ""},
    )
    assert response.status_code == 200
    assert "The RTO (12 h) is longer than the MTD (8 h); it must fit within it." in response.text
    assert "This field is required." in response.text
    assert "Give an amount of zero or more." in response.text
    assert session.scalar(select(func.count(BusinessService.id))) == 0


def test_edit_archive_and_restore(client, auth, session, graph_build):
    service = graph_build.business_service(name="Payroll", rto_hours=24, mtd_hours=72)
    auth.login_as("vendor_manager")
    version = session.get(GraphState, 1).version
    response = client.post(
        f"/graph/services/{service.id}/edit",
        data={**VALID, "name": "Payroll", "rto_hours": "12", "mtd_hours": "72"},
    )
    assert response.status_code == 302
    client.get(response.headers["Location"])  # shows (and clears) the confirmation
    session.expire_all()
    assert session.get(BusinessService, service.id).rto_hours == 12.0
    assert session.get(GraphState, 1).version > version  # the RTO changes the analysis

    archived = client.post(f"/graph/services/{service.id}/archive", follow_redirects=True)
    assert "Payroll archived: it leaves the analyses; its map is kept." in archived.text
    session.expire_all()
    assert session.get(BusinessService, service.id).archived
    document = client.get("/graph/services").text
    assert "Payroll" not in document
    assert "Payroll" in client.get("/graph/services?archived=1").text
    # It leaves the analyses but keeps its node (and what was drawn under it).
    assert client.get("/graph/").text.count("Payroll") == 0
    assert session.scalar(select(GraphNode).where(GraphNode.business_service_id == service.id))

    client.post(f"/graph/services/{service.id}/restore", follow_redirects=True)
    session.expire_all()
    assert not session.get(BusinessService, service.id).archived
    assert "Payroll" in client.get("/graph/").text


def test_list_filters_sorts_and_exports(client, auth, graph_build):
    graph_build.business_service(name="Alpha", criticality="low", downtime_cost_per_hour=10)
    graph_build.business_service(name="Bravo", criticality="critical", downtime_cost_per_hour=900)
    auth.login_as("auditor")
    page = client.get("/graph/services?criticality=critical")
    assert "Bravo" in page.text and "Alpha" not in page.text
    ordered = client.get("/graph/services?sort=-downtime_cost_per_hour").text
    assert ordered.index("Bravo") < ordered.index("Alpha")
    csv = client.get("/graph/services?export=csv&sort=name")
    assert csv.headers["Content-Type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0].startswith("Name,Criticality,Owner,MTD (h),RTO (h)")
    assert lines[1].startswith("Alpha,low") and lines[2].startswith("Bravo,critical")
    xlsx = client.get("/graph/services?export=xlsx")
    rows = list(load_workbook(io.BytesIO(xlsx.data)).active.values)
    assert rows[0][0] == "Name" and {r[0] for r in rows[1:]} == {"Alpha", "Bravo"}
    bad = client.get("/graph/services?sort=colour", follow_redirects=True)
    assert "Cannot sort by &#39;colour&#39;" in bad.text


@pytest.mark.parametrize("role", ["procurement", "auditor"])
def test_readers_cannot_change_business_services(client, auth, graph_build, role):
    service = graph_build.business_service(name="Payroll")
    auth.login_as(role)
    assert client.get(f"/graph/services/{service.id}").status_code == 200
    assert client.get("/graph/services/new").status_code == 403
    assert client.post("/graph/services/new", data=VALID).status_code == 403
    assert client.post(f"/graph/services/{service.id}/edit", data=VALID).status_code == 403
    assert client.post(f"/graph/services/{service.id}/archive").status_code == 403
    assert 'href="/graph/services/new"' not in client.get("/graph/services").text


def test_unknown_business_service_is_404(client, auth):
    auth.login_as("vendor_manager")
    assert client.get("/graph/services/999").status_code == 404
