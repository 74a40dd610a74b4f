import io
import json
import re

import pytest
from openpyxl import load_workbook
from sqlalchemy import func, select

from vendor_portal.graph import services
from vendor_portal.graph.models import GraphEdge, GraphNode, GraphResult, GraphState
from vendor_portal.vendors import services as vendor_services


def figure_of(html: str, element_id: str) -> dict:
    found = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', html, re.S
    )
    assert found, f"no figure {element_id}"
    return json.loads(found.group(1))


def keys(session, **where) -> set[str]:
    stmt = select(GraphNode.key)
    for column, value in where.items():
        stmt = stmt.where(getattr(GraphNode, column) == value)
    return set(session.scalars(stmt))


def edges(session) -> set[tuple[str, str]]:
    source = GraphNode.__table__.alias("s")
    target = GraphNode.__table__.alias("t")
    rows = session.execute(
        select(source.c.key, target.c.key)
        .select_from(GraphEdge.__table__)
        .join(source, source.c.id == GraphEdge.source_id)
        .join(target, target.c.id == GraphEdge.target_id)
    )
    return set(rows.all())


def payments_map(build, graph_build):
    """Card payments needs hosting: Acme (primary) or Beta (fallback, 2 h), both in eu-west-1."""
    acme_vendor, beta_vendor = build.vendor(name="Acme Cloud"), build.vendor(name="Beta Cloud")
    acme = graph_build.vendor_service(
        acme_vendor, name="Acme hosting", cloud_regions=["eu-west-1"], hosting_countries=["IE"]
    )
    beta = graph_build.vendor_service(
        beta_vendor, name="Beta hosting", cloud_regions=["eu-west-1"], hosting_countries=["DE"]
    )
    service = graph_build.business_service(
        name="Card payments", rto_hours=4, mtd_hours=24, downtime_cost_per_hour=50000
    )
    hosting = graph_build.node("Payments hosting", "capability")
    graph_build.depends(graph_build.node_of(business_service_id=service.id), hosting)
    graph_build.depends(hosting, graph_build.node_of(vendor_service_id=acme.id))
    graph_build.depends(hosting, graph_build.node_of(vendor_service_id=beta.id), 2)
    return service, hosting, acme, beta


def test_nodes_are_built_from_vendor_services_and_follow_their_records(
    client, auth, build, session, graph_build
):
    vendor = build.vendor(name="Acme Cloud", country="IE")
    hosting = graph_build.vendor_service(
        vendor, name="Acme hosting", hosting_countries=["IE", "NL"], cloud_regions=["eu-west-1"]
    )
    auth.login_as("auditor")
    page = client.get("/graph/nodes")
    assert page.status_code == 200 and "Acme hosting" in page.text
    vs = f"vendor_service:{hosting.id}"
    assert {vs, f"vendor:{vendor.id}", "country:IE", "country:NL", "cloud:eu-west-1"} <= keys(
        session
    )
    assert {
        (vs, f"vendor:{vendor.id}"),
        (vs, "country:IE"),
        (vs, "country:NL"),
        (vs, "cloud:eu-west-1"),
    } <= edges(session)
    assert (
        session.scalar(select(GraphNode.country).where(GraphNode.key == f"vendor:{vendor.id}"))
        == "IE"
    )

    # The vendor register changes the hosting: the graph follows on the next read.
    vendor_services.update_service(
        session, hosting, {"hosting_countries": ["IE"], "name": "Acme IaaS"}
    )
    session.commit()
    client.get("/graph/nodes")
    session.expire_all()
    assert (vs, "country:NL") not in edges(session)
    assert "country:NL" not in keys(session)  # nothing else uses it
    assert session.scalar(select(GraphNode.name).where(GraphNode.key == vs)) == "Acme IaaS"

    # An archived vendor service leaves the graph.
    vendor_services.update_service(session, hosting, {"archived_at": hosting.created_at})
    session.commit()
    client.get("/graph/")
    session.expire_all()
    assert vs not in keys(session)


