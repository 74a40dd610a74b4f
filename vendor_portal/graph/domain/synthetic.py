"""Generated graphs shaped like real supply maps, for benchmarks and performance tests.

Layered from business services down to regions: each node depends on 2-6 nodes of the next one
or two layers, popular providers being picked more often (so that concentration appears); a
share of the nodes are alternatives (`any` or k-of-n) whose fallbacks take hours to switch
over; a few loops tie shared infrastructure together (identity needs the network, the network's
management needs identity). Deterministic for a given seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from vendor_portal.graph.domain.model import DependencyGraph, Edge, Node, NodeKind

LAYER_KINDS = [
    NodeKind.BUSINESS_SERVICE,
    NodeKind.CAPABILITY,
    NodeKind.VENDOR_SERVICE,
    NodeKind.COMPONENT,
    NodeKind.VENDOR_SERVICE,
    NodeKind.VENDOR,
    NodeKind.FACILITY,
    NodeKind.CLOUD_REGION,
]
RTOS = (1.0, 2.0, 4.0, 8.0, 24.0, 72.0, None)
SWITCHOVERS = (0.5, 1.0, 2.0, 4.0, 8.0, 24.0, 48.0)


@dataclass(frozen=True)
class Shape:
    services: int = 100
    nodes: int = 2000
    depth: int = 6  # layers, services included (5-8)
    fanout: tuple[int, int] = (2, 6)
    alternatives: float = 0.25  # share of non-service nodes that need only some dependencies
    loops: int = 5
    seed: int = 20261125


def supply_map(shape: Shape) -> DependencyGraph:
    rng = random.Random(shape.seed)  # noqa: S311 (reproducible test data, not secrets)
    depth = max(2, shape.depth)
    rest = max(depth - 1, shape.nodes - shape.services)
    # Wider in the middle (many vendor services), narrow at the bottom (few regions).
    weights = [1.0 + min(i, depth - 1 - i) for i in range(1, depth)]
    weights[-1] = 0.3
    total = sum(weights)
    sizes = [shape.services] + [max(1, round(rest * w / total)) for w in weights]
    layers: list[list[str]] = []
    nodes: list[Node] = []
    for level, size in enumerate(sizes):
        kind = LAYER_KINDS[min(level, len(LAYER_KINDS) - 1)] if level < depth - 1 else None
        ids = []
        for i in range(size):
            node_kind = kind or (NodeKind.CLOUD_REGION if i % 2 else NodeKind.GEO_REGION)
            node_id = f"L{level}-{i}"
            ids.append(node_id)
            nodes.append(_node(rng, node_id, node_kind, level == len(sizes) - 1, shape))
        layers.append(ids)
    by_id = {node.id: node for node in nodes}
    edges: list[Edge] = []
    popularity: dict[str, float] = {}
    final: list[Node] = []
    for level, ids in enumerate(layers[:-1]):
        below = layers[level + 1] + (layers[level + 2] if level + 2 < len(layers) else [])
        for node_id in ids:
            node = by_id[node_id]
            want = min(len(below), rng.randint(*shape.fanout))
            targets = _pick(rng, below, want, popularity)
            redundant = node.requires != "all"
            for position, target in enumerate(targets):
                switchover = 0.0
                if redundant and position > 0:
                    switchover = rng.choice(SWITCHOVERS)
                edges.append(Edge(node_id, target, switchover))
            if isinstance(node.requires, int) and node.requires > len(targets):
                node = Node(node.id, node.kind, node.name, len(targets), node.attributes)
            final.append(node)
    final.extend(by_id[i] for i in layers[-1])
    edges.extend(_loops(rng, layers, shape.loops, {(e.source, e.target) for e in edges}))
    return DependencyGraph(final, edges)


def _node(rng: random.Random, node_id: str, kind: str, bottom: bool, shape: Shape) -> Node:
    if kind == NodeKind.BUSINESS_SERVICE:
        return Node(
            node_id,
            kind,
            f"Service {node_id}",
            "all",
            {
                "rto_hours": rng.choice(RTOS),
                "downtime_cost_per_hour": float(rng.randrange(1_000, 200_000, 1_000)),
            },
        )
    requires: str | int = "all"
    if not bottom and rng.random() < shape.alternatives:
        requires = 2 if rng.random() < 0.2 else "any"
    return Node(node_id, kind, f"{kind} {node_id}", requires)


def _pick(
    rng: random.Random, pool: list[str], count: int, popularity: dict[str, float]
) -> list[str]:
    chosen: list[str] = []
    seen: set[str] = set()
    while len(chosen) < count:
        # Preferential attachment: a provider already used is likelier to be used again.
        candidate = rng.choice(pool)
        if popularity.get(candidate, 0) and rng.random() < 0.3:
            candidate = max(rng.sample(pool, min(3, len(pool))), key=lambda c: popularity.get(c, 0))
        if candidate in seen:
            candidate = rng.choice(pool)
            if candidate in seen:
                continue
        seen.add(candidate)
        chosen.append(candidate)
        popularity[candidate] = popularity.get(candidate, 0) + 1
    return chosen


def _loops(
    rng: random.Random, layers: list[list[str]], count: int, existing: set[tuple[str, str]]
) -> list[Edge]:
    """Back edges from a deeper layer to a shallower one (not to a service): mutual support."""
    out = []
    deep = [i for layer in layers[3:] for i in layer]
    shallow = [i for layer in layers[2:4] for i in layer]
    for _ in range(count if deep and shallow else 0):
        a, b = rng.choice(deep), rng.choice(shallow)
        if a != b and (a, b) not in existing:
            existing.add((a, b))
            out.append(Edge(a, b, 0.0))
    return out
