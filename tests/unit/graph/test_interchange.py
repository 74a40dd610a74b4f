import json

import pytest

from tests.unit.graph.helpers import DESIGN_EXAMPLE
from vendor_portal.graph.domain.interchange import (
    InvalidGraph,
    parse_csv,
    parse_json,
    to_csv,
    to_document,
    to_json,
)


def problems_of(call, *args) -> list[str]:
    with pytest.raises(InvalidGraph) as caught:
        call(*args)
    return [str(p) for p in caught.value.problems]


def test_the_design_example_reads_with_kind_defaults():
    g = parse_json(json.dumps(DESIGN_EXAMPLE))
    assert [n.id for n in g.nodes] == ["svc-pay", "cap-host", "vs-acme", "vs-beta", "euw1"]
    assert g.node("cap-host").requires == "any"
    assert g.node("vs-acme").requires == "all"  # the default outside capabilities
    assert g.node("svc-pay").rto_hours == 4.0
    assert g.node("svc-pay").attributes["mtd_hours"] == 24
    assert [(e.source, e.target, e.switchover_hours) for e in g.edges][2] == (
        "cap-host",
        "vs-beta",
        2.0,
    )


def test_a_capability_defaults_to_any_even_without_requires():
    g = parse_json(
        {
            "nodes": [{"id": "c", "kind": "capability"}, {"id": "a", "kind": "vendor"}],
            "edges": [{"from": "c", "to": "a"}],
        }
    )
    assert g.node("c").requires == "any"


def test_other_fields_are_kept_and_written_back():
    doc = {
        "nodes": [{"id": "f", "kind": "facility", "name": "DUB-2", "country": "ie", "tier": 3}],
        "edges": [],
    }
    g = parse_json(doc)
    assert g.node("f").attributes == {"country": "IE", "tier": 3}
    assert to_document(g)["nodes"][0] == {
        "id": "f",
        "kind": "facility",
        "name": "DUB-2",
        "requires": "all",
        "country": "IE",
        "tier": 3,
    }


def test_json_round_trip_is_stable():
    g = parse_json(DESIGN_EXAMPLE)
    again = parse_json(to_json(g))
    assert to_document(again) == to_document(g)


def test_csv_pair_round_trip_gives_the_same_graph():
    g = parse_json(DESIGN_EXAMPLE)
    nodes_csv, edges_csv = to_csv(g)
    assert nodes_csv.splitlines()[0].startswith("id,kind,name,requires")
    assert edges_csv.splitlines()[0] == "from,to,switchover_hours"
    again = parse_csv(nodes_csv, edges_csv)
    assert to_document(again) == to_document(g)


def test_csv_accepts_a_byte_order_mark_and_k_as_text():
    nodes = (
        "\ufeffid,kind,requires\nlinks,capability,2\n"
        "a,vendor_service,\nb,vendor_service,\nc,vendor_service,\n"
    )
    edges = "from,to,switchover_hours\nlinks,a,0\nlinks,b,\nlinks,c,6\n"
    g = parse_csv(nodes.encode("utf-8"), edges.encode("utf-8"))
    assert g.node("links").requires == 2
    assert g.k[g.index["links"]] == 2
    assert [e.switchover_hours for e in g.edges] == [0.0, 0.0, 6.0]


def test_unknown_kind_is_named_with_its_position_and_id():
    doc = {"nodes": [{"id": "x", "kind": "datacenter"}], "edges": []}
    [problem] = problems_of(parse_json, doc)
    assert problem.startswith("nodes[0] (id 'x'): unknown kind 'datacenter'")
    assert "facility" in problem  # the accepted kinds are listed


def test_dangling_edge_names_the_missing_end():
    doc = {"nodes": [{"id": "a", "kind": "vendor"}], "edges": [{"from": "a", "to": "ghost"}]}
    assert problems_of(parse_json, doc) == [
        "edges[0] (a -> ghost): to 'ghost' is not a node in this file"
    ]


def test_duplicate_id_names_both_places():
    doc = {
        "nodes": [
            {"id": "a", "kind": "vendor"},
            {"id": "b", "kind": "vendor"},
            {"id": "a", "kind": "facility"},
        ],
        "edges": [],
    }
    assert problems_of(parse_json, doc) == ["nodes[2]: duplicate id 'a' (first at nodes[0])"]


def test_k_larger_than_the_dependencies_is_refused():
    doc = {
        "nodes": [
            {"id": "carriers", "kind": "capability", "requires": 3},
            {"id": "a", "kind": "vendor_service"},
            {"id": "b", "kind": "vendor_service"},
        ],
        "edges": [{"from": "carriers", "to": "a"}, {"from": "carriers", "to": "b"}],
    }
    assert problems_of(parse_json, doc) == [
        "nodes[0] (id 'carriers'): requires 3 of its dependencies but has only 2"
    ]