def test_manager_draws_a_capability_with_primary_and_fallback(
    client, auth, build, session, graph_build
):
    acme = graph_build.vendor_service(build.vendor(name="Acme"), name="Acme hosting")
    beta = graph_build.vendor_service(build.vendor(name="Beta"), name="Beta hosting")
    service = graph_build.business_service(name="Card payments", rto_hours=4, mtd_hours=8)
    auth.login_as("vendor_manager")
    created = client.post(
        "/graph/nodes/new",
        data={"name": "Payments hosting", "kind": "capability", "requires": "any", "country": ""},
    )
    assert created.status_code == 302, created.text
    cap = session.scalar(select(GraphNode).where(GraphNode.key == "payments-hosting"))
    assert (cap.kind, cap.requires, cap.origin) == ("capability", "any", "manual")

    service_node = graph_build.node_of(business_service_id=service.id)
    acme_node = graph_build.node_of(vendor_service_id=acme.id)
    beta_node = graph_build.node_of(vendor_service_id=beta.id)
    for source, target, hours in (
        (service_node, cap, "0"),
        (cap, acme_node, "0"),
        (cap, beta_node, "6"),
    ):
        response = client.post(
            f"/graph/nodes/{source.id}/dependencies",
            data={"target": str(target.id), "switchover_hours": hours},
        )
        assert response.status_code == 302, response.text
    page = client.get(f"/graph/services/{service.id}").text
    # The fallback takes 6 h, longer than the 4 h RTO: Acme is a SPOF, and the page says why.
    assert "Acme hosting" in page
    assert "Beta hosting takes 6 h to switch over, longer than the 4 h RTO." in page

    edge = session.scalar(select(GraphEdge).where(GraphEdge.target_id == beta_node.id))
    client.post(f"/graph/edges/{edge.id}/switchover", data={"switchover_hours": "2"})
    page = client.get(f"/graph/services/{service.id}").text
    assert "Acme hosting" not in page.split('data-testid="spof-table"')[-1].split("</table>")[0]

    duplicate = client.post(
        f"/graph/nodes/{cap.id}/dependencies",
        data={"target": str(acme_node.id), "switchover_hours": "0"},
    )
    assert duplicate.status_code == 422
    assert "Payments hosting already depends on Acme hosting." in duplicate.text


def test_k_of_n_needs_enough_dependencies_and_record_edges_stay(
    client, auth, build, session, graph_build
):
    cap = graph_build.node("Carrier links", "capability")
    auth.login_as("vendor_manager")
    too_many = client.post(
        f"/graph/nodes/{cap.id}/edit", data={"name": "Carrier links", "requires": "2"}
    )
    assert too_many.status_code == 422
    assert "Not a valid choice." in too_many.text  # no 2-of-n offered without two dependencies
    links = [graph_build.node(f"Link {i}", "vendor_service") for i in range(3)]
    for link in links:
        graph_build.depends(cap, link)
    edit = client.post(
        f"/graph/nodes/{cap.id}/edit", data={"name": "Carrier links", "requires": "2"}
    )
    assert edit.status_code == 302
    session.expire_all()
    assert session.get(GraphNode, cap.id).requires == "2"
    edge_ids = list(session.scalars(select(GraphEdge.id).where(GraphEdge.source_id == cap.id)))
    client.post(f"/graph/edges/{edge_ids[0]}/delete")
    refused = client.post(f"/graph/edges/{edge_ids[1]}/delete", follow_redirects=True)
    assert (
        "Carrier links requires 2 of its dependencies; lower that before removing this one."
        in refused.text
    )
    assert (
        session.scalar(select(func.count(GraphEdge.id)).where(GraphEdge.source_id == cap.id)) == 2
    )

    hosting = graph_build.vendor_service(
        build.vendor(name="Acme"), name="Acme hosting", cloud_regions=["r1"]
    )
    node = graph_build.node_of(vendor_service_id=hosting.id)
    record_edge = session.scalar(
        select(GraphEdge).join(GraphEdge.source).where(GraphNode.vendor_service_id == hosting.id)
    )
    kept = client.post(f"/graph/edges/{record_edge.id}/delete", follow_redirects=True)
    assert "comes from the vendor service&#39;s record" in kept.text
    refused = client.post(f"/graph/nodes/{node.id}/delete", follow_redirects=True)
    assert "is built from a record" in refused.text
    cap_id = cap.id
    assert client.post(f"/graph/nodes/{cap_id}/delete").status_code == 302
    assert session.scalar(select(func.count(GraphNode.id)).where(GraphNode.id == cap_id)) == 0
    assert (
        session.scalar(select(func.count(GraphEdge.id)).where(GraphEdge.source_id == cap_id)) == 0
    )


