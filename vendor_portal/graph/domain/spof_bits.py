"""The SPOF programme on bit sets, for graphs of up to `spof.BIT_SETS_MAX_NODES` nodes.

The same dynamic programme as `spof._Programme`, over the same layout of classes
(`spof._Layout`) and with the same answers, but each class's SPOF set is one Python integer
whose bit b says "the failure of the node at bit position b alone takes this node down" (bit
positions number the needed nodes from the bottom of the map up, so that sets low in the map are
short integers), and "down with nothing failed" is -1, every bit set. On a supply map
of a few thousand nodes a union, an intersection or a k-of-n count is then a handful of integer
operations whatever the size of the sets, where the dictionaries of `_Programme` pay per member.
Dictionaries win again on large maps, where sets are sparse and an integer of n bits per node
would cost n^2/8 bytes: hence the limit.

The dictionaries also carry each member's next witness link (the first dependency whose set
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
from vendor_portal.graph.domain.spof import Spof, Spofs, _Layout, _new_tuple, _Plan
from vendor_portal.graph.domain.structure import stable_order

# Per loop member's class: (the failures it is taken down by, as bits; the class of the next
# link of their witness).
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


# A value that stands for "down with nothing failed": every bit set, so that it is down for
# every failure in a union, neutral in an intersection, and counts as down for every failure in
# a k-of-n count.
DOWN = -1


class BitProgramme:
    """SPOF sets of every node the chosen services depend on, under each of their thresholds.

    As `spof._Programme`, with integers for sets, per class of the layout (`layout.class_of(x,
    t)`): `values[c]` its SPOF set (`DOWN` when down with nothing failed), `marks[c]` the gaps
    and defeated nodes it depends on (as bits; only the classes in `marked` have any),
    `defeated[c]` the single failures that take out two or more of its alternatives at once
    (absent: none). A loop member's class has `loop_links[c]`: the next witness link (a class)
    of each failure. With every class's dependencies laid out beforehand, the
    pass in Python is one line of C-level `map`/`reduce` per class for the common `all` node."""

    def __init__(self, graph: DependencyGraph, plan: _Plan) -> None:
        self.graph = graph
        layout = self.layout = _Layout(graph, plan)
        # Bit positions: the needed nodes by height, so that a set, which holds only nodes below
        # its own, is a short integer low in the map (a quarter of the length on supply maps).
        needed_nodes = np.flatnonzero(plan.needed_mask)
        at = needed_nodes[stable_order(plan.height[needed_nodes], plan.top)]
        bit = np.full(len(graph), -1, dtype=np.int64)
        bit[at] = np.arange(len(at))
        self.node_at: list[int] = at.tolist()  # bit position -> node
        self.bit_of: list[int] = bit.tolist()  # node -> bit position (-1: not needed)
        self.node = layout.node
        self.bit: list[int] = bit[layout.node_array].tolist()  # per class: its node's bit
        self.deps, self.start, self.end = layout.deps, layout.start, layout.end
        classes = len(layout.node)
        self.values: list[int] = [0] * classes
        self.marks: list[int] = [0] * classes
        self.defeated: dict[int, int] = {}
        self.marked: set[int] = set()  # the classes with marks
        self.loop_links: dict[int, LoopLinks] = {}
        layout.sweep(bit, self._run, self._loop)

    def _run(
        self,
        classes: list[int],
        bits: list[int],
        ks: list[int],
        starts: list[int],
        ends: list[int],
    ) -> None:
        """The hot loop over classes outside loops, dependencies first, written out by hand."""
        values, marks, defeated, deps = self.values, self.marks, self.defeated, self.deps
        value_of, mark_of = values.__getitem__, marks.__getitem__
        # Marks are rare (gaps and common causes): only classes in `marked` have any, and a
        # class whose dependencies have none skips their union.
        marked = self.marked
        unmarked = marked.isdisjoint
        for c, x, kx, a, b in zip(classes, bits, ks, starts, ends, strict=True):
            ds = deps[a:b]
            own = 1 << x
            if kx == 0:
                # `all`: the union of the dependencies' sets (DOWN when any of them is).
                value = values[c] = reduce(or_, map(value_of, ds), own)
                if value == DOWN:
                    marks[c] = reduce(or_, map(mark_of, ds), own)
                    marked.add(c)
                elif not unmarked(ds):
                    marks[c] = reduce(or_, map(mark_of, ds), 0)
                    marked.add(c)
                continue
            mark = 0 if unmarked(ds) else reduce(or_, map(mark_of, ds), 0)
            if kx == 1 and ds:
                # `any` (written out): the intersection of the live dependencies' sets; DOWN,
                # the identity of `&`, drops out, and is left only when every one is down.
                result = reduce(and_, map(value_of, ds))
                if result == DOWN:
                    values[c] = DOWN
                    marks[c] = mark | own
                    marked.add(c)
                    continue
                values[c] = result | own
                # With two or more live alternatives, each common member defeats x (x itself
                # is never below x outside a loop).
                if result and b - a - list(map(value_of, ds)).count(DOWN) > 1:
                    defeated[c] = result
                    mark |= own
                if mark:
                    marks[c] = mark
                    marked.add(c)
                continue
            sets = list(map(value_of, ds))
            need = b - a - kx + 1
            lost = sets.count(DOWN)
            if need <= 0 or lost >= need:
                values[c] = DOWN
                marks[c] = mark | own
                marked.add(c)
                continue
            if lost:
                sets = [found for found in sets if found != DOWN]
            m = need - lost
            if m == len(sets):
                # In every live set; with two or more alternatives each member defeats x.
                result = reduce(and_, sets)
                defeats = result & ~own if len(sets) > 1 else 0
            else:
                result = reduce(or_, sets) if m == 1 else _at_least(sets, m)
                # Single failures that take out two or more alternatives at once.
                defeats = result & _at_least(sets, 2) & ~own
            values[c] = result | own
            if defeats:
                defeated[c] = defeats
                mark |= own
            if mark:
                marks[c] = mark
                marked.add(c)

    def nodes_of(self, bits: int) -> list[int]:
        """The nodes of a set, by bit position."""
        node_at = self.node_at
        return [node_at[b] for b in bits_of(bits)]

    # What the reports read (the dictionary programme answers the same questions).

    def is_down(self, c: int) -> bool:
        """Is class c down with nothing failed?"""
        return self.values[c] == DOWN

    def mark_nodes(self, c: int) -> list[int]:
        return self.nodes_of(self.marks[c])

    def defeat_hits(self, cx: int, cs: int, s: int) -> list[int]:
        """The SPOFs of service s (class cs) that defeat class cx."""
        hit = self.defeated.get(cx, 0) & self.values[cs] & ~(1 << self.bit[cs])
        return self.nodes_of(hit) if hit else []

    def spofs(self, s: int, c: int, defeats: dict[int, tuple[str, ...]]) -> BitSpofs:
        graph = self.graph
        return BitSpofs(graph.node_ids, graph.index, s, self, c, defeats)

    def _loop(self, members: list[int]) -> None:
        """A loop (its members' classes, under one threshold): the least fixed point inside
        it for every single failure at once. Members down with nothing failed are found first
        (a fixed point on flags); then each live member's set grows round by round from
        itself, as a function of its dependencies' sets (those outside are final), until no set
        changes. Every operation is bitwise, so each failure's bit follows its own
        propagation: bit v of a member is set in round r when v's failure reaches it in r steps
        inside the loop. The witness link of v at a member is a dependency that had v a round
        earlier, so links never run in a circle."""
        values, marks, node, k = self.values, self.marks, self.node, self.graph.k
        inside = set(members)
        deps = {c: self.deps[self.start[c] : self.end[c]] for c in members}
        need = {c: 1 if k[node[c]] == 0 else len(deps[c]) - k[node[c]] + 1 for c in members}
        base = dict.fromkeys(members, False)

        def is_down(d: int) -> bool:
            return base[d] if d in inside else values[d] == DOWN

        changed = True
        while changed:
            changed = False
            for c in members:
                if not base[c] and (need[c] <= 0 or sum(map(is_down, deps[c])) >= need[c]):
                    base[c] = changed = True
        alive = [c for c in members if not base[c]]
        outside = {d: values[d] for c in alive for d in deps[c] if d not in inside}
        own = {c: 1 << self.bit[c] for c in members}
        current = {c: own[c] for c in alive}
        rounds = [current]
        while True:
            grown = {}
            for c in alive:
                sets = [
                    outside[d] if d not in inside else DOWN if base[d] else current[d]
                    for d in deps[c]
                ]
                if k[node[c]] == 0:
                    grown[c] = reduce(or_, sets, own[c])
                else:
                    grown[c] = _at_least(sets, need[c]) | own[c]
            if grown == current:
                break
            rounds.append(grown)
            current = grown
        for c in members:
            values[c] = DOWN if base[c] else current[c]
            self.loop_links[c] = []
        # Links: a failure that reached c in round r came through a dependency that it had
        # reached by round r - 1 (or through one outside, reached from the start).
        for c in alive:
            links: LoopLinks = [(own[c], c)]
            for r in range(1, len(rounds)):
                new = rounds[r][c] & ~rounds[r - 1][c]
                for d in deps[c]:
                    if not new:
                        break
                    if d in inside:
                        had = 0 if base[d] else rounds[r - 1][d]
                    else:
                        had = 0 if outside[d] == DOWN else outside[d]
                    take = new & had
                    if take:
                        links.append((take, d))
                        new ^= take
            self.loop_links[c] = links
            if k[node[c]] and current[c] & ~own[c]:
                live = [found for found in map(values.__getitem__, deps[c]) if found != DOWN]
                defeats = current[c] & _at_least(live, 2) & ~own[c]
                if defeats:
                    self.defeated[c] = defeats
        # What each member depends on: a fixed point, as slow alternatives may have been
        # removed and the members need not reach one another any more.
        reach = {}
        for c in members:
            mark = own[c] if base[c] or c in self.defeated else 0
            for d in deps[c]:
                if d not in inside:
                    mark |= marks[d]
            reach[c] = mark
        changed = True
        while changed:
            changed = False
            for c in members:
                grown_mark = reach[c]
                for d in deps[c]:
                    if d in inside:
                        grown_mark |= reach[d]
                if grown_mark != reach[c]:
                    reach[c] = grown_mark
                    changed = True
        for c in members:
            marks[c] = reach[c]
            if reach[c]:
                self.marked.add(c)

    def next_link(self, c: int, v: int) -> int:
        """The class of the dependency through which the failure of the node at bit v reaches
        class c (c itself: v is its node's bit)."""
        if self.bit[c] == v:
            return c
        links = self.loop_links.get(c)
        if links is not None:
            bit = 1 << v
            return next(j for candidates, j in links if candidates & bit)
        values = self.values
        for d in self.deps[self.start[c] : self.end[c]]:
            found = values[d]
            if found != DOWN and (found >> v) & 1:
                return d
        raise KeyError(v)

    def witnesses(self, c: int) -> list[tuple[int, str, int, tuple[str, ...]]]:
        """Every SPOF of the service of class c as (witness length, id, position, witness),
        the witness from the SPOF up to the service, in report order. All witnesses are followed
        at once, top down: each node on the way hands each dependency the SPOFs that travel
        through it (those in that dependency's set and in no earlier one's), so that each step
        is one `&` for a whole group and each witness grows from its parent's."""
        values, loop_links, node, bit = self.values, self.loop_links, self.node, self.bit
        deps, starts, ends = self.deps, self.start, self.end
        ids = self.graph.node_ids
        out = []
        stack = [(c, values[c] & ~(1 << bit[c]), (ids[node[c]],))]
        pop, push = stack.pop, stack.append
        while stack:
            c, rest, witness = pop()
            x = bit[c]
            if (rest >> x) & 1:
                out.append((len(witness), witness[0], node[c], witness))
                rest ^= 1 << x
                if not rest:
                    continue
            links = loop_links.get(c)
            if links is not None:
                for candidates, j in links:
                    take = rest & candidates
                    if take:
                        push((j, take, (ids[node[j]], *witness)))
                        rest ^= take
                        if not rest:
                            break
                continue
            for d in deps[starts[c] : ends[c]]:
                found = values[d]
                if found != DOWN:
                    take = rest & found
                    if take:
                        push((d, take, (ids[node[d]], *witness)))
                        rest ^= take
                        if not rest:
                            break
        out.sort()  # ids are unique: the witnesses are never compared
        return out


class BitSpofs(Spofs):
    """`Spofs` read from a `BitProgramme`: the same SPOFs, witnesses and order."""

    __slots__ = ("_programme",)

    def __init__(
        self,
        ids: Sequence[str],
        index: Mapping[str, int],
        service: int,
        programme: BitProgramme,
        klass: int,
        defeats: dict[int, tuple[str, ...]],
    ) -> None:
        super().__init__(ids, index, service, klass, (), (), defeats)
        self._programme = programme

    def _own(self) -> int:  # type: ignore[override]
        programme = self._programme
        return programme.values[self._class] & ~(1 << programme.bit[self._class])

    def _chain(self, v: int) -> list[int]:
        programme = self._programme
        link, node, bit = programme.next_link, programme.node, programme.bit
        c = self._class
        chain = [self._service]
        v = programme.bit_of[v]
        while bit[c] != v:
            c = link(c, v)
            chain.append(node[c])
        chain.reverse()
        return chain

    @property
    def order(self) -> list[int]:
        """The SPOFs' positions in report order."""
        if self._order is None:
            found = self._programme.witnesses(self._class)
            self._order = [v for _length, _id, v, _witness in found]
        return self._order

    def __len__(self) -> int:
        return self._own().bit_count()

    def __iter__(self) -> Iterator[Spof]:
        defeats = self._defeats
        return (
            _new_tuple(Spof, (i, witness, defeats.get(v, ())))
            for _n, i, v, witness in self._programme.witnesses(self._class)
        )

    @property
    def ids(self) -> frozenset[str]:
        ids = self._ids
        return frozenset(ids[v] for v in self._programme.nodes_of(self._own()))

    def find(self, node_id: str) -> Spof | None:
        v = self._index.get(node_id)
        if v is None or v == self._service:
            return None
        bit = self._programme.bit_of[v]  # -1: not below the service at all
        if bit < 0 or not (self._own() >> bit) & 1:
            return None
        return self._spof(v, self._chain(v))
