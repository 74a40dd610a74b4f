"""Single points of failure, their witnesses, gaps and common causes, per business service.

Two routes to the same answer:

- `brute_force_reports`: the reference. For each node v, fail v alone, propagate (least fixed
  point) and see which services went down.
- `spof_reports`: a dynamic programme over the graph, dependencies first (`structure` gives the
  order and the loops, over numpy arrays). For a node x outside any loop, the set of nodes whose
  failure alone takes x down is {x} plus: for `all`, the union of its dependencies' sets; for
  `any`, their intersection; for k-of-n, the nodes in more than n-k of them. Dependencies
  already down with nothing failed count as down for every candidate. A loop (strongly
  connected component) is solved by propagating inside it once per distinct pattern of failed
  dependencies outside it, and once per member failed on its own: exactly the least fixed point
  restricted to the loop.

  Services are judged under their own RTO, which decides which alternatives count. Rather than
  one pass per RTO, the programme visits only the nodes some service depends on, under the RTOs
  of those services, and computes a node's sets once for all RTOs between which nothing below it
  changes (no edge below it starts to count): low in a supply map that is nearly every node.
  Each such node and run of RTOs is a *class*; `_Layout` works out every class and its counted
  dependencies (as classes) over numpy arrays before the pass, so that the pass in Python does
  no filtering by switchover time and no copying between RTOs, only the sets.
  A class's set is a dictionary of node positions, so its cost follows the size of its answer,
  not the size of the graph; each member maps to the class of the first dependency (in
  dependency order) whose set holds it, the one that carries its failure up (in a loop: the
  member or outside dependency whose failure broke the requirement). Those links are the
  witnesses: from the service down, follow the failed node's link at each class until the node
  itself, O(length of the chain) with no search. `Spofs` keeps them so, and makes a `Spof` with
  its witness tuple when it is read (half a million of them on a large map), shortest chains
  first.

  On maps of up to `BIT_SETS_MAX_NODES` nodes the same programme keeps each set as the bits of
  one Python integer instead (`spof_bits`): unions, intersections and k-of-n counts are then a
  few integer operations whatever the size of the sets, and witnesses are followed for a whole
  service at once when read. Above that size sets are sparse and dictionaries win.

All give, per service, the same SPOF set, gaps and common causes; `tests/unit/graph` checks that
on random graphs with loops, k-of-n nodes, duplicate paths, shared regions and switchover times,
for both forms of the programme. `benchmarks/graph.py` measures them at 10,000 edges against the
brute force and on a million edges.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from vendor_portal.graph.domain.collection import collector_paused
from vendor_portal.graph.domain.model import DependencyGraph, Effective
from vendor_portal.graph.domain.structure import gather, stable_order

if TYPE_CHECKING:
    from vendor_portal.graph.domain.spof_bits import BitProgramme


class Spof(NamedTuple):
    """A node whose failure alone takes the service down (beyond its RTO). A named tuple: a
    large map has hundreds of thousands of them."""

    node: str
    # From the failed node up to the service; each node depends on the one before it.
    witness: tuple[str, ...]
    # Redundant nodes (any / k-of-n) the service needs where this node takes out more than one
    # alternative at once: a common cause under a primary and its fallback.
    defeats: tuple[str, ...] = ()

    @property
    def common_cause(self) -> bool:
        return bool(self.defeats)


_new_tuple = tuple.__new__

# Per node, under one threshold: each node whose failure alone takes it down, with the
# dependency through which that failure arrives (see `_Programme`).
Hops = dict[int, int]


class Spofs(Sequence[Spof]):
    """The SPOFs of one service with their witnesses, as the programme leaves them.

    A large map has hundreds of thousands of SPOFs whose witnesses share most of their links.
    The programme keeps, per class (a node under a run of thresholds), the next link towards
    each failure that takes it down; a witness is those links followed from the service down to
    the SPOF, O(length of the chain) with nothing searched again. `witness(node_id)` reads one;
    iterating (or indexing) gives `Spof`s in report order (shortest chains first, then by id),
    made when first read. Compares equal to a tuple of the same `Spof`s."""

    __slots__ = ("_class", "_defeats", "_ids", "_index", "_node", "_order", "_service", "_values")

    def __init__(
        self,
        ids: Sequence[str],
        index: Mapping[str, int],
        service: int,
        klass: int,
        values: Sequence[Hops | None],
        node: Sequence[int],
        defeats: dict[int, tuple[str, ...]],
    ) -> None:
        self._ids = ids
        self._index = index
        self._service = service
        self._class = klass  # the service's class in the programme (under its RTO)
        self._values = values  # per class: its SPOF set with the next links (classes)
        self._node = node  # per class: its node
        self._defeats = defeats
        self._order: list[int] | None = None

    def _own(self) -> Hops:
        return self._values[self._class]  # type: ignore[return-value]

    def _chain(self, v: int) -> list[int]:
        """From v up to the service."""
        values, node = self._values, self._node
        c = self._class
        chain = [self._service]
        while node[c] != v:
            c = values[c][v]  # type: ignore[index]
            chain.append(node[c])
        chain.reverse()
        return chain

    def _spof(self, v: int, chain: list[int]) -> Spof:
        ids = self._ids
        # Spof(...) without the Python-level __new__ of a named tuple.
        return _new_tuple(
            Spof, (ids[v], tuple(map(ids.__getitem__, chain)), self._defeats.get(v, ()))
        )

    def _ranked(self) -> list[tuple[int, str, int, list[int]]]:
        ids, service, chain = self._ids, self._service, self._chain
        ranked = []
        for v in self._own():
            if v != service:
                c = chain(v)
                ranked.append((len(c), ids[v], v, c))
        ranked.sort()  # ids are unique: the chains are never compared
        if self._order is None:
            self._order = [v for _length, _id, v, _chain in ranked]
        return ranked

    @property
    def order(self) -> list[int]:
        """The SPOFs' positions in report order."""
        if self._order is None:
            self._ranked()
        return self._order  # type: ignore[return-value]

    def __len__(self) -> int:
        return len(self._own()) - 1

    def __getitem__(self, i):  # type: ignore[override]
        if isinstance(i, slice):
            return tuple(self._spof(v, self._chain(v)) for v in self.order[i])
        v = self.order[i]
        return self._spof(v, self._chain(v))

    def __iter__(self) -> Iterator[Spof]:
        # One walk per SPOF: the chains found while ranking are the witnesses.
        return (self._spof(v, c) for _length, _id, v, c in self._ranked())

    @property
    def ids(self) -> frozenset[str]:
        ids, service = self._ids, self._service
        return frozenset(ids[v] for v in self._own() if v != service)

    def witness(self, node_id: str) -> tuple[str, ...] | None:
        """The witness of one SPOF (None if the node is not one), from it up to the service."""
        spof = self.find(node_id)
        return None if spof is None else spof.witness

    def find(self, node_id: str) -> Spof | None:
        v = self._index.get(node_id)
        if v is None or v == self._service or v not in self._own():
            return None
        return self._spof(v, self._chain(v))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Spofs | tuple | list):
            return len(self) == len(other) and tuple(self) == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"Spofs({tuple(self)!r})"