def test_spof_page_names_the_common_cause_and_the_witness(
    client, auth, build, session, graph_build
):
    service, *_ = payments_map(build, graph_build)
    auth.login_as("procurement")
    page = client.get(f"/graph/services/{service.id}")
    assert page.status_code == 200
    text = page.text
    assert 'data-testid="common-causes"' in text
    assert (
        "<strong>Payments hosting</strong>: its alternatives (Acme hosting, Beta hosting) all "
        "depend on <strong>eu-west-1</strong>." in text
    )
    assert (
        "eu-west-1 hosts both the primary (Acme hosting) and the fallback (Beta hosting) of "
        "Payments hosting, which Card payments needs." in text
    )
    assert "eu-west-1 → Acme hosting → Payments hosting → Card payments" in text
    figure = figure_of(text, "service-map")
    names = {t["name"] for t in figure["data"]}
    assert {"Common causes", "Single points of failure", "Business service"} <= names
    export = client.get(f"/graph/services/{service.id}?export=xlsx")
    rows = list(load_workbook(io.BytesIO(export.data)).active.values)
    assert rows[0][0] == "Single point of failure"
    assert {r[0] for r in rows[1:]} == {"Payments hosting", "eu-west-1"}


def test_version_changes_and_results_are_cached_per_version(
    client, auth, build, session, graph_build
):
    service, hosting, _, _ = payments_map(build, graph_build)
    auth.login_as("vendor_manager")
    client.get("/graph/")
    session.expire_all()
    version = session.get(GraphState, 1).version
    assert set(session.scalars(select(GraphResult.version))) == {version}
    client.get("/graph/concentration")
    before = session.scalar(select(func.count(GraphResult.id)))
    client.get("/graph/")  # served from the stored result
    session.expire_all()
    assert session.scalar(select(func.count(GraphResult.id))) == before
    # A change raises the version; the next read recomputes and drops the old results.
    client.post(
        f"/graph/nodes/{hosting.id}/edit", data={"name": "Payments hosting", "requires": "all"}
    )
    session.expire_all()
    assert session.get(GraphState, 1).version > version
    page = client.get(f"/graph/services/{service.id}").text
    assert "Acme hosting" in page and "Beta hosting" in page  # now both are needed
    session.expire_all()
    assert set(session.scalars(select(GraphResult.version))) == {session.get(GraphState, 1).version}


def spof_names(page: str) -> set[str]:
    table = re.search(r'data-testid="spof-table".*?</table>', page, re.S).group(0)
    return set(re.findall(r'<td><a href="[^"]*">([^<]+)</a>', table))


def test_results_kept_in_the_process_follow_each_graph_version(
    app, database_url, tmp_path, client, auth, build, session, graph_build
):
    """Stored results are also kept decoded in each process once read back: a change (a new
    version) is shown on the next view, and what is kept is what a fresh process reads."""
    from tests.conftest import base_config
    from vendor_portal import create_app
    from vendor_portal.extensions import db

    service, hosting, _, _ = payments_map(build, graph_build)
    auth.login_as("vendor_manager")
    for _ in range(3):  # computed and stored, read back and kept, then served as kept
        page = client.get(f"/graph/services/{service.id}").text
        overview = client.get("/graph/").text
    spofs = re.search(r'data-testid="spof-table".*?</table>', page, re.S).group(0)
    assert spof_names(page) == {"Payments hosting", "eu-west-1"}
    assert "eu-west-1 → Acme hosting → Payments hosting → Card payments" in spofs
    # The same pages from another process, with nothing kept: the same figures and tables.
    other_app = create_app(base_config(tmp_path / "other", database_url))
    other = other_app.test_client()
    reader = build.user(role="auditor")
    signed_in = other.post(
        "/auth/login", data={"email": reader.email, "password": "correct horse battery"}
    )
    assert signed_in.status_code == 302
    other_page = other.get(f"/graph/services/{service.id}").text
    assert re.search(r'data-testid="spof-table".*?</table>', other_page, re.S).group(0) == spofs
    assert figure_of(other_page, "service-map") == figure_of(page, "service-map")
    assert figure_of(other.get("/graph/").text, "graph-map") == figure_of(overview, "graph-map")
    with other_app.app_context():
        db.engine.dispose()

    client.post(
        f"/graph/nodes/{hosting.id}/edit", data={"name": "Payments hosting", "requires": "all"}
    )
    page = client.get(f"/graph/services/{service.id}").text
    assert {"Acme hosting", "Beta hosting"} <= spof_names(page)  # now both are needed
    changed = client.get("/graph/").text
    assert figure_of(changed, "graph-map") != figure_of(overview, "graph-map")
    assert "With a single point of failure" in changed

    # The map page is kept per role too: a reader of this process gets no import tab.
    assert 'href="/graph/import"' in client.get("/graph/").text
    reader_client = app.test_client()
    signed_in = reader_client.post(
        "/auth/login", data={"email": reader.email, "password": "correct horse battery"}
    )
    assert signed_in.status_code == 302
    for _ in range(2):
        as_reader = reader_client.get("/graph/").text
        assert 'href="/graph/import"' not in as_reader
        assert figure_of(as_reader, "graph-map") == figure_of(changed, "graph-map")

    # The service page's analysis (kept by now) follows an edit of the service record.
    for _ in range(2):
        assert (
            "Each node below takes Card payments down"
            in client.get(f"/graph/services/{service.id}").text
        )
    edited = client.post(
        f"/graph/services/{service.id}/edit",
        data={
            "name": "Card payments EU",
            "criticality": "critical",
            "rto_hours": "4",
            "mtd_hours": "24",
            "downtime_cost_per_hour": "50000",
        },
    )
    assert edited.status_code == 302, edited.text
    for _ in range(2):
        page = client.get(f"/graph/services/{service.id}").text
        assert "Each node below takes Card payments EU down on its own" in page


