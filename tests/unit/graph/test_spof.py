"""SPOF sets, witnesses, gaps, common causes and concentration on hand-made graphs."""

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
from vendor_portal.graph.domain.spof import brute_force_reports, concentration, spof_reports


def spof_reports_on_dictionaries(g, services=None):
    """The programme in the form large maps use (dictionaries, not bit sets)."""
    with programme_limit(0):
        return spof_reports(g, services)


ENGINES = [spof_reports, spof_reports_on_dictionaries, brute_force_reports]
ENGINE_IDS = ["fast", "fast-dictionaries", "brute"]


@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_design_example_the_shared_region_is_a_common_cause(engine):
    g = parse_json(DESIGN_EXAMPLE)
    [report] = engine(g)
    assert report.service == "svc-pay" and not report.down
    assert report.spof_ids == {"cap-host", "euw1"}  # the service itself is not listed
    euw1 = report.spof("euw1")
    assert euw1.common_cause and euw1.defeats == ("cap-host",)
    assert euw1.witness[0] == "euw1" and euw1.witness[-1] == "svc-pay"
    assert euw1.witness[2] == "cap-host"
    assert not report.spof("cap-host").common_cause
    assert report.gaps == ()
    assert_valid_witnesses(g, report)


@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_a_fallback_slower_than_the_rto_does_not_count(engine):
    doc = {**DESIGN_EXAMPLE, "edges": [dict(e) for e in DESIGN_EXAMPLE["edges"]]}
    doc["edges"][2]["switchover_hours"] = 6  # longer than the 4 h RTO
    [report] = engine(parse_json(doc))
    assert report.spof_ids == {"cap-host", "vs-acme", "euw1"}
    # With the fallback out of the analysis, eu-west-1 is no longer a common cause.
    assert not report.spof("euw1").common_cause


@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_a_service_without_rto_counts_every_alternative(engine):
    g = graph(
        [
            ("fast", "business_service", None, {"rto_hours": 1}),
            ("patient", "business_service"),
            ("cap", "capability"),
            ("a", "vendor_service"),
            ("b", "vendor_service"),
        ],
        [("fast", "cap"), ("patient", "cap"), ("cap", "a"), ("cap", "b", 72)],
    )
    reports = by_service(engine(g))
    assert reports["fast"].spof_ids == {"cap", "a"}
    assert reports["patient"].spof_ids == {"cap"}


@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_k_of_n_spofs_are_the_nodes_under_more_than_n_minus_k(engine):
    g = graph(
        [
            ("trading", "business_service"),
            ("links", "capability", 2),
            ("mpls", "vendor_service"),
            ("internet", "vendor_service"),
            ("satellite", "vendor_service"),
            ("carrier", "vendor"),
            ("london", "geo_region"),
        ],
        [
            ("trading", "links"),
            ("links", "mpls"),
            ("links", "internet"),
            ("links", "satellite"),
            ("mpls", "carrier"),
            ("internet", "carrier"),
            ("mpls", "london"),
        ],
    )
    [report] = engine(g)
    # One carrier behind two of the three links takes out more than 3 - 2 of them.
    assert report.spof_ids == {"links", "carrier"}
    assert report.spof("carrier").defeats == ("links",)
    assert_valid_witnesses(g, report)


@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_a_service_down_with_nothing_failed_lists_gaps_and_no_spofs(engine):
    g = graph(
        [
            ("trading", "business_service", None, {"rto_hours": 1}),
            ("feeds", "capability", 2),
            ("primary", "vendor_service"),
            ("secondary", "component"),
            ("desk", "facility"),
        ],
        [
            ("trading", "feeds"),
            ("trading", "desk"),
            ("feeds", "primary"),
            ("feeds", "secondary", 48),
        ],
    )
    [report] = engine(g)
    assert report.down and report.spofs == ()
    assert [(gap.node, gap.required, gap.counted, gap.total) for gap in report.gaps] == [
        ("feeds", 2, 1, 2)
    ]


@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_a_gap_in_a_redundant_branch_is_listed_while_the_service_is_up(engine):
    g = graph(
        [
            ("s", "business_service"),
            ("c", "capability"),
            ("a", "vendor_service"),
            ("empty", "capability"),
        ],
        [("s", "c"), ("c", "a"), ("c", "empty")],
    )
    [report] = engine(g)
    assert not report.down
    assert report.spof_ids == {"c", "a"}
    assert [gap.node for gap in report.gaps] == ["empty"]


@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_loops_members_and_what_they_need_are_spofs(engine):
    g = graph(
        [
            ("s", "business_service"),
            ("idp", "component"),
            ("net", "component"),
            ("carrier", "vendor_service"),
            ("tooling", "component"),
        ],
        [("s", "idp"), ("idp", "net"), ("net", "tooling"), ("tooling", "idp"), ("net", "carrier")],
    )
    [report] = engine(g)
    assert report.spof_ids == {"idp", "net", "tooling", "carrier"}
    assert_valid_witnesses(g, report)
    assert report.spof("carrier").witness == ("carrier", "net", "idp", "s")


