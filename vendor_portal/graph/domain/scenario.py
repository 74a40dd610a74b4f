"""Scenarios: fail a set of nodes (a vendor, a region, a whole country) and see what goes down.

Each business service is judged with its own RTO: an alternative that takes longer than the RTO
to switch over does not save it. The restoration order lists the nodes that stay down until they
are repaired, dependencies first; nodes in a loop are named together, since there is no order in
which to restart them from cold.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from vendor_portal.graph.domain.model import NO_FILTER, DependencyGraph, NodeKind


@dataclass(frozen=True)
class RestorationStep:
    wave: int  # 1 first; every dependency of a step is in an earlier wave
    nodes: tuple[str, ...]  # one node, or the members of a loop
    loop: bool


@dataclass(frozen=True)
class ScenarioResult:
    failed: tuple[str, ...]
    # Services down beyond their RTO because of the scenario.
    down_services: tuple[str, ...]
    # Services that were already down with nothing failed (gaps), listed apart.
    already_down: tuple[str, ...]
    # Services kept within their RTO only by switching to a fallback that takes time.
    switched_over: tuple[str, ...]
    cost_per_hour: float
    # Every node that stays down until repaired (all alternatives counted), and in what order
    # to bring them back.
    down_nodes: tuple[str, ...]
    restoration: tuple[RestorationStep, ...]


def nodes_in_places(
    graph: DependencyGraph, countries: Iterable[str] = (), regions: Iterable[str] = ()
) -> set[str]:
    """Nodes located in any of the countries (ISO alpha-2) or regions (cloud region names).

    A node is in a country when its `country` field says so; a cloud or geographic region node is
    also matched by its name or id."""
    wanted_countries = {c.strip().upper() for c in countries if c.strip()}
    wanted_regions = {r.strip().lower() for r in regions if r.strip()}
    out = set()
    for node in graph.nodes:
        country = str(node.attributes.get("country", "")).upper()
        if country and country in wanted_countries:
            out.add(node.id)
        if node.kind in (NodeKind.CLOUD_REGION, NodeKind.GEO_REGION):
            names = {
                node.id.lower(),
                node.name.lower(),
                str(node.attributes.get("region", "")).lower(),
            }
            if names & wanted_regions:
                out.add(node.id)
    return out


def run_scenario(graph: DependencyGraph, failed: Iterable[str]) -> ScenarioResult:
    failed_ids = tuple(dict.fromkeys(failed))
    positions = [graph.index[f] for f in failed_ids]
    groups: dict[float | None, list[int]] = defaultdict(list)
    for s in graph.services:
        groups[graph.threshold(s)].append(s)
    down_services: list[int] = []
    already: list[int] = []
    switched: list[int] = []
    instant = graph.effective(0.0)  # only alternatives already running (no switchover)
    instant_down = instant.down(positions) if graph.services else bytearray()
    for threshold, group in groups.items():
        eff = graph.effective(threshold)
        base = eff.baseline
        down = eff.down(positions)
        for s in group:
            if base[s]:
                already.append(s)
            elif down[s]:
                down_services.append(s)
            elif instant_down[s]:
                switched.append(s)
    order = {s: i for i, s in enumerate(graph.services)}
    down_services.sort(key=order.__getitem__)
    already.sort(key=order.__getitem__)
    switched.sort(key=order.__getitem__)
    cost = sum(graph.nodes[s].downtime_cost_per_hour for s in down_services)
    physical = graph.effective(NO_FILTER)
    down = physical.down(positions)
    base = physical.baseline
    to_restore = [i for i in range(len(graph)) if down[i] and not base[i]]
    return ScenarioResult(
        failed=failed_ids,
        down_services=tuple(graph.ids(down_services)),
        already_down=tuple(graph.ids(already)),
        switched_over=tuple(graph.ids(switched)),
        cost_per_hour=cost,
        down_nodes=tuple(graph.ids(to_restore)),
        restoration=tuple(restoration_order(graph, to_restore)),
    )


def restoration_order(graph: DependencyGraph, down: Iterable[int]) -> list[RestorationStep]:
    """Down nodes in an order in which they can be brought back: dependencies first, in waves;
    a loop is one step with all its members."""
    nodes = list(down)
    inside = set(nodes)
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from((a, b) for a in nodes for b in graph.deps[a] if b in inside)
    condensed = nx.condensation(g)
    order = list(nx.topological_sort(condensed))
    order.reverse()
    wave: dict[int, int] = {}
    steps: list[RestorationStep] = []
    for c in order:
        members = sorted(condensed.nodes[c]["members"])
        wave[c] = 1 + max((wave[d] for d in condensed.successors(c)), default=0)
        loop = len(members) > 1 or members[0] in graph.deps[members[0]]
        steps.append(RestorationStep(wave[c], tuple(graph.ids(members)), loop))
    kind_rank = {k: i for i, k in enumerate(reversed(list(NodeKind)))}
    steps.sort(
        key=lambda s: (s.wave, kind_rank[graph.node(s.nodes[0]).kind], graph.node(s.nodes[0]).name)
    )
    return steps
