"""The map's layout, and the engine on a supply map of 2,000 nodes."""

import time

from tests.unit.graph.helpers import DESIGN_EXAMPLE, graph
from vendor_portal.graph.domain.interchange import parse_json
from vendor_portal.graph.domain.layout import layers, layout
from vendor_portal.graph.domain.spof import spof_reports
from vendor_portal.graph.domain.synthetic import Shape, supply_map


def test_services_on_top_regions_at_the_bottom():
    g = parse_json(DESIGN_EXAMPLE)
    depth = {g.nodes[i].id: d for i, d in layers(g).items()}
    assert depth == {"svc-pay": 0, "cap-host": 1, "vs-acme": 2, "vs-beta": 2, "euw1": 3}
    drawn = layout(g)
    assert drawn.nodes[0].key == "svc-pay"
    assert len(drawn.edges) == 5 and not drawn.grouped


def test_a_loop_shares_one_layer():
    g = graph(
        [("s", "business_service"), ("a", "component"), ("b", "component")],
        [("s", "a"), ("a", "b"), ("b", "a")],
    )
    depth = {g.nodes[i].id: d for i, d in layers(g).items()}
    assert depth["a"] == depth["b"] == 1


def test_big_maps_are_grouped_by_layer_and_kind():
    g = supply_map(Shape(services=20, nodes=300))
    drawn = layout(g, limit=100)
    assert drawn.grouped
    assert sum(len(n.members) for n in drawn.nodes) == len(g)
    assert len(drawn.nodes) < 40


def test_spofs_of_every_service_on_2000_nodes_well_under_a_second():
    g = supply_map(Shape(services=100, nodes=2000))
    assert len(g) >= 1990 and len(g.edges) > 7000 and g.loops()
    timings = []
    for _ in range(3):
        fresh = supply_map(Shape(services=100, nodes=2000))  # nothing cached between runs
        started = time.perf_counter()
        reports = spof_reports(fresh)
        timings.append(time.perf_counter() - started)
    assert len(reports) == 100 and sum(len(r.spofs) for r in reports) > 1000
    assert min(timings) < 1.0, timings


def test_generated_maps_have_the_shape_of_the_benchmark():
    shape = Shape(services=200, nodes=5000, loops=10, seed=7)
    g = supply_map(shape)
    again = supply_map(shape)
    assert g.deps == again.deps and g.nodes == again.nodes  # deterministic
    bottom = {i for i, node in enumerate(g.nodes) if node.kind in ("cloud_region", "geo_region")}
    loop_members = {x for loop in g.loops() for x in loop}
    for x, deps in enumerate(g.deps):
        if x in bottom:
            continue
        assert 2 <= len(deps) <= 6 + (x in loop_members), (g.nodes[x].id, deps)
    middle = [x for x in range(len(g)) if x not in bottom and x not in g.services]
    share = sum(1 for x in middle if g.k[x]) / len(middle)
    assert 0.2 <= share <= 0.3
    assert len(g.services) == 200 and len(g.loops()) >= 5
    assert {g.nodes[s].rto_hours for s in g.services} >= {1.0, 4.0, 24.0, None}
