"""`flask graph import / export / spof`, and the import form: all or nothing, problems named."""

import io
import json
import zipfile

from sqlalchemy import func, select

from tests.unit.graph.helpers import DESIGN_EXAMPLE
from vendor_portal.graph.domain.interchange import parse_json
from vendor_portal.graph.models import BusinessService, GraphEdge, GraphNode

NODES_CSV = (
    "id,kind,name,requires,rto_hours,downtime_cost_per_hour\n"
    "trading,business_service,Trading,,1,120000\n"
    "links,capability,Carrier links,2,,\n"
    "mpls,vendor_service,MPLS,,,\n"
    "internet,vendor_service,Internet,,,\n"
    "satellite,vendor_service,Satellite,,,\n"
)
EDGES_CSV = (
    "from,to,switchover_hours\ntrading,links,\nlinks,mpls,0\nlinks,internet,0\nlinks,satellite,6\n"
)


def counts(session):
    session.expire_all()
    return (
        session.scalar(select(func.count(GraphNode.id))),
        session.scalar(select(func.count(GraphEdge.id))),
    )


def test_cli_imports_json_and_prints_the_same_spof_document_as_the_api(runner, tmp_path, api):
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(DESIGN_EXAMPLE))
    result = runner.invoke(args=["graph", "import", str(path)])
    assert result.exit_code == 0, result.output
    assert "Imported 5 nodes and 5 edges" in result.output
    printed = runner.invoke(args=["graph", "spof", "--format", "json"])
    assert printed.exit_code == 0, printed.output
    api.as_role("auditor")
    # The API pages the document (one page here); the CLI prints it whole.
    paged = api.get("/api/v1/graph/spof").get_json()
    assert (paged["page"], paged["pages"], paged["total"]) == (1, 1, 1)
    whole = json.loads(printed.output)
    assert whole == {"graph_version": paged["graph_version"], "services": paged["services"]}
    one = runner.invoke(args=["graph", "spof", "--service", "svc-pay", "--format", "json"])
    assert [s["id"] for s in json.loads(one.output)["services"]] == ["svc-pay"]
    text = runner.invoke(args=["graph", "spof"]).output
    assert "eu-west-1 [common cause]: eu-west-1 hosts both the primary" in text
    missing = runner.invoke(args=["graph", "spof", "--service", "nope"])
    assert missing.exit_code != 0 and "There is no business service 'nope'" in missing.output


def test_cli_imports_the_csv_pair_and_exports_it_back(runner, tmp_path, session):
    nodes, edges = tmp_path / "nodes.csv", tmp_path / "edges.csv"
    nodes.write_text(NODES_CSV)
    edges.write_text(EDGES_CSV)
    result = runner.invoke(args=["graph", "import", str(nodes), "--edges", str(edges)])
    assert result.exit_code == 0, result.output
    assert session.scalar(select(BusinessService.rto_hours)) == 1.0
    spof = json.loads(runner.invoke(args=["graph", "spof", "--format", "json"]).output)
    # The satellite takes 6 h, beyond the 1 h RTO: both remaining links are needed.
    assert {s["id"] for s in spof["services"][0]["spofs"]} == {"links", "mpls", "internet"}
    out_nodes, out_edges = tmp_path / "out-nodes.csv", tmp_path / "out-edges.csv"
    exported = runner.invoke(
        args=[
            "graph",
            "export",
            "--format",
            "csv",
            "--output",
            str(out_nodes),
            "--edges-output",
            str(out_edges),
        ]
    )
    assert exported.exit_code == 0, exported.output
    again = parse_json(json.loads(runner.invoke(args=["graph", "export"]).output))
    assert {n.id for n in again.nodes} == {"trading", "links", "mpls", "internet", "satellite"}
    assert out_edges.read_text().splitlines()[0] == "from,to,switchover_hours"


def test_cli_refuses_a_bad_file_and_stores_nothing(runner, tmp_path, session):
    good = tmp_path / "graph.json"
    good.write_text(json.dumps(DESIGN_EXAMPLE))
    runner.invoke(args=["graph", "import", str(good)])
    before = counts(session)
    nodes, edges = tmp_path / "nodes.csv", tmp_path / "edges.csv"
    nodes.write_text(NODES_CSV.replace("capability,Carrier links,2", "capabilty,Carrier links,2"))
    edges.write_text(EDGES_CSV + "trading,ghost,\n")
    result = runner.invoke(args=["graph", "import", str(nodes), "--edges", str(edges)])
    assert result.exit_code != 0
    assert "Nothing was imported: 2 problems." in result.output
    assert "nodes.csv line 3 (id 'links'): unknown kind 'capabilty'" in result.output
    assert (
        "edges.csv line 6 (trading -> ghost): to 'ghost' is not a node in this file"
        in result.output
    )
    assert counts(session) == before