def test_concentration_ranks_by_cost_with_chart_and_exports(
    client, auth, build, session, graph_build
):
    payments_map(build, graph_build)
    other = graph_build.business_service(name="Payroll", downtime_cost_per_hour=1000)
    region = graph_build.node_of(key="cloud:eu-west-1")
    graph_build.depends(graph_build.node_of(business_service_id=other.id), region)
    auth.login_as("auditor")
    page = client.get("/graph/concentration")
    assert page.status_code == 200
    table = page.text.split('data-testid="concentration-table"')[1]
    assert table.index("eu-west-1") < table.index("Payments hosting")  # 51,000 before 50,000
    assert "51,000" in table
    chart = figure_of(page.text, "concentration-chart")
    assert chart["data"][0]["type"] == "bar"
    csv = client.get("/graph/concentration?export=csv").text.splitlines()
    assert csv[0].startswith("Rank,Node,Kind,Services it is a SPOF of,Summed cost")
    assert csv[1].startswith("1,eu-west-1,Cloud region,2,51000.0")
    only_regions = client.get("/graph/concentration?kind=cloud_region").text
    assert "Payments hosting" not in only_regions.split('data-testid="concentration-table"')[1]


def test_scenario_page_fails_a_vendor_or_a_country(client, auth, build, session, graph_build):
    _, _, acme, beta = payments_map(build, graph_build)
    auth.login_as("auditor")
    form = client.get("/graph/scenario")
    assert form.status_code == 200 and "Acme Cloud" in form.text
    result = client.get(f"/graph/scenario?vendors={acme.vendor_id}")
    assert 'data-testid="scenario-result"' in result.text
    assert "Running on a fallback (within their RTO): Card payments." in result.text
    assert "No business service goes down beyond its RTO." in result.text
    both = client.get(f"/graph/scenario?vendors={acme.vendor_id}&vendors={beta.vendor_id}")
    section = both.text.split('data-testid="down-services"')[1]
    assert "Card payments" in section and "50,000" in both.text
    restoration = both.text.split('data-testid="restoration-order"')[1]
    assert restoration.index("Acme Cloud") < restoration.index("Acme hosting")
    region = client.get("/graph/scenario?regions=eu-west-1")
    assert "Card payments" in region.text.split('data-testid="down-services"')[1]
    bad = client.get("/graph/scenario?countries=ZZ")
    assert "is not a valid choice" in bad.text.lower()


def test_map_page_draws_every_node_with_links(client, auth, build, session, graph_build):
    payments_map(build, graph_build)
    auth.login_as("auditor")
    page = client.get("/graph/")
    figure = figure_of(page.text, "graph-map")
    drawn = [
        x
        for trace in figure["data"][1:]
        if trace["name"] in ("Business service", "Capability")
        for x in trace["customdata"]
    ]
    assert all(url.startswith("/graph/nodes/") for url in drawn)
    assert 'src="/static/vendor/plotly/plotly.min.js"' in page.text
    assert "cdn" not in page.text.lower()


