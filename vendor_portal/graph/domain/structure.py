"""The shape of a graph as numpy arrays: adjacency in compressed rows, strongly connected
components and heights, computed level by level so that a million edges take milliseconds.

Nodes are positions 0..n-1 and an edge runs from `source` (the dependant) to `target` (the
dependency). The height of a node is the length of the longest chain of dependencies below it,
counted between components: a loop is one component, and all its members share a height. Every
dependency of a node outside its own component has a smaller height, so processing by height puts
dependencies first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Rows:
    """Compressed rows: the neighbours of node i are `index[start[i]:start[i + 1]]`, and `edge`
    gives, for each of them, the position of the edge in the original arrays."""

    start: np.ndarray
    index: np.ndarray
    edge: np.ndarray


def stable_order(keys: np.ndarray, n: int) -> np.ndarray:
    """`np.argsort(keys, kind="stable")` for keys in 0..n-1, faster: numpy sorts 16-bit keys
    by radix, so larger keys are sorted by their low then their high 16 bits (twice as fast as
    its merge sort on a million edges); keys already in order are left as they are."""
    if len(keys) < 2 or bool((keys[1:] >= keys[:-1]).all()):
        return np.arange(len(keys), dtype=np.int64)
    if n <= 1 << 16:
        return np.argsort(keys.astype(np.uint16), kind="stable")
    if n > 1 << 32:
        return np.argsort(keys, kind="stable")
    low = np.argsort((keys & 0xFFFF).astype(np.uint16), kind="stable")
    high = (keys[low] >> 16).astype(np.uint16)
    return low[np.argsort(high, kind="stable")]


def rows(n: int, keys: np.ndarray, values: np.ndarray) -> Rows:
    """Group `values` by `keys` (stable: neighbours keep the order of the edges)."""
    order = stable_order(keys, n)
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(keys, minlength=n), out=start[1:])
    return Rows(start, values[order], order)


def gather(start: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """The positions in compressed rows of every neighbour of `nodes`, concatenated."""
    first = start[nodes]
    counts = start[nodes + 1] - first
    total = int(counts.sum())
    if total == 0:
        return np.empty(0, dtype=np.int64)
    # Offsets restart at each node's first neighbour.
    shift = np.repeat(first - np.cumsum(counts) + counts, counts)
    return shift + np.arange(total, dtype=np.int64)


def _peel(n: int, up: Rows, degree: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Kahn's algorithm in waves: nodes whose `degree` (remaining neighbours one way) reaches
    zero are removed, which lowers the degree of their neighbours the other way (`up`). Returns
    the wave of each removed node (0 first) and -1 for the nodes left (on or between loops)."""
    wave = np.full(n, -1, dtype=np.int64)
    degree = degree.copy()
    frontier = np.flatnonzero((degree == 0) & alive)
    level = 0
    while frontier.size:
        wave[frontier] = level
        level += 1
        others = up.index[gather(up.start, frontier)]
        others = others[alive[others]]
        if not others.size:
            break
        lowered = np.bincount(others, minlength=n)
        degree -= lowered
        frontier = np.flatnonzero((lowered > 0) & (degree == 0))
    return wave


@dataclass(frozen=True)
class Structure:
    component: np.ndarray  # a representative member per node (the smallest), itself if alone
    height: np.ndarray  # longest chain of dependencies below, between components
    loops: list[list[int]]  # components of two or more nodes, or a node depending on itself

    @property
    def acyclic(self) -> bool:
        return not self.loops


