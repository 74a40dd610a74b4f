from tests.unit.graph.helpers import DESIGN_EXAMPLE, graph
from vendor_portal.graph.domain.interchange import parse_json
from vendor_portal.graph.domain.spof import spof_reports
from vendor_portal.graph.domain.words import explain_gap, explain_spof


def test_a_common_cause_is_named_as_under_both_primary_and_fallback():
    g = parse_json(DESIGN_EXAMPLE)
    [report] = spof_reports(g)
    assert explain_spof(g, "svc-pay", report.spof("euw1")) == (
        "eu-west-1 hosts both the primary (Acme Cloud) and the fallback (Beta Cloud) of "
        "Payments hosting, which Card payments needs."
    )
    assert explain_spof(g, "svc-pay", report.spof("cap-host")) == (
        "Card payments needs Payments hosting."
    )


def test_a_fallback_too_slow_for_the_rto_is_explained():
    doc = {**DESIGN_EXAMPLE, "edges": [dict(e) for e in DESIGN_EXAMPLE["edges"]]}
    doc["edges"][2]["switchover_hours"] = 6
    g = parse_json(doc)
    [report] = spof_reports(g)
    assert explain_spof(g, "svc-pay", report.spof("euw1")) == (
        "Card payments needs Payments hosting, which has no alternative to Acme Cloud within "
        "the 4 h RTO, which needs eu-west-1. Payments hosting: Beta Cloud takes 6 h to switch "
        "over, longer than the 4 h RTO."
    )


def test_no_fallback_at_all_is_said_plainly():
    g = graph(
        [
            ("s", "business_service", None, {"name": "Payroll"}),
            ("c", "capability", None, {"name": "Payroll processing"}),
            ("v", "vendor_service", None, {"name": "PayrollPro"}),
        ],
        [("s", "c"), ("c", "v")],
    )
    [report] = spof_reports(g)
    assert explain_spof(g, "s", report.spof("v")) == (
        "Payroll needs Payroll processing, which has no fallback for PayrollPro."
    )


def test_gaps_in_words():
    g = graph(
        [
            ("t", "business_service", None, {"name": "Trading", "rto_hours": 1}),
            ("feeds", "capability", 2, {"name": "Price feeds"}),
            ("a", "vendor_service", None, {"name": "Feed A"}),
            ("b", "component", None, {"name": "Feed B"}),
            ("none", "capability", None, {"name": "Settlement"}),
        ],
        [("t", "feeds"), ("t", "none"), ("feeds", "a"), ("feeds", "b", 48)],
    )
    [report] = spof_reports(g)
    texts = [explain_gap(g, "t", gap) for gap in report.gaps]
    assert texts == [
        "Price feeds needs 2 of its alternatives but only 1 can run within the 1 h RTO of "
        "Trading: Feed B takes 48 h to switch over.",
        "Settlement has no provider at all.",
    ]


def test_a_node_down_because_of_a_gap_says_so():
    g = graph(
        [
            ("s", "business_service", None, {"name": "Payroll"}),
            ("p", "component", None, {"name": "HR platform"}),
            ("c", "capability", None, {"name": "Identity"}),
        ],
        [("s", "p"), ("p", "c")],
    )
    [report] = spof_reports(g)
    assert [explain_gap(g, "s", gap) for gap in report.gaps] == [
        "Identity has no provider at all.",
        "HR platform is down with nothing failed: it needs Identity, which is down.",
    ]
