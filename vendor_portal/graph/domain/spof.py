"""Single points of failure, their witnesses, gaps and common causes, per business service.

Two routes to the same answer:

- `brute_force_reports`: the reference. For each node v, fail v alone, propagate (least fixed
  point) and see which services went down.
- `spof_reports`: a dynamic programme over the condensation of the graph, once per distinct
  switchover threshold (RTO). For a node x outside any loop, the set of nodes whose failure alone
  takes x down is {x} plus: for `all`, the union of its dependencies' sets; for `any`, their
  intersection; for k-of-n, the nodes in more than n-k of them. Dependencies already down with
  nothing failed count as down for every candidate. A loop (strongly connected component) is
  solved by propagating inside it once per distinct pattern of failed dependencies outside it,
  and once per member failed on its own: exactly the least fixed point restricted to the loop.

Both give, per service, the same SPOF set, gaps and common causes; `tests/unit/graph` checks that
on random graphs with loops, k-of-n nodes, duplicate paths, shared regions and switchover times.
"""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from vendor_portal.graph.domain import bits as B
from vendor_portal.graph.domain.model import DependencyGraph, Effective


@dataclass(frozen=True)
class Spof:
    """A node whose failure alone takes the service down (beyond its RTO)."""

    node: str
    # From the failed node up to the service; each node depends on the one before it.
    witness: tuple[str, ...]
    # Redundant nodes (any / k-of-n) the service needs where this node takes out more than one
    # alternative at once: a common cause under a primary and its fallback.
    defeats: tuple[str, ...] = ()

    @property
    def common_cause(self) -> bool:
        return bool(self.defeats)


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
    spofs: tuple[Spof, ...]
    gaps: tuple[Gap, ...]

    @property
    def spof_ids(self) -> frozenset[str]:
        return frozenset(s.node for s in self.spofs)

    def spof(self, node_id: str) -> Spof | None:
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


class _Loop:
    """Propagation runs inside one strongly connected component, kept for the witnesses."""

    __slots__ = ("runs",)

    def __init__(self) -> None:
        # (candidates as a bit set, cause per member that went down)
        self.runs: list[tuple[int, dict[int, int]]] = []

    def cause(self, x: int, v: int) -> int:
        bit = 1 << v
        for mask, cause in self.runs:
            if mask & bit:
                return cause[x]
        raise KeyError((x, v))