@dataclass(frozen=True)
class Gap:
    """A node the service depends on that is down with nothing failed."""

    node: str
    # True: its own requirement cannot be met (fewer alternatives inside the RTO than it needs,
    # a capability with no provider). False: it is down because what it needs is.
    unmet: bool
    required: int  # dependencies needed (1 for `any`, k for k-of-n, all of them for `all`)
    counted: int  # dependencies that count (inside the service's RTO)
    total: int  # dependencies in the graph
    because: tuple[str, ...] = ()  # its dependencies that are down with nothing failed


@dataclass(frozen=True)
class ServiceReport:
    service: str
    threshold: float | None  # the RTO the analysis used (None: every alternative counts)
    down: bool  # already down with nothing failed: it lists gaps and no SPOFs
    spofs: Sequence[Spof]  # a tuple, or `Spofs` from the programme
    gaps: tuple[Gap, ...]

    @property
    def spof_ids(self) -> frozenset[str]:
        if isinstance(self.spofs, Spofs):
            return self.spofs.ids
        return frozenset(s.node for s in self.spofs)

    def spof(self, node_id: str) -> Spof | None:
        if isinstance(self.spofs, Spofs):
            return self.spofs.find(node_id)
        return next((s for s in self.spofs if s.node == node_id), None)


def _groups(
    graph: DependencyGraph, services: Iterable[int] | None
) -> dict[float | None, list[int]]:
    chosen = graph.services if services is None else tuple(services)
    groups: dict[float | None, list[int]] = defaultdict(list)
    for s in chosen:
        groups[graph.threshold(s)].append(s)
    return groups


def _service_positions(graph: DependencyGraph, services: Iterable[str] | None) -> list[int] | None:
    if services is None:
        return None
    return [graph.index[s] for s in services]


def _gaps(
    graph: DependencyGraph, eff: Effective, base: bytearray, service: int, down: Iterable[int]
) -> tuple[Gap, ...]:
    """The nodes of the service's closure that are down with nothing failed: those whose own
    requirement is unmet first, then those down because of them. The service itself is listed
    only when its own requirement is unmet."""
    found = []
    for g in down:
        unmet = eff.need[g] <= 0
        if g == service and not unmet:
            continue
        counted = eff.deps[g]
        found.append(
            Gap(
                graph.nodes[g].id,
                unmet,
                graph.k[g] or len(counted),
                len(counted),
                len(graph.deps[g]),
                tuple(graph.nodes[d].id for d in counted if base[d]),
            )
        )
    order = {node.id: i for i, node in enumerate(graph.nodes)}
    return tuple(sorted(found, key=lambda gap: (not gap.unmet, order[gap.node])))


