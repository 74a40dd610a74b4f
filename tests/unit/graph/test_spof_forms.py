"""Both forms of the SPOF programme (bit sets, `spof_bits.BitProgramme`, up to
`spof.BIT_SETS_MAX_NODES` nodes; dictionaries, `spof._Programme`, above) on hand-made graphs,
each a case the random graphs of test_spof_properties.py reach only by chance, and on a fixed
set of seeded random graphs: every graph checked in full against the brute force (SPOFs,
witnesses, defeats, gaps), through every way of reading the SPOFs, and the two forms against
each other (the same witnesses). Also `single_failures` (what `fallbacks` reads) against its
definition: fail one node, propagate with every alternative counted."""

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
    single_failures,
    spof_reports,
)
from vendor_portal.graph.domain.spof_bits import BitSpofs


@contextmanager
def within(seconds: float) -> Iterator[None]:
    """Fail instead of hanging: a witness whose links run in a circle is never finished (and
    grows without bound)."""
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


def dictionary_reports(
    g: DependencyGraph, services: list[str] | None = None
) -> list[ServiceReport]:
    """The programme on dictionaries, whatever the size of the graph."""
    with programme_limit(0):
        return spof_reports(g, services)


def bit_reports(g: DependencyGraph, services: list[str] | None = None) -> list[ServiceReport]:
    with programme_limit(10**9):
        return spof_reports(g, services)


FORMS = (("bit sets", 10**9, BitSpofs), ("dictionaries", 0, Spofs))


def checked(g: DependencyGraph, services: list[str] | None = None) -> dict[str, ServiceReport]:
    """The reports of both forms of the programme, once each has passed every check against the
    brute force (the same answer, valid witnesses, the SPOFs read every way: iterated, indexed,
    sliced, one node at a time, by ids, by length, compared) and the two forms have given the
    same SPOFs with the same witnesses. Returns the dictionary form's."""
    brute = brute_force_reports(g, services)
    answers = []
    for _form, limit, kind in FORMS:
        with within(2), programme_limit(limit):
            fast = spof_reports(g, services)
            _check(g, fast, brute, kind)
        answers.append(fast)
    bits, dictionaries = answers
    for ours, theirs in zip(bits, dictionaries, strict=True):
        assert tuple(ours.spofs) == tuple(theirs.spofs), ours.service
    return by_service(dictionaries)


def _check(
    g: DependencyGraph, fast: list[ServiceReport], brute: list[ServiceReport], kind: type
) -> None:
    same_answer(fast, brute)
    for report, reference in zip(fast, brute, strict=True):
        assert report.threshold == reference.threshold
        assert_valid_witnesses(g, report)
        service = report.service
        assert report.spof(service) is None
        assert report.spof("no-such-node") is None
        if report.down:
            assert report.spofs == () and report.spof_ids == frozenset()
            continue
        spofs = report.spofs
        assert type(spofs) is kind
        found = tuple(spofs)
        assert len(spofs) == len(found) == len(report.spof_ids)
        assert {s.node for s in found} == report.spof_ids == spofs.ids
        assert service not in report.spof_ids
        # Report order: shortest witness first, then by id.
        assert list(found) == sorted(found, key=lambda s: (len(s.witness), s.node))
        assert [g.nodes[v].id for v in spofs.order] == [s.node for s in found]
        assert spofs[:] == found and spofs == found and spofs == list(found)
        assert spofs[1:] == found[1:] and spofs[::-1] == found[::-1]
        assert spofs[-2:] == found[-2:] and spofs[:1] == found[:1]
        assert hash(spofs) == hash(found) and repr(spofs) == f"Spofs({found!r})"
        for i, spof in enumerate(found):
            assert spofs[i] == spof and spofs[i - len(found)] == spof
        with pytest.raises(IndexError):
            spofs[len(found)]
        for node in g.nodes:
            one = report.spof(node.id)
            if node.id in report.spof_ids:
                assert one == next(s for s in found if s.node == node.id)
                assert spofs.witness(node.id) == one.witness
                assert spofs.find(node.id) == one
            else:
                assert one is None and spofs.witness(node.id) is None


def expected_single_failures(g: DependencyGraph, nodes: list[int]) -> dict[int, frozenset[int]]:
    """The definition: fail each node alone, every alternative counted, and see what is down."""
    eff = g.effective(None)
    base = eff.baseline
    downs = {v: eff.down([v]) for v in range(len(g)) if not base[v]}
    return {
        x: frozenset() if base[x] else frozenset(v for v, down in downs.items() if down[x])
        for x in nodes
    }


# --- hand-made graphs ----------------------------------------------------------------------------


def test_marks_travel_up_through_all_nodes_above_a_common_cause_and_a_gap():
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