class _Programme:
    """SPOF sets of every node a group of services (one threshold) depends on."""

    def __init__(self, graph: DependencyGraph, eff: Effective, services: Sequence[int]) -> None:
        self.graph = graph
        self.eff = eff
        # Down with nothing failed, worked out along the way (dependencies come first).
        base = self.base = bytearray(len(graph))
        deps = eff.deps
        need = eff.need
        relevant = bytearray(len(graph))
        for i in eff.closure(services):
            relevant[i] = 1
        # spofs[x]: the nodes whose failure alone takes x down (x included); None for a node
        # down with nothing failed. reach[x]: x and every node it depends on (counted edges).
        self.spofs: dict[int, int | None] = {}
        self.reach: dict[int, int] = {}
        self.loops: dict[int, _Loop] = {}
        spofs = self.spofs
        reach = self.reach
        # The components of the whole graph serve every threshold: removing slow alternatives
        # only removes edges, so this order still puts dependencies first, and a component that
        # falls apart without them is still solved exactly by the loop routine.
        for component in graph.components_dependencies_first():
            members = [x for x in component if relevant[x]]
            if not members:
                continue
            if len(members) == 1 and members[0] not in deps[members[0]]:
                x = members[0]
                ds = deps[x]
                r = 1 << x
                for d in ds:
                    r |= reach[d]
                reach[x] = r
                if need[x] <= 0 or sum(base[d] for d in ds) >= need[x]:
                    base[x] = 1
                    spofs[x] = None
                    continue
                live = [spofs[d] for d in ds if not base[d]]
                m = need[x] - (len(ds) - len(live))  # down dependencies still needed
                spofs[x] = (1 << x) | B.at_least(live, m)  # type: ignore[arg-type]
            else:
                self._loop(members)

    def _loop(self, members: list[int]) -> None:
        eff, base, spofs = self.eff, self.base, self.spofs
        deps, need = eff.deps, eff.need
        inside = set(members)
        outside: set[int] = set()
        for x in members:
            outside.update(d for d in deps[x] if d not in inside)
        self._loop_reach(members, inside)
        self._loop_baseline(members, inside)
        alive = [x for x in members if not base[x]]
        for x in members:
            if base[x]:
                spofs[x] = None
        if not alive:
            return
        # Who depends on whom, restricted to the live members.
        dependants: dict[int, list[int]] = defaultdict(list)
        start: dict[int, int] = {}
        for x in alive:
            start[x] = sum(1 for d in deps[x] if base[d])
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

        loop = self.loops_entry(members)
        result = dict.fromkeys(alive, 0)
        # Outside candidates, grouped by which outside dependencies they take down together.
        signature: dict[int, list[int]] = defaultdict(list)
        for d in sorted(outside):
            if not base[d]:
                for v in B.members(spofs[d]):  # type: ignore[arg-type]
                    signature[v].append(d)
        by_signature: dict[tuple[int, ...], int] = defaultdict(int)
        for v, sig in signature.items():
            by_signature[tuple(sig)] |= 1 << v
        for sig, mask in by_signature.items():
            cause = propagate(sig)
            for x in cause:
                result[x] |= mask
            loop.runs.append((mask, cause))
        for v in alive:
            cause = propagate([v])
            for x in cause:
                result[x] |= 1 << v
            loop.runs.append((1 << v, cause))
        spofs.update(result)

    def _loop_baseline(self, members: list[int], inside: set[int]) -> None:
        """Members down with nothing failed: the least fixed point inside the loop, given what
        is already known to be down outside it."""
        deps, need, base = self.eff.deps, self.eff.need, self.base
        changed = True
        while changed:
            changed = False
            for x in members:
                if not base[x] and (need[x] <= 0 or sum(base[d] for d in deps[x]) >= need[x]):
                    base[x] = 1
                    changed = True

    def _loop_reach(self, members: list[int], inside: set[int]) -> None:
        """Reach of each member: a fixed point, since slow alternatives may have been removed
        from the component and its members need not reach one another any more."""
        deps, reach = self.eff.deps, self.reach
        for x in members:
            r = 1 << x
            for d in deps[x]:
                if d not in inside:
                    r |= reach[d]
            reach[x] = r
        changed = True
        while changed:
            changed = False
            for x in members:
                r = reach[x]
                for d in deps[x]:
                    if d in inside:
                        r |= reach[d]
                if r != reach[x]:
                    reach[x] = r
                    changed = True

    def loops_entry(self, members: list[int]) -> _Loop:
        loop = _Loop()
        for x in members:
            self.loops[x] = loop
        return loop

    def defeated_by(self, x: int) -> int:
        """Single failures that take down x (redundant, up with nothing failed) by taking out
        two or more of its counted alternatives at once: the common causes under it."""
        base, spofs = self.base, self.spofs
        live = [spofs[d] for d in self.eff.deps[x] if not base[d]]
        return B.at_least(live, 2) & spofs[x] & ~(1 << x)  # type: ignore[arg-type, operator]

    def next_hop(self, x: int, v: int) -> int:
        """A dependency of x through which the failure of v reaches x."""
        loop = self.loops.get(x)
        if loop is not None:
            return loop.cause(x, v)
        bit = 1 << v
        base, spofs = self.base, self.spofs
        chosen = -1
        for d in self.eff.deps[x]:
            if d == v:
                return d
            if chosen < 0 and not base[d] and spofs[d] & bit:  # type: ignore[operator]
                chosen = d
        if chosen < 0:
            raise AssertionError(f"no dependency of node {x} carries the failure of node {v}")
        return chosen

    def witness(
        self, service: int, v: int, ids: Sequence[str], chains: dict[tuple[int, int], tuple]
    ) -> tuple[str, ...]:
        """The chain from v up to the service; chains from v up to intermediate nodes are kept in
        `chains`, as services share most of them."""
        walked = []
        x = service
        found = chains.get((x, v))
        while found is None:
            walked.append(x)
            if x == v:
                found = ()
                break
            x = self.next_hop(x, v)
            found = chains.get((x, v))
        for x in reversed(walked):
            found = chains[(x, v)] = (*found, ids[x])
        return found


def spof_reports(
    graph: DependencyGraph, services: Iterable[str] | None = None
) -> list[ServiceReport]:
    """SPOF sets, witnesses, gaps and common causes per business service, by the programme."""
    reports: list[ServiceReport] = []
    ids = [node.id for node in graph.nodes]
    redundant_mask = B.of(i for i in range(len(graph)) if graph.k[i])
    for threshold, group in _groups(graph, _service_positions(graph, services)).items():
        eff = graph.effective(threshold)
        programme = _Programme(graph, eff, group)
        base, spofs, reach = programme.base, programme.spofs, programme.reach
        base_mask = B.of(i for i in programme.reach if base[i])
        chains: dict[tuple[int, int], tuple] = {}
        defeated_by: dict[int, int] = {}
        for s in group:
            gaps = _gaps(graph, eff, base, s, B.members(reach[s] & base_mask))
            if base[s]:
                reports.append(ServiceReport(ids[s], threshold, True, (), gaps))
                continue
            own = spofs[s] & ~(1 << s)  # type: ignore[operator]
            defeats: dict[int, list[str]] = defaultdict(list)
            for x in B.members(reach[s] & redundant_mask):
                if base[x]:
                    continue
                found_by = defeated_by.get(x)
                if found_by is None:
                    found_by = defeated_by[x] = programme.defeated_by(x)
                for v in B.members(found_by & own):
                    defeats[v].append(ids[x])
            found = [
                Spof(
                    ids[v], programme.witness(s, v, ids, chains), tuple(sorted(defeats.get(v, ())))
                )
                for v in B.members(own)
            ]
            reports.append(ServiceReport(ids[s], threshold, False, _sorted_spofs(found), gaps))
    return _order(graph, reports)


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