def _order(graph: DependencyGraph, reports: list[ServiceReport]) -> list[ServiceReport]:
    position = {graph.nodes[s].id: s for s in graph.services}
    return sorted(reports, key=lambda r: position[r.service])


def _sorted_spofs(spofs: list[Spof]) -> tuple[Spof, ...]:
    return tuple(sorted(spofs, key=lambda s: (len(s.witness), s.node)))


def _defeats(
    graph: DependencyGraph,
    eff: Effective,
    base: bytearray,
    candidates: Iterable[int],
    taken_down: Callable[[int], bool],
) -> tuple[str, ...]:
    """The candidates (down, redundant) that lost two or more counted alternatives together."""
    out = []
    for x in candidates:
        taken = 0
        for d in eff.deps[x]:
            if not base[d] and taken_down(d):
                taken += 1
                if taken == 2:
                    out.append(graph.nodes[x].id)
                    break
    return tuple(sorted(out))


# --- the reference ---------------------------------------------------------------------------


def brute_force_reports(
    graph: DependencyGraph, services: Iterable[str] | None = None
) -> list[ServiceReport]:
    """Fail each node alone and propagate: the definition, O(nodes x edges) per threshold."""
    reports: list[ServiceReport] = []
    ids = [node.id for node in graph.nodes]
    for threshold, group in _groups(graph, _service_positions(graph, services)).items():
        eff = graph.effective(threshold)
        base = eff.baseline
        closures = {s: eff.closure([s]) for s in group}
        found: dict[int, list[Spof]] = {s: [] for s in group}
        alive = [s for s in group if not base[s]]
        for v in range(len(graph)) if alive else ():
            if base[v]:
                continue  # already down: failing it changes nothing
            down = eff.down([v])
            for s in alive:
                if s == v or not down[s]:
                    continue
                witness = _witness_by_search(eff, base, down, s, v, ids)
                defeats = _defeats(
                    graph,
                    eff,
                    base,
                    (x for x in closures[s] if graph.k[x] and x != v and down[x] and not base[x]),
                    down.__getitem__,
                )
                found[s].append(Spof(ids[v], witness, defeats))
        for s in group:
            gaps = _gaps(graph, eff, base, s, (g for g in closures[s] if base[g]))
            reports.append(
                ServiceReport(ids[s], threshold, bool(base[s]), _sorted_spofs(found[s]), gaps)
            )
    return _order(graph, reports)


def _witness_by_search(
    eff: Effective,
    base: bytearray,
    down: bytearray,
    service: int,
    failed: int,
    ids: Sequence[str],
) -> tuple[str, ...]:
    """A shortest chain from the service to the failed node through nodes it took down."""
    parent = {service: -1}
    queue = deque([service])
    while queue:
        x = queue.popleft()
        if x == failed:
            break
        for d in eff.deps[x]:
            if d not in parent and down[d] and not base[d]:
                parent[d] = x
                queue.append(d)
    chain = []
    x = failed
    while x != -1:
        chain.append(ids[x])
        x = parent[x]
    return tuple(chain)


# --- the dynamic programme ------------------------------------------------------------------


def _at_least(sets: Sequence[Hops], m: int) -> set[int]:
    """The members of at least `m` of `sets` (1 < m < len(sets))."""
    counts: Counter[int] = Counter()
    for s in sets:
        counts.update(s.keys())
    return {v for v, c in counts.items() if c >= m}


def _first_carrier(ds: Sequence[int], sets: Sequence[Hops], members: Iterable[int]) -> Hops:
    """`members` (each in at least one of `sets`), each with the first of `ds` whose set holds
    it: dictionaries built from the last to the first, so that earlier ones win."""
    hops: Hops = {}
    for d, found in zip(reversed(ds), reversed(sets), strict=True):
        hops.update(dict.fromkeys(found.keys() & members, d))
    return hops


def _union(ds: Sequence[int], sets: Sequence[Hops]) -> Hops:
    """The union of `sets`, each member with the first of `ds` whose set holds it."""
    if len(sets) == 1:
        return dict.fromkeys(sets[0], ds[0])
    hops = dict.fromkeys(sets[-1], ds[-1])
    for i in range(len(sets) - 2, -1, -1):
        hops.update(dict.fromkeys(sets[i], ds[i]))
    return hops


