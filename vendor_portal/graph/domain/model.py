"""The dependency graph as plain data: nodes, edges, requirements, and an indexed form for analyses.

An edge `A -> B` means "A depends on B". Each node has a requirement over its dependencies:
`all` (the default), `any` (the default for a capability), or an integer k (k-of-n). Edges out of
an `any` or k-of-n node may carry `switchover_hours`; for a business service with RTO r, an
alternative whose switchover exceeds r does not count anywhere in that service's analysis.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import networkx as nx

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
    would make the analyses meaningless (unknown ends, duplicate ids, bad requirements)."""

    def __init__(self, nodes: Sequence[Node], edges: Sequence[Edge]) -> None:
        self.nodes: tuple[Node, ...] = tuple(nodes)
        self.edges: tuple[Edge, ...] = tuple(edges)
        self.index: dict[str, int] = {}
        for i, node in enumerate(self.nodes):
            if node.id in self.index:
                raise ValueError(f"duplicate node id {node.id!r}")
            if node.kind not in KINDS:
                raise ValueError(f"node {node.id!r} has unknown kind {node.kind!r}")
            self.index[node.id] = i
        n = len(self.nodes)
        deps: list[list[int]] = [[] for _ in range(n)]
        switchover: list[list[float]] = [[] for _ in range(n)]
        seen: set[tuple[int, int]] = set()
        for edge in self.edges:
            a = self.index.get(edge.source)
            b = self.index.get(edge.target)
            if a is None or b is None:
                raise ValueError(f"edge {edge.source} -> {edge.target} has an unknown end")
            if (a, b) in seen:
                raise ValueError(f"duplicate edge {edge.source} -> {edge.target}")
            if edge.switchover_hours < 0:
                raise ValueError(f"edge {edge.source} -> {edge.target}: negative switchover")
            seen.add((a, b))
            deps[a].append(b)
            switchover[a].append(float(edge.switchover_hours))
        self.deps: tuple[tuple[int, ...], ...] = tuple(tuple(d) for d in deps)
        self.switchover: tuple[tuple[float, ...], ...] = tuple(tuple(s) for s in switchover)
        # k per node: 0 for `all` (every dependency), else the number that must stay up.
        self.k: tuple[int, ...] = tuple(self._k(node) for node in self.nodes)
        self.services: tuple[int, ...] = tuple(
            i for i, node in enumerate(self.nodes) if node.kind == NodeKind.BUSINESS_SERVICE
        )
        self._effective: dict[float | None, Effective] = {}
        self._components: list[list[int]] | None = None
        # Where each node came from in an imported file ("nodes[3]", "nodes.csv line 4").
        self.locations: dict[str, str] = {}

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
        return [self.nodes[i].id for i in indices]

    def threshold(self, service: int) -> float | None:
        """The switchover limit for a service's analysis: its RTO, or none."""
        return self.nodes[service].rto_hours

    def effective(self, threshold: float | None) -> Effective:
        """The graph as one service sees it: alternatives slower than `threshold` removed."""
        found = self._effective.get(threshold)
        if found is None:
            found = self._effective[threshold] = Effective(self, threshold)
        return found

    def components_dependencies_first(self) -> list[list[int]]:
        """Strongly connected components (loops, or single nodes), dependencies first."""
        if self._components is None:
            g = nx.DiGraph()
            g.add_nodes_from(range(len(self.nodes)))
            g.add_edges_from((a, b) for a, ds in enumerate(self.deps) for b in ds)
            condensed = nx.condensation(g)
            order = list(nx.topological_sort(condensed))
            order.reverse()  # edges point from dependant to dependency
            self._components = [sorted(condensed.nodes[c]["members"]) for c in order]
        return self._components

    def loops(self) -> list[list[int]]:
        """Groups of nodes that depend on one another (and nodes that depend on themselves):
        there is no order in which to restart them from cold."""
        return [
            c for c in self.components_dependencies_first() if len(c) > 1 or c[0] in self.deps[c[0]]
        ]

    def dependants(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in range(len(self.nodes))]
        for a, ds in enumerate(self.deps):
            for b in ds:
                out[b].append(a)
        return out


class Effective:
    """Dependencies that count under one switchover threshold, and when each node goes down.

    `need[i]` is how many of node i's counted dependencies must be down for i to be down; a
    node with need <= 0 has an unmet requirement (down with nothing failed); a node with no
    dependencies and need 1 can only be failed directly."""

    __slots__ = ("_baseline", "_dependants", "deps", "need", "threshold", "unmet")

    def __init__(self, graph: DependencyGraph, threshold: float | None) -> None:
        self.threshold = threshold
        n = len(graph.nodes)
        deps: list[tuple[int, ...]] = []
        need: list[int] = []
        for i in range(n):
            k = graph.k[i]
            ds = graph.deps[i]
            if k == 0:
                deps.append(ds)
                need.append(1)
                continue
            if threshold is not None:
                ds = tuple(
                    d for d, s in zip(ds, graph.switchover[i], strict=True) if s <= threshold
                )
            deps.append(ds)
            need.append(len(ds) - k + 1)
        self.deps: list[tuple[int, ...]] = deps
        self.need: list[int] = need
        self.unmet: list[int] = [i for i in range(n) if need[i] <= 0]
        self._baseline: bytearray | None = None
        self._dependants: list[list[int]] | None = None

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
