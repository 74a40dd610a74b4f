"""Failure propagation: the least fixed point of DESIGN.md."""

from tests.unit.graph.helpers import graph


def down_ids(g, failed, threshold=None):
    """The down set, by both routes: node by node, and in waves over arrays (scenarios)."""
    eff = g.effective(threshold)
    positions = [g.index[f] for f in failed]
    down = eff.down(positions)
    in_waves = eff.down_array(positions)
    assert [bool(d) for d in down] == in_waves.tolist()
    return {g.nodes[i].id for i in range(len(g)) if down[i]}


def test_all_needs_every_dependency_any_needs_one():
    g = graph(
        [
            ("s", "business_service"),
            ("c", "capability"),
            ("a", "vendor_service"),
            ("b", "vendor_service"),
        ],
        [("s", "c"), ("c", "a"), ("c", "b", 1)],
    )
    assert down_ids(g, ["a"]) == {"a"}
    assert down_ids(g, ["a", "b"]) == {"a", "b", "c", "s"}


def test_k_of_n_goes_down_when_more_than_n_minus_k_are_down():
    g = graph(
        [
            ("links", "capability", 2),
            ("x", "vendor_service"),
            ("y", "vendor_service"),
            ("z", "vendor_service"),
        ],
        [("links", "x"), ("links", "y"), ("links", "z")],
    )
    assert down_ids(g, ["x"]) == {"x"}
    assert down_ids(g, ["x", "z"]) == {"x", "z", "links"}


def test_nodes_in_a_loop_stay_up_until_something_reaches_them():
    # Identity needs the network, the network's management needs identity.
    g = graph(
        [("idp", "component"), ("net", "component"), ("carrier", "vendor_service")],
        [("idp", "net"), ("net", "idp"), ("net", "carrier")],
    )
    assert down_ids(g, []) == set()
    assert down_ids(g, ["carrier"]) == {"carrier", "net", "idp"}


def test_alternatives_that_back_each_other_up_hold_each_other_up():
    # a and b are each other's fallback and each also needs its own supplier. The down set is
    # the *smallest* closed set: with both suppliers failed, a still counts b as up and b counts
    # a, so both stay up. That is the least fixed point of DESIGN.md (a running system: nothing
    # reached them); the loop is reported as a restoration-order risk instead.
    g = graph(
        [
            ("a", "capability", "any"),
            ("b", "capability", "any"),
            ("sa", "vendor_service"),
            ("sb", "vendor_service"),
        ],
        [("a", "sa"), ("a", "b"), ("b", "sb"), ("b", "a")],
    )
    assert down_ids(g, ["sa"]) == {"sa"}
    assert down_ids(g, ["sa", "sb"]) == {"sa", "sb"}
    assert down_ids(g, ["a"]) == {"a"}  # b still has its supplier
    assert down_ids(g, ["a", "sb"]) == {"a", "sb", "b"}
    assert [sorted(g.ids(loop)) for loop in g.loops()] == [["a", "b"]]


def test_switchover_slower_than_the_threshold_does_not_count():
    g = graph(
        [("c", "capability"), ("primary", "vendor_service"), ("fallback", "vendor_service")],
        [("c", "primary"), ("c", "fallback", 8)],
    )
    assert down_ids(g, ["primary"], threshold=None) == {"primary"}
    assert down_ids(g, ["primary"], threshold=8) == {"primary"}
    assert down_ids(g, ["primary"], threshold=4) == {"primary", "c"}


def test_switchover_has_no_effect_on_an_all_node():
    g = graph([("v", "vendor_service"), ("r", "cloud_region")], [("v", "r", 48)])
    assert down_ids(g, [], threshold=1) == set()
    assert down_ids(g, ["r"], threshold=1) == {"r", "v"}


def test_unmet_requirements_are_down_with_nothing_failed():
    g = graph(
        [
            ("s", "business_service"),
            ("empty", "capability"),  # no provider at all
            ("slow", "capability", "any"),
            ("late", "vendor_service"),
        ],
        [("s", "empty"), ("slow", "late", 10)],
    )
    assert down_ids(g, []) == {"empty", "s"}
    assert down_ids(g, [], threshold=4) == {"empty", "s", "slow"}
