"""Small graphs for the engine's tests, and the checks every SPOF report must pass."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from itertools import pairwise
from typing import Any

from vendor_portal.graph.domain import spof as spof_module
from vendor_portal.graph.domain.interchange import parse_json
from vendor_portal.graph.domain.model import DependencyGraph
from vendor_portal.graph.domain.spof import ServiceReport

# The example of DESIGN.md: a capability with a primary and a fallback, both in eu-west-1.
DESIGN_EXAMPLE: dict[str, Any] = {
    "nodes": [
        {
            "id": "svc-pay",
            "kind": "business_service",
            "name": "Card payments",
            "rto_hours": 4,
            "mtd_hours": 24,
            "downtime_cost_per_hour": 50000,
        },
        {"id": "cap-host", "kind": "capability", "name": "Payments hosting", "requires": "any"},
        {"id": "vs-acme", "kind": "vendor_service", "name": "Acme Cloud"},
        {"id": "vs-beta", "kind": "vendor_service", "name": "Beta Cloud"},
        {"id": "euw1", "kind": "cloud_region", "name": "eu-west-1"},
    ],
    "edges": [
        {"from": "svc-pay", "to": "cap-host"},
        {"from": "cap-host", "to": "vs-acme"},
        {"from": "cap-host", "to": "vs-beta", "switchover_hours": 2},
        {"from": "vs-acme", "to": "euw1"},
        {"from": "vs-beta", "to": "euw1"},
    ],
}


def graph(nodes: list[tuple], edges: list[tuple]) -> DependencyGraph:
    """Nodes as (id, kind[, requires[, fields]]), edges as (from, to[, switchover])."""
    doc_nodes = []
    for spec in nodes:
        node: dict[str, Any] = {"id": spec[0], "kind": spec[1]}
        if len(spec) > 2 and spec[2] is not None:
            node["requires"] = spec[2]
        if len(spec) > 3:
            node.update(spec[3])
        doc_nodes.append(node)
    doc_edges = []
    for spec in edges:
        edge: dict[str, Any] = {"from": spec[0], "to": spec[1]}
        if len(spec) > 2:
            edge["switchover_hours"] = spec[2]
        doc_edges.append(edge)
    return parse_json({"nodes": doc_nodes, "edges": doc_edges})


def by_service(reports: list[ServiceReport]) -> dict[str, ServiceReport]:
    return {r.service: r for r in reports}


def assert_valid_witnesses(g: DependencyGraph, report: ServiceReport) -> None:
    """Each witness runs from the SPOF up to the service along counted edges, through nodes its
    failure took down (and that were up before): the chain by which the failure travels."""
    s = g.index[report.service]
    eff = g.effective(g.threshold(s))
    base = eff.baseline
    for spof in report.spofs:
        v = g.index[spof.node]
        down = eff.down([v])
        chain = [g.index[i] for i in spof.witness]
        assert chain[0] == v and chain[-1] == s, spof
        assert len(set(chain)) == len(chain), f"witness repeats a node: {spof}"
        for lower, upper in pairwise(chain):
            assert lower in eff.deps[upper], (
                f"{g.nodes[upper].id} does not count on {g.nodes[lower].id}"
            )
        assert all(down[i] and not base[i] for i in chain), spof


def same_answer(fast: list[ServiceReport], brute: list[ServiceReport]) -> None:
    assert [r.service for r in fast] == [r.service for r in brute]
    for a, b in zip(fast, brute, strict=True):
        assert a.down == b.down, a.service
        assert a.spof_ids == b.spof_ids, (a.service, a.spof_ids ^ b.spof_ids)
        assert a.gaps == b.gaps, a.service
        assert {s.node: s.defeats for s in a.spofs} == {s.node: s.defeats for s in b.spofs}


@contextmanager
def programme_limit(nodes: int) -> Iterator[None]:
    """Run the SPOF programme on bit sets for graphs up to `nodes` nodes (0: never, so that
    the dictionary form is used)."""
    saved = spof_module.BIT_SETS_MAX_NODES
    spof_module.BIT_SETS_MAX_NODES = nodes
    try:
        yield
    finally:
        spof_module.BIT_SETS_MAX_NODES = saved
