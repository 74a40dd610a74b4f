"""The graph API: import, SPOFs, scenarios, concentration, business services."""

import copy

import pytest
from sqlalchemy import func, select

from tests.unit.graph.helpers import DESIGN_EXAMPLE
from vendor_portal.graph.models import BusinessService, GraphEdge, GraphNode


def assert_error(response, status: int, code: str):
    assert response.status_code == status, response.text
    body = response.get_json()
    assert body["error"]["code"] == code and body["error"]["message"]
    return body["error"]


def test_import_then_spof_answers_the_design_example(api, session):
    api.as_role("vendor_manager")
    imported = api.post("/api/v1/graph", json=DESIGN_EXAMPLE)
    assert imported.status_code == 200, imported.text
    body = imported.get_json()
    assert (body["nodes"], body["edges"], body["business_services_created"]) == (5, 5, 1)
    service = session.scalar(select(BusinessService))
    assert (service.name, service.rto_hours, service.mtd_hours) == ("Card payments", 4.0, 24.0)
    assert service.downtime_cost_per_hour == 50000.0

    document = api.get("/api/v1/graph/spof").get_json()
    [entry] = document["services"]
    assert entry["id"] == "svc-pay" and entry["gaps"] == [] and entry["down"] is False
    spofs = {s["id"]: s for s in entry["spofs"]}
    assert set(spofs) == {"cap-host", "euw1"}
    assert spofs["euw1"]["witness"] == ["euw1", "vs-acme", "cap-host", "svc-pay"]
    assert spofs["euw1"]["common_cause"] is True and spofs["euw1"]["common_cause_of"] == [
        "cap-host"
    ]
    assert spofs["euw1"]["explanation"].startswith("eu-west-1 hosts both the primary (Acme Cloud)")
    assert api.get("/api/v1/graph/spof?service=svc-pay").get_json()["services"] == [entry]
    assert api.get(f"/api/v1/graph/spof?service={service.id}").get_json()["services"] == [entry]
    assert_error(api.get("/api/v1/graph/spof?service=nope"), 404, "not_found")


def test_export_round_trips_through_import(api):
    api.as_role("admin")
    api.post("/api/v1/graph", json=DESIGN_EXAMPLE)
    exported = api.get("/api/v1/graph").get_json()
    by_id = {n["id"]: n for n in exported["nodes"]}
    assert by_id["svc-pay"]["rto_hours"] == 4.0 and by_id["cap-host"]["requires"] == "any"
    assert by_id["svc-pay"]["business_service_id"]
    version = api.post("/api/v1/graph", json=exported).get_json()
    assert version["business_services_created"] == 0 and version["business_services_updated"] == 1
    again = api.get("/api/v1/graph").get_json()
    assert again == exported


@pytest.mark.parametrize(
    ("mutate", "where", "message"),
    [
        (
            lambda d: d["nodes"].append({"id": "x", "kind": "warehouse"}),
            "nodes[5] (id 'x')",
            "unknown kind 'warehouse'",
        ),
        (
            lambda d: d["edges"].append({"from": "svc-pay", "to": "ghost"}),
            "edges[5] (svc-pay -> ghost)",
            "to 'ghost' is not a node in this file",
        ),
        (
            lambda d: d["nodes"].append({"id": "euw1", "kind": "cloud_region"}),
            "nodes[5]",
            "duplicate id 'euw1' (first at nodes[4])",
        ),
        (
            lambda d: d["nodes"][1].update(requires=3),
            "nodes[1] (id 'cap-host')",
            "requires 3 of its dependencies but has only 2",
        ),
        (
            lambda d: d["edges"][2].update(switchover_hours=-1),
            "edges[2] (cap-host -> vs-beta)",
            "switchover_hours must not be negative",
        ),
        (
            lambda d: d["nodes"][0].update(rto_hours="four"),
            "nodes[0] (id 'svc-pay')",
            "rto_hours 'four' is not a number",
        ),
        (
            lambda d: d["nodes"].append({"id": "vendor_service:999", "kind": "vendor_service"}),
            "nodes[5] (id 'vendor_service:999')",
            "there is no vendor service 999",
        ),
    ],
    ids=["kind", "dangling", "duplicate", "k", "switchover", "rto", "record"],
)
def test_bad_graphs_are_refused_whole_with_the_place_named(api, session, mutate, where, message):
    api.as_role("vendor_manager")
    api.post("/api/v1/graph", json=DESIGN_EXAMPLE)
    before = (
        session.scalar(select(func.count(GraphNode.id))),
        session.scalar(select(func.count(GraphEdge.id))),
    )
    bad = copy.deepcopy(DESIGN_EXAMPLE)
    bad["nodes"][0]["name"] = "Renamed"
    mutate(bad)
    error = assert_error(api.post("/api/v1/graph", json=bad), 422, "invalid_graph")
    assert {"where": where, "message": error["problems"][0]["message"]} == error["problems"][0]
    assert message in error["problems"][0]["message"]
    assert where in error["message"]
    session.expire_all()
    after = (
        session.scalar(select(func.count(GraphNode.id))),
        session.scalar(select(func.count(GraphEdge.id))),
    )
    assert after == before
    assert session.scalar(select(BusinessService.name)) == "Card payments"  # nothing stored


