"""Loading the stored graph into the engine: plain rows straight into arrays must give exactly
what the stored records say (nodes, fields, edges, switchover times, edge fields), leaving out
archived business services and their edges."""

from __future__ import annotations

from sqlalchemy import select

from vendor_portal.graph import services
from vendor_portal.graph.domain.interchange import parse_json
from vendor_portal.graph.models import BusinessService, GraphEdge, GraphNode

DOCUMENT = {
    "nodes": [
        {"id": "pay", "kind": "business_service", "name": "Payments", "rto_hours": 4},
        {"id": "hr", "kind": "business_service", "name": "Payroll", "rto_hours": 24},
        {"id": "host", "kind": "capability", "name": "Hosting", "requires": "any", "tier": "gold"},
        {"id": "links", "kind": "capability", "name": "Links", "requires": 2},
        {"id": "acme", "kind": "vendor_service", "name": "Acme"},
        {"id": "beta", "kind": "vendor_service", "name": "Beta"},
        {"id": "gamma", "kind": "vendor_service", "name": "Gamma"},
        {"id": "euw1", "kind": "cloud_region", "name": "eu-west-1"},
    ],
    "edges": [
        {"from": "pay", "to": "host"},
        {"from": "pay", "to": "links"},
        {"from": "hr", "to": "host"},
        {"from": "host", "to": "acme"},
        {"from": "host", "to": "beta", "switchover_hours": 2, "contract": "FB-1"},
        {"from": "links", "to": "acme"},
        {"from": "links", "to": "beta", "switchover_hours": 0.5},
        {"from": "links", "to": "gamma", "switchover_hours": 8},
        {"from": "acme", "to": "euw1"},
        {"from": "beta", "to": "euw1"},
    ],
}


def stored(session):
    """The graph as the ORM sees it: (source key, target key, switchover, fields) per edge."""
    key = dict(session.execute(select(GraphNode.id, GraphNode.key)).all())
    return {
        (key[e.source_id], key[e.target_id], e.switchover_hours, tuple(sorted(e.attributes)))
        for e in session.scalars(select(GraphEdge))
    }


def test_the_loaded_graph_is_what_is_stored(session):
    services.import_graph(session, parse_json(DOCUMENT), "test")
    session.commit()
    services._loaded.clear()
    g = services.load_graph(session)
    assert sorted(n.id for n in g.nodes) == sorted(n["id"] for n in DOCUMENT["nodes"])
    assert {
        (e.source, e.target, e.switchover_hours, tuple(sorted(e.attributes))) for e in g.edges
    } == stored(session)
    edge = next(e for e in g.edges if (e.source, e.target) == ("host", "beta"))
    assert dict(edge.attributes) == {"contract": "FB-1"}
    host = g.node("host")
    assert host.requires == "any" and host.attributes["tier"] == "gold"
    assert g.node("links").requires == 2
    assert g.node("pay").rto_hours == 4.0
    assert g.node("pay").attributes["business_service_id"]
    assert g.deps[g.index["links"]] == tuple(g.index[i] for i in ("acme", "beta", "gamma"))
    assert g.switchover[g.index["links"]] == (0.0, 0.5, 8.0)


def test_archived_business_services_and_their_edges_are_left_out(session):
    services.import_graph(session, parse_json(DOCUMENT), "test")
    session.commit()
    payroll = session.scalars(
        select(BusinessService).where(BusinessService.name == "Payroll")
    ).one()
    services.archive_business_service(session, payroll)
    session.commit()
    services._loaded.clear()
    g = services.load_graph(session)
    assert "hr" not in g.index
    assert all("hr" not in (e.source, e.target) for e in g.edges)
    assert g.edge_count == len(DOCUMENT["edges"]) - 1