@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_redundancy_inside_a_loop(engine):
    # Two sites back each other up (any), each needing its own power; the service needs site A.
    # The shared grid takes down both power feeds, but the sites still count on each other: in
    # the least fixed point they stay up, so the grid is not a SPOF (the loop is a restart risk).
    g = graph(
        [
            ("s", "business_service"),
            ("site-a", "facility", "any"),
            ("site-b", "facility", "any"),
            ("power-a", "vendor_service"),
            ("power-b", "vendor_service"),
            ("grid", "geo_region"),
        ],
        [
            ("s", "site-a"),
            ("site-a", "power-a"),
            ("site-a", "site-b", 1),
            ("site-b", "power-b"),
            ("site-b", "site-a", 1),
            ("power-a", "grid"),
            ("power-b", "grid"),
            ("s", "power-a"),
        ],
    )
    [report] = engine(g)
    assert report.spof_ids == {"site-a", "power-a", "grid"}
    assert report.spof("grid").witness == ("grid", "power-a", "s")
    assert report.spof("grid").defeats == ()
    assert_valid_witnesses(g, report)


@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_a_failure_inside_a_loop_reaches_the_service_through_it(engine):
    # a needs b; b needs c or, after a 2 h switchover, x; c needs a: a loop with a way out.
    g = graph(
        [
            ("patient", "business_service"),
            ("urgent", "business_service", None, {"rto_hours": 1}),
            ("a", "component"),
            ("b", "component", "any"),
            ("c", "component"),
            ("x", "vendor_service"),
        ],
        [("patient", "a"), ("urgent", "a"), ("a", "b"), ("b", "c"), ("b", "x", 2), ("c", "a")],
    )
    reports = by_service(engine(g))
    assert reports["patient"].spof_ids == {"a", "b"}  # b falls back on x
    assert reports["urgent"].spof_ids == {"a", "b", "c"}  # x is too slow for a 1 h RTO
    assert reports["urgent"].spof("c").witness == ("c", "b", "a", "urgent")
    for report in reports.values():
        assert_valid_witnesses(g, report)


def test_duplicate_paths_do_not_count_twice():
    # s needs x through two different capabilities: still one SPOF, found once.
    g = graph(
        [
            ("s", "business_service"),
            ("c1", "capability"),
            ("c2", "capability"),
            ("x", "vendor_service"),
        ],
        [("s", "c1"), ("s", "c2"), ("c1", "x"), ("c2", "x")],
    )
    same_answer(spof_reports(g), brute_force_reports(g))
    [report] = spof_reports(g)
    assert report.spof_ids == {"c1", "c2", "x"}


def test_concentration_sums_cost_across_services():
    g = graph(
        [
            ("pay", "business_service", None, {"downtime_cost_per_hour": 100}),
            ("bank", "business_service", None, {"downtime_cost_per_hour": 50}),
            ("cloud", "vendor_service"),
            ("region", "cloud_region"),
        ],
        [("pay", "cloud"), ("bank", "cloud"), ("cloud", "region")],
    )
    ranking = concentration(g, spof_reports(g))
    assert [(c.node, c.services, c.cost_per_hour) for c in ranking] == [
        ("cloud", ("pay", "bank"), 150.0),
        ("region", ("pay", "bank"), 150.0),
    ]


def test_services_can_be_chosen():
    g = parse_json(DESIGN_EXAMPLE)
    assert spof_reports(g, ["svc-pay"])[0].service == "svc-pay"
    assert brute_force_reports(g, []) == []


@pytest.mark.parametrize("engine", ENGINES, ids=ENGINE_IDS)
def test_gaps_list_every_node_down_with_nothing_failed_unmet_ones_first(engine):
    g = graph(
        [
            ("s", "business_service"),
            ("platform", "component"),
            ("empty", "capability"),  # no provider
            ("db", "vendor_service"),
        ],
        [("s", "platform"), ("platform", "empty"), ("platform", "db")],
    )
    [report] = engine(g)
    assert report.down and report.spofs == ()
    assert [(gap.node, gap.unmet, gap.because) for gap in report.gaps] == [
        ("empty", True, ()),
        ("platform", False, ("empty",)),
    ]


@pytest.mark.parametrize("fast_engine", ENGINES[:2], ids=ENGINE_IDS[:2])
def test_the_programme_keeps_witnesses_as_links_and_reads_them_in_report_order(fast_engine):
    g = parse_json(DESIGN_EXAMPLE)
    [fast] = fast_engine(g)
    [brute] = brute_force_reports(g)
    spofs = fast.spofs
    # The same SPOFs, witnesses and order as the reference's tuple, however they are read.
    assert spofs == brute.spofs and tuple(spofs) == brute.spofs
    assert len(spofs) == 2 and [s.node for s in spofs] == ["cap-host", "euw1"]
    assert spofs[-1] == spofs[1:][0] == brute.spofs[1]
    assert spofs.witness("euw1") == ("euw1", "vs-acme", "cap-host", "svc-pay")
    assert spofs.witness("vs-beta") is None and spofs.witness("svc-pay") is None
    assert spofs.witness("no-such-node") is None
    assert fast.spof("vs-beta") is None and fast.spof("cap-host").witness == ("cap-host", "svc-pay")
    with pytest.raises(IndexError):
        spofs[2]