def structure(
    n: int,
    source: np.ndarray,
    target: np.ndarray,
    down: Rows | None = None,
    up: Rows | None = None,
) -> Structure:
    """Loops and heights; `down` (dependencies) and `up` (dependants) when already made."""
    down = down or rows(n, source, target)
    up = up or rows(n, target, source)
    everyone = np.ones(n, dtype=bool)
    height = _peel(n, up, np.diff(down.start), everyone)
    if (height >= 0).all():
        return Structure(np.arange(n, dtype=np.int64), height, [])
    # Nodes left are on loops or above them; peel those with no dependant left from the top too,
    # and look for components among what remains (usually a handful of nodes).
    left = height < 0
    inside = left[source] & left[target]
    indegree = np.bincount(target[inside], minlength=n)
    top = _peel(n, rows(n, source[inside], target[inside]), indegree, left)
    core = np.flatnonzero(left & (top < 0))
    loops = _tarjan(core, down, left & (top < 0))
    component = np.arange(n, dtype=np.int64)
    for members in loops:
        component[members] = members[0]
    # Heights of the rest, on the graph of components.
    cs, ct = component[source], component[target]
    between = (cs != ct) & left[source]
    reps = left & (component == np.arange(n))
    outdegree = np.bincount(cs[between], minlength=n)
    cheight = _peel_heights(n, cs[between], ct[between], outdegree, reps, height)
    height = np.where(left, cheight[component], height)
    return Structure(component, height, loops)


def _peel_heights(
    n: int,
    source: np.ndarray,
    target: np.ndarray,
    outdegree: np.ndarray,
    alive: np.ndarray,
    known: np.ndarray,
) -> np.ndarray:
    """Heights of the `alive` components, given the heights `known` of the peeled nodes: one more
    than the highest dependency."""
    height = known.copy()
    # Dependencies already peeled set a floor.
    floor = np.zeros(n, dtype=np.int64)
    done = known >= 0
    from_peeled = done[target]
    np.maximum.at(floor, source[from_peeled], known[target[from_peeled]] + 1)
    inner = ~from_peeled
    up = rows(n, target[inner], source[inner])
    degree = np.bincount(source[inner], minlength=n)
    frontier = np.flatnonzero((degree == 0) & alive)
    height[frontier] = floor[frontier]
    while frontier.size:
        positions = gather(up.start, frontier)
        parents = up.index[positions]
        np.maximum.at(floor, parents, np.repeat(height[frontier], np.diff(up.start)[frontier]) + 1)
        lowered = np.bincount(parents, minlength=n)
        degree -= lowered
        frontier = np.flatnonzero((lowered > 0) & (degree == 0) & alive)
        height[frontier] = floor[frontier]
    return height


def _tarjan(core: np.ndarray, down: Rows, keep: np.ndarray) -> list[list[int]]:
    """Strongly connected components of two or more nodes (or with a self-loop) among `core`,
    iteratively (no recursion limit)."""
    if not core.size:
        return []
    start = down.start.tolist() if core.size > 1000 else None
    neighbours: dict[int, list[int]] = {}
    for v in core.tolist():
        if start is not None:
            ds = down.index[start[v] : start[v + 1]]
        else:
            ds = down.index[down.start[v] : down.start[v + 1]]
        neighbours[v] = [d for d in ds.tolist() if keep[d]]
    index: dict[int, int] = {}
    low: dict[int, int] = {}
    on_stack: set[int] = set()
    stack: list[int] = []
    found: list[list[int]] = []
    counter = 0
    for root in neighbours:
        if root in index:
            continue
        work = [(root, 0)]
        while work:
            v, i = work.pop()
            if i == 0:
                index[v] = low[v] = counter
                counter += 1
                stack.append(v)
                on_stack.add(v)
            ds = neighbours[v]
            while i < len(ds):
                w = ds[i]
                i += 1
                if w not in index:
                    work.append((v, i))
                    work.append((w, 0))
                    break
                if w in on_stack:
                    low[v] = min(low[v], index[w])
            else:
                if low[v] == index[v]:
                    members = []
                    while True:
                        w = stack.pop()
                        on_stack.discard(w)
                        members.append(w)
                        if w == v:
                            break
                    if len(members) > 1 or v in neighbours[v]:
                        found.append(sorted(members))
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[v])
    return found
