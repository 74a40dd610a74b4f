"""Real supply chains (Willems 2008, ../shared/data/willems_2008): they convert, import, and the
fast SPOF engine agrees with brute force on every one of them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.unit.graph.helpers import assert_valid_witnesses, same_answer
from vendor_portal.graph.domain.interchange import InvalidGraph, parse_json, to_json
from vendor_portal.graph.domain.model import NodeKind
from vendor_portal.graph.domain.spof import brute_force_reports, spof_reports
from vendor_portal.graph.domain.willems import read_chain, to_interchange


def chains(shared_data: Path) -> list[Path]:
    found = sorted((shared_data / "willems_2008").glob("*.csv"))
    if not found:
        pytest.skip("no Willems chains in the shared data")
    return found


def load(path: Path, alternatives=()):
    return parse_json(to_interchange(read_chain(path.read_bytes(), path.name), alternatives))


def test_chain_01_maps_stages_and_arcs(shared_data):
    path = shared_data / "willems_2008" / "01.csv"
    chain = read_chain(path.read_bytes(), path.name)
    assert len(chain.stages) == 8 and len(chain.arcs) == 10
    g = load(path)
    # Retail stages are the demand stages: business services.
    retail = {n.id for n in g.nodes if n.attributes["stage_classification"] == "Retail"}
    assert retail == {n.id for n in g.nodes if n.kind == NodeKind.BUSINESS_SERVICE}
    # An arc Manuf_0001 -> Retail_0001 (material flows downstream) means Retail_0001 depends
    # on Manuf_0001.
    assert ("Retail_0001", "Manuf_0001") in {(e.source, e.target) for e in g.edges}
    assert g.node("Manuf_0001").kind == NodeKind.FACILITY
    assert {n.kind for n in g.nodes if n.id.startswith("Part")} == {NodeKind.COMPONENT}
    assert all(n.requires == "all" for n in g.nodes)


def test_chains_without_retail_end_in_business_services_too(shared_data):
    g = load(shared_data / "willems_2008" / "04.csv")  # ends at distribution
    services = [n for n in g.nodes if n.kind == NodeKind.BUSINESS_SERVICE]
    assert services and {n.attributes["stage_classification"] for n in services} == {"Dist"}
    dependants = {e.target for e in g.edges}
    assert not any(n.id in dependants for n in services)  # nothing downstream of them


@pytest.mark.parametrize("alternatives", [(), ("Dist", "Manuf", "Retail")], ids=["all", "any"])
def test_fast_agrees_with_brute_force_on_every_chain(shared_data, alternatives):
    for path in chains(shared_data):
        g = load(path, alternatives)
        fast, brute = spof_reports(g), brute_force_reports(g)
        same_answer(fast, brute)
        for report in fast:
            assert_valid_witnesses(g, report)


def test_alternatives_reduce_the_spofs(shared_data):
    path = shared_data / "willems_2008" / "07.csv"
    strict = sum(len(r.spofs) for r in spof_reports(load(path)))
    lenient = sum(len(r.spofs) for r in spof_reports(load(path, ["Manuf", "Retail"])))
    assert lenient < strict


def test_a_chain_round_trips_through_the_interchange_format(shared_data):
    g = load(shared_data / "willems_2008" / "19.csv")
    again = parse_json(to_json(g))
    assert [n.id for n in again.nodes] == [n.id for n in g.nodes]
    assert len(again.edges) == len(g.edges) == 263


def test_the_largest_chain_is_analysed_well_under_a_second(shared_data):
    path = max(chains(shared_data), key=lambda p: len(read_chain(p.read_bytes()).stages))
    g = load(path)
    best = min(_timed(lambda: spof_reports(load(path))) for _ in range(3))
    assert len(g) >= 150
    assert best < 0.5, f"{path.name}: {best:.3f} s"


def _timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def test_a_file_that_is_not_a_chain_is_refused():
    with pytest.raises(InvalidGraph) as caught:
        read_chain(b"id,kind\na,vendor\n", "nodes.csv")
    assert "is not a Willems chain" in str(caught.value)