PAGES = [
    "/graph/",
    "/graph/services",
    "/graph/services/new",
    "/graph/nodes",
    "/graph/nodes/new",
    "/graph/concentration",
    "/graph/scenario",
    "/graph/import",
    "/graph/export",
    "/graph/export?format=csv",
]


def test_vendor_users_get_403_on_every_graph_page(client, auth, build, graph_build):
    service, hosting, acme, _ = payments_map(build, graph_build)
    auth.login_as("vendor_user", vendor=acme.vendor)
    node = graph_build.node_of(vendor_service_id=acme.id)
    for path in [
        *PAGES,
        f"/graph/services/{service.id}",
        f"/graph/nodes/{node.id}",
        f"/graph/nodes/{hosting.id}",
    ]:
        assert client.get(path).status_code == 403, path
    for path in [
        "/graph/services/new",
        f"/graph/services/{service.id}/edit",
        f"/graph/nodes/{node.id}/edit",
        f"/graph/nodes/{hosting.id}/dependencies",
        "/graph/import",
    ]:
        assert client.post(path, data={}).status_code == 403, path
    assert "Supply chain" not in client.get("/").text


@pytest.mark.parametrize("role", ["admin", "vendor_manager", "procurement", "auditor"])
def test_internal_roles_read_every_page(client, auth, build, graph_build, role):
    payments_map(build, graph_build)
    auth.login_as(role)
    writer = role in ("admin", "vendor_manager")
    for path in PAGES:
        expected = 403 if (path.endswith("/new") or path == "/graph/import") and not writer else 200
        assert client.get(path).status_code == expected, path


def test_home_page_asks_managers_to_remove_spofs(client, auth, build, graph_build):
    payments_map(build, graph_build)
    auth.login_as("vendor_manager")
    home = client.get("/").text
    assert "Remove single points of failure" in home and "Card payments" in home
    auth.logout()
    auth.login_as("auditor")
    assert "Remove single points of failure" not in client.get("/").text


def test_services_record_the_bulk_import_and_each_edit_in_the_audit_log(
    client, auth, session, graph_build
):
    from vendor_portal.audit.models import AuditEntry

    auth.login_as("vendor_manager")
    client.post(
        "/graph/nodes/new",
        data={"name": "Payments hosting", "kind": "capability", "requires": "any"},
    )
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.entity_type == "graph_node", AuditEntry.action == "create"
        )
    ).one()
    assert entry.after["name"] == "Payments hosting"
    assert services.RESULT_FORMAT >= 1


def test_declared_subcontractors_sit_under_what_they_work_for(
    client, auth, build, session, graph_build
):
    from vendor_portal.subcontracting.models import SubcontractorDeclaration

    ledgerline = build.vendor(name="Ledgerline")
    gateway = graph_build.vendor_service(ledgerline, name="Acquiring gateway")
    nimbus, colo, other = (
        build.vendor(name="Nimbus"),
        build.vendor(name="Emerald Colo"),
        build.vendor(),
    )
    hosting = SubcontractorDeclaration(
        vendor_id=ledgerline.id, subcontractor_id=nimbus.id, rank=2, services=[gateway]
    )
    session.add(hosting)
    session.flush()
    session.add_all(
        [
            SubcontractorDeclaration(
                vendor_id=ledgerline.id, subcontractor_id=colo.id, parent_id=hosting.id, rank=3
            ),
            SubcontractorDeclaration(
                vendor_id=ledgerline.id,
                subcontractor_id=other.id,
                rank=2,
                removed_at=hosting.created_at,
            ),
        ]
    )
    session.commit()
    service = graph_build.business_service(name="Card payments")
    graph_build.depends(
        graph_build.node_of(business_service_id=service.id),
        graph_build.node_of(vendor_service_id=gateway.id),
    )
    assert {
        (f"vendor_service:{gateway.id}", f"vendor:{nimbus.id}"),
        (f"vendor:{nimbus.id}", f"vendor:{colo.id}"),
    } <= edges(session)
    assert f"vendor:{other.id}" not in keys(session)  # removed from the chain
    auth.login_as("vendor_manager")
    page = client.get(f"/graph/services/{service.id}").text
    assert (
        "Card payments needs Acquiring gateway, which needs Nimbus, which needs Emerald Colo."
        in page
    )
