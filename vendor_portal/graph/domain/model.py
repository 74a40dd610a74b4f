"""The dependency graph as plain data: nodes, edges, requirements, and an indexed form for analyses.

An edge `A -> B` means "A depends on B". Each node has a requirement over its dependencies:
`all` (the default), `any` (the default for a capability), or an integer k (k-of-n). Edges out of
an `any` or k-of-n node may carry `switchover_hours`; for a business service with RTO r, an
alternative whose switchover exceeds r does not count anywhere in that service's analysis.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from vendor_portal.graph.domain.structure import Rows, Structure, gather, rows, structure

Requires = str | int  # "all", "any" or a positive integer k


class NodeKind(StrEnum):
    BUSINESS_SERVICE = "business_service"
    CAPABILITY = "capability"
    VENDOR = "vendor"
    VENDOR_SERVICE = "vendor_service"
    FACILITY = "facility"
    CLOUD_REGION = "cloud_region"
    GEO_REGION = "geo_region"
    COMPONENT = "component"

    @property
    def label(self) -> str:
        return KIND_LABELS[self]


KIND_LABELS = {
    NodeKind.BUSINESS_SERVICE: "Business service",
    NodeKind.CAPABILITY: "Capability",
    NodeKind.VENDOR: "Vendor",
    NodeKind.VENDOR_SERVICE: "Vendor service",
    NodeKind.FACILITY: "Facility",
    NodeKind.CLOUD_REGION: "Cloud region",
    NodeKind.GEO_REGION: "Country or region",
    NodeKind.COMPONENT: "Component",
}
KINDS = frozenset(k.value for k in NodeKind)

# Node fields with a meaning of their own; any other field is kept as it came.
SERVICE_FIELDS = ("rto_hours", "mtd_hours", "rpo_hours", "downtime_cost_per_hour")


def default_requires(kind: str) -> Requires:
    return "any" if kind == NodeKind.CAPABILITY else "all"


def requires_label(requires: Requires) -> str:
    if requires == "all":
        return "all dependencies"
    if requires == "any":
        return "any one dependency"
    return f"{requires} dependencies"


@dataclass(frozen=True)
class Node:
    id: str
    kind: str
    name: str = ""
    requires: Requires = "all"
    attributes: Mapping[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.name or self.id

    @property
    def rto_hours(self) -> float | None:
        value = self.attributes.get("rto_hours")
        return None if value is None else float(value)

    @property
    def downtime_cost_per_hour(self) -> float:
        value = self.attributes.get("downtime_cost_per_hour")
        return 0.0 if value is None else float(value)

    @property
    def is_redundant(self) -> bool:
        """Up with fewer than all of its dependencies: `any` or k-of-n."""
        return self.requires != "all"


@dataclass(frozen=True)
class Edge:
    source: str  # the dependant ("from")
    target: str  # the dependency ("to")
    switchover_hours: float = 0.0
    attributes: Mapping[str, Any] = field(default_factory=dict)


NO_FILTER = None  # the threshold of a service without an RTO: every alternative counts


class DependencyGraph:
    """Nodes and edges, indexed by position for the analyses.

    Built from already validated data (see `interchange`); the constructor still refuses what
    would make the analyses meaningless (unknown ends, duplicate ids, bad requirements). Large
    graphs are built with `from_arrays` (edges as arrays of node positions): the `Edge` objects
    are then only made if someone asks for `edges`."""

    def __init__(self, nodes: Sequence[Node], edges: Sequence[Edge]) -> None:
        self._set_nodes(nodes)
        index = self.index
        sources, targets = [], []
        for edge in edges:
            a = index.get(edge.source)
            b = index.get(edge.target)
            if a is None or b is None:
                raise ValueError(f"edge {edge.source} -> {edge.target} has an unknown end")
            sources.append(a)
            targets.append(b)
        self._edges: tuple[Edge, ...] | None = tuple(edges)
        self._edge_attributes: Mapping[int, Mapping[str, Any]] = {}
        self._set_edges(
            np.array(sources, dtype=np.int64),
            np.array(targets, dtype=np.int64),
            np.array([float(e.switchover_hours) for e in self._edges], dtype=np.float64),
        )

    @classmethod
    def from_arrays(
        cls,
        nodes: Sequence[Node],
        sources: Any,
        targets: Any,
        switchover: Any,
        edge_attributes: Mapping[int, Mapping[str, Any]] | None = None,
    ) -> DependencyGraph:
        """A graph from node positions: edge i runs from `sources[i]` to `targets[i]` with
        `switchover[i]` hours; `edge_attributes` maps an edge position to its extra fields."""
        graph = cls.__new__(cls)
        graph._set_nodes(nodes)
        n = len(graph.nodes)
        src = np.asarray(sources, dtype=np.int64)
        dst = np.asarray(targets, dtype=np.int64)
        sw = np.asarray(switchover, dtype=np.float64)
        if not (len(src) == len(dst) == len(sw)):
            raise ValueError("sources, targets and switchover differ in length")
        if len(src) and (min(src.min(), dst.min()) < 0 or max(src.max(), dst.max()) >= n):
            bad = int(np.flatnonzero((src < 0) | (src >= n) | (dst < 0) | (dst >= n))[0])
            raise ValueError(f"edge {bad} has an unknown end")
        graph._edges = None
        graph._edge_attributes = dict(edge_attributes or {})
        graph._set_edges(src, dst, sw)
        return graph

    def _set_nodes(self, nodes: Sequence[Node]) -> None:
        self.nodes: tuple[Node, ...] = tuple(nodes)
        ids = [node.id for node in self.nodes]
        kinds = [node.kind for node in self.nodes]
        self.index: dict[str, int] = dict(zip(ids, range(len(ids)), strict=True))
        self.node_ids: list[str] = ids  # the id of each node by position (do not change)
        if len(self.index) < len(ids) or not KINDS.issuperset(kinds):
            # The slow path, only to name the first problem.
            seen: set[str] = set()
            for node in self.nodes:
                if node.id in seen:
                    raise ValueError(f"duplicate node id {node.id!r}")
                if node.kind not in KINDS:
                    raise ValueError(f"node {node.id!r} has unknown kind {node.kind!r}")
                seen.add(node.id)
        # k per node: 0 for `all` (every dependency), else the number that must stay up.
        self.k: tuple[int, ...] = tuple(
            0 if node.requires == "all" else self._k(node) for node in self.nodes
        )
        service = NodeKind.BUSINESS_SERVICE.value
        self.services: tuple[int, ...] = tuple(i for i, kind in enumerate(kinds) if kind == service)
        self._effective: dict[float | None, Effective] = {}
        self._components: list[list[int]] | None = None
        self._structure: Structure | None = None
        self._up: Rows | None = None
        self._k_array: np.ndarray | None = None
        self._edge_from_all: np.ndarray | None = None
        # Other modules' figures about this graph, worked out once (see `scenario`).
        self.derived: dict[str, Any] = {}
        # Where each node came from in an imported file ("nodes[3]", "nodes.csv line 4").
        self.locations: dict[str, str] = {}

    def _set_edges(self, src: np.ndarray, dst: np.ndarray, sw: np.ndarray) -> None:
        n = len(self.nodes)
        if len(src):
            pair = src * max(n, 1) + dst
            ordered = np.sort(pair)  # (a sort beats numpy's hashing unique here)
            if (ordered[1:] == ordered[:-1]).any():
                _unique, first = np.unique(pair, return_index=True)
                repeated = np.ones(len(pair), dtype=bool)
                repeated[first] = False
                later = int(np.flatnonzero(repeated)[0])  # the first edge seen twice
                a, b = self.nodes[src[later]].id, self.nodes[dst[later]].id
                raise ValueError(f"duplicate edge {a} -> {b}")
            if (sw < 0).any():
                bad = int(np.flatnonzero(sw < 0)[0])
                a, b = self.nodes[src[bad]].id, self.nodes[dst[bad]].id
                raise ValueError(f"edge {a} -> {b}: negative switchover")
        self.edge_source: np.ndarray = src
        self.edge_target: np.ndarray = dst
        self.edge_switchover: np.ndarray = sw
        down = rows(n, src, dst)
        self._down = down
        start = down.start.tolist()
        targets = down.index.tolist()
        self.deps: tuple[tuple[int, ...], ...] = tuple(
            tuple(targets[a:b]) for a, b in itertools.pairwise(start)
        )
        self._switchover: tuple[tuple[float, ...], ...] | None = None

    @property
    def switchover(self) -> tuple[tuple[float, ...], ...]:
        """Switchover hours of each node's dependencies, in the order of `deps` (made on first
        use: the analyses read the edge arrays instead)."""
        if self._switchover is None:
            start = self._down.start.tolist()
            hours = self.edge_switchover[self._down.edge].tolist()
            self._switchover = tuple(tuple(hours[a:b]) for a, b in itertools.pairwise(start))
        return self._switchover

    @property
    def edges(self) -> tuple[Edge, ...]:
        if self._edges is None:
            ids = [node.id for node in self.nodes]
            extra = self._edge_attributes
            self._edges = tuple(
                Edge(ids[a], ids[b], s, extra.get(i, {}))
                for i, (a, b, s) in enumerate(
                    zip(
                        self.edge_source.tolist(),
                        self.edge_target.tolist(),
                        self.edge_switchover.tolist(),
                        strict=True,
                    )
                )
            )
        return self._edges

    def edge_attributes(self, position: int) -> Mapping[str, Any]:
        """The extra fields of one edge (by position in the edge arrays), without making every
        `Edge` of a large graph."""
        if self._edges is not None:
            return self._edges[position].attributes
        return self._edge_attributes.get(position, {})

    def out_edges(self, x: int) -> list[int]:
        """The positions of the edges out of x, in the order of `deps[x]`."""
        start = self._down.start
        return self._down.edge[int(start[x]) : int(start[x + 1])].tolist()

    @property
    def edge_count(self) -> int:
        return len(self.edge_source)

    @staticmethod
    def _k(node: Node) -> int:
        requires = node.requires
        if requires == "all":
            return 0
        if requires == "any":
            return 1
        if isinstance(requires, bool) or not isinstance(requires, int) or requires < 1:
            raise ValueError(f"node {node.id!r}: requires must be 'all', 'any' or k >= 1")
        # k > n is refused on import, but a stored graph can get there when a provider's record
        # is archived: the node then simply has an unmet requirement (a gap).
        return requires

    def __len__(self) -> int:
        return len(self.nodes)

    def node(self, node_id: str) -> Node:
        return self.nodes[self.index[node_id]]

    def ids(self, indices: Iterable[int]) -> list[str]:
        return list(map(self.node_ids.__getitem__, indices))

    def threshold(self, service: int) -> float | None:
        """The switchover limit for a service's analysis: its RTO, or none."""
        return self.nodes[service].rto_hours

    def effective(self, threshold: float | None) -> Effective:
        """The graph as one service sees it: alternatives slower than `threshold` removed."""
        found = self._effective.get(threshold)
        if found is None:
            found = self._effective[threshold] = Effective(self, threshold)
        return found

    @property
    def structure(self) -> Structure:
        """Loops (strongly connected components) and heights, for dependencies-first order."""
        if self._structure is None:
            self._structure = structure(
                len(self.nodes), self.edge_source, self.edge_target, self._down, self.up
            )
        return self._structure

    @property
    def k_array(self) -> np.ndarray:
        if self._k_array is None:
            self._k_array = np.array(self.k, dtype=np.int64)
        return self._k_array

    @property
    def edge_from_all(self) -> np.ndarray:
        """Per edge: does it leave an `all` node (where switchover times do not matter)?"""
        if self._edge_from_all is None:
            self._edge_from_all = self.k_array[self.edge_source] == 0
        return self._edge_from_all

    @property
    def up(self) -> Rows:
        """Dependants of each node in compressed rows (`edge` gives the edge position)."""
        if self._up is None:
            self._up = rows(len(self.nodes), self.edge_target, self.edge_source)
        return self._up

    def components_dependencies_first(self) -> list[list[int]]:
        """Strongly connected components (loops, or single nodes), dependencies first."""
        if self._components is None:
            shape = self.structure
            order = np.lexsort((np.arange(len(self.nodes)), shape.height)).tolist()
            loop_of = {members[0]: members for members in shape.loops}
            component = shape.component.tolist()
            self._components = [loop_of.get(x, [x]) for x in order if component[x] == x]
        return self._components

    def loops(self) -> list[list[int]]:
        """Groups of nodes that depend on one another (and nodes that depend on themselves):
        there is no order in which to restart them from cold."""
        return [
            c for c in self.components_dependencies_first() if len(c) > 1 or c[0] in self.deps[c[0]]
        ]

    def dependants(self) -> list[list[int]]:
        up = self.up
        start = up.start.tolist()
        sources = up.index.tolist()
        return [sources[a:b] for a, b in itertools.pairwise(start)]