def test_a_failure_is_carried_by_the_first_dependency_that_holds_it():
    # `all`: the region is under both p and q; its witness goes through p, listed first.
    g = graph(
        [
            ("s", "business_service"),
            ("app", "component"),
            ("p", "vendor_service"),
            ("q", "vendor_service"),
            ("r", "cloud_region"),
        ],
        [("s", "app"), ("app", "p"), ("app", "q"), ("p", "r"), ("q", "r")],
    )
    report = checked(g)["s"]
    assert report.spof("r").witness == ("r", "p", "app", "s")
    # The bit form follows the same rule: both give the same witnesses outside loops.
    [bits] = bit_reports(g)
    assert tuple(report.spofs) == tuple(bits.spofs)


def test_a_common_failure_of_the_live_alternatives_is_not_carried_by_a_dead_one():
    # cap uses dead (no provider), a or b; a and b share r. r is carried by a, the first live
    # alternative, not by the dead one listed before it.
    g = graph(
        [
            ("s", "business_service"),
            ("cap", "capability", "any"),
            ("dead", "capability"),
            ("a", "vendor_service"),
            ("b", "vendor_service"),
            ("r", "cloud_region"),
        ],
        [("s", "cap"), ("cap", "dead"), ("cap", "a"), ("cap", "b"), ("a", "r"), ("b", "r")],
    )
    report = checked(g)["s"]
    assert report.spof_ids == {"cap", "r"}
    assert report.spof("r").witness == ("r", "a", "cap", "s")
    assert report.spof("r").defeats == ("cap",)


def test_k_of_n_carries_a_failure_through_an_alternative_that_holds_it():
    # 2 of 3: r under y and z takes out two, x is not under it; r travels through y.
    g = graph(
        [
            ("s", "business_service"),
            ("links", "capability", 2),
            ("x", "vendor_service"),
            ("y", "vendor_service"),
            ("z", "vendor_service"),
            ("r", "cloud_region"),
        ],
        [("s", "links"), ("links", "x"), ("links", "y"), ("links", "z"), ("y", "r"), ("z", "r")],
    )
    report = checked(g)["s"]
    assert report.spof_ids == {"links", "r"}
    assert report.spof("r").witness == ("r", "y", "links", "s")
    assert report.spof("r").defeats == ("links",)


def test_n_of_n_carries_each_failure_through_the_alternative_above_it():
    # 3 of 3 is a union, like `all`, but k-of-n: r (only under y) travels through y.
    g = graph(
        [
            ("s", "business_service"),
            ("links", "capability", 3),
            ("x", "vendor_service"),
            ("y", "vendor_service"),
            ("z", "vendor_service"),
            ("r", "cloud_region"),
            ("shared", "cloud_region"),
        ],
        [
            ("s", "links"),
            ("links", "x"),
            ("links", "y"),
            ("links", "z"),
            ("y", "r"),
            ("y", "shared"),
            ("z", "shared"),
        ],
    )
    report = checked(g)["s"]
    assert report.spof_ids == {"links", "x", "y", "z", "r", "shared"}
    assert report.spof("r").witness == ("r", "y", "links", "s")
    assert report.spof("shared").witness == ("shared", "y", "links", "s")
    assert report.spof("shared").defeats == ("links",)


def test_witnesses_inside_a_loop_are_not_circular():
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


def test_a_loop_member_failed_on_its_own_carries_its_failure_round_the_loop():
    # A loop of three: each member's failure goes round it to the member the service uses.
    g = graph(
        [
            ("s", "business_service"),
            ("a", "component"),
            ("b", "component"),
            ("c", "component"),
        ],
        [("s", "a"), ("a", "b"), ("b", "c"), ("c", "a")],
    )
    report = checked(g)["s"]
    assert report.spof("a").witness == ("a", "s")
    assert report.spof("c").witness == ("c", "b", "a", "s")
    assert report.spof("b").witness == ("b", "a", "s")


def test_a_node_does_not_defeat_itself_inside_a_loop():
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


def test_a_loop_down_with_nothing_failed_is_listed_in_the_gaps_of_a_service_still_up():
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


def test_k_of_n_counts_each_alternative_once_and_skips_the_dead_ones():
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
            ("t", "business_service"),
            ("pair", "capability", 2),
            ("dead", "capability"),
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
            ("t", "pair"),
            ("pair", "dead"),
            ("pair", "x"),
            ("pair", "y"),
        ],
    )
    reports = checked(g)
    assert reports["s"].spof_ids == {"links", "r1"}
    assert reports["s"].spof("r1").defeats == ("links",)
    assert reports["t"].spof_ids == {"pair", "x", "y", "r1", "r2"}
    assert reports["t"].spof("r1").defeats == ("pair",)
    assert [gap.node for gap in reports["t"].gaps] == ["dead"]


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