class _Plan:
    """What the programme needs to know about thresholds before it starts.

    The services are grouped by threshold (their RTO); thresholds are numbered in increasing
    order (no RTO last). An edge out of an `any` / k-of-n node counts from the first threshold
    at or above its switchover time. Two masks of threshold numbers per node, both worked out
    level by level over numpy arrays:

    - `needed_mask`: the thresholds under which some chosen service depends on the node
      (through counted edges);
    - `breaks_mask`: the thresholds at which some edge below the node starts to count. Two
      thresholds with no break between them see the same graph below the node, so its answers
      are shared: most nodes low in a supply map have one answer for every RTO (one class of
      `_Layout`).

    Thresholds are bits of a 64-bit integer: at most `PLAN_MAX_THRESHOLDS` of them."""

    def __init__(
        self,
        graph: DependencyGraph,
        services: Sequence[int],
        thresholds: Sequence[float | None] | None = None,
    ) -> None:
        if thresholds is None:
            thresholds = [graph.threshold(s) for s in services]
        values = sorted(set(thresholds), key=_threshold_order)
        self.thresholds: list[float | None] = values
        position = {t: i for i, t in enumerate(values)}
        self.number = [position[t] for t in thresholds]
        count = len(values)
        n = len(graph)
        src, dst = graph.edge_source, graph.edge_target
        limits = np.array([np.inf if t is None else t for t in values], dtype=np.float64)
        # First threshold number under which each edge counts (`count`: never).
        first = np.searchsorted(limits, graph.edge_switchover, side="left")
        first[graph.edge_from_all] = 0
        shape = graph.structure
        height = shape.height
        top = int(height.max(initial=0)) + 1
        by_height = stable_order(height[src], top)
        bounds = np.searchsorted(height[src][by_height], np.arange(int(height.max(initial=0)) + 2))
        loops_at: dict[int, list[list[int]]] = defaultdict(list)
        for members in shape.loops:
            loops_at[int(height[members[0]])].append(members)
        full = (1 << count) - 1
        # breaks: bottom up.
        breaks = np.zeros(n, dtype=np.int64)
        inner = (first > 0) & (first < count)
        np.bitwise_or.at(breaks, src[inner], np.left_shift(1, first[inner]))
        for h in range(len(bounds) - 1):
            edges = by_height[bounds[h] : bounds[h + 1]]
            if h and edges.size:
                np.bitwise_or.at(breaks, src[edges], breaks[dst[edges]])
            for members in loops_at.get(h, ()):
                breaks[members] = np.bitwise_or.reduce(breaks[members])
        # needed: top down, through the edges that count.
        needed = np.zeros(n, dtype=np.int64)
        np.bitwise_or.at(needed, np.array(services, dtype=np.int64), np.left_shift(1, self.number))
        passes = full & ~(np.left_shift(1, np.minimum(first, count)) - 1)
        for h in range(len(bounds) - 2, -1, -1):
            for members in loops_at.get(h, ()):
                needed[members] = np.bitwise_or.reduce(needed[members])
            edges = by_height[bounds[h] : bounds[h + 1]]
            if edges.size:
                np.bitwise_or.at(needed, dst[edges], needed[src[edges]] & passes[edges])
        # What the layout (`_Layout`) works from.
        self.first = first  # per edge: the first threshold number under which it counts
        self.needed_mask = needed
        self.breaks_mask = breaks
        self.height = height
        self.top = top
        self.structure = shape


def _threshold_order(t: float | None) -> float:
    return float("inf") if t is None else t


