"""The SPOF programme on bit sets, for graphs of up to `spof.BIT_SETS_MAX_NODES` nodes.

The same dynamic programme as `spof._Programme`, with the same answers, but each node's SPOF set
is one Python integer whose bit v says "v's failure alone takes this node down". On a supply map
of a few thousand nodes a union, an intersection or a k-of-n count is then a handful of integer
operations whatever the size of the sets, where the dictionaries of `_Programme` pay per member.
Dictionaries win again on large maps, where sets are sparse and an integer of n bits per node
would cost n^2/8 bytes: hence the limit.

The dictionaries also carried each member's next witness link (the first dependency whose set
holds it). Here that link is not stored: it is the same rule applied when a witness is read,
"the first counted dependency whose bit set holds v", which a bit test answers. Reading every
SPOF of a service follows all its witnesses at once, top down: the members a node passes on to
each dependency are one `&` of two integers, so each node on the way is visited once per group
of SPOFs that travel through it, not once per SPOF. Inside a loop the next link is the one
recorded while the loop was solved: a dependency the failure had reached a round earlier.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from functools import reduce
from operator import and_, or_

import numpy as np

from vendor_portal.graph.domain.model import DependencyGraph
from vendor_portal.graph.domain.spof import Spof, Spofs, _new_tuple, _Plan

# Per loop member: (the failures it is taken down by, as bits; the next link of their witness).
LoopLinks = list[tuple[int, int]]


def bits_of(value: int) -> list[int]:
    """The positions of the set bits of `value`, in increasing order."""
    if value.bit_count() <= 32:
        # Sparse (the marks and defeats reports read): peel off the lowest bit.
        out = []
        while value:
            low = value & -value
            out.append(low.bit_length() - 1)
            value ^= low
        return out
    raw = np.frombuffer(value.to_bytes((value.bit_length() + 7) // 8, "little"), np.uint8)
    return np.flatnonzero(np.unpackbits(raw, bitorder="little")).tolist()


def _at_least(sets: Sequence[int], m: int) -> int:
    """The members of at least `m` of `sets`: counts kept as m bit sets, `level[j]` holding the
    members seen in at least j + 1 sets so far."""
    level = [0] * m
    for s in sets:
        for j in range(m - 1, 0, -1):
            level[j] |= level[j - 1] & s
        level[0] |= s
    return level[m - 1]


def _one(
    kx: int,
    own: int,
    ds: Sequence[int],
    t: int,
    spofs: list[list[int | None]],
    marks: list[list[int]],
) -> tuple[int | None, int, int]:
    """A node (requirement `kx`, own bit `own`) under threshold number t, from its counted
    dependencies `ds`: its SPOF set (None: down with nothing failed), its marks, and the failures
    that defeat it (0: none)."""
    mark = 0
    sets = []
    for d in ds:
        mark |= marks[d][t]
        sets.append(spofs[d][t])
    if kx == 0:
        # `all`: down when any dependency is; the union of their sets.
        if None in sets:
            return None, mark | own, 0
        return reduce(or_, sets, own), mark, 0
    live = [found for found in sets if found is not None]
    need = len(ds) - kx + 1
    down = len(ds) - len(live)
    if need <= 0 or down >= need:
        return None, mark | own, 0
    if not live:
        return own, mark, 0
    m = need - down
    if m == len(live):
        # In every live set; with two or more alternatives each member defeats x.
        result = reduce(and_, live)
        defeats = result if len(live) > 1 else 0
    else:
        result = reduce(or_, live) if m == 1 else _at_least(live, m)
        # Single failures that take out two or more alternatives at once.
        defeats = result & _at_least(live, 2)
    defeats &= ~own
    return result | own, mark | own if defeats else mark, defeats


class BitProgramme:
    """SPOF sets of every node the chosen services depend on, under each of their thresholds.

    As `spof._Programme`, with integers for sets, and kept node by node: `spofs[x][t]` (None
    when x is down with nothing failed under threshold number t), `marks[x][t]` (the gaps and
    defeated nodes x depends on, as bits) and `defeated[x][t]` (single failures that take out
    two or more alternatives of x at once). A node under which nothing starts to count between
    the thresholds it is needed under (most of a supply map) is worked out once, and shares one
    value for all of them.
    `loop_links[x][t]` gives, for a loop member, the next witness link of each failure."""

    def __init__(self, graph: DependencyGraph, plan: _Plan) -> None:
        self.graph = graph
        self.plan = plan
        count = len(plan.thresholds)
        n = len(graph)
        self.count = count
        self.spofs: list[list[int | None]] = [[None] * count] * n
        self.marks: list[list[int]] = [[0] * count] * n
        self.defeated: dict[int, list[int]] = {}
        self.loop_links: dict[int, list[LoopLinks | None]] = {}
        self._counted: dict[tuple[int, int], Sequence[int]] = {}
        low = [(2 << t) - 1 for t in range(count)]
        needed, breaks, k = plan.needed, plan.breaks, graph.k
        looped = {x for members in graph.structure.loops for x in members}
        spofs, marks, defeated = self.spofs, self.marks, self.defeated
        first_by_node, all_deps = plan.first_by_node, graph.deps
        nothing = [0] * count
        # The hot loop: one pass over the nodes, dependencies first, written out by hand.
        for x in plan.order:
            mask, cut = needed[x], breaks[x]
            if x in looped:
                members = plan.loop_members.get(x)
                if members is not None:  # the loop's first member: solve the whole loop
                    self._solve_loop(members, mask, cut, low)
                continue
            kx = k[x]
            own = 1 << x
            ds = all_deps[x]
            if not ds:
                # No dependencies: down by its own failure only (or, needing some, down with
                # nothing failed), under every threshold.
                if kx == 0:
                    spofs[x], marks[x] = [own] * count, nothing
                else:
                    spofs[x], marks[x] = [None] * count, [own] * count
                continue
            firsts = first_by_node.get(x)
            t = (mask & -mask).bit_length() - 1
            if not cut & low[mask.bit_length() - 1] & ~low[t]:
                # Nothing below x starts to count between the thresholds it is needed under
                # (most nodes): one answer for all of them.
                if firsts is not None:
                    ds = [d for d, f in zip(ds, firsts, strict=True) if f <= t]
                if kx == 0:
                    # `all` (the common case, written out): the union of the dependencies'
                    # sets, down when any of them is.
                    value = own
                    mark = 0
                    for d in ds:
                        found = spofs[d][t]
                        mark |= marks[d][t]
                        if found is None:
                            value = None
                            break
                        value |= found
                    if value is None:
                        for d in ds:
                            mark |= marks[d][t]
                        mark |= own
                    spofs[x], marks[x] = [value] * count, [mark] * count
                    continue
                value, mark, defeats = _one(kx, own, ds, t, spofs, marks)
                spofs[x], marks[x] = [value] * count, [mark] * count
                if defeats:
                    defeated[x] = [defeats] * count
                continue
            values: list[int | None] = [None] * count
            marked, defeating = [0] * count, [0] * count
            previous_class = previous = -1
            while mask:
                bit = mask & -mask
                mask ^= bit
                t = bit.bit_length() - 1
                klass = (cut & low[t]).bit_length()
                if klass == previous_class:
                    # Nothing below x changes between the two thresholds: same answers.
                    values[t], marked[t] = values[previous], marked[previous]
                    defeating[t] = defeating[previous]
                    continue
                previous_class, previous = klass, t
                counted = ds
                if firsts is not None:
                    counted = [d for d, f in zip(ds, firsts, strict=True) if f <= t]
                values[t], marked[t], defeating[t] = _one(kx, own, counted, t, spofs, marks)
            spofs[x], marks[x] = values, marked
            if any(defeating):
                defeated[x] = defeating

    def counted(self, x: int, t: int) -> Sequence[int]:
        """The dependencies of x that count under threshold number t (kept: witnesses ask for
        the same nodes again)."""
        found = self._counted.get((x, t))
        if found is None:
            found = self._counted[(x, t)] = self.plan.counted(x, t)
        return found

    def _solve_loop(self, members: list[int], mask: int, cut: int, low: list[int]) -> None:
        count = self.count
        for x in members:
            self.spofs[x] = [None] * count
            self.marks[x] = [0] * count
            self.defeated[x] = [0] * count
            self.loop_links[x] = [None] * count
        previous_class = previous = -1
        for t in range(count):
            if not (mask >> t) & 1:
                continue
            klass = (cut & low[t]).bit_length()
            if klass == previous_class:
                for x in members:
                    for table in (self.spofs, self.marks, self.defeated, self.loop_links):
                        table[x][t] = table[x][previous]  # type: ignore[index]
                continue
            previous_class, previous = klass, t
            self._loop(members, t)

    def _loop(self, members: list[int], t: int) -> None:
        """A loop under threshold number t: the least fixed point inside it for every single
        failure at once. Members down with nothing failed are found first (a fixed point on
        flags); then each live member's set grows round by round from itself, as a function of
        its dependencies' sets (those outside are final), until no set changes. Every
        operation is bitwise, so each failure's bit follows its own propagation: bit v of a
        member is set in round r when v's failure reaches it in r steps inside the loop. The
        witness link of v at a member is a dependency that had v a round earlier, so links
        never run in a circle."""
        spofs, marks = self.spofs, self.marks
        inside = set(members)
        deps = {x: self.counted(x, t) for x in members}
        k = self.graph.k
        need = {x: 1 if k[x] == 0 else len(deps[x]) - k[x] + 1 for x in members}
        base = dict.fromkeys(members, False)

        def is_down(d: int) -> bool:
            return base[d] if d in inside else spofs[d][t] is None

        changed = True
        while changed:
            changed = False
            for x in members:
                if not base[x] and (need[x] <= 0 or sum(map(is_down, deps[x])) >= need[x]):
                    base[x] = changed = True
        alive = [x for x in members if not base[x]]
        # -1 (every bit set) stands for a dependency down whatever fails.
        outside = {
            d: -1 if found is None else found
            for x in alive
            for d in deps[x]
            if d not in inside
            for found in (spofs[d][t],)
        }
        current = {x: 1 << x for x in alive}
        rounds = [current]
        while True:
            grown = {}
            for x in alive:
                sets = [
                    outside[d] if d not in inside else -1 if base[d] else current[d]
                    for d in deps[x]
                ]
                if k[x] == 0:
                    grown[x] = reduce(or_, sets, 1 << x)
                else:
                    grown[x] = _at_least(sets, need[x]) | 1 << x
            if grown == current:
                break
            rounds.append(grown)
            current = grown
        for x in members:
            spofs[x][t] = None if base[x] else current[x]
        # Links: a failure that reached x in round r came through a dependency that it had
        # reached by round r - 1 (or through one outside, reached from the start).
        for x in alive:
            links: LoopLinks = [(1 << x, x)]
            for r in range(1, len(rounds)):
                new = rounds[r][x] & ~rounds[r - 1][x]
                for d in deps[x]:
                    if not new:
                        break
                    if d in inside:
                        had = 0 if base[d] else rounds[r - 1][d]
                    else:
                        had = outside[d] if outside[d] != -1 else 0
                    take = new & had
                    if take:
                        links.append((take, d))
                        new ^= take
            self.loop_links[x][t] = links
            if k[x] and current[x] & ~(1 << x):
                live = [found for found in (spofs[d][t] for d in deps[x]) if found is not None]
                self.defeated[x][t] = current[x] & _at_least(live, 2) & ~(1 << x)
        # What each member depends on: a fixed point, as slow alternatives may have been
        # removed and the members need not reach one another any more.
        reach = {}
        for x in members:
            mark = 1 << x if base[x] or self.defeated[x][t] else 0
            for d in deps[x]:
                if d not in inside:
                    mark |= marks[d][t]
            reach[x] = mark
        changed = True
        while changed:
            changed = False
            for x in members:
                grown_mark = reach[x]
                for d in deps[x]:
                    if d in inside:
                        grown_mark |= reach[d]
                if grown_mark != reach[x]:
                    reach[x] = grown_mark
                    changed = True
        for x in members:
            marks[x][t] = reach[x]

    def next_link(self, x: int, v: int, t: int) -> int:
        """The dependency of x through which v's failure reaches it (x itself: v == x)."""
        if x == v:
            return x
        links = self.loop_links.get(x)
        if links is not None:
            bit = 1 << v
            return next(j for candidates, j in links[t] or () if candidates & bit)
        spofs = self.spofs
        for d in self.counted(x, t):
            found = spofs[d][t]
            if found is not None and (found >> v) & 1:
                return d
        raise KeyError(v)

    def witnesses(self, service: int, t: int) -> list[tuple[int, str, int, tuple[str, ...]]]:
        """Every SPOF of the service as (witness length, id, position, witness), the witness
        from the SPOF up to the service, in report order. All witnesses are followed at once,
        top down: each node on the way hands each dependency the SPOFs that travel through it
        (those in that dependency's set and in no earlier one's), so that each step is one
        `&` for a whole group and each witness grows from its parent's."""
        spofs, loop_links = self.spofs, self.loop_links
        first_by_node, all_deps, counted = self.plan.first_by_node, self.graph.deps, self.counted
        ids = self.graph.node_ids
        out = []
        stack = [(service, spofs[service][t] & ~(1 << service), (ids[service],))]  # type: ignore[operator]
        pop, push = stack.pop, stack.append
        while stack:
            x, rest, witness = pop()
            if (rest >> x) & 1:
                out.append((len(witness), witness[0], x, witness))
                rest ^= 1 << x
                if not rest:
                    continue
            links = loop_links.get(x)
            if links is not None:
                for candidates, j in links[t] or ():
                    take = rest & candidates
                    if take:
                        push((j, take, (ids[j], *witness)))
                        rest ^= take
                        if not rest:
                            break
                continue
            for d in all_deps[x] if x not in first_by_node else counted(x, t):
                found = spofs[d][t]
                if found is not None:
                    take = rest & found
                    if take:
                        push((d, take, (ids[d], *witness)))
                        rest ^= take
                        if not rest:
                            break
        out.sort()  # ids are unique: the witnesses are never compared
        return out


