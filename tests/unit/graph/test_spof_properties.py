"""The fast SPOF programme gives exactly the brute-force answer, on random graphs with loops,
k-of-n nodes, duplicate paths, shared regions and switchover times."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.graph.helpers import assert_valid_witnesses, programme_limit, same_answer
from vendor_portal.graph.domain import spof
from vendor_portal.graph.domain.model import DependencyGraph, Edge, Node
from vendor_portal.graph.domain.scenario import run_scenario
from vendor_portal.graph.domain.spof import brute_force_reports, spof_reports

SWITCHOVERS = st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, 4.0, 8.0, 24.0])
RTOS = st.sampled_from([None, 0.0, 1.0, 2.0, 4.0, 8.0])
MIDDLE_KINDS = ["capability", "vendor", "vendor_service", "facility", "component"]


@st.composite
def supply_graphs(draw, max_nodes: int = 14) -> DependencyGraph:
    n = draw(st.integers(min_value=1, max_value=max_nodes))
    services = draw(st.integers(min_value=1, max_value=min(3, n)))
    regions = draw(st.integers(min_value=0, max_value=max(0, min(3, n - services))))
    first_region = n - regions
    deps: list[list[int]] = [[] for _ in range(n)]
    switchover: list[list[float]] = [[] for _ in range(n)]
    for i in range(first_region):
        # Any target, the node itself and earlier nodes included: loops and self-loops happen.
        targets = draw(st.lists(st.integers(0, n - 1), max_size=4, unique=True))
        # Shared regions: most nodes sit in one of a few regions.
        if regions and draw(st.booleans()):
            targets.append(draw(st.integers(first_region, n - 1)))
        for t in dict.fromkeys(targets):
            deps[i].append(t)
            switchover[i].append(draw(SWITCHOVERS))
    # Duplicate paths: a diamond from some node to a shared dependency.
    if n >= 4 and draw(st.booleans()):
        a, b, c, d = draw(st.permutations(range(n)))[:4]
        for src, dst in ((a, b), (a, c), (b, d), (c, d)):
            if dst not in deps[src]:
                deps[src].append(dst)
                switchover[src].append(draw(SWITCHOVERS))
    nodes = []
    for i in range(n):
        count = len(deps[i])
        options: list = ["all", "any"] + ([draw(st.integers(1, count))] if count else [])
        requires = draw(st.sampled_from(options))
        if i < services:
            nodes.append(
                Node(f"n{i}", "business_service", f"S{i}", requires, {"rto_hours": draw(RTOS)})
            )
        elif i >= first_region:
            nodes.append(
                Node(f"n{i}", draw(st.sampled_from(["cloud_region", "geo_region"])), f"R{i}", "all")
            )
        else:
            nodes.append(Node(f"n{i}", draw(st.sampled_from(MIDDLE_KINDS)), f"N{i}", requires))
    edges = [
        Edge(f"n{i}", f"n{t}", s)
        for i in range(n)
        for t, s in zip(deps[i], switchover[i], strict=True)
    ]
    return DependencyGraph(nodes, edges)


def check(g: DependencyGraph) -> None:
    brute = brute_force_reports(g)
    for report in brute:
        assert_valid_witnesses(g, report)
    # Both forms of the programme: bit sets (small maps) and dictionaries (large ones).
    for limit in (spof.BIT_SETS_MAX_NODES, 0):
        with programme_limit(limit):
            fast = spof_reports(g)
            same_answer(fast, brute)
            for report in fast:
                assert_valid_witnesses(g, report)
                # The witnesses read one by one are those read all at once.
                assert all(report.spof(s.node) == s for s in report.spofs)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(supply_graphs())
def test_fast_equals_brute_force_on_small_graphs(g):
    check(g)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(supply_graphs(max_nodes=40))
def test_fast_equals_brute_force_on_larger_graphs(g):
    check(g)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(supply_graphs(), st.data())
def test_a_scenario_of_one_node_agrees_with_the_spof_sets(g, data):
    """Failing a SPOF alone downs its service; failing a non-SPOF leaves an up service up."""
    reports = spof_reports(g)
    v = data.draw(st.sampled_from([node.id for node in g.nodes]))
    down = set(run_scenario(g, [v]).down_services)
    for report in reports:
        if report.down or report.service == v:
            continue
        assert (report.service in down) == (v in report.spof_ids)