class _Layout:
    """The programme's work laid out over numpy arrays before the pass in Python starts.

    A node needed under several thresholds has one entry, a *class*, per run of thresholds
    between which nothing below it starts to count (most nodes of a supply map have one class).
    `class_of(x, t)` is the class of node x under threshold number t; per class c: `node[c]`,
    and its counted dependencies as the classes `deps[start[c]:end[c]]`, in dependency order.
    `tasks` lists the classes outside loops, dependencies first; `stops` says where, in that
    order, each loop is solved, with the threshold numbers of its classes. Both forms of the
    programme keep their values per class, so the pass neither filters edges by switchover time
    nor copies answers between thresholds."""

    def __init__(self, graph: DependencyGraph, plan: _Plan) -> None:
        count = self.count = len(plan.thresholds)
        down = graph._down
        # Needed (node, threshold) slots, by node then threshold, and their classes: a new class
        # starts at a node's first needed threshold and wherever an edge below it starts to count.
        # (Each node's mask unpacked to 64 bytes, whatever the number of thresholds.)
        bits = np.unpackbits(
            plan.needed_mask.astype("<u8").view(np.uint8).reshape(-1, 8), axis=1, bitorder="little"
        )
        slots = np.flatnonzero(bits[:, :count])
        nodes = slots // count
        numbers = slots - nodes * count
        below = plan.breaks_mask[nodes] & ((np.int64(2) << numbers) - 1)
        starts = np.ones(len(slots), dtype=bool)
        starts[1:] = (nodes[1:] != nodes[:-1]) | (below[1:] != below[:-1])
        # slot x * count + t -> class (-1: x not needed under t); 32 bits: with 62 thresholds
        # on a million-edge map it is 65 MB.
        table = np.full(len(graph) * count, -1, dtype=np.int32)
        table[slots] = np.cumsum(starts) - 1
        node = nodes[starts]
        number = numbers[starts]
        # Each class's counted dependencies, as classes, grouped by class.
        begin = down.start
        positions = gather(begin, node)
        owner = np.repeat(np.arange(len(node)), begin[node + 1] - begin[node])
        counts = plan.first[down.edge[positions]] <= number[owner]
        owner = owner[counts]
        deps = table[down.index[positions[counts]] * count + number[owner]]
        sizes = np.bincount(owner, minlength=len(node))
        end = np.cumsum(sizes)
        start = end - sizes
        self.table = table
        self.node_array = node
        self.node: list[int] = node.tolist()
        self.deps: list[int] = deps.tolist()
        self.start: list[int] = start.tolist()
        self.end: list[int] = end.tolist()
        # The order of the pass: by height; loops are solved whole, after the classes of their
        # height (nothing at the same height depends on them).
        shape = plan.structure
        order = stable_order(plan.height[node], plan.top)
        looped = np.zeros(len(graph), dtype=bool)
        for members in shape.loops:
            looped[members] = True
        tasks = order[~looped[node[order]]]
        heights = plan.height[node[tasks]]
        stops = []
        for members in shape.loops:
            first = members[0]
            lo, hi = np.searchsorted(node, [first, first + 1]).tolist()
            at = int(np.searchsorted(heights, plan.height[first], side="right"))
            stops.append((at, members, number[lo:hi].tolist()))
        stops.sort(key=lambda stop: stop[0])
        self.stops: list[tuple[int, list[int], list[int]]] = stops
        self.tasks = tasks
        self._start_array, self._end_array = start, end
        self._k = graph.k_array

    def class_of(self, x: int, t: int) -> int:
        """The class of node x under threshold number t."""
        return self.table.item(x * self.count + t)

    def dep_classes(self, c: int) -> list[int]:
        return self.deps[self.start[c] : self.end[c]]

    def counted(self, x: int, t: int) -> list[int]:
        """The dependencies of x that count under threshold number t."""
        node = self.node
        return [node[d] for d in self.dep_classes(self.class_of(x, t))]

    def sweep(
        self,
        own: np.ndarray,
        run: Callable[[list[int], list[int], list[int], list[int], list[int]], None],
        loop: Callable[[list[int]], None],
    ) -> None:
        """The pass: `run(classes, owns, ks, starts, ends)` over the classes outside loops,
        dependencies first, with `loop(classes)` called for each loop's classes under each of
        its thresholds where it falls; `own` gives, per node, what `run` is handed for it."""
        tasks = self.tasks
        task_nodes = self.node_array[tasks]
        columns = (
            tasks.tolist(),
            own[task_nodes].tolist(),
            self._k[task_nodes].tolist(),
            self._start_array[tasks].tolist(),
            self._end_array[tasks].tolist(),
        )
        done = 0
        for at, members, numbers in self.stops:
            run(*(column[done:at] for column in columns))
            for t in numbers:
                loop([self.class_of(x, t) for x in members])
            done = at
        run(*(column[done:] for column in columns))


