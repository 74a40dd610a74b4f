"""Generated graphs shaped like real supply maps, for benchmarks and performance tests.

Layered from business services down to regions: each node depends on 2-6 nodes of the next one
or two layers, popular providers being picked more often (so that concentration appears); a
share of the nodes are alternatives (`any` or k-of-n) whose fallbacks take hours to switch
over; a few loops tie shared infrastructure together (identity needs the network, the network's
management needs identity). Deterministic for a given seed; drawn with numpy, so that a map of
a million edges takes a second or two.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vendor_portal.graph.domain.model import DependencyGraph, Node, NodeKind

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
POPULAR = 0.3  # share of picks that go to popular providers (a skewed draw)


@dataclass(frozen=True)
class Shape:
    services: int = 100
    nodes: int = 2000
    depth: int = 6  # layers, services included (5-8)
    fanout: tuple[int, int] = (2, 6)
    alternatives: float = 0.25  # share of non-service nodes that need only some dependencies
    loops: int = 5
    seed: int = 20261125


def layer_sizes(shape: Shape) -> list[int]:
    depth = max(2, shape.depth)
    rest = max(depth - 1, shape.nodes - shape.services)
    # Wider in the middle (many vendor services), narrow at the bottom (few regions).
    weights = [1.0 + min(i, depth - 1 - i) for i in range(1, depth)]
    weights[-1] = 0.3
    total = sum(weights)
    return [shape.services] + [max(1, round(rest * w / total)) for w in weights]


def supply_map(shape: Shape) -> DependencyGraph:
    rng = np.random.default_rng(shape.seed)
    sizes = layer_sizes(shape)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    n = int(offsets[-1])
    bottom = len(sizes) - 1
    # Requirements: services need all; other nodes above the bottom may have alternatives.
    k = np.zeros(n, dtype=np.int64)
    middle = np.arange(sizes[0], int(offsets[bottom]))
    redundant = middle[rng.random(middle.size) < shape.alternatives]
    k[redundant] = np.where(rng.random(redundant.size) < 0.2, 2, 1)
    sources, targets, switchover = [], [], []
    for level in range(bottom):
        pool = np.arange(int(offsets[level + 1]), int(offsets[min(level + 3, len(sizes))]))
        members = np.arange(int(offsets[level]), int(offsets[level + 1]))
        chosen = _pick(rng, members.size, pool, shape.fanout)
        for position, picks in zip(members.tolist(), chosen, strict=True):
            sources.extend([position] * len(picks))
            targets.extend(picks)
        counts = np.array([len(p) for p in chosen], dtype=np.int64)
        # A k-of-n node never needs more than it has.
        k[members] = np.minimum(k[members], counts)
        rank = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
        slow = (np.repeat(k[members], counts) > 0) & (rank > 0)
        hours = np.where(slow, rng.choice(SWITCHOVERS, size=rank.size), 0.0)
        switchover.append(hours)
    src = np.array(sources, dtype=np.int64)
    dst = np.array(targets, dtype=np.int64)
    sw = np.concatenate(switchover) if switchover else np.empty(0)
    src, dst, sw = _loops(rng, src, dst, sw, offsets, shape.loops)
    nodes = _nodes(rng, sizes, k)
    return DependencyGraph.from_arrays(nodes, src, dst, sw)


def _pick(
    rng: np.random.Generator, count: int, pool: np.ndarray, fanout: tuple[int, int]
) -> list[list[int]]:
    """Distinct dependencies for `count` nodes; a share of the picks go to popular providers."""
    size = pool.size
    wanted = np.minimum(rng.integers(fanout[0], fanout[1] + 1, size=count), size)
    widest = int(wanted.max(initial=0))
    # Popularity: a fixed random ranking of the pool, the top of it picked far more often.
    ranking = rng.permutation(size)
    weight = 1.0 / (np.arange(size) + 1.0) ** 0.9
    popular = ranking[rng.choice(size, size=(count, widest), p=weight / weight.sum())]
    uniform = rng.integers(0, size, size=(count, widest))
    picks = np.where(rng.random((count, widest)) < POPULAR, popular, uniform)
    out = []
    for row, want in zip(picks.tolist(), wanted.tolist(), strict=True):
        row = row[:want]
        if len(set(row)) < want:
            seen: set[int] = set()
            unique = []
            for p in row:
                while p in seen:
                    p = int(rng.integers(0, size))
                seen.add(p)
                unique.append(p)
            row = unique
        out.append(pool[row].tolist())
    return out


def _loops(
    rng: np.random.Generator,
    src: np.ndarray,
    dst: np.ndarray,
    sw: np.ndarray,
    offsets: np.ndarray,
    count: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges from a node back up to one that depends on it (shared infrastructure supporting
    each other): each closes a loop."""
    layers = len(offsets) - 1
    if layers < 4 or count <= 0:
        return src, dst, sw
    start = np.zeros(int(offsets[-1]) + 1, dtype=np.int64)
    np.cumsum(np.bincount(src, minlength=int(offsets[-1])), out=start[1:])  # sources in order
    existing = set(zip(src.tolist(), dst.tolist(), strict=True))
    shallow = np.arange(int(offsets[2]), int(offsets[min(4, layers)]))
    extra_src, extra_dst = [], []
    for _ in range(count):
        top = int(rng.choice(shallow))
        x = top
        for _step in range(int(rng.integers(1, 4))):
            deps = dst[start[x] : start[x + 1]]
            lower = deps[deps < offsets[layers - 1]]  # stay above the bottom layer
            if not lower.size:
                break
            x = int(rng.choice(lower))
        if x != top and (x, top) not in existing:
            existing.add((x, top))
            extra_src.append(x)
            extra_dst.append(top)
    if not extra_src:
        return src, dst, sw
    return (
        np.concatenate([src, extra_src]),
        np.concatenate([dst, extra_dst]),
        np.concatenate([sw, np.zeros(len(extra_src))]),
    )


def _nodes(rng: np.random.Generator, sizes: list[int], k: np.ndarray) -> list[Node]:
    rto = rng.integers(0, len(RTOS), size=sizes[0]).tolist()
    cost = (rng.integers(1, 200, size=sizes[0]) * 1000).tolist()
    nodes = []
    requires = k.tolist()
    position = 0
    for level, size in enumerate(sizes):
        kind = LAYER_KINDS[min(level, len(LAYER_KINDS) - 1)] if level < len(sizes) - 1 else None
        for i in range(size):
            node_id = f"L{level}-{i}"
            if level == 0:
                attributes = {"rto_hours": RTOS[rto[i]], "downtime_cost_per_hour": float(cost[i])}
                nodes.append(
                    Node(
                        node_id, NodeKind.BUSINESS_SERVICE, f"Service {node_id}", "all", attributes
                    )
                )
            else:
                node_kind = kind or (NodeKind.CLOUD_REGION if i % 2 else NodeKind.GEO_REGION)
                need = requires[position]
                nodes.append(
                    Node(
                        node_id,
                        node_kind,
                        f"{node_kind} {node_id}",
                        "all" if need == 0 else ("any" if need == 1 else need),
                    )
                )
            position += 1
    return nodes