def test_scenario_and_concentration(api):
    api.as_role("vendor_manager")
    api.post("/api/v1/graph", json=DESIGN_EXAMPLE)
    result = api.post("/api/v1/graph/scenario", json={"fail": ["euw1"]})
    assert result.status_code == 200, result.text
    body = result.get_json()
    assert [s["id"] for s in body["down_services"]] == ["svc-pay"]
    assert body["cost_per_hour"] == 50000
    assert body["restoration_order"][0]["nodes"][0]["id"] == "euw1"
    fallback = api.post("/api/v1/graph/scenario", json={"fail": ["vs-acme"]}).get_json()
    assert fallback["down_services"] == [] and [s["id"] for s in fallback["switched_over"]] == [
        "svc-pay"
    ]
    by_region = api.post("/api/v1/graph/scenario", json={"regions": ["eu-west-1"]}).get_json()
    assert [s["id"] for s in by_region["down_services"]] == ["svc-pay"]
    error = assert_error(
        api.post("/api/v1/graph/scenario", json={"fail": ["nope"]}), 422, "validation_error"
    )
    assert "nope" in error["fields"]["fail"]
    error = assert_error(
        api.post("/api/v1/graph/scenario", json={"fail": "euw1"}), 422, "validation_error"
    )
    assert error["fields"] == {"fail": "Must be a list of strings."}
    assert_error(api.post("/api/v1/graph/scenario", json={}), 422, "validation_error")

    ranking = api.get("/api/v1/graph/concentration").get_json()["items"]
    assert [(i["id"], i["service_count"], i["cost_per_hour"]) for i in ranking] == [
        ("cap-host", 1, 50000.0),
        ("euw1", 1, 50000.0),
    ]


def test_business_services_crud(api, session):
    api.as_role("vendor_manager")
    created = api.post(
        "/api/v1/business-services",
        json={"name": "Payroll", "criticality": "high", "rto_hours": 24, "mtd_hours": 72},
    )
    assert created.status_code == 201, created.text
    body = created.get_json()
    assert body["graph_id"] == "payroll" and body["rto_hours"] == 24
    assert created.headers["Location"] == f"/api/v1/business-services/{body['id']}"
    bad = api.patch(f"/api/v1/business-services/{body['id']}", json={"rto_hours": 100})
    error = assert_error(bad, 422, "validation_error")
    assert error["fields"]["rto_hours"].startswith("The RTO (100 h) is longer than the MTD (72 h)")
    changed = api.patch(
        f"/api/v1/business-services/{body['id']}", json={"rto_hours": 12, "owner": "HR"}
    )
    assert changed.get_json()["rto_hours"] == 12 and changed.get_json()["owner"] == "HR"
    listing = api.get("/api/v1/business-services?criticality=high").get_json()
    assert [s["name"] for s in listing["items"]] == ["Payroll"] and listing["total"] == 1
    assert_error(api.post("/api/v1/business-services", json={"name": "x"}), 422, "validation_error")
    archived = api.delete(f"/api/v1/business-services/{body['id']}")
    assert archived.get_json()["archived"] is True
    assert api.get("/api/v1/business-services").get_json()["total"] == 0
    assert api.get("/api/v1/business-services?archived=true").get_json()["total"] == 1
    assert_error(api.get("/api/v1/business-services/999"), 404, "not_found")


@pytest.mark.parametrize("role", ["procurement", "auditor"])
def test_readers_read_but_do_not_write(api, role):
    api.as_role(role)
    assert api.get("/api/v1/graph/spof").status_code == 200
    assert api.get("/api/v1/graph/concentration").status_code == 200
    assert api.get("/api/v1/business-services").status_code == 200
    assert api.post("/api/v1/graph/scenario", json={"countries": ["IE"]}).status_code == 200
    assert_error(api.post("/api/v1/graph", json=DESIGN_EXAMPLE), 403, "forbidden")
    assert_error(
        api.post("/api/v1/business-services", json={"name": "x", "criticality": "low"}),
        403,
        "forbidden",
    )


def test_vendor_users_get_403_on_all_of_it(api, build):
    api.as_role("vendor_user", vendor=build.vendor())
    for method, path in [
        ("get", "/api/v1/graph"),
        ("post", "/api/v1/graph"),
        ("get", "/api/v1/graph/spof"),
        ("post", "/api/v1/graph/scenario"),
        ("get", "/api/v1/graph/concentration"),
        ("get", "/api/v1/business-services"),
        ("post", "/api/v1/business-services"),
        ("get", "/api/v1/business-services/1"),
        ("patch", "/api/v1/business-services/1"),
        ("delete", "/api/v1/business-services/1"),
    ]:
        response = getattr(api, method)(path, json={} if method in ("post", "patch") else None)
        assert_error(response, 403, "forbidden")


def test_import_needs_json(api):
    api.as_role("vendor_manager")
    assert_error(api.post("/api/v1/graph", data="nodes"), 415, "unsupported_media_type")