class _Programme:
    """SPOF sets of every node the chosen services depend on, under each of their thresholds,
    per class of the layout.

    `values[c]`: the nodes whose failure alone takes the class's node x down (x included),
    None when x is down with nothing failed, as a dictionary that gives for each of them the
    class of the dependency through which its failure arrives (the first in dependency order;
    c itself for x): the next link of a witness, so that walking these links from a service
    down to a SPOF gives its witness without searching. `marks[c]`: the nodes x depends on
    (counted edges, x included) that the reports look at: those down with nothing failed (gaps)
    and those a single failure defeats by taking out two or more alternatives at once; only the
    classes in `marked` have any. `defeated[c]`: those single failures."""

    def __init__(self, graph: DependencyGraph, plan: _Plan) -> None:
        self.graph = graph
        layout = self.layout = _Layout(graph, plan)
        classes = len(layout.node)
        self.values: list[Hops | None] = [None] * classes
        self.marks: list[frozenset[int]] = [_EMPTY] * classes
        self.marked: set[int] = set()
        self.defeated: dict[int, set[int]] = {}
        layout.sweep(np.arange(len(graph)), self._run, self._loop)

    def _run(
        self,
        classes: list[int],
        nodes: list[int],
        ks: list[int],
        starts: list[int],
        ends: list[int],
    ) -> None:
        """The hot loop over classes outside loops, dependencies first, written out by hand."""
        values, marks, marked, defeated = self.values, self.marks, self.marked, self.defeated
        deps = self.layout.deps
        value_of, mark_of = values.__getitem__, marks.__getitem__
        unmarked = marked.isdisjoint
        for c, x, kx, a, b in zip(classes, nodes, ks, starts, ends, strict=True):
            ds = deps[a:b]
            sets = list(map(value_of, ds))
            flagged = False
            result: Hops | None
            if kx == 0:
                # `all`: down when any dependency is; the union of their sets.
                if None in sets:
                    result = None
                    flagged = True
                elif sets:
                    # Built from the last to the first: earlier dependencies win.
                    last = len(sets) - 1
                    result = dict.fromkeys(sets[last], ds[last])  # type: ignore[arg-type]
                    while last:
                        last -= 1
                        result.update(dict.fromkeys(sets[last], ds[last]))  # type: ignore[arg-type]
                    result[x] = c
                else:
                    result = {x: c}
            else:
                if None in sets:
                    live_ds = [d for d, s in zip(ds, sets, strict=True) if s is not None]
                    live = [s for s in sets if s is not None]
                else:
                    live_ds, live = ds, sets  # type: ignore[assignment]
                need = len(ds) - kx + 1
                down = len(ds) - len(live)
                if need <= 0 or down >= need:
                    result = None
                    flagged = True
                else:
                    m = need - down
                    defeats: set[int] | None = None
                    if m == len(live):
                        # In every live set: the first live dependency carries them all, and
                        # with two or more alternatives each of them defeats x.
                        if len(live) == 1:
                            result = dict.fromkeys(live[0], live_ds[0])
                        else:
                            common = live[0].keys() & live[1].keys()
                            for other in live[2:]:
                                common &= other.keys()
                            result = dict.fromkeys(common, live_ds[0])
                            defeats = common
                    elif m == 1:
                        result = _union(live_ds, live)  # type: ignore[arg-type]
                    else:
                        result = _first_carrier(live_ds, live, _at_least(live, m))  # type: ignore[arg-type]
                    result[x] = c
                    if defeats is not None:
                        if defeats:
                            defeated[c] = defeats
                            flagged = True
                    elif len(result) > 1:
                        # Single failures that take out two or more alternatives at once.
                        defeats = {v for v in result if v != x and sum(v in s for s in live) >= 2}
                        if defeats:
                            defeated[c] = defeats
                            flagged = True
            values[c] = result
            # Marks are rare (gaps and common causes): a class whose dependencies have none
            # skips their union.
            if flagged or not unmarked(ds):
                below = [found for found in map(mark_of, ds) if found]
                if flagged:
                    below.append(frozenset((x,)))
                marks[c] = below[0] if len(below) == 1 else frozenset().union(*below)
                marked.add(c)

    def _loop(self, members: list[int]) -> None:
        """A loop (its members' classes under one threshold), solved by propagating inside it
        once per distinct pattern of failed dependencies outside it, and once per member failed
        on its own: exactly the least fixed point restricted to the loop."""
        values, marks, node = self.values, self.marks, self.layout.node
        inside = set(members)
        deps = {c: self.layout.dep_classes(c) for c in members}
        k = self.graph.k
        need = {c: 1 if k[node[c]] == 0 else len(deps[c]) - k[node[c]] + 1 for c in members}
        base = dict.fromkeys(members, False)

        def is_down(d: int) -> bool:
            return base[d] if d in inside else values[d] is None

        # Down with nothing failed: the least fixed point inside, given what is down outside.
        changed = True
        while changed:
            changed = False
            for c in members:
                if not base[c] and (need[c] <= 0 or sum(map(is_down, deps[c])) >= need[c]):
                    base[c] = changed = True
        alive = [c for c in members if not base[c]]
        dependants: dict[int, list[int]] = defaultdict(list)
        start: dict[int, int] = {}
        for c in alive:
            start[c] = sum(map(is_down, deps[c]))
            for d in deps[c]:
                dependants[d].append(c)

        def propagate(seeds: Sequence[int]) -> dict[int, int]:
            """Members down once `seeds` (classes) are down (least fixed point), each with its
            cause, the next link of the witness: the first dependency, in dependency order,
            that was down a round earlier (a seed member is its own cause). The rule of the
            bit-set form's loops, so that both forms give the same witnesses."""
            count = dict(start)
            reached = dict.fromkeys(seeds, 0)  # class -> the round it went down in
            frontier = list(seeds)
            round_ = 0
            while frontier:
                round_ += 1
                following = []
                for j in frontier:
                    for c in dependants.get(j, ()):
                        if c not in reached:
                            count[c] += 1
                            if count[c] >= need[c]:
                                reached[c] = round_
                                following.append(c)
                frontier = following
            cause: dict[int, int] = {}
            for c, went in reached.items():
                if c in inside:
                    if went == 0:
                        cause[c] = c
                    else:
                        cause[c] = next(d for d in deps[c] if reached.get(d, went) < went)
            return cause

        # Per member: each failure (a node) that takes it down, with its cause (the next link
        # of the witness): runs are disjoint in their candidates, so no failure is seen twice.
        result: dict[int, Hops] = {c: {} for c in alive}
        if alive:
            # Outside candidates, grouped by which outside dependencies they take down together.
            signature: dict[int, list[int]] = defaultdict(list)
            outside = sorted({d for c in alive for d in deps[c] if d not in inside})
            for d in outside:
                found = values[d]
                if found is not None:
                    for v in found:
                        signature[v].append(d)
            by_signature: dict[tuple[int, ...], set[int]] = defaultdict(set)
            for v, sig in signature.items():
                by_signature[tuple(sig)].add(v)
            for sig, candidates in by_signature.items():
                cause = propagate(sig)
                for c, j in cause.items():
                    result[c].update(dict.fromkeys(candidates, j))
            for v in alive:
                cause = propagate([v])
                for c, j in cause.items():
                    result[c][node[v]] = j
        for c in members:
            values[c] = None if base[c] else result[c]
        for c in alive:
            x = node[c]
            live = [s for s in (values[d] for d in deps[c]) if s is not None]
            if k[x] and len(result[c]) > 1:
                defeats = {v for v in result[c] if v != x and sum(v in s for s in live) >= 2}
                if defeats:
                    self.defeated[c] = defeats
        # What each member depends on: a fixed point, as slow alternatives may have been
        # removed and the members need not reach one another any more.
        own = {
            c: frozenset((node[c],)) if base[c] or c in self.defeated else _EMPTY for c in members
        }
        reach = {c: own[c].union(*(marks[d] for d in deps[c] if d not in inside)) for c in members}
        changed = True
        while changed:
            changed = False
            for c in members:
                grown = reach[c].union(*(reach[d] for d in deps[c] if d in inside))
                if len(grown) != len(reach[c]):
                    reach[c] = grown
                    changed = True
        for c in members:
            marks[c] = reach[c]
            if reach[c]:
                self.marked.add(c)

    # What the reports read (the bit-set programme answers the same questions).

    def is_down(self, c: int) -> bool:
        """Is class c down with nothing failed?"""
        return self.values[c] is None

    def mark_nodes(self, c: int) -> Iterable[int]:
        return self.marks[c]

    def defeat_hits(self, cx: int, cs: int, s: int) -> Iterable[int]:
        """The SPOFs of service s (class cs) that defeat class cx."""
        hit = self.defeated.get(cx)
        if hit is None:
            return ()
        return [v for v in hit.intersection(self.values[cs]) if v != s]  # type: ignore[arg-type]

    def spofs(self, s: int, c: int, defeats: dict[int, tuple[str, ...]]) -> Spofs:
        graph = self.graph
        return Spofs(graph.node_ids, graph.index, s, c, self.values, self.layout.node, defeats)


