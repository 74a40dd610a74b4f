"""What keeps the graph pages fast on a large map, and still correct.

- The record-built part is checked against its records only when their change marker moved:
  every write path (ORM flushes in any session, bulk statements) must move it, and the next
  request must show the change.
- The SPOF analysis is stored one row per business service: the API pages it, the map page
  lists it as a table, and once stored, pages only read (no analysis, no graph load, no write).
"""

from __future__ import annotations

import csv
import io
import json

import pytest
from sqlalchemy import delete, event, func, select, update

from vendor_portal.graph import records, services
from vendor_portal.graph.models import (
    BusinessService,
    GraphRecordsVersion,
    GraphServiceResult,
    RegionRisk,
)
from vendor_portal.subcontracting import services as subcontracting
from vendor_portal.subcontracting.models import SubcontractorDeclaration
from vendor_portal.vendors.models import Vendor


def exported(api) -> dict[str, dict]:
    """The graph as the next request sees it (through the app's own session), by node id."""
    document = api.get("/api/v1/graph").get_json()
    nodes = {n["id"]: n for n in document["nodes"]}
    edges = {(e["from"], e["to"]) for e in document["edges"]}
    return {"nodes": nodes, "edges": edges}


@pytest.fixture
def reader(api):
    api.as_role("auditor")
    return api


@pytest.fixture
def hosted(session, build, graph_build):
    """A vendor with one service, both already in the graph."""
    vendor = build.vendor(name="Acme Hosting")
    service = graph_build.vendor_service(vendor, name="Acme Cloud", hosting_countries=["DE"])
    graph_build.node_of(vendor_service_id=service.id)
    return vendor, service


def _stamp(session):
    session.expire_all()
    return records.current_stamp(session)


# --- the change marker -------------------------------------------------------------------------


def test_an_unchanged_marker_spares_reading_the_records(session, hosted, monkeypatch):
    services.ensure_current(session)
    session.commit()
    calls = []
    real = services._records
    monkeypatch.setattr(services, "_records", lambda s: calls.append(1) or real(s))
    services.ensure_current(session)
    assert calls == []
    vendor, _ = hosted
    vendor.name = "Acme Hosting Group"
    session.commit()
    services.ensure_current(session)
    assert calls == [1]
    services.ensure_current(session)
    assert calls == [1]


@pytest.mark.parametrize("change", ["vendor_name", "service_countries", "declaration", "business"])
def test_orm_changes_are_in_the_graph_on_the_next_request(
    session, build, graph_build, hosted, reader, change
):
    vendor, service = hosted
    before = exported(reader)  # the graph is current, and its marker checked
    assert f"vendor:{vendor.id}" in before["nodes"]
    if change == "vendor_name":
        vendor.name = "Acme Hosting Group"
        session.commit()
        assert exported(reader)["nodes"][f"vendor:{vendor.id}"]["name"] == "Acme Hosting Group"
    elif change == "service_countries":
        service.hosting_countries = ["DE", "FR"]
        session.commit()
        edges = exported(reader)["edges"]
        assert (f"vendor_service:{service.id}", "country:FR") in edges
    elif change == "declaration":
        sub = build.vendor(name="Deep Sub", direct=False)
        declaration = SubcontractorDeclaration(vendor_id=vendor.id, subcontractor_id=sub.id, rank=2)
        declaration.services = [service]
        session.add(declaration)
        session.commit()
        edges = exported(reader)["edges"]
        assert (f"vendor_service:{service.id}", f"vendor:{sub.id}") in edges
        # Narrowing it to no service moves the edge up to the vendor.
        declaration.services = []
        session.commit()
        edges = exported(reader)["edges"]
        assert (f"vendor_service:{service.id}", f"vendor:{sub.id}") not in edges
        assert (f"vendor:{vendor.id}", f"vendor:{sub.id}") in edges
    else:
        made = graph_build.business_service(name="Payments")
        exported(reader)
        # Written by hand, not through graph.services (which raises the version itself).
        record = session.get(BusinessService, made.id)
        record.name = "Card payments"
        session.commit()
        names = {n["name"] for n in exported(reader)["nodes"].values()}
        assert "Card payments" in names and "Payments" not in names


def test_a_column_the_graph_does_not_use_leaves_the_marker(session, hosted):
    vendor, _ = hosted
    services.ensure_current(session)
    session.commit()
    stamp = _stamp(session)
    vendor.tier = "low"
    session.commit()
    assert _stamp(session) == stamp
    vendor.country = "FR"
    session.commit()
    assert _stamp(session) != stamp