def test_services_inside_a_loop_and_one_with_no_dependencies():
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
    assert reports["s"].spof("v").witness == ("v", "shared", "s")
    assert reports["t"].spof_ids == {"shared", "s", "v"}
    assert reports["t"].spof("s").witness == ("s", "shared", "t")
    assert reports["lone"].spof_ids == frozenset() and len(reports["lone"].spofs) == 0
    assert tuple(reports["lone"].spofs) == () and reports["lone"].spofs[:] == ()


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
    reports = checked(g)
    assert reports["svc-pay"].spof("spare") is None
    assert reports["svc-pay"].spofs.witness("spare") is None
    assert reports["svc-pay"].spof("payroll") is None
    assert reports["svc-hr"].spof_ids == {"payroll"}
    [pay] = checked(g, ["svc-pay"]).values()
    assert pay.spof("payroll") is None and pay.spof("spare") is None
    assert pay.spof("svc-hr") is None
    assert pay.spof_ids == {"cap-host", "euw1"}
    [hr] = checked(g, ["svc-hr"]).values()
    assert hr.spof_ids == {"payroll"} and hr.spof("euw1") is None


def test_no_services_and_no_chosen_services():
    g = graph([("a", "component"), ("b", "vendor")], [("a", "b")])
    assert dictionary_reports(g) == [] == bit_reports(g) == brute_force_reports(g)
    assert dictionary_reports(parse_json(DESIGN_EXAMPLE), []) == []
    assert bit_reports(parse_json(DESIGN_EXAMPLE), []) == []


def test_services_with_many_spofs_and_many_gaps():
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
    assert reports["quick"].spof("near").witness == ("near", "a", "cap", "quick")
    assert reports["mid"].spof_ids == {"cap", "near"}
    assert reports["mid"].spof("near").defeats == ("cap",)
    assert reports["any-time"].spof_ids == {"cap"}


def test_a_loop_broken_under_a_short_rto_is_solved_under_each_rto():
    # x uses y or, slowly, z; y and z need x back. Under 1 h only y counts (y is a SPOF, and
    # what y needs); under no RTO x has two alternatives and only the loop's own nodes are.
    g = graph(
        [
            ("quick", "business_service", None, {"rto_hours": 1}),
            ("patient", "business_service"),
            ("x", "capability", "any"),
            ("y", "component"),
            ("z", "component"),
            ("p", "vendor_service"),
            ("q", "vendor_service"),
        ],
        [
            ("quick", "x"),
            ("patient", "x"),
            ("x", "y"),
            ("x", "z", 8),
            ("y", "x"),
            ("z", "x"),
            ("y", "p"),
            ("z", "q"),
        ],
    )
    reports = checked(g)
    assert reports["quick"].spof_ids == {"x", "y", "p"}
    assert reports["quick"].spof("p").witness == ("p", "y", "x", "quick")
    assert reports["patient"].spof_ids == {"x"}


def test_more_distinct_rtos_than_one_plan_holds():
    count = PLAN_MAX_THRESHOLDS * 2 + 5
    nodes = [
        Node(f"s{i}", "business_service", f"S{i}", "all", {"rto_hours": i / 4})
        for i in range(count)
    ]
    g = DependencyGraph(
        [
            *nodes,
            Node("cap", "capability", "", "any"),
            Node("v", "vendor"),
            Node("w", "vendor"),
            Node("loop", "component"),
        ],
        [
            *(Edge(f"s{i}", "cap") for i in range(count)),
            Edge("cap", "v"),
            Edge("cap", "w", switchover_hours=count / 8),
            # A service inside a loop, among them.
            Edge("s7", "loop"),
            Edge("loop", "s7"),
        ],
    )
    reports = checked(g)
    assert list(reports) == [f"s{i}" for i in range(count)]
    assert {s for s, r in reports.items() if r.spof_ids == {"cap", "v"}} == {
        f"s{i}" for i in range(count) if i / 4 < count / 8 and i != 7
    }
    assert reports["s7"].spof_ids == {"cap", "v", "loop"}
    # A few services only, from both ends of the range of RTOs.
    chosen = ["s3", f"s{count - 1}", "s7", f"s{PLAN_MAX_THRESHOLDS + 1}"]
    assert list(checked(g, chosen)) == ["s3", "s7", f"s{PLAN_MAX_THRESHOLDS + 1}", f"s{count - 1}"]


# --- seeded random graphs ------------------------------------------------------------------------