@pytest.mark.parametrize(
    ("node_field", "edge_field", "message"),
    [
        ({"rto_hours": -1}, {}, "rto_hours must not be negative (got -1)"),
        ({"rto_hours": "soon"}, {}, "rto_hours 'soon' is not a number"),
        ({"downtime_cost_per_hour": True}, {}, "downtime_cost_per_hour True is not a number"),
        ({}, {"switchover_hours": -2}, "switchover_hours must not be negative (got -2)"),
        ({}, {"switchover_hours": "2h"}, "switchover_hours '2h' is not a number"),
    ],
)
def test_negative_or_non_numeric_times_are_refused(node_field, edge_field, message):
    doc = {
        "nodes": [
            {"id": "s", "kind": "business_service", **node_field},
            {"id": "c", "kind": "capability"},
        ],
        "edges": [{"from": "s", "to": "c"}, {"from": "c", "to": "s", **edge_field}],
    }
    problems = problems_of(parse_json, doc)
    assert len(problems) == 1 and message in problems[0]


def test_bad_requires_and_repeated_edges_are_refused():
    doc = {
        "nodes": [{"id": "a", "kind": "capability", "requires": 0}, {"id": "b", "kind": "vendor"}],
        "edges": [{"from": "b", "to": "b"}, {"from": "b", "to": "b"}],
    }
    assert problems_of(parse_json, doc) == [
        "nodes[0] (id 'a'): requires 0 must be 'all', 'any' or a positive integer",
        "edges[1]: repeats the edge b -> b (first at edges[0])",
    ]


def test_every_problem_is_reported_at_once():
    doc = {
        "nodes": [{"id": "a", "kind": "nope"}, {"kind": "vendor"}, {"id": 7, "kind": "vendor"}],
        "edges": [{"from": "a", "to": "zzz"}, {"to": "a"}],
    }
    problems = problems_of(parse_json, doc)
    assert problems == [
        "nodes[0] (id 'a'): unknown kind 'nope'; expected one of business_service, capability, "
        "cloud_region, component, facility, geo_region, vendor, vendor_service",
        "nodes[1]: has no id",
        "nodes[2]: id 7 must be a string",
        "edges[0] (a -> zzz): to 'zzz' is not a node in this file",
        "edges[1]: needs 'from' (node ids)",
    ]


def test_csv_problems_name_the_line():
    nodes = "id,kind\nsvc,business_service\ncap,capabilty\nsvc,vendor\n"
    edges = "from,to,switchover_hours\nsvc,cap,\ncap,missing,1\n"
    problems = problems_of(parse_csv, nodes, edges)
    assert problems[0].startswith("nodes.csv line 3 (id 'cap'): unknown kind 'capabilty'")
    assert problems[1] == "nodes.csv line 4: duplicate id 'svc' (first at nodes.csv line 2)"
    assert (
        problems[2] == "edges.csv line 3 (cap -> missing): to 'missing' is not a node in this file"
    )
    # The edge to the rejected node is not reported a second time as dangling.
    assert len(problems) == 3


def test_csv_without_the_needed_columns_says_which():
    assert problems_of(parse_csv, "name,type\nx,vendor\n", None) == [
        "nodes.csv line 1: has no 'id', 'kind' column (found: name, type)"
    ]


def test_malformed_json_is_explained():
    [problem] = problems_of(parse_json, '{"nodes": [')
    assert problem.startswith("file: is not valid JSON")
    assert problems_of(parse_json, "[1, 2]") == [
        'file: must be a JSON object with "nodes" and "edges"'
    ]
    assert problems_of(parse_json, {"nodes": {}}) == [
        'file: "nodes" must be a list of node objects'
    ]


def test_a_loop_is_accepted():
    doc = {
        "nodes": [{"id": "idp", "kind": "component"}, {"id": "net", "kind": "component"}],
        "edges": [{"from": "idp", "to": "net"}, {"from": "net", "to": "idp"}],
    }
    g = parse_json(doc)
    assert [sorted(g.ids(loop)) for loop in g.loops()] == [["idp", "net"]]


def test_file_formats_are_recognised():
    from vendor_portal.graph.domain.files import detect_format

    assert detect_format(b'  {"nodes": []}', "x.txt", False) == "json"
    assert detect_format(b"id,kind\n", "graph.json", False) == "json"
    assert detect_format(b"id,kind\n", "nodes.csv", True) == "csv"
    assert (
        detect_format(b"\xef\xbb\xbf/chain,,\n/@company,/arcs/arc/@from\n", "01.csv", False)
        == "willems"
    )
    assert detect_format(b"id,kind\n", "nodes.csv", False) == "csv"
