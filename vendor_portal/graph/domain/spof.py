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
  A node's set is a dictionary of node positions, so its cost follows the size of its answer,
  not the size of the graph; each member maps to the first dependency (in dependency order)
  whose set holds it, the one that carries its failure up (in a loop: the member or outside
  dependency whose failure broke the requirement). Those links are the witnesses: from the
  service down, follow the failed node's link at each node until the node itself, O(length of
  the chain) with no search. `Spofs` keeps them so, and makes a `Spof` with its witness tuple
  when it is read (half a million of them on a large map), shortest chains first.

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
from functools import cached_property
from typing import NamedTuple

import numpy as np

from vendor_portal.graph.domain.collection import collector_paused
from vendor_portal.graph.domain.model import DependencyGraph, Effective
from vendor_portal.graph.domain.structure import gather, stable_order


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
    The programme keeps, per node, the next link towards each failure that takes it down; a
    witness is those links followed from the service down to the SPOF, O(length of the chain)
    with nothing searched again. `witness(node_id)` reads one; iterating (or indexing) gives
    `Spof`s in report order (shortest chains first, then by id), made when first read.
    Compares equal to a tuple of the same `Spof`s."""

    __slots__ = ("_defeats", "_hops", "_ids", "_index", "_order", "_service")

    def __init__(
        self,
        ids: Sequence[str],
        index: Mapping[str, int],
        service: int,
        hops: Sequence[Hops | None],
        defeats: dict[int, tuple[str, ...]],
    ) -> None:
        self._ids = ids
        self._index = index
        self._service = service
        self._hops = hops  # per node position: its SPOF set with the next links
        self._defeats = defeats
        self._order: list[int] | None = None

    def _chain(self, v: int) -> list[int]:
        """From v up to the service."""
        hops = self._hops
        x = self._service
        chain = [x]
        while x != v:
            x = hops[x][v]  # type: ignore[index]
            chain.append(x)
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
        for v in self._hops[service]:  # type: ignore[union-attr]
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
        return len(self._hops[self._service]) - 1  # type: ignore[arg-type]

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
        return frozenset(ids[v] for v in self._hops[service] if v != service)  # type: ignore[union-attr]

    def witness(self, node_id: str) -> tuple[str, ...] | None:
        """The witness of one SPOF (None if the node is not one), from it up to the service."""
        spof = self.find(node_id)
        return None if spof is None else spof.witness

    def find(self, node_id: str) -> Spof | None:
        v = self._index.get(node_id)
        if v is None or v == self._service or v not in self._hops[self._service]:  # type: ignore[operator]
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

    - `needed`: the thresholds under which some chosen service depends on the node (through
      counted edges);
    - `breaks`: the thresholds at which some edge below the node starts to count. Two thresholds
      with no break between them see the same graph below the node, so its answers are shared:
      most nodes low in a supply map have one answer for every RTO."""

    def __init__(
        self,
        graph: DependencyGraph,
        services: Sequence[int],
        thresholds: Sequence[float | None] | None = None,
    ) -> None:
        self.graph = graph
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
        late = first > 0
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
        # Kept as arrays: the bit-set programme reads them as they are, the dictionary programme
        # as the lists below (made when first asked for).
        self.first = first  # per edge: the first threshold number under which it counts
        self.late = late
        self.needed_mask = needed
        self.breaks_mask = breaks
        self.height = height
        self.top = top
        self.structure = shape
        self.loop_members = {members[0]: members for members in shape.loops}

    @cached_property
    def first_by_node(self) -> dict[int, tuple[int, ...]]:
        """Per needed node with an edge that does not always count: each edge's first
        threshold number, in dependency order."""
        late, first, graph = self.late, self.first, self.graph
        if not late.any():
            return {}
        has_late = np.zeros(len(graph), dtype=bool)
        has_late[graph.edge_source[late]] = True
        has_late &= self.needed_mask != 0
        begin = graph._down.start
        chosen = np.flatnonzero(has_late)
        positions = gather(begin, chosen)
        firsts = first[graph._down.edge[positions]].tolist()
        ends = np.cumsum(begin[chosen + 1] - begin[chosen]).tolist()
        bounds = zip(chosen.tolist(), [0, *ends], ends, strict=False)
        return {x: tuple(firsts[a:b]) for x, a, b in bounds}

    @cached_property
    def order(self) -> list[int]:
        """The needed nodes, dependencies first."""
        order = np.flatnonzero(self.needed_mask)
        return order[stable_order(self.height[order], self.top)].tolist()

    @cached_property
    def needed(self) -> list[int]:
        return self.needed_mask.tolist()

    @cached_property
    def breaks(self) -> list[int]:
        return self.breaks_mask.tolist()

    @cached_property
    def component(self) -> list[int] | None:
        shape = self.structure
        return None if shape.acyclic else shape.component.tolist()

    def counted(self, x: int, number: int) -> tuple[int, ...]:
        """The dependencies of x that count under threshold `number`."""
        firsts = self.first_by_node.get(x)
        deps = self.graph.deps[x]
        if firsts is None:
            return deps
        return tuple(d for d, f in zip(deps, firsts, strict=True) if f <= number)


