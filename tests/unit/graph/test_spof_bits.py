"""The SPOF programme on bit sets (`spof_bits`) on hand-made graphs, each a case the random graphs
of test_spof_properties.py reach only by chance, and on a fixed set of seeded random graphs: all
checked in full against the brute force (SPOFs, witnesses, defeats, gaps) and through every way
of reading `BitSpofs`."""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise

import pytest

from tests.unit.graph.helpers import (
    DESIGN_EXAMPLE,
    assert_valid_witnesses,
    by_service,
    graph,
    programme_limit,
    same_answer,
)
from vendor_portal.graph.domain.interchange import parse_json
from vendor_portal.graph.domain.model import DependencyGraph, Edge, Node
from vendor_portal.graph.domain.spof import (
    PLAN_MAX_THRESHOLDS,
    ServiceReport,
    Spofs,
    brute_force_reports,
    spof_reports,
)


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail instead of hanging: a witness whose links run in a circle is never finished."""
    if not hasattr(signal, "setitimer"):  # pragma: no cover - not on Windows
        yield
        return

    def stop(_signum, _frame):
        raise TimeoutError(f"still reading witnesses after {seconds} s: links in a circle?")

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def bit_reports(g: DependencyGraph, services: list[str] | None = None) -> list[ServiceReport]:
    """The programme on bit sets, whatever the size limit is set to."""
    with programme_limit(10**9):
        return spof_reports(g, services)


def checked(g: DependencyGraph, services: list[str] | None = None) -> dict[str, ServiceReport]:
    """The bit programme's reports, once they have passed every check against the brute force:
    the same answer, valid witnesses, and `BitSpofs` read every way (iterated, indexed, sliced,
    one node at a time, by ids, by length) telling the same story."""
    brute = brute_force_reports(g, services)
    with within(5):
        fast = bit_reports(g, services)
        same_answer(fast, brute)
        for report in fast:
            assert_valid_witnesses(g, report)
            service = report.service
            assert report.spof(service) is None
            assert report.spof("no-such-node") is None
            if report.down:
                assert report.spofs == () and report.spof_ids == frozenset()
                continue
            spofs = report.spofs
            assert isinstance(spofs, Spofs)
            found = tuple(spofs)
            assert len(spofs) == len(found) == len(report.spof_ids)
            assert {s.node for s in found} == report.spof_ids
            assert service not in report.spof_ids
            # Report order: shortest witness first, then by id.
            assert list(found) == sorted(found, key=lambda s: (len(s.witness), s.node))
            assert [g.nodes[v].id for v in spofs.order] == [s.node for s in found]
            assert spofs[:] == found and spofs == found
            for i, spof in enumerate(found):
                assert spofs[i] == spof and spofs[i - len(found)] == spof
            with pytest.raises(IndexError):
                spofs[len(found)]
            for node in g.nodes:
                one = report.spof(node.id)
                if node.id in report.spof_ids:
                    assert one == next(s for s in found if s.node == node.id)
                    assert spofs.witness(node.id) == one.witness
                else:
                    assert one is None and spofs.witness(node.id) is None
    return by_service(fast)


def test_marks_travel_up_through_all_nodes_above_a_common_cause_and_a_gap():
    # The common cause and the gap are two `all` nodes below the service: what a node depends
    # on that the reports look at (its marks) must be passed on by every node on the way up.
    g = graph(
        [
            ("s", "business_service"),
            ("app", "component"),
            ("platform", "component"),
            ("hosting", "capability"),
            ("primary", "vendor_service"),
            ("fallback", "vendor_service"),
            ("region", "cloud_region"),
            ("backup", "capability"),
            ("tapes", "vendor_service"),
            ("empty", "capability"),  # no provider: down with nothing failed
        ],
        [
            ("s", "app"),
            ("app", "platform"),
            ("platform", "hosting"),
            ("platform", "backup"),
            ("hosting", "primary"),
            ("hosting", "fallback"),
            ("primary", "region"),
            ("fallback", "region"),
            ("backup", "tapes"),
            ("backup", "empty"),
        ],
    )
    report = checked(g)["s"]
    assert not report.down
    assert report.spof("region").defeats == ("hosting",)
    assert report.spof("region").witness == ("region", "primary", "hosting", "platform", "app", "s")
    assert [(gap.node, gap.unmet) for gap in report.gaps] == [("empty", True)]


def test_a_node_no_chosen_service_depends_on_is_not_a_spof():
    doc = {
        "nodes": [
            *DESIGN_EXAMPLE["nodes"],
            {"id": "spare", "kind": "vendor", "name": "Depended on by nobody"},
            {"id": "svc-hr", "kind": "business_service", "name": "HR"},
            {"id": "payroll", "kind": "vendor_service", "name": "Only HR needs it"},
        ],
        "edges": [*DESIGN_EXAMPLE["edges"], {"from": "svc-hr", "to": "payroll"}],
    }
    g = parse_json(doc)
    # Every service: "spare" is below none of them.
    reports = checked(g)
    assert reports["svc-pay"].spof("spare") is None
    assert reports["svc-pay"].spofs.witness("spare") is None
    assert reports["svc-pay"].spof("payroll") is None  # HR's, not Payments'
    assert reports["svc-hr"].spof_ids == {"payroll"}
    # Payments alone: payroll is then below no chosen service either.
    [pay] = checked(g, ["svc-pay"]).values()
    assert pay.spof("payroll") is None and pay.spof("spare") is None
    assert pay.spof("svc-hr") is None
    assert pay.spof_ids == {"cap-host", "euw1"}


def test_witnesses_inside_a_loop_are_not_circular():
    # c and d need each other and both need o: o's failure reaches both in the same round, and
    # neither may name the other as the way it came (the witness would go round for ever).
    g = graph(
        [
            ("s", "business_service"),
            ("c", "component"),
            ("d", "component"),
            ("o", "vendor_service"),
        ],
        [("s", "c"), ("c", "d"), ("c", "o"), ("d", "c"), ("d", "o")],
    )
    report = checked(g)["s"]
    assert report.spof_ids == {"c", "d", "o"}
    assert [s.witness for s in report.spofs] == [("c", "s"), ("d", "c", "s"), ("o", "c", "s")]


def test_a_node_does_not_defeat_itself_inside_a_loop():
    # c uses d or e, and both need c back: c's own failure takes out both alternatives, but a
    # node is not its own common cause. The region under both their suppliers is one.
    g = graph(
        [
            ("s", "business_service"),
            ("c", "capability", "any"),
            ("d", "component"),
            ("e", "component"),
            ("p", "vendor_service"),
            ("q", "vendor_service"),
            ("r", "cloud_region"),
        ],
        [
            ("s", "c"),
            ("c", "d"),
            ("c", "e"),
            ("d", "c"),
            ("d", "p"),
            ("e", "c"),
            ("e", "q"),
            ("p", "r"),
            ("q", "r"),
        ],
    )
    report = checked(g)["s"]
    assert report.spof_ids == {"c", "r"}
    assert report.spof("c").defeats == ()
    assert report.spof("r").defeats == ("c",)


def test_an_all_node_inside_a_loop_is_never_defeated():
    # c needs both d and e (no alternatives), so the region under both is a plain SPOF.
    g = graph(
        [
            ("s", "business_service"),
            ("c", "component"),
            ("d", "component"),
            ("e", "component"),
            ("r", "cloud_region"),
        ],
        [("s", "c"), ("c", "d"), ("c", "e"), ("d", "c"), ("d", "r"), ("e", "c"), ("e", "r")],
    )
    report = checked(g)["s"]
    assert report.spof_ids == {"c", "d", "e", "r"}
    assert all(spof.defeats == () for spof in report.spofs)


def test_an_alternative_down_with_nothing_failed_inside_a_loop_is_neither_a_way_nor_a_defeat():
    # c uses `dead` (no provider) or d; d needs c and p. Only d counts, so p is a SPOF through
    # d (not through the dead alternative, listed first) and defeats nothing.
    g = graph(
        [
            ("s", "business_service"),
            ("c", "capability", "any"),
            ("dead", "capability"),
            ("d", "component"),
            ("p", "vendor_service"),
        ],
        [("s", "c"), ("c", "dead"), ("c", "d"), ("d", "c"), ("d", "p")],
    )
    report = checked(g)["s"]
    assert report.spof_ids == {"c", "d", "p"}
    assert report.spof("p").witness == ("p", "d", "c", "s")
    assert all(spof.defeats == () for spof in report.spofs)
    assert [(gap.node, gap.unmet) for gap in report.gaps] == [("dead", True)]


def test_an_alternative_down_with_nothing_failed_is_not_the_way_a_failure_comes():
    # Outside loops: the witness of r skips the dead alternative listed first.
    g = graph(
        [
            ("s", "business_service"),
            ("c", "capability", "any"),
            ("dead", "capability"),
            ("a", "vendor_service"),
            ("r", "cloud_region"),
        ],
        [("s", "c"), ("c", "dead"), ("c", "a"), ("a", "r")],
    )
    report = checked(g)["s"]
    assert report.spof("r").witness == ("r", "a", "c", "s")
    assert report.spofs.witness("a") == ("a", "c", "s")


def test_a_loop_down_with_nothing_failed_is_listed_in_the_gaps_of_a_service_still_up():
    # s uses a or the loop (lq needs lp, lp needs lq and a capability with no provider): the
    # whole loop is down with nothing failed, and each member is a gap of s.
    g = graph(
        [
            ("s", "business_service"),
            ("cap", "capability", "any"),
            ("a", "vendor_service"),
            ("lq", "component"),
            ("lp", "component"),
            ("dead", "capability"),
        ],
        [("s", "cap"), ("cap", "a"), ("cap", "lq"), ("lq", "lp"), ("lp", "lq"), ("lp", "dead")],
    )
    report = checked(g)["s"]
    assert not report.down and report.spof_ids == {"cap", "a"}
    assert [(gap.node, gap.unmet, gap.because) for gap in report.gaps] == [
        ("dead", True, ()),
        ("lq", False, ("lp",)),
        ("lp", False, ("lq", "dead")),
    ]


def test_a_loop_of_k_of_n_nodes_holds_up_until_too_many_alternatives_go():
    # Two sites, each 2-of-3 over its own feeds and the other site: one feed lost is fine, the
    # shared substation under two feeds of site a is a SPOF of a (and defeats it).
    g = graph(
        [
            ("s", "business_service"),
            ("a", "facility", 2),
            ("b", "facility", 2),
            ("a1", "vendor_service"),
            ("a2", "vendor_service"),
            ("b1", "vendor_service"),
            ("b2", "vendor_service"),
            ("sub", "geo_region"),
        ],
        [
            ("s", "a"),
            ("a", "a1"),
            ("a", "a2"),
            ("a", "b"),
            ("b", "b1"),
            ("b", "b2"),
            ("b", "a"),
            ("a1", "sub"),
            ("a2", "sub"),
        ],
    )
    report = checked(g)["s"]
    assert report.spof_ids == {"a", "sub"}
    assert report.spof("sub").defeats == ("a",)


def test_k_of_n_counts_each_alternative_once():
    # 2 of 4 links: down once 3 are. r1 is under three of them, r2 under two.
    g = graph(
        [
            ("s", "business_service"),
            ("links", "capability", 2),
            ("w", "vendor_service"),
            ("x", "vendor_service"),
            ("y", "vendor_service"),
            ("z", "vendor_service"),
            ("r1", "cloud_region"),
            ("r2", "cloud_region"),
        ],
        [
            ("s", "links"),
            ("links", "w"),
            ("links", "x"),
            ("links", "y"),
            ("links", "z"),
            ("w", "r1"),
            ("x", "r1"),
            ("y", "r1"),
            ("y", "r2"),
            ("z", "r2"),
        ],
    )
    report = checked(g)["s"]
    assert report.spof_ids == {"links", "r1"}
    assert report.spof("r1").defeats == ("links",)


def test_k_of_n_with_alternatives_down_with_nothing_failed():
    # 2 of 3, one of them without a provider: the two left are both needed.
    g = graph(
        [
            ("s", "business_service"),
            ("links", "capability", 2),
            ("dead", "capability"),
            ("x", "vendor_service"),
            ("y", "vendor_service"),
        ],
        [("s", "links"), ("links", "dead"), ("links", "x"), ("links", "y")],
    )
    report = checked(g)["s"]
    assert report.spof_ids == {"links", "x", "y"}
    assert [gap.node for gap in report.gaps] == ["dead"]


def test_services_down_with_nothing_failed():
    # k larger than the dependencies (a stored graph can get there), a capability without a
    # provider, a fallback outside the RTO, and a service in a loop that needs what is down.
    g = DependencyGraph(
        [
            Node("too-few", "business_service", "Too few", 3),
            Node("empty", "business_service", "Needs a provider", "any"),
            Node("slow", "business_service", "Slow fallback", "any", {"rto_hours": 1}),
            Node("looped", "business_service", "In a loop"),
            Node("helper", "component", "Needs the looped service and too-few"),
            Node("a", "vendor_service", "A"),
            Node("b", "vendor_service", "B"),
        ],
        [
            Edge("too-few", "a"),
            Edge("too-few", "b"),
            Edge("slow", "b", 8.0),
            Edge("looped", "helper"),
            Edge("helper", "looped"),
            Edge("helper", "too-few"),
        ],
    )
    reports = checked(g)
    assert all(report.down for report in reports.values())
    assert [(gap.node, gap.required, gap.counted) for gap in reports["too-few"].gaps] == [
        ("too-few", 3, 2)
    ]
    assert [gap.node for gap in reports["empty"].gaps] == ["empty"]
    assert [gap.node for gap in reports["slow"].gaps] == ["slow"]
    assert [gap.node for gap in reports["looped"].gaps] == ["too-few", "helper"]


def test_a_service_inside_a_loop_and_one_with_no_dependencies():
    g = graph(
        [
            ("s", "business_service"),
            ("t", "business_service"),
            ("lone", "business_service"),
            ("shared", "component"),
            ("v", "vendor_service"),
        ],
        [("s", "shared"), ("shared", "s"), ("t", "shared"), ("shared", "v")],
    )
    reports = checked(g)
    assert reports["s"].spof_ids == {"shared", "v"}
    assert reports["t"].spof_ids == {"shared", "s", "v"}
    assert reports["t"].spof("s").witness == ("s", "shared", "t")
    assert reports["lone"].spof_ids == frozenset() and len(reports["lone"].spofs) == 0
    assert tuple(reports["lone"].spofs) == ()


def test_a_node_that_depends_on_itself():
    g = graph(
        [
            ("s", "business_service"),
            ("self-all", "component"),
            ("self-any", "capability", "any"),
            ("v", "vendor_service"),
            ("w", "vendor_service"),
        ],
        [
            ("s", "self-all"),
            ("s", "self-any"),
            ("self-all", "self-all"),
            ("self-all", "v"),
            ("self-any", "self-any"),
            ("self-any", "w"),
        ],
    )
    # self-any holds itself up when w goes: w is not a SPOF.
    assert checked(g)["s"].spof_ids == {"self-all", "v", "self-any"}


def test_no_services_and_no_chosen_services():
    g = graph([("a", "component"), ("b", "vendor")], [("a", "b")])
    assert bit_reports(g) == [] == brute_force_reports(g)
    assert bit_reports(parse_json(DESIGN_EXAMPLE), []) == []


def test_services_with_many_spofs_and_many_gaps():
    # More than fits the bit-by-bit reading of a set: a chain of 40 nodes below the service, and
    # a redundant branch whose 40 nodes are all down with nothing failed (gaps).
    chain = [f"c{i:02}" for i in range(40)]
    broken = [f"b{i:02}" for i in range(40)]
    g = graph(
        [
            ("s", "business_service"),
            ("cap", "capability", "any"),
            ("a", "vendor_service"),
            *((x, "component") for x in chain + broken),
            ("empty", "capability"),
        ],
        [
            ("s", "cap"),
            ("cap", "a"),
            ("cap", "b00"),
            ("s", "c00"),
            *pairwise(chain),
            *pairwise([*broken, "empty"]),
        ],
    )
    report = checked(g)["s"]
    assert report.spof_ids == {"cap", "a", *chain}
    assert report.spof("c39").witness == (*reversed(chain), "s")
    assert [gap.node for gap in report.gaps] == ["empty", *broken]


def test_thresholds_share_answers_only_where_the_graph_below_is_the_same():
    # Three RTOs: the 2 h fallback counts for the 4 h service and the one without an RTO, not
    # for the 1 h service. The deep region is seen the same way by all three.
    g = graph(
        [
            ("quick", "business_service", None, {"rto_hours": 1}),
            ("mid", "business_service", None, {"rto_hours": 4}),
            ("any-time", "business_service"),
            ("cap", "capability"),
            ("a", "vendor_service"),
            ("b", "vendor_service"),
            ("c", "vendor_service"),
            ("far", "cloud_region"),
            ("near", "cloud_region"),
        ],
        [
            ("quick", "cap"),
            ("mid", "cap"),
            ("any-time", "cap"),
            ("cap", "a"),
            ("cap", "b", 2),
            ("cap", "c", 24),
            ("a", "near"),
            ("b", "near"),
            ("c", "far"),
        ],
    )
    reports = checked(g)
    assert reports["quick"].spof_ids == {"cap", "a", "near"}
    assert reports["mid"].spof_ids == {"cap", "near"}
    assert reports["mid"].spof("near").defeats == ("cap",)
    assert reports["any-time"].spof_ids == {"cap"}


def _loopy_graph(seed: int) -> DependencyGraph:
    """A small graph dense in what the bit programme handles apart: loops, k-of-n and `any`
    nodes, nodes down with nothing failed, shared regions, and three RTOs."""
    rng = random.Random(seed)
    n = rng.randint(4, 11)
    services = rng.randint(1, 3)
    deps: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for _ in range(rng.choice([0, 1, 2, 2, 3, 4])):
            # Mostly downwards, with a loop back now and then.
            t = (
                rng.randint(0, n - 1)
                if rng.random() < 0.3
                else rng.randint(min(i + 1, n - 1), n - 1)
            )
            if t not in deps[i]:
                deps[i].append(t)
    nodes = []
    for i in range(n):
        options: list = ["all", "any"]
        if deps[i]:
            options.append(rng.randint(1, len(deps[i])))
        requires = rng.choice(options)
        if i < services:
            fields = {"rto_hours": rng.choice([None, 1.0, 4.0])}
            nodes.append(Node(f"n{i}", "business_service", f"S{i}", requires, fields))
        else:
            nodes.append(Node(f"n{i}", "component", f"N{i}", requires))
    edges = [
        Edge(f"n{i}", f"n{t}", rng.choice([0.0, 0.0, 2.0, 8.0])) for i in range(n) for t in deps[i]
    ]
    return DependencyGraph(nodes, edges)


@pytest.mark.parametrize("block", range(4))
def test_the_bit_programme_agrees_with_brute_force_on_fixed_random_graphs(block):
    # Seeded, so that the same graphs are checked on every run (the property tests draw anew).
    for seed in range(block * 100, block * 100 + 100):
        checked(_loopy_graph(seed))


def test_more_distinct_rtos_than_one_plan_holds():
    # The plan keeps RTOs as bits of a 64-bit integer; with more, services go in blocks. A slow
    # fallback makes the RTO matter: services whose RTO is under its switchover lose it.
    count = PLAN_MAX_THRESHOLDS * 2 + 5
    nodes = [
        Node(f"s{i}", "business_service", f"S{i}", "all", {"rto_hours": i / 4})
        for i in range(count)
    ]
    g = DependencyGraph(
        [*nodes, Node("cap", "capability", "", "any"), Node("v", "vendor"), Node("w", "vendor")],
        [
            *(Edge(f"s{i}", "cap") for i in range(count)),
            Edge("cap", "v"),
            Edge("cap", "w", switchover_hours=count / 8),
        ],
    )
    reports = checked(g)
    assert list(reports) == [f"s{i}" for i in range(count)]
    assert {s for s, r in reports.items() if r.spof_ids == {"cap", "v"}} == {
        f"s{i}" for i in range(count) if i / 4 < count / 8
    }
    with programme_limit(0):  # the dictionary form too
        same_answer(spof_reports(g), brute_force_reports(g))