def test_bulk_statements_are_seen_once_they_move_the_marker(session, hosted, reader):
    vendor, _ = hosted
    exported(reader)
    session.execute(update(Vendor).where(Vendor.id == vendor.id).values(name="Renamed in bulk"))
    session.commit()
    # The marker is trusted: a bulk statement that does not move it is not looked for...
    assert exported(reader)["nodes"][f"vendor:{vendor.id}"]["name"] == "Acme Hosting"
    # ...which is why every bulk write in the app moves it.
    records.note_records_changed(session)
    session.commit()
    assert exported(reader)["nodes"][f"vendor:{vendor.id}"]["name"] == "Renamed in bulk"


def test_merging_subcontractor_records_moves_their_chains_in_the_graph(
    session, build, hosted, reader
):
    vendor, _ = hosted
    keep = build.vendor(name="Nordic Power AB", country="SE", direct=False)
    dupe = build.vendor(name="Nordic Power", country="SE", direct=False, lei=None)
    declaration = SubcontractorDeclaration(vendor_id=vendor.id, subcontractor_id=dupe.id, rank=2)
    session.add(declaration)
    session.commit()
    assert (f"vendor:{vendor.id}", f"vendor:{dupe.id}") in exported(reader)["edges"]
    subcontracting.merge_companies(session, keep, dupe)
    session.commit()
    edges = exported(reader)["edges"]
    assert (f"vendor:{vendor.id}", f"vendor:{keep.id}") in edges
    assert (f"vendor:{vendor.id}", f"vendor:{dupe.id}") not in edges


def test_without_a_marker_the_records_are_compared_in_full(session, hosted, reader):
    vendor, _ = hosted
    exported(reader)
    session.execute(delete(GraphRecordsVersion))
    session.execute(update(Vendor).where(Vendor.id == vendor.id).values(name="Renamed in bulk"))
    session.commit()
    assert exported(reader)["nodes"][f"vendor:{vendor.id}"]["name"] == "Renamed in bulk"
    assert _stamp(session) is not None  # and the marker is back for the next requests


# --- the stored analysis -----------------------------------------------------------------------


def _services_with_spofs(build, graph_build, count):
    made = []
    for i in range(count):
        vendor = build.vendor(name=f"Host {i}")
        hosting = graph_build.vendor_service(vendor, name=f"Hosting {i}")
        service = graph_build.business_service(
            name=f"Service {i:02d}", rto_hours=4, criticality="critical" if i % 2 else "high"
        )
        graph_build.depends(
            graph_build.node_of(business_service_id=service.id),
            graph_build.node_of(vendor_service_id=hosting.id),
        )
        made.append(service)
    return made


def test_the_api_pages_the_spof_document(reader, runner, build, graph_build):
    _services_with_spofs(build, graph_build, 5)
    whole = json.loads(runner.invoke(args=["graph", "spof", "--format", "json"]).output)
    assert len(whole["services"]) == 5
    first = reader.get("/api/v1/graph/spof?per_page=2")
    body = first.get_json()
    assert (body["page"], body["per_page"], body["total"], body["pages"]) == (1, 2, 5, 3)
    assert 'rel="next"' in first.headers["Link"] and "page=2" in first.headers["Link"]
    assert 'rel="prev"' not in first.headers["Link"]
    pages = [body] + [
        reader.get(f"/api/v1/graph/spof?per_page=2&page={n}").get_json() for n in (2, 3)
    ]
    assert [s for p in pages for s in p["services"]] == whole["services"]
    assert {p["graph_version"] for p in pages} == {whole["graph_version"]}
    last = reader.get("/api/v1/graph/spof?per_page=2&page=3")
    assert 'rel="next"' not in last.headers["Link"] and 'rel="prev"' in last.headers["Link"]
    assert reader.get("/api/v1/graph/spof?page=9").get_json()["services"] == []
    default = reader.get("/api/v1/graph/spof").get_json()
    assert default["per_page"] == services.PER_PAGE
    for bad in ("per_page=0", f"per_page={services.MAX_PER_PAGE + 1}", "page=0", "page=x"):
        response = reader.get(f"/api/v1/graph/spof?{bad}")
        assert response.status_code == 400, bad
        assert response.get_json()["error"]["code"] == "bad_request"
    one = whole["services"][3]
    assert reader.get(f"/api/v1/graph/spof?service={one['id']}").get_json()["services"] == [one]


def listed(client, url: str) -> str:
    """The map page's table of business services (names also appear on the map itself)."""
    page = client.get(url)
    assert page.status_code == 200, url
    start = page.text.index('data-testid="service-summary"')
    return page.text[start : page.text.index("</table>", start)]