def _threshold_order(t: float | None) -> float:
    return float("inf") if t is None else t


class _Programme:
    """SPOF sets of every node the chosen services depend on, under each of their thresholds.

    Per threshold number t and node x: `spofs[t][x]` the nodes whose failure alone takes x down
    (x included), None when x is down with nothing failed, as a dictionary that gives for each
    of them the dependency of x through which its failure arrives (the first in dependency
    order; x for x itself): the next link of a witness, so that walking these links from a
    service down to a SPOF gives its witness without searching; `marks[t][x]` the nodes x depends on
    (counted edges, x included) that the reports look at: those down with nothing failed (gaps)
    and those a single failure defeats by taking out two or more alternatives at once;
    `defeated[t][x]` those single failures."""

    def __init__(self, graph: DependencyGraph, plan: _Plan) -> None:
        self.graph = graph
        self.plan = plan
        count = len(plan.thresholds)
        n = len(graph)
        self.spofs: list[list[Hops | None]] = [[None] * n for _ in range(count)]
        self.marks: list[list[frozenset[int]]] = [[_EMPTY] * n for _ in range(count)]
        self.defeated: list[dict[int, set[int]]] = [{} for _ in range(count)]
        low = [(2 << t) - 1 for t in range(count)]
        needed, breaks, k = plan.needed, plan.breaks, graph.k
        component = plan.component
        spofs, marks, defeated = self.spofs, self.marks, self.defeated
        first_by_node, all_deps = plan.first_by_node, graph.deps
        # The hot loop: one pass over the nodes, dependencies first, written out by hand.
        for x in plan.order:
            mask, cut = needed[x], breaks[x]
            if component is not None and (component[x] != x or x in plan.loop_members):
                if component[x] == x:
                    self._solve_loop(plan.loop_members[x], mask, cut, low)
                continue
            kx = k[x]
            if not all_deps[x]:
                # No dependencies: down by its own failure only, under every threshold (or,
                # needing some, down with nothing failed).
                value, mark = ({x: x}, _EMPTY) if kx == 0 else (None, frozenset((x,)))
                while mask:
                    bit = mask & -mask
                    mask ^= bit
                    t = bit.bit_length() - 1
                    spofs[t][x] = value
                    marks[t][x] = mark
                continue
            firsts = first_by_node.get(x)
            previous_class = previous = -1
            while mask:
                bit = mask & -mask
                mask ^= bit
                t = bit.bit_length() - 1
                klass = (cut & low[t]).bit_length()
                if klass == previous_class:
                    # Nothing below x changes between the two thresholds: same answers.
                    spofs[t][x] = spofs[previous][x]
                    marks[t][x] = marks[previous][x]
                    found = defeated[previous].get(x)
                    if found is not None:
                        defeated[t][x] = found
                    continue
                previous_class, previous = klass, t
                ds = all_deps[x]
                if firsts is not None:
                    ds = tuple(d for d, f in zip(ds, firsts, strict=True) if f <= t)
                spofs_t = spofs[t]
                sets = list(map(spofs_t.__getitem__, ds))
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
                        result[x] = x
                    else:
                        result = {x: x}
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
                        if not live:
                            result = {x: x}
                        elif m == len(live):
                            # In every live set: the first live dependency carries them all,
                            # and with two or more alternatives each of them defeats x.
                            if len(live) == 1:
                                result = dict.fromkeys(live[0], live_ds[0])
                            else:
                                common = live[0].keys() & live[1].keys()
                                for other in live[2:]:
                                    common &= other.keys()
                                result = dict.fromkeys(common, live_ds[0])
                                defeats = common
                        elif m == 1:
                            result = _union(live_ds, live)
                        else:
                            result = _first_carrier(live_ds, live, _at_least(live, m))
                        result[x] = x
                        if defeats is not None:
                            if defeats:
                                defeated[t][x] = defeats
                                flagged = True
                        elif len(result) > 1:
                            # Single failures that take out two or more alternatives at once.
                            defeats = {
                                v for v in result if v != x and sum(v in s for s in live) >= 2
                            }
                            if defeats:
                                defeated[t][x] = defeats
                                flagged = True
                spofs_t[x] = result
                marks_t = marks[t]
                below = list(filter(None, map(marks_t.__getitem__, ds)))
                if flagged:
                    below.append(frozenset((x,)))
                if below:
                    marks_t[x] = below[0] if len(below) == 1 else frozenset().union(*below)

    def _solve_loop(self, members: list[int], mask: int, cut: int, low: list[int]) -> None:
        previous_class = previous = -1
        for t in range(len(low)):
            if not (mask >> t) & 1:
                continue
            klass = (cut & low[t]).bit_length()
            if klass == previous_class:
                self._copy(members, previous, t)
                continue
            previous_class, previous = klass, t
            self._loop(members, t)

    def _copy(self, members: Sequence[int], source: int, t: int) -> None:
        spofs, marks, defeated = self.spofs, self.marks, self.defeated
        for x in members:
            spofs[t][x] = spofs[source][x]
            marks[t][x] = marks[source][x]
            found = defeated[source].get(x)
            if found is not None:
                defeated[t][x] = found

    def _loop(self, members: list[int], t: int) -> None:
        plan = self.plan
        spofs_t, marks_t = self.spofs[t], self.marks[t]
        inside = set(members)
        deps = {x: plan.counted(x, t) for x in members}
        k = self.graph.k
        need = {x: 1 if k[x] == 0 else len(deps[x]) - k[x] + 1 for x in members}
        base = {x: False for x in members}

        def is_down(d: int) -> bool:
            return base[d] if d in inside else spofs_t[d] is None

        # Down with nothing failed: the least fixed point inside, given what is down outside.
        changed = True
        while changed:
            changed = False
            for x in members:
                if not base[x] and (need[x] <= 0 or sum(map(is_down, deps[x])) >= need[x]):
                    base[x] = changed = True
        alive = [x for x in members if not base[x]]
        dependants: dict[int, list[int]] = defaultdict(list)
        start: dict[int, int] = {}
        for x in alive:
            start[x] = sum(map(is_down, deps[x]))
            for d in deps[x]:
                dependants[d].append(x)

        def propagate(seeds: Iterable[int]) -> dict[int, int]:
            """Members down once `seeds` are down (least fixed point), each with its cause: the
            dependency whose failure broke its requirement (a seed member is its own cause)."""
            count = dict(start)
            cause: dict[int, int] = {j: j for j in seeds if j in inside}
            stack = list(seeds)
            while stack:
                j = stack.pop()
                for x in dependants.get(j, ()):
                    if x not in cause:
                        count[x] += 1
                        if count[x] >= need[x]:
                            cause[x] = j
                            stack.append(x)
            return cause

        # Per member: each failure that takes it down, with its cause (the next link of the
        # witness): runs are disjoint in their candidates, so no failure is seen twice.
        result: dict[int, Hops] = {x: {} for x in alive}
        if alive:
            # Outside candidates, grouped by which outside dependencies they take down together.
            signature: dict[int, list[int]] = defaultdict(list)
            outside = sorted({d for x in alive for d in deps[x] if d not in inside})
            for d in outside:
                found = spofs_t[d]
                if found is not None:
                    for v in found:
                        signature[v].append(d)
            by_signature: dict[tuple[int, ...], set[int]] = defaultdict(set)
            for v, sig in signature.items():
                by_signature[tuple(sig)].add(v)
            for sig, candidates in by_signature.items():
                cause = propagate(sig)
                for x, j in cause.items():
                    result[x].update(dict.fromkeys(candidates, j))
            for v in alive:
                cause = propagate([v])
                for x, j in cause.items():
                    result[x][v] = j
        for x in members:
            spofs_t[x] = None if base[x] else result[x]
        for x in alive:
            live = [s for s in (spofs_t[d] for d in deps[x]) if s is not None]
            if k[x] and len(result[x]) > 1:
                defeats = {v for v in result[x] if v != x and sum(v in s for s in live) >= 2}
                if defeats:
                    self.defeated[t][x] = defeats
        # What each member depends on: a fixed point, as slow alternatives may have been
        # removed and the members need not reach one another any more.
        own = {x: frozenset((x,)) if base[x] or x in self.defeated[t] else _EMPTY for x in members}
        reach = {
            x: own[x].union(*(marks_t[d] for d in deps[x] if d not in inside)) for x in members
        }
        changed = True
        while changed:
            changed = False
            for x in members:
                grown = reach[x].union(*(reach[d] for d in deps[x] if d in inside))
                if len(grown) != len(reach[x]):
                    reach[x] = grown
                    changed = True
        for x in members:
            marks_t[x] = reach[x]


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
# (`spof_bits`). Above it sets are sparse: dictionaries take less memory, and the sets and
# witnesses together take less time (measured on generated supply maps: bits 1.4x faster at
# 2,600 nodes, even at 10,000, slower beyond, with 2.4x the memory at 20,000).
BIT_SETS_MAX_NODES = 5_000


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
    if len(graph) <= BIT_SETS_MAX_NODES:
        return _bit_reports(graph, plan, chosen)
    programme = _Programme(graph, plan)
    ids = graph.node_ids
    reports: list[ServiceReport] = []
    for s, t in zip(chosen, plan.number, strict=True):
        threshold = plan.thresholds[t]
        spofs_t = programme.spofs[t]
        defeated_t = programme.defeated[t]
        marks = programme.marks[t][s]

        def is_base(d: int, spofs_t: list = spofs_t) -> bool:
            return spofs_t[d] is None

        gap_nodes = [g for g in marks if spofs_t[g] is None]
        gaps = tuple(
            sorted(
                (
                    _gap(graph, g, plan.counted(g, t), is_base)
                    for g in gap_nodes
                    if g != s or (graph.k[g] and len(plan.counted(g, t)) - graph.k[g] + 1 <= 0)
                ),
                key=lambda gap: (not gap.unmet, graph.index[gap.node]),
            )
        )
        if spofs_t[s] is None:
            reports.append(ServiceReport(ids[s], threshold, True, (), gaps))
            continue
        defeats: dict[int, list[str]] = {}
        if defeated_t:
            own = spofs_t[s]
            for x in marks:
                hit = defeated_t.get(x)
                if hit is None:
                    continue
                for v in hit.intersection(own):  # type: ignore[arg-type]
                    if v != s:
                        defeats.setdefault(v, []).append(ids[x])
        spofs = Spofs(
            ids, graph.index, s, spofs_t, {v: tuple(sorted(found)) for v, found in defeats.items()}
        )
        reports.append(ServiceReport(ids[s], threshold, False, spofs, gaps))
    return _order(graph, reports)


