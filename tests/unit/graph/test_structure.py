"""The array form of the graph: loops and heights against networkx, propagation in waves against
the node-by-node least fixed point, and what `from_arrays` refuses."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.graph.test_spof_properties import supply_graphs
from vendor_portal.graph.domain.model import DependencyGraph, Node
from vendor_portal.graph.domain.scenario import restoration_order
from vendor_portal.graph.domain.structure import structure


@st.composite
def edge_lists(draw):
    n = draw(st.integers(1, 30))
    pairs = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=80))
    pairs = list(dict.fromkeys(pairs))
    return n, pairs


@settings(max_examples=300, deadline=None)
@given(edge_lists())
def test_loops_and_heights_agree_with_networkx(case):
    n, pairs = case
    src = np.array([a for a, _ in pairs], dtype=np.int64)
    dst = np.array([b for _, b in pairs], dtype=np.int64)
    shape = structure(n, src, dst)
    g = nx.DiGraph()
    g.add_nodes_from(range(n))
    g.add_edges_from(pairs)
    expected = sorted(
        sorted(c)
        for c in nx.strongly_connected_components(g)
        if len(c) > 1 or g.has_edge(*[*c] * 2)
    )
    assert sorted(shape.loops) == expected
    condensed = nx.condensation(g)
    member_of = condensed.graph["mapping"]
    height = {}
    for c in reversed(list(nx.topological_sort(condensed))):
        height[c] = 1 + max((height[d] for d in condensed.successors(c)), default=-1)
    assert shape.height.tolist() == [height[member_of[x]] for x in range(n)]
    for members in shape.loops:
        assert set(shape.component[members].tolist()) == {members[0]}


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(supply_graphs(max_nodes=25), st.data())
def test_waves_give_the_least_fixed_point(g, data):
    failed = data.draw(st.lists(st.integers(0, len(g) - 1), max_size=4))
    threshold = data.draw(st.sampled_from([None, 0.0, 1.0, 4.0]))
    eff = g.effective(threshold)
    assert [bool(d) for d in eff.down(failed)] == eff.down_array(failed).tolist()
    assert [bool(d) for d in eff.baseline] == eff.baseline_array.tolist()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(supply_graphs(max_nodes=25), st.data())
def test_restoration_puts_dependencies_in_earlier_waves(g, data):
    down = data.draw(st.sets(st.integers(0, len(g) - 1)))
    steps = restoration_order(g, down)
    wave = {}
    for step in steps:
        for node_id in step.nodes:
            wave[g.index[node_id]] = step.wave
        assert step.loop == (
            len(step.nodes) > 1 or g.index[step.nodes[0]] in g.deps[g.index[step.nodes[0]]]
        )
    assert set(wave) == down
    for x in down:
        for d in g.deps[x]:
            if d in down:
                same_loop = any(
                    g.nodes[x].id in s.nodes and g.nodes[d].id in s.nodes for s in steps
                )
                assert wave[d] < wave[x] or same_loop


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(supply_graphs(max_nodes=25))
def test_from_arrays_builds_the_same_graph(g):
    again = DependencyGraph.from_arrays(g.nodes, g.edge_source, g.edge_target, g.edge_switchover)
    assert again.deps == g.deps and again.switchover == g.switchover
    assert again.edges == g.edges
    assert again.components_dependencies_first() == g.components_dependencies_first()


def nodes(*ids):
    return [Node(i, "component") for i in ids]


def test_from_arrays_refuses_duplicates_unknown_ends_and_negative_switchover():
    with pytest.raises(ValueError, match="duplicate edge b -> a"):
        DependencyGraph.from_arrays(nodes("a", "b"), [0, 1, 1], [1, 0, 0], [0, 0, 0])
    with pytest.raises(ValueError, match="edge 1 has an unknown end"):
        DependencyGraph.from_arrays(nodes("a", "b"), [0, 1], [1, 2], [0, 0])
    with pytest.raises(ValueError, match="edge a -> b: negative switchover"):
        DependencyGraph.from_arrays(nodes("a", "b"), [0], [1], [-1.0])
    with pytest.raises(ValueError, match="duplicate node id 'a'"):
        DependencyGraph.from_arrays(nodes("a", "a"), [], [], [])


def test_edges_are_made_on_demand_with_their_fields():
    g = DependencyGraph.from_arrays(
        nodes("a", "b", "c"), [0, 0], [1, 2], [0.0, 2.0], {1: {"fallback_status": "contracted"}}
    )
    assert g.edge_count == 2
    assert [(e.source, e.target, e.switchover_hours, dict(e.attributes)) for e in g.edges] == [
        ("a", "b", 0.0, {}),
        ("a", "c", 2.0, {"fallback_status": "contracted"}),
    ]