_EMPTY: frozenset[int] = frozenset()


def _gap(
    graph: DependencyGraph, g: int, counted: Sequence[int], is_base: Callable[[int], bool]
) -> Gap:
    k = graph.k[g]
    unmet = k > 0 and len(counted) - k + 1 <= 0
    return Gap(
        graph.nodes[g].id,
        unmet,
        k or len(counted),
        len(counted),
        len(graph.deps[g]),
        tuple(graph.nodes[d].id for d in counted if is_base(d)),
    )


def spof_reports(
    graph: DependencyGraph, services: Iterable[str] | None = None
) -> list[ServiceReport]:
    """SPOF sets, witnesses, gaps and common causes per business service, by the programme."""
    with collector_paused():
        return _spof_reports(graph, services)


# Up to this many nodes the programme keeps each SPOF set as the bits of one integer
# (`spof_bits`). Above it sets are sparse and an integer per class costs more memory than a
# dictionary. Measured on generated supply maps (the engine, then with every witness read; peak
# memory): 21,000 nodes, bits 45 / 119 ms against dictionaries 74 / 156 ms, 19 MB each; 42,000
# nodes, bits 106 / 294 ms against 135 / 317 ms, but 53 MB against 36 MB.
BIT_SETS_MAX_NODES = 20_000


# The plan keeps the thresholds (RTOs) a node is needed under as the bits of one 64-bit integer:
# services with more distinct RTOs than this are analysed in blocks of this many RTOs.
PLAN_MAX_THRESHOLDS = 62