def test_cli_imports_a_willems_chain(runner, shared_data, session):
    path = shared_data / "willems_2008" / "05.csv"
    result = runner.invoke(args=["graph", "import", str(path), "--alternatives", "Dist"])
    assert result.exit_code == 0, result.output
    assert "Imported 27 nodes and 31 edges" in result.output
    assert session.scalar(select(func.count(BusinessService.id))) == 8  # the retail stages
    spof = json.loads(runner.invoke(args=["graph", "spof", "--format", "json"]).output)
    assert len(spof["services"]) == 8 and all(s["spofs"] for s in spof["services"])


def test_import_form_replaces_the_graph(client, auth, session):
    auth.login_as("vendor_manager")
    response = client.post(
        "/graph/import",
        data={
            "format": "json",
            "file": (io.BytesIO(json.dumps(DESIGN_EXAMPLE).encode()), "graph.json"),
            "confirm": "y",
        },
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert response.status_code == 200
    assert "Imported 5 nodes and 5 edges; business services: 1 created, 0 updated." in response.text
    pair = client.post(
        "/graph/import",
        data={
            "format": "csv",
            "file": (io.BytesIO(NODES_CSV.encode()), "nodes.csv"),
            "edges_file": (io.BytesIO(EDGES_CSV.encode()), "edges.csv"),
            "confirm": "y",
        },
        content_type="multipart/form-data",
    )
    assert pair.status_code == 302
    assert counts(session) == (6, 4)
    # Card payments is still a business service: its node comes back (with nothing under it).
    assert set(session.scalars(select(GraphNode.key))) == {
        "trading",
        "links",
        "mpls",
        "internet",
        "satellite",
        "svc-pay",
    }


def test_import_form_lists_every_problem_and_keeps_the_graph(client, auth, session):
    auth.login_as("vendor_manager")
    client.post(
        "/graph/import",
        data={
            "format": "json",
            "file": (io.BytesIO(json.dumps(DESIGN_EXAMPLE).encode()), "g.json"),
            "confirm": "y",
        },
        content_type="multipart/form-data",
    )
    before = counts(session)
    bad = json.loads(json.dumps(DESIGN_EXAMPLE))
    bad["nodes"].append({"id": "vs-acme", "kind": "vendor_service"})
    bad["edges"].append({"from": "cap-host", "to": "nowhere"})
    response = client.post(
        "/graph/import",
        data={
            "format": "json",
            "file": (io.BytesIO(json.dumps(bad).encode()), "g.json"),
            "confirm": "y",
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 422
    assert "Nothing was imported." in response.text
    assert "nodes[5]: duplicate id &#39;vs-acme&#39; (first at nodes[2])" in response.text
    assert (
        "edges[5] (cap-host -&gt; nowhere): to &#39;nowhere&#39; is not a node in this file"
        in response.text
    )
    assert counts(session) == before
    unconfirmed = client.post(
        "/graph/import",
        data={"format": "csv", "file": (io.BytesIO(NODES_CSV.encode()), "nodes.csv")},
        content_type="multipart/form-data",
    )
    assert unconfirmed.status_code == 422
    assert "Tick this to confirm that the file replaces the graph." in unconfirmed.text
    assert "The CSV pair needs the edges file too." in unconfirmed.text


def test_export_downloads_json_and_the_csv_pair(client, auth, runner, tmp_path):
    path = tmp_path / "graph.json"
    path.write_text(json.dumps(DESIGN_EXAMPLE))
    runner.invoke(args=["graph", "import", str(path)])
    auth.login_as("auditor")
    exported = client.get("/graph/export")
    assert exported.headers["Content-Disposition"].startswith('attachment; filename="graph-')
    assert {n["id"] for n in exported.get_json()["nodes"]} == {
        n["id"] for n in DESIGN_EXAMPLE["nodes"]
    }
    archive = zipfile.ZipFile(io.BytesIO(client.get("/graph/export?format=csv").data))
    assert sorted(archive.namelist()) == ["edges.csv", "nodes.csv"]
    assert len(archive.read("edges.csv").decode().splitlines()) == 6
    assert client.get("/graph/export?format=pdf").status_code == 400
