"""Many failure groups at once: for each node, which groups (a country, a cloud region) take it
down when everything in the group fails, and which groups it depends on at all.

One bit column per group, packed in 64-bit words per node, worked out dependencies first (by
height, see `structure`) over numpy arrays: an `all` node is down in a group when any dependency
is (an OR of rows), an `any` node when every dependency is (an AND), a k-of-n node when more than
n-k are (bits unpacked and counted). A loop is iterated from nothing down until it settles, which
is the least fixed point of `Effective.down` for every group at once. Every alternative counts
(no RTO filter): what the fallback register asks.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vendor_portal.graph.domain.model import NO_FILTER, DependencyGraph
from vendor_portal.graph.domain.structure import gather, stable_order

ALL_BITS = np.uint64(0xFFFFFFFFFFFFFFFF)


def words(groups: int) -> int:
    return max(1, (groups + 63) // 64)


def seed_columns(n: int, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Bit g set on the nodes of group g."""
    out = np.zeros((n, words(len(groups))), dtype=np.uint64)
    for g, nodes in enumerate(groups):
        if len(nodes):
            out[np.asarray(nodes, dtype=np.int64), g >> 6] |= np.uint64(1 << (g & 63))
    return out


def as_int(row: np.ndarray) -> int:
    """A row of words as one Python integer (bit g = group g)."""
    return int.from_bytes(row.tobytes(), "little")


def down_columns(graph: DependencyGraph, groups: Sequence[Sequence[int]]) -> np.ndarray:
    """Per node, bit g set when failing every node of group g takes it down (the down set of
    `graph.effective(None).down(groups[g])`); nodes down with nothing failed have every bit."""
    seed = seed_columns(len(graph), groups)
    seed[graph.effective(NO_FILTER).baseline_array] = ALL_BITS
    return _propagate(graph, seed, reach=False)


def reach_columns(graph: DependencyGraph, own: np.ndarray) -> np.ndarray:
    """Per node, the OR of `own` over the node and everything it depends on."""
    return _propagate(graph, own, reach=True)


def _propagate(graph: DependencyGraph, seed: np.ndarray, reach: bool) -> np.ndarray:
    n = len(graph)
    start, index = graph._down.start, graph._down.index
    degree = np.diff(start)
    k = graph.k_array
    need = np.where(k == 0, 1, degree - k + 1)
    shape = graph.structure
    height = shape.height
    looped = np.zeros(n, dtype=bool)
    loops_at: dict[int, list[np.ndarray]] = {}
    for members in shape.loops:
        looped[members] = True
        loops_at.setdefault(int(height[members[0]]), []).append(np.array(members, dtype=np.int64))
    top = int(height.max(initial=0)) + 1
    by_height = stable_order(height, top)
    bounds = np.searchsorted(height[by_height], np.arange(top + 1))
    out = seed.copy()

    def rule(nodes: np.ndarray) -> np.ndarray:
        """What the dependencies say, for nodes with at least one."""
        result = np.zeros((len(nodes), out.shape[1]), dtype=np.uint64)
        if reach:
            kinds = [(np.bitwise_or, np.ones(len(nodes), dtype=bool))]
        else:
            kn, dn, nn = k[nodes], degree[nodes], need[nodes]
            kinds = [
                (np.bitwise_or, kn == 0),
                (np.bitwise_and, (kn > 0) & (nn == dn)),
                (None, (kn > 0) & (nn != dn)),
            ]
        for ufunc, chosen in kinds:
            if not chosen.any():
                continue
            part = nodes[chosen]
            counts = degree[part]
            offsets = np.zeros(len(part), dtype=np.int64)
            np.cumsum(counts[:-1], out=offsets[1:])
            values = out[index[gather(start, part)]]
            if ufunc is not None:
                result[chosen] = ufunc.reduceat(values, offsets, axis=0)
                continue
            # k-of-n: down when at least `need` dependencies are, bit by bit.
            bits = np.unpackbits(values.view(np.uint8), axis=1, bitorder="little")
            down = np.add.reduceat(bits, offsets, axis=0, dtype=np.int32)
            hit = down >= need[part][:, None]
            result[chosen] = np.packbits(hit, axis=1, bitorder="little").view(np.uint64)
        return result

    for h in range(top):
        nodes = by_height[bounds[h] : bounds[h + 1]]
        plain = nodes[~looped[nodes] & (degree[nodes] > 0)]
        if plain.size:
            out[plain] |= rule(plain)
        for members in loops_at.get(h, ()):
            # From the seeds up until nothing changes: monotone, so the least fixed point.
            while True:
                grown = seed[members] | rule(members)
                if np.array_equal(grown, out[members]):
                    break
                out[members] = grown
    return out