def test_the_map_page_lists_sorts_filters_and_exports_the_analysis(
    client, auth, session, build, graph_build
):
    made = _services_with_spofs(build, graph_build, 4)
    spare = graph_build.business_service(name="Service zz without needs", rto_hours=1)
    auth.login_as("auditor")
    page = client.get("/graph/")
    assert "With a single point of failure" in page.text
    assert all(s.name in listed(client, "/graph/") for s in [*made, spare])
    paged = listed(client, "/graph/?per_page=2&page=3")
    assert spare.name in paged and made[0].name not in paged
    flagged = listed(client, "/graph/?status=spofs")
    assert made[0].name in flagged and spare.name not in flagged
    clear = listed(client, "/graph/?status=clear")
    assert spare.name in clear and made[0].name not in clear
    critical = listed(client, "/graph/?criticality=critical")
    assert made[1].name in critical and made[0].name not in critical
    assert listed(client, "/graph/?q=zz").count("Service 0") == 0
    ordered = listed(client, "/graph/?sort=-name")
    assert ordered.index(spare.name) < ordered.index(made[3].name) < ordered.index(made[0].name)
    export = client.get("/graph/?export=csv&status=spofs")
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert sorted(r["Business service"] for r in rows) == sorted(s.name for s in made)
    # Each service falls with its hosting service and with that service's vendor.
    assert {r["Single points of failure"] for r in rows} == {"2"}
    bad = client.get("/graph/?sort=nope")
    assert bad.status_code == 302


def test_after_the_first_view_the_pages_only_read(
    client, auth, app, session, build, graph_build, monkeypatch
):
    made = _services_with_spofs(build, graph_build, 3)
    auth.login_as("vendor_manager")
    routes = ["/", "/graph/", f"/graph/services/{made[0].id}", "/graph/services"]
    for route in routes:
        assert client.get(route).status_code == 200
    assert session.scalar(select(func.count()).select_from(GraphServiceResult)) == 3

    def refuse(*args, **kwargs):
        raise AssertionError("computed again")

    for name in ("load_graph", "spof_reports", "_records"):
        monkeypatch.setattr(services, name, refuse)
    writes = []
    with app.app_context():
        from vendor_portal.extensions import db

        engine = db.engine

    def watch(conn, cursor, statement, *args):
        if statement.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            writes.append(statement)

    event.listen(engine, "before_cursor_execute", watch)
    try:
        for route in routes:
            response = client.get(route)
            assert response.status_code == 200, route
        assert "Hosting 0" in client.get(f"/graph/services/{made[0].id}").text
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    graph_writes = [w for w in writes if "graph" in w or "records" in w]
    assert graph_writes == []


def test_a_change_gives_a_new_analysis_on_the_next_view(client, auth, session, build, graph_build):
    made = _services_with_spofs(build, graph_build, 2)
    auth.login_as("vendor_manager")
    assert "Hosting 0" in client.get(f"/graph/services/{made[0].id}").text
    vendor = build.vendor(name="Spare host")
    spare = graph_build.vendor_service(vendor, name="Spare hosting")
    node = graph_build.node_of(business_service_id=made[0].id)
    graph_build.requires(node, "any")
    graph_build.depends(node, graph_build.node_of(vendor_service_id=spare.id))
    page = client.get(f"/graph/services/{made[0].id}").text
    assert 'data-testid="no-spof"' in page
    flagged = listed(client, "/graph/?status=spofs")
    assert made[1].name in flagged and made[0].name not in flagged
    version = services.state(session).version
    stored = session.scalars(select(GraphServiceResult.version)).all()
    assert set(stored) == {version}  # the older analysis is gone


def test_a_service_page_pages_its_spofs(client, auth, build, graph_build):
    (made,) = _services_with_spofs(build, graph_build, 1)
    auth.login_as("auditor")

    def table(url):
        page = client.get(url).text
        start = page.index('data-testid="spof-table"')
        return page[start : page.index("</table>", start)]

    named = ">Hosting 0</a>", ">Host 0</a>"  # each SPOF's own cell (chains name both)
    both = table(f"/graph/services/{made.id}")
    assert all(n in both for n in named)
    first = table(f"/graph/services/{made.id}?per_page=1")
    second = table(f"/graph/services/{made.id}?per_page=1&page=2")
    assert [n in first for n in named] == [n not in second for n in named]
    assert sum(n in first for n in named) == 1
    export = client.get(f"/graph/services/{made.id}?per_page=1&export=csv")
    assert export.data.decode("utf-8-sig").count("\n") == 3  # the header and every SPOF


def test_stored_maps_follow_the_risk_ratings(client, auth, session, build, graph_build):
    (made,) = _services_with_spofs(build, graph_build, 1)  # its host's vendor is in DE
    auth.login_as("auditor")
    pages = (f"/graph/services/{made.id}", "/graph/")
    assert all("Risk: " not in client.get(url).text for url in pages)
    session.add(
        RegionRisk(
            kind="country",
            code="DE",
            name="Germany",
            natural_hazard="high",
            political_instability="low",
            overall="high",
            source="import",
        )
    )
    session.commit()
    assert all("Risk: " in client.get(url).text for url in pages)
