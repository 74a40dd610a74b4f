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
from itertools import repeat
from typing import NamedTuple

import numpy as np

from vendor_portal.graph.domain.collection import collector_paused
from vendor_portal.graph.domain.model import NO_FILTER, DependencyGraph, NodeKind
from vendor_portal.graph.domain.structure import gather, structure


class RestorationStep(NamedTuple):
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
    if not wanted_countries and not wanted_regions:
        return set()
    by_country, by_region = _places(graph)
    out: set[str] = set()
    for country in wanted_countries:
        out.update(by_country.get(country, ()))
    for region in wanted_regions:
        out.update(by_region.get(region, ()))
    return out


def _places(graph: DependencyGraph) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Node ids by country and by region name, worked out once per graph."""
    found = graph.derived.get("places")
    if found is not None:
        return found
    by_country: dict[str, list[str]] = defaultdict(list)
    by_region: dict[str, list[str]] = defaultdict(list)
    regions = (NodeKind.CLOUD_REGION, NodeKind.GEO_REGION)
    for node in graph.nodes:
        country = str(node.attributes.get("country", "")).upper() if node.attributes else ""
        if country:
            by_country[country].append(node.id)
        if node.kind in regions:
            names = {
                node.id.lower(),
                node.name.lower(),
                str(node.attributes.get("region", "")).lower(),
            }
            for name in names:
                by_region[name].append(node.id)
    found = graph.derived["places"] = (by_country, by_region)
    return found


def run_scenario(graph: DependencyGraph, failed: Iterable[str]) -> ScenarioResult:
    # Tens of thousands of restoration steps on a large map.
    with collector_paused():
        return _run_scenario(graph, failed)


def _run_scenario(graph: DependencyGraph, failed: Iterable[str]) -> ScenarioResult:
    failed_ids = tuple(dict.fromkeys(failed))
    positions = [graph.index[f] for f in failed_ids]
    groups = _services_by_threshold(graph)
    down_services: list[int] = []
    already: list[int] = []
    switched: list[int] = []
    downs: dict[float | None, np.ndarray] = {}

    def down_under(threshold: float | None) -> np.ndarray:
        """What is down under one RTO filter (each filter propagated once)."""
        found = downs.get(threshold)
        if found is None:
            found = downs[threshold] = graph.effective(threshold).down_array(positions)
        return found

    if graph.services:
        # Only alternatives already running (no switchover).
        instant_down = down_under(0.0)
    for threshold, group in groups.items():
        base = graph.effective(threshold).baseline_array
        down = down_under(threshold)
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
    to_restore = np.flatnonzero(down_under(NO_FILTER) & ~physical.baseline_array)
    return ScenarioResult(
        failed=failed_ids,
        down_services=tuple(graph.ids(down_services)),
        already_down=tuple(graph.ids(already)),
        switched_over=tuple(graph.ids(switched)),
        cost_per_hour=cost,
        down_nodes=tuple(graph.ids(to_restore.tolist())),
        restoration=tuple(restoration_order(graph, to_restore)),
    )


def _services_by_threshold(graph: DependencyGraph) -> dict[float | None, list[int]]:
    """The business services grouped by RTO (kept with the graph, which never changes)."""
    found = graph.derived.get("services_by_threshold")
    if found is None:
        found = defaultdict(list)
        for s in graph.services:
            found[graph.threshold(s)].append(s)
        graph.derived["services_by_threshold"] = found
    return found


_KIND_RANK = {k: i for i, k in enumerate(reversed(list(NodeKind)))}


def _ranks(graph: DependencyGraph) -> tuple[np.ndarray, np.ndarray]:
    """Per node: the rank of its kind in restoration order (regions first) and of its name."""
    found = graph.derived.get("restoration_ranks")
    if found is None:
        nodes = graph.nodes
        kind = np.array([_KIND_RANK[node.kind] for node in nodes], dtype=np.int64)
        by_name = sorted(range(len(nodes)), key=lambda i: nodes[i].name)
        name = np.empty(len(nodes), dtype=np.int64)
        name[by_name] = np.arange(len(nodes))
        found = graph.derived["restoration_ranks"] = (kind, name)
    return found


def restoration_order(graph: DependencyGraph, down: Iterable[int]) -> list[RestorationStep]:
    """Down nodes in an order in which they can be brought back: dependencies first, in waves
    (regions, then facilities, ... by name within a wave); a loop is one step with all its
    members."""
    nodes = down if isinstance(down, np.ndarray) else np.fromiter(down, np.int64)
    if not nodes.size:
        return []
    if not (nodes[1:] > nodes[:-1]).all():  # a scenario's are already sorted and unique
        nodes = np.unique(nodes)
    # The shape of the down part alone, renumbered 0..m-1 (in the same order), so that the
    # structure's per-wave arrays are as long as the down part, not the whole map.
    n, m = len(graph), nodes.size
    inside = np.zeros(n, dtype=bool)
    inside[nodes] = True
    local = np.empty(n, dtype=np.int64)
    local[nodes] = np.arange(m)
    rows = graph._down
    positions = gather(rows.start, nodes)
    dst = rows.index[positions]
    kept = inside[dst]
    src = np.repeat(np.arange(m), (rows.start[nodes + 1] - rows.start[nodes]))[kept]
    shape = structure(m, src, local[dst[kept]])
    heads = np.flatnonzero(shape.component == np.arange(m))  # a loop is named by its first member
    first = nodes[heads]
    height = shape.height[heads]
    kind, name = _ranks(graph)
    ranked = np.lexsort((first, name[first], kind[first], height))
    first = first[ranked]
    waves = (height[ranked] + 1).tolist()
    order = first.tolist()
    # Made in C (zip, map and tuple.__new__, not the named tuple's Python __new__): a scenario
    # on a large map has tens of thousands of steps.
    steps = list(
        map(
            tuple.__new__,
            repeat(RestorationStep),
            zip(waves, zip(graph.ids(order)), repeat(False)),
        )
    )
    if shape.loops:
        loop_of = {int(nodes[members[0]]): nodes[members].tolist() for members in shape.loops}
        for i in np.flatnonzero(np.isin(first, list(loop_of))).tolist():
            members = loop_of[order[i]]
            steps[i] = RestorationStep(waves[i], tuple(graph.ids(members)), True)
    return steps