class BitSpofs(Spofs):
    """`Spofs` read from a `BitProgramme`: the same SPOFs, witnesses and order."""

    __slots__ = ("_programme", "_threshold")

    def __init__(
        self,
        ids: Sequence[str],
        index: Mapping[str, int],
        service: int,
        programme: BitProgramme,
        threshold: int,
        defeats: dict[int, tuple[str, ...]],
    ) -> None:
        super().__init__(ids, index, service, (), defeats)
        self._programme = programme
        self._threshold = threshold

    def _own(self) -> int:
        return self._programme.spofs[self._service][self._threshold] & ~(1 << self._service)  # type: ignore[operator]

    def _chain(self, v: int) -> list[int]:
        link, t = self._programme.next_link, self._threshold
        x = self._service
        chain = [x]
        while x != v:
            x = link(x, v, t)
            chain.append(x)
        chain.reverse()
        return chain

    @property
    def order(self) -> list[int]:
        """The SPOFs' positions in report order."""
        if self._order is None:
            found = self._programme.witnesses(self._service, self._threshold)
            self._order = [v for _length, _id, v, _witness in found]
        return self._order

    def __len__(self) -> int:
        return self._own().bit_count()

    def __iter__(self) -> Iterator[Spof]:
        defeats = self._defeats
        return (
            _new_tuple(Spof, (i, witness, defeats.get(v, ())))
            for _n, i, v, witness in self._programme.witnesses(self._service, self._threshold)
        )

    @property
    def ids(self) -> frozenset[str]:
        ids = self._ids
        return frozenset(ids[v] for v in bits_of(self._own()))

    def find(self, node_id: str) -> Spof | None:
        v = self._index.get(node_id)
        if v is None or not (self._own() >> v) & 1:
            return None
        return self._spof(v, self._chain(v))
