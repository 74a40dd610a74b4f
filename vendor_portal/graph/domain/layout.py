"""A layered drawing of the graph: business services at the top, regions at the bottom.

Each node sits one layer below the lowest node that depends on it (loops share a layer); within a
layer, nodes are ordered by the mean position of their dependants, which keeps edges short.
Beyond `limit` nodes the drawing groups nodes by layer and kind, so that it stays readable.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from vendor_portal.graph.domain.model import DependencyGraph

DEFAULT_LIMIT = 2000


@dataclass
class MapNode:
    key: str  # a node id, or "group:<layer>:<kind>"
    name: str
    kind: str
    layer: int
    x: float = 0.0
    members: list[str] = field(default_factory=list)  # the node ids a group stands for

    @property
    def grouped(self) -> bool:
        return len(self.members) > 1 or self.key.startswith("group:")


@dataclass
class GraphMap:
    nodes: list[MapNode]
    edges: list[tuple[int, int]]  # positions in `nodes`: dependant, dependency
    grouped: bool


def layers(graph: DependencyGraph, subset: Iterable[int] | None = None) -> dict[int, int]:
    chosen = set(range(len(graph))) if subset is None else set(subset)
    dependants: dict[int, list[int]] = defaultdict(list)
    for a in chosen:
        for b in graph.deps[a]:
            if b in chosen:
                dependants[b].append(a)
    layer: dict[int, int] = {}
    for component in reversed(graph.components_dependencies_first()):  # dependants first
        members = [x for x in component if x in chosen]
        if not members:
            continue
        inside = set(members)
        depth = max(
            (layer[p] + 1 for x in members for p in dependants[x] if p not in inside), default=0
        )
        for x in members:
            layer[x] = depth
    return layer


def layout(
    graph: DependencyGraph, subset: Iterable[int] | None = None, limit: int = DEFAULT_LIMIT
) -> GraphMap:
    layer = layers(graph, subset)
    if len(layer) > limit:
        return _grouped(graph, layer)
    by_layer: dict[int, list[int]] = defaultdict(list)
    for x, depth in layer.items():
        by_layer[depth].append(x)
    position: dict[int, float] = {}
    dependants: dict[int, list[int]] = defaultdict(list)
    for a in layer:
        for b in graph.deps[a]:
            if b in layer:
                dependants[b].append(a)
    widest = max((len(row) for row in by_layer.values()), default=1)
    for depth in sorted(by_layer):
        row = by_layer[depth]
        # Narrow layers are spread over the width of the widest, so that names have room.
        spacing = max(1.0, (widest - 1) / max(len(row) - 1, 1)) if len(row) > 1 else 1.0

        def weight(x: int) -> tuple[float, str]:
            above = [position[p] for p in dependants[x] if p in position]
            return (sum(above) / len(above) if above else 0.0, graph.nodes[x].label.lower())

        row.sort(key=weight)
        middle = (len(row) - 1) / 2
        for i, x in enumerate(row):
            position[x] = (i - middle) * spacing
    order = sorted(layer, key=lambda x: (layer[x], position[x]))
    slot = {x: i for i, x in enumerate(order)}
    nodes = [
        MapNode(graph.nodes[x].id, graph.nodes[x].label, graph.nodes[x].kind, layer[x], position[x])
        for x in order
    ]
    edges = [(slot[a], slot[b]) for a in order for b in graph.deps[a] if b in slot]
    return GraphMap(nodes, edges, grouped=False)


def _grouped(graph: DependencyGraph, layer: dict[int, int]) -> GraphMap:
    groups: dict[tuple[int, str], list[int]] = defaultdict(list)
    for x, depth in layer.items():
        groups[(depth, graph.nodes[x].kind)].append(x)
    keys = sorted(groups)
    per_layer: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for key in keys:
        per_layer[key[0]].append(key)
    nodes: list[MapNode] = []
    slot: dict[tuple[int, str], int] = {}
    for depth in sorted(per_layer):
        row = per_layer[depth]
        middle = (len(row) - 1) / 2
        for i, key in enumerate(row):
            members = groups[key]
            slot[key] = len(nodes)
            nodes.append(
                MapNode(
                    f"group:{depth}:{key[1]}",
                    f"{len(members)} {key[1].replace('_', ' ')} nodes",
                    key[1],
                    depth,
                    (i - middle) * 4,
                    [graph.nodes[m].id for m in members],
                )
            )
    group_of = {x: slot[(layer[x], graph.nodes[x].kind)] for x in layer}
    edges = sorted(
        {
            (group_of[a], group_of[b])
            for a in layer
            for b in graph.deps[a]
            if b in group_of and group_of[a] != group_of[b]
        }
    )
    return GraphMap(nodes, edges, grouped=True)