def _random_graph(seed: int, max_nodes: int = 12, back: float = 0.3) -> DependencyGraph:
    """A small graph dense in what the programme handles apart: loops, k-of-n and `any` nodes,
    nodes down with nothing failed, shared dependencies, several RTOs and switchover times."""
    rng = random.Random(seed)
    n = rng.randint(2, max_nodes)
    services = rng.randint(1, min(4, n))
    deps: list[list[int]] = [[] for _ in range(n)]
    for i in range(n):
        for _ in range(rng.choice([0, 1, 2, 2, 3, 4])):
            # Mostly downwards, with a loop back now and then.
            t = (
                rng.randint(0, n - 1)
                if rng.random() < back
                else rng.randint(min(i + 1, n - 1), n - 1)
            )
            if t not in deps[i] and (back or t > i):  # back == 0: no loops at all
                deps[i].append(t)
    nodes = []
    for i in range(n):
        options: list = ["all", "any"]
        if deps[i]:
            options += [rng.randint(1, len(deps[i])), rng.randint(1, len(deps[i]))]
        requires = rng.choice(options)
        if i < services:
            fields = {"rto_hours": rng.choice([None, 0.5, 1.0, 4.0, 8.0])}
            nodes.append(Node(f"n{i}", "business_service", f"S{i}", requires, fields))
        else:
            nodes.append(Node(f"n{i}", "component", f"N{i}", requires))
    edges = [
        Edge(f"n{i}", f"n{t}", rng.choice([0.0, 0.0, 1.0, 2.0, 8.0]))
        for i in range(n)
        for t in deps[i]
    ]
    return DependencyGraph(nodes, edges)


@pytest.mark.parametrize("block", range(4))
def test_both_forms_agree_with_brute_force_on_fixed_random_graphs(block):
    for seed in range(block * 150, block * 150 + 150):
        g = _random_graph(seed)
        checked(g)
        # Some of the services only: classes are then numbered apart from nodes.
        services = [node.id for node in g.nodes if node.kind == "business_service"]
        checked(g, random.Random(seed).sample(services, len(services) // 2))


def test_both_forms_agree_with_brute_force_on_larger_random_graphs():
    for seed in range(1000, 1040):
        checked(_random_graph(seed, max_nodes=30, back=0.15))


def test_both_forms_give_the_same_witnesses_with_and_without_loops():
    # Both follow the same rules: outside a loop, the first counted dependency whose set holds
    # the failure; inside one, the first dependency the failure had reached a round earlier. A
    # graph's witnesses do not change when it grows past the size where the form changes.
    compared = looped = 0
    for seed in range(2000, 2300):
        for back in (0.0, 0.3):
            g = _random_graph(seed, max_nodes=20, back=back)
            assert back or not g.structure.loops
            looped += bool(g.structure.loops)
            for ours, theirs in zip(checked(g).values(), bit_reports(g), strict=True):
                assert tuple(ours.spofs) == tuple(theirs.spofs), ours.service
                compared += len(ours.spofs)
    assert compared > 800 and looped > 100


# --- single_failures -----------------------------------------------------------------------------


def test_single_failures_on_a_hand_made_graph():
    # Every alternative counts, however slow (no RTO); a node down with nothing failed has none.
    g = graph(
        [
            ("s", "business_service", None, {"rto_hours": 1}),
            ("cap", "capability", "any"),
            ("a", "vendor_service"),
            ("b", "vendor_service"),
            ("r", "cloud_region"),
            ("dead", "capability"),
            ("needs-dead", "component"),
            ("loop", "component"),
        ],
        [
            ("s", "cap"),
            ("cap", "a"),
            ("cap", "b", 8),
            ("a", "r"),
            ("needs-dead", "dead"),
            ("needs-dead", "loop"),
            ("loop", "needs-dead"),
            ("loop", "a"),
        ],
    )
    index = g.index
    got = single_failures(g, [index[x] for x in ("s", "cap", "a", "dead", "needs-dead", "loop")])
    named = {g.nodes[x].id: {g.nodes[v].id for v in found} for x, found in got.items()}
    assert named == {
        "s": {"s", "cap"},  # b counts although slower than the service's RTO
        "cap": {"cap"},
        "a": {"a", "r"},
        "dead": set(),
        "needs-dead": set(),
        "loop": set(),
    }
    assert single_failures(g, []) == {}
    # Repeats are answered once.
    assert single_failures(g, [index["a"], index["a"]]) == {
        index["a"]: frozenset({index["a"], index["r"]})
    }


@pytest.mark.parametrize("block", range(2))
def test_single_failures_agree_with_one_propagation_per_failure(block):
    for seed in range(block * 200, block * 200 + 200):
        g = _random_graph(seed, back=0.4)
        rng = random.Random(seed)
        nodes = rng.sample(range(len(g)), rng.randint(1, len(g)))
        assert single_failures(g, nodes) == expected_single_failures(g, nodes)
        # Every node at once, so that loops are solved whole.
        everyone = list(range(len(g)))
        assert single_failures(g, everyone) == expected_single_failures(g, everyone)