class Effective:
    """Dependencies that count under one switchover threshold, and when each node goes down.

    `need[i]` is how many of node i's counted dependencies must be down for i to be down; a
    node with need <= 0 has an unmet requirement (down with nothing failed); a node with no
    dependencies and need 1 can only be failed directly."""

    __slots__ = (
        "_baseline",
        "_baseline_array",
        "_counted",
        "_dependants",
        "_deps",
        "_graph",
        "_need",
        "_need_array",
        "_unmet_array",
        "threshold",
        "unmet",
    )

    def __init__(self, graph: DependencyGraph, threshold: float | None) -> None:
        self.threshold = threshold
        self._graph = graph
        n = len(graph.nodes)
        src, sw = graph.edge_source, graph.edge_switchover
        # An edge counts unless it leaves an `any` / k-of-n node and switches over too slowly.
        counted = None if threshold is None else graph.edge_from_all | (sw <= threshold)
        if counted is not None and counted.all():
            counted = None
        self._counted = counted
        degree = np.bincount(src if counted is None else src[counted], minlength=n)
        k = graph.k_array
        need = np.where(k == 0, 1, degree - k + 1)
        self._need_array = need
        self._unmet_array = np.flatnonzero(need <= 0)
        self.unmet: list[int] = self._unmet_array.tolist()
        self._need: list[int] | None = None
        self._deps: list[tuple[int, ...]] | None = None
        self._baseline: bytearray | None = None
        self._baseline_array: np.ndarray | None = None
        self._dependants: list[list[int]] | None = None

    @property
    def need(self) -> list[int]:
        if self._need is None:
            self._need = self._need_array.tolist()
        return self._need

    @property
    def deps(self) -> list[tuple[int, ...]]:
        """The counted dependencies of each node (made on first use)."""
        if self._deps is None:
            graph, threshold = self._graph, self.threshold
            deps = list(graph.deps)
            if self._counted is not None:
                for i in np.unique(graph.edge_source[~self._counted]).tolist():
                    deps[i] = tuple(
                        d
                        for d, s in zip(graph.deps[i], graph.switchover[i], strict=True)
                        if s <= threshold  # type: ignore[operator]
                    )
            self._deps = deps
        return self._deps

    @property
    def dependants(self) -> list[list[int]]:
        """Who counts on each node (built on first use: propagation needs it, the SPOF
        programme does not)."""
        if self._dependants is None:
            dependants: list[list[int]] = [[] for _ in range(len(self.deps))]
            for a, ds in enumerate(self.deps):
                for b in ds:
                    dependants[b].append(a)
            self._dependants = dependants
        return self._dependants

    def down(self, failed: Iterable[int]) -> bytearray:
        """The down set for a set of failed nodes: the least fixed point.

        Starts from the failed nodes and the unmet ones and adds every node whose requirement
        breaks; nodes in a loop that support each other stay up until something reaches them.
        Returns a flag per node."""
        need = self.need
        dependants = self.dependants
        down = bytearray(len(need))
        count = [0] * len(need)
        stack: list[int] = []
        for i in (*self.unmet, *failed):
            if not down[i]:
                down[i] = 1
                stack.append(i)
        while stack:
            j = stack.pop()
            for i in dependants[j]:
                if not down[i]:
                    count[i] += 1
                    if count[i] >= need[i]:
                        down[i] = 1
                        stack.append(i)
        return down

    def down_array(self, failed: Iterable[int]) -> np.ndarray:
        """The same least fixed point as `down`, as a boolean array, computed in waves over
        numpy arrays: what a scenario on a large graph uses."""
        up = self._graph.up
        need = self._need_array
        counted = self._counted
        n = len(need)
        down = np.zeros(n, dtype=bool)
        count = np.zeros(n, dtype=np.int64)
        frontier = np.unique(
            np.concatenate((self._unmet_array, np.fromiter(failed, dtype=np.int64)))
        )
        down[frontier] = True
        # Where each node last appears in the wave's list: keeping only those positions
        # removes repeats without sorting.
        last = np.empty(n, dtype=np.int64)
        while frontier.size:
            positions = gather(up.start, frontier)
            if counted is not None:
                positions = positions[counted[up.edge[positions]]]
            hit = up.index[positions]
            hit = hit[~down[hit]]
            if not hit.size:
                break
            np.add.at(count, hit, 1)
            frontier = hit[count[hit] >= need[hit]]
            if frontier.size > 1:  # without repeats: a node is counted once per dependency
                at = np.arange(frontier.size)
                last[frontier] = at
                frontier = frontier[last[frontier] == at]
            down[frontier] = True
        return down

    @property
    def baseline_array(self) -> np.ndarray:
        """`baseline` as a boolean array."""
        if self._baseline_array is None:
            self._baseline_array = self.down_array(())
        return self._baseline_array

    @property
    def baseline(self) -> bytearray:
        """The nodes down with nothing failed (unmet requirements and what they take down)."""
        if self._baseline is None:
            self._baseline = self.down(())
        return self._baseline

    def closure(self, roots: Iterable[int]) -> list[int]:
        """The roots and every node they depend on through counted edges."""
        seen = bytearray(len(self.need))
        out: list[int] = []
        stack = []
        for r in roots:
            if not seen[r]:
                seen[r] = 1
                stack.append(r)
        deps = self.deps
        while stack:
            j = stack.pop()
            out.append(j)
            for d in deps[j]:
                if not seen[d]:
                    seen[d] = 1
                    stack.append(d)
        return out
