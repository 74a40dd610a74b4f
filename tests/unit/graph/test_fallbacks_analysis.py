"""The fallback register's common causes and region flags, worked out for every provider and
place at once, give exactly what one propagation per failure gives (the old method, kept as
`register(..., reference=True)`), on random graphs with loops, k-of-n nodes, duplicate paths,
shared regions, countries and ratings."""

from __future__ import annotations

from datetime import date

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.graph.test_spof_properties import supply_graphs
from vendor_portal.graph.domain import fallbacks as fb
from vendor_portal.graph.domain.groups import as_int, down_columns, reach_columns, seed_columns
from vendor_portal.graph.domain.model import DependencyGraph, Node
from vendor_portal.graph.domain.regions import Level, Rating, RatingBook

TODAY = date(2026, 11, 25)
COUNTRIES = ["DE", "FR", "IE", "IN"]
LEVELS = st.sampled_from([None, Level.LOW, Level.MEDIUM, Level.HIGH, Level.VERY_HIGH])


@st.composite
def placed_graphs(draw, max_nodes: int = 14) -> tuple[DependencyGraph, RatingBook]:
    """A random supply graph whose nodes sit in countries, with ratings for some countries and
    regions (some with the same name, so that the order of places is tested)."""
    g = draw(supply_graphs(max_nodes=max_nodes))
    nodes = []
    for node in g.nodes:
        country = draw(st.sampled_from([None, None, *COUNTRIES]))
        attributes = dict(node.attributes)
        if country:
            attributes["country"] = country
        nodes.append(Node(node.id, node.kind, node.name, node.requires, attributes))
    graph = DependencyGraph.from_arrays(nodes, g.edge_source, g.edge_target, g.edge_switchover)
    ratings = []
    for code in COUNTRIES:
        if draw(st.booleans()):
            name = draw(st.sampled_from([f"Country {code}", "Same name"]))
            ratings.append(Rating("country", code, name, natural_hazard=draw(LEVELS)))
    for node in graph.nodes:
        if node.kind in ("cloud_region", "geo_region") and draw(st.booleans()):
            name = draw(st.sampled_from([f"Region {node.id}", "Same name"]))
            key = draw(st.sampled_from([node.name, node.id]))
            ratings.append(Rating("region", key, name, political_instability=draw(LEVELS)))
    return graph, RatingBook(ratings)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(placed_graphs())
def test_register_equals_one_propagation_per_failure(case):
    graph, ratings = case
    fast = fb.register(graph, ratings, TODAY)
    assert fast == fb.register(graph, ratings, TODAY, reference=True)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(placed_graphs(max_nodes=40))
def test_register_equals_one_propagation_per_failure_on_larger_graphs(case):
    graph, ratings = case
    fast = fb.register(graph, ratings, TODAY)
    assert fast == fb.register(graph, ratings, TODAY, reference=True)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(placed_graphs(max_nodes=30))
def test_places_propagated_in_several_blocks_give_the_same_register(case):
    graph, ratings = case
    block = fb.PLACE_BLOCK
    fb.PLACE_BLOCK = 2  # (a large map propagates 1,024 places at a time)
    try:
        fast = fb.register(graph, ratings, TODAY)
    finally:
        fb.PLACE_BLOCK = block
    assert fast == fb.register(graph, ratings, TODAY, reference=True)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(supply_graphs(max_nodes=20), st.data())
def test_group_columns_are_the_down_sets_and_closures_of_each_group(g, data):
    n = len(g)
    groups = [
        data.draw(st.lists(st.integers(0, n - 1), unique=True, max_size=3))
        for _ in range(data.draw(st.integers(0, 70)))  # more than one 64-bit word
    ]
    lost = down_columns(g, groups)
    reach = reach_columns(g, seed_columns(n, groups))
    eff = g.effective(None)
    mask = (1 << len(groups)) - 1
    for b, members in enumerate(groups):
        down = eff.down(members)
        for x in range(n):
            assert bool((as_int(lost[x]) & mask) >> b & 1) == bool(down[x]), (b, x)
            # x depends on the group (or is in it) when its closure meets the group.
            reaches = bool(set(eff.closure([x])) & set(members))
            assert bool(as_int(reach[x]) >> b & 1) == reaches, (b, x)


def test_a_shared_country_and_region_are_found_together_by_both_methods():
    nodes = [
        Node("svc", "business_service", "Payments", "all", {"criticality": "critical"}),
        Node("cap", "capability", "Hosting", "any"),
        Node("a", "vendor_service", "Acme", "all"),
        Node("b", "vendor_service", "Beta", "all"),
        Node("fa", "facility", "DC 1", "all", {"country": "IN"}),
        Node("fb", "facility", "DC 2", "all", {"country": "IN"}),
        Node("r", "cloud_region", "ap-south-1", "all"),
    ]
    src = [0, 1, 1, 2, 3, 4, 5]
    dst = [1, 2, 3, 4, 5, 6, 6]
    hours = np.array([0, 0, 2, 0, 0, 0, 0], dtype=float)  # Beta is the fallback
    g = DependencyGraph.from_arrays(nodes, np.array(src), np.array(dst), hours)
    ratings = RatingBook(
        [
            Rating("country", "IN", "India", political_instability=Level.HIGH),
            Rating("region", "ap-south-1", "Mumbai", natural_hazard=Level.HIGH),
        ]
    )
    for reference in (False, True):
        (entry,) = fb.register(g, ratings, TODAY, reference=reference)
        beta = next(p for p in entry.providers if p.id == "b")
        assert [c.id for c in beta.common_causes] == ["r", "country:IN"]
        assert beta.common_causes[0].chain == ("b", "fb", "r")
        assert [r.code for r in beta.risky_places] == ["IN", "ap-south-1"]