def _spof_reports(graph: DependencyGraph, services: Iterable[str] | None) -> list[ServiceReport]:
    chosen = list(graph.services if services is None else _service_positions(graph, services))
    thresholds = sorted({graph.threshold(s) for s in chosen}, key=_threshold_order)
    if len(thresholds) <= PLAN_MAX_THRESHOLDS:
        return _reports(graph, chosen)
    reports: list[ServiceReport] = []
    for i in range(0, len(thresholds), PLAN_MAX_THRESHOLDS):
        block = set(thresholds[i : i + PLAN_MAX_THRESHOLDS])
        reports.extend(_reports(graph, [s for s in chosen if graph.threshold(s) in block]))
    return _order(graph, reports)


def _reports(graph: DependencyGraph, chosen: list[int]) -> list[ServiceReport]:
    """The reports of the chosen services (positions), whose RTOs fit in one plan."""
    if not chosen:
        return []
    plan = _Plan(graph, chosen)
    programme: _Programme | BitProgramme
    if len(graph) <= BIT_SETS_MAX_NODES:
        # Imported here: spof_bits builds on this module's types.
        from vendor_portal.graph.domain.spof_bits import BitProgramme

        programme = BitProgramme(graph, plan)
    else:
        programme = _Programme(graph, plan)
    ids = graph.node_ids
    layout = programme.layout
    class_of, is_down = layout.class_of, programme.is_down
    # A gap node's Gap is the same for every service that reaches it under the same class.
    gap_of: dict[int, Gap] = {}

    def gap(g: int, t: int, cg: int) -> Gap:
        found = gap_of.get(cg)
        if found is None:
            counted = layout.counted(g, t)
            down = {d for d in counted if is_down(class_of(d, t))}
            found = gap_of[cg] = _gap(graph, g, counted, down.__contains__)
        return found

    reports: list[ServiceReport] = []
    for s, t in zip(chosen, plan.number, strict=True):
        threshold = plan.thresholds[t]
        c = class_of(s, t)
        marks = programme.mark_nodes(c)
        ranked = []
        for g in marks:
            cg = class_of(g, t)
            if is_down(cg):
                found = gap(g, t, cg)
                if g != s or found.unmet:  # the service itself only when its need is unmet
                    ranked.append((not found.unmet, g, found))
        ranked.sort()  # nodes are unique: the gaps are never compared
        gaps = tuple(found for _unmet, _g, found in ranked)
        if is_down(c):
            reports.append(ServiceReport(ids[s], threshold, True, (), gaps))
            continue
        defeats: dict[int, list[str]] = {}
        if programme.defeated:
            for x in marks:
                for v in programme.defeat_hits(class_of(x, t), c, s):
                    defeats.setdefault(v, []).append(ids[x])
        spofs = programme.spofs(s, c, {v: tuple(sorted(found)) for v, found in defeats.items()})
        reports.append(ServiceReport(ids[s], threshold, False, spofs, gaps))
    return _order(graph, reports)


def single_failures(graph: DependencyGraph, nodes: Iterable[int]) -> dict[int, frozenset[int]]:
    """For each of `nodes`: the nodes whose failure alone takes it down (itself included),
    every alternative counted (no RTO); empty for a node down with nothing failed. The
    programme's sets, for analyses of nodes other than business services (common causes)."""
    chosen = list(dict.fromkeys(nodes))
    if not chosen:
        return {}
    with collector_paused():
        programme = _Programme(graph, _Plan(graph, chosen, [None] * len(chosen)))
    values, class_of = programme.values, programme.layout.class_of
    out = {}
    for x in chosen:
        found = values[class_of(x, 0)]
        out[x] = _EMPTY if found is None else frozenset(found)
    return out


@dataclass(frozen=True)
class Concentration:
    """How much rides on one node: the services it is a SPOF of and their downtime cost."""

    node: str
    services: tuple[str, ...]
    cost_per_hour: float

    @property
    def service_count(self) -> int:
        return len(self.services)


def concentration(graph: DependencyGraph, reports: Iterable[ServiceReport]) -> list[Concentration]:
    """Nodes that are a SPOF of at least one service, the costliest first."""
    services: dict[str, list[str]] = defaultdict(list)
    cost: dict[str, float] = defaultdict(float)
    for report in reports:
        service_cost = graph.node(report.service).downtime_cost_per_hour
        for spof in report.spofs:
            services[spof.node].append(report.service)
            cost[spof.node] += service_cost
    ranked = [Concentration(node, tuple(s), cost[node]) for node, s in services.items()]
    ranked.sort(key=lambda c: (-c.cost_per_hour, -len(c.services), c.node))
    return ranked