def _bit_reports(graph: DependencyGraph, plan: _Plan, chosen: list[int]) -> list[ServiceReport]:
    """`_spof_reports` on the bit-set programme: the same reports, read from integers."""
    # Imported here: spof_bits builds on this module's types.
    from vendor_portal.graph.domain.spof_bits import DOWN, BitProgramme, BitSpofs

    programme = BitProgramme(graph, plan)
    ids = graph.node_ids
    values, defeated, class_of = programme.values, programme.defeated, programme.class_of
    # A gap node's Gap is the same for every service that reaches it under the same class.
    gap_of: dict[int, Gap] = {}

    def gap(g: int, t: int) -> Gap:
        cg = class_of(g, t)
        found = gap_of.get(cg)
        if found is None:
            counted = programme.counted(g, t)
            down = {d for d in counted if values[class_of(d, t)] == DOWN}
            found = gap_of[cg] = _gap(graph, g, counted, down.__contains__)
        return found

    reports: list[ServiceReport] = []
    for s, t in zip(chosen, plan.number, strict=True):
        threshold = plan.thresholds[t]
        c = class_of(s, t)
        marks = programme.nodes_of(programme.marks[c])
        ranked = []
        for g in marks:
            if values[class_of(g, t)] == DOWN:
                found = gap(g, t)
                if g != s or found.unmet:  # the service itself only when its need is unmet
                    ranked.append((not found.unmet, g, found))
        ranked.sort()  # nodes are unique: the gaps are never compared
        gaps = [found for _unmet, _g, found in ranked]
        own = values[c]
        if own == DOWN:
            reports.append(ServiceReport(ids[s], threshold, True, (), tuple(gaps)))
            continue
        own &= ~(1 << programme.bit_of[s])
        defeats: dict[int, list[str]] = {}
        if defeated:
            for x in marks:
                hit = defeated.get(class_of(x, t), 0) & own
                for v in programme.nodes_of(hit) if hit else ():
                    defeats.setdefault(v, []).append(ids[x])
        spofs = BitSpofs(
            ids,
            graph.index,
            s,
            programme,
            c,
            {v: tuple(sorted(found)) for v, found in defeats.items()},
        )
        reports.append(ServiceReport(ids[s], threshold, False, spofs, tuple(gaps)))
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
    spofs = programme.spofs[0]
    return {x: _EMPTY if spofs[x] is None else frozenset(spofs[x]) for x in chosen}  # type: ignore[arg-type]


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
