"""The fallback-provider register, read off the dependency graph, and its flags.

One source of truth: a capability is a `capability` node; its providers are the nodes it depends
on, each edge's `switchover_hours` is the time to bring that provider into service, and the
node's requirement (`any`, k-of-n) says how many must run. The register adds only the terms of
each provider on the same edge, as edge attributes that travel with the interchange format:

- `fallback_status`: `contracted`, `in_house` (an internal arrangement) or `identified` (known,
  not contracted); a capability with no spare provider has its fallback `missing`;
- `last_tested`: the date of the last switchover test (ISO 8601);
- `capacity_pct`: the share of the normal load the provider can carry (0-100);
- `fallback_notes`: free text.

Roles: a provider with no switchover time, or among the k fastest of a k-of-n (1 for `any`), is a
primary; the others are fallbacks. Flags, each with its reasons:

- `no_fallback`: a critical business service needs the capability and it has no spare provider;
- `common_cause`: one failure (a node, or a whole country or region) takes down both a fallback
  and a primary: found by propagating failures through the graph (every alternative counted),
  so shared vendors, subcontractors, facilities, regions, carriers are all found, and a shared
  dependency that one of them can do without is not (nor a shared redundant node itself: its
  alternatives are named instead);
- `slow_switchover`: the switchover is longer than the RTO of a business service needing it;
- `untested`: a fallback not tested in the last 12 months (or never);
- `high_risk_region`: losing a high-risk country or region takes the fallback down;
- `not_contracted`: a fallback only identified; `bad_terms`: stored terms that cannot be read.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import Any

import numpy as np

from vendor_portal.graph.domain.collection import collector_paused
from vendor_portal.graph.domain.groups import as_int, down_columns, reach_columns, seed_columns
from vendor_portal.graph.domain.model import NO_FILTER, DependencyGraph, Effective, NodeKind
from vendor_portal.graph.domain.regions import COUNTRY, REGION, Rating, RatingBook
from vendor_portal.graph.domain.scenario import nodes_in_places
from vendor_portal.graph.domain.spof import single_failures


class Status(StrEnum):
    CONTRACTED = "contracted"
    IN_HOUSE = "in_house"
    IDENTIFIED = "identified"

    @property
    def label(self) -> str:
        return STATUS_LABELS[self.value]


MISSING = "missing"
STATUS_LABELS = {
    "contracted": "contracted",
    "in_house": "in-house arrangement",
    "identified": "identified only",
    MISSING: "missing",
}
ATTR_STATUS = "fallback_status"
ATTR_TESTED = "last_tested"
ATTR_CAPACITY = "capacity_pct"
ATTR_NOTES = "fallback_notes"
TERM_ATTRIBUTES = (ATTR_STATUS, ATTR_TESTED, ATTR_CAPACITY, ATTR_NOTES)
PRIMARY = "primary"
FALLBACK = "fallback"
TEST_INTERVAL_MONTHS = 12
MAX_CAPACITY = 100.0
MAX_NOTES = 2000
SHOWN_CAUSES = 4


class FlagCode(StrEnum):
    NO_FALLBACK = "no_fallback"
    COMMON_CAUSE = "common_cause"
    SLOW_SWITCHOVER = "slow_switchover"
    UNTESTED = "untested"
    HIGH_RISK_REGION = "high_risk_region"
    NOT_CONTRACTED = "not_contracted"
    BAD_TERMS = "bad_terms"

    @property
    def label(self) -> str:
        return FLAG_LABELS[self]


FLAG_LABELS = {
    FlagCode.NO_FALLBACK: "No fallback",
    FlagCode.COMMON_CAUSE: "Common cause",
    FlagCode.SLOW_SWITCHOVER: "Switchover slower than RTO",
    FlagCode.UNTESTED: "Untested",
    FlagCode.HIGH_RISK_REGION: "High-risk region",
    FlagCode.NOT_CONTRACTED: "Not contracted",
    FlagCode.BAD_TERMS: "Unreadable terms",
}


# --- terms on an edge --------------------------------------------------------------------------


@dataclass(frozen=True)
class Terms:
    status: Status | None = None
    last_tested: date | None = None
    capacity_pct: float | None = None
    notes: str = ""
    problems: tuple[str, ...] = ()  # stored values that cannot be read (an imported file)


def read_terms(attributes: Mapping[str, Any]) -> Terms:
    """The terms stored on an edge; values from an imported file may be strings or wrong."""
    problems = []
    status = None
    raw = attributes.get(ATTR_STATUS)
    if raw not in (None, ""):
        try:
            status = Status(str(raw).strip().lower().replace(" ", "_").replace("-", "_"))
        except ValueError:
            problems.append(f"{ATTR_STATUS} {raw!r} is not contracted, in_house or identified")
    tested = None
    raw = attributes.get(ATTR_TESTED)
    if raw not in (None, ""):
        try:
            tested = date.fromisoformat(str(raw).strip()[:10])
        except ValueError:
            problems.append(f"{ATTR_TESTED} {raw!r} is not a date (YYYY-MM-DD)")
    capacity = None
    raw = attributes.get(ATTR_CAPACITY)
    if raw not in (None, ""):
        try:
            capacity = float(str(raw).strip().rstrip("%")) if not isinstance(raw, bool) else None
        except ValueError:
            capacity = None
        if capacity is None or not 0 <= capacity <= MAX_CAPACITY:
            problems.append(f"{ATTR_CAPACITY} {raw!r} is not a percentage 0-100")
            capacity = None
    notes = attributes.get(ATTR_NOTES)
    return Terms(status, tested, capacity, str(notes) if notes else "", tuple(problems))


def terms_problems(
    status: str | None, last_tested: date | None, capacity_pct: float | None, today: date
) -> dict[str, str]:
    """What is wrong with terms about to be saved, by field."""
    problems = {}
    if status not in (None, "") and status not in {s.value for s in Status}:
        problems["status"] = "Choose contracted, in-house arrangement or identified only."
    if last_tested is not None and last_tested > today:
        problems["last_tested"] = "The last test cannot be in the future."
    if capacity_pct is not None and not 0 <= capacity_pct <= MAX_CAPACITY:
        problems["capacity_pct"] = "Give a percentage from 0 to 100."
    return problems


def with_terms(
    attributes: Mapping[str, Any],
    status: str | None,
    last_tested: date | None,
    capacity_pct: float | None,
    notes: str | None,
) -> dict[str, Any]:
    """The edge's attributes with these terms (empty ones removed), other attributes kept."""
    out = {k: v for k, v in attributes.items() if k not in TERM_ATTRIBUTES}
    if status:
        out[ATTR_STATUS] = status
    if last_tested is not None:
        out[ATTR_TESTED] = last_tested.isoformat()
    if capacity_pct is not None:
        out[ATTR_CAPACITY] = int(capacity_pct) if float(capacity_pct).is_integer() else capacity_pct
    if notes:
        out[ATTR_NOTES] = notes[:MAX_NOTES]
    return out


def months_before(day: date, months: int) -> date:
    year, month = divmod(day.year * 12 + day.month - 1 - months, 12)
    month += 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# --- the register -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    code: FlagCode
    level: str  # danger, warning or info
    message: str
    nodes: tuple[str, ...] = ()  # the nodes (or places) the flag is about

    @property
    def label(self) -> str:
        return self.code.label


@dataclass(frozen=True)
class Need:
    """A business service that needs the capability (through any path in the graph)."""

    id: str
    name: str
    criticality: str | None
    rto_hours: float | None


@dataclass(frozen=True)
class CommonCause:
    """One failure that takes down a fallback and a primary together."""

    id: str  # a node id, or "country:XX" / "region:name" for a place
    name: str
    kind: str  # a node kind, or "country" / "region"
    primary: str  # the primary it shares with
    chain: tuple[str, ...]  # from the fallback down to the cause (node ids), when a node
    rating: Rating | None = None


@dataclass(frozen=True)
class Provider:
    id: str
    name: str
    kind: str
    role: str  # primary or fallback
    switchover_hours: float
    terms: Terms
    flags: tuple[Flag, ...] = ()
    common_causes: tuple[CommonCause, ...] = ()
    risky_places: tuple[Rating, ...] = ()  # high-risk places whose loss takes it down
    ratings: tuple[Rating, ...] = ()  # ratings of where the provider itself is

    @property
    def status(self) -> str | None:
        return self.terms.status.value if self.terms.status else None


@dataclass(frozen=True)
class Entry:
    """A capability with its providers and flags."""

    id: str
    name: str
    requires: str | int
    needed: int  # providers that must run (k)
    providers: tuple[Provider, ...]
    needs: tuple[Need, ...]
    flags: tuple[Flag, ...] = ()

    @property
    def primaries(self) -> tuple[Provider, ...]:
        return tuple(p for p in self.providers if p.role == PRIMARY)

    @property
    def fallbacks(self) -> tuple[Provider, ...]:
        return tuple(p for p in self.providers if p.role == FALLBACK)

    @property
    def spare(self) -> int:
        return len(self.providers) - self.needed

    @property
    def fallback_status(self) -> str:
        """The best status among the fallbacks: contracted > in-house > identified; missing
        when there is no spare provider."""
        if self.spare < 1:
            return MISSING
        statuses = {p.status for p in self.providers if p.role == FALLBACK}
        for status in Status:
            if status.value in statuses:
                return status.value
        return "not recorded" if statuses else MISSING

    @property
    def all_flags(self) -> tuple[Flag, ...]:
        return self.flags + tuple(f for p in self.providers for f in p.flags)

    @property
    def flagged(self) -> bool:
        return any(f.level in ("danger", "warning") for f in self.all_flags)

    @property
    def critical(self) -> bool:
        return any(n.criticality == "critical" for n in self.needs)


def _hours(value: float) -> str:
    return f"{value:g} h"


def _names(names: Sequence[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


DOWN_CACHE_BYTES = 256 * 1024 * 1024
SEARCHES_KEPT = 4096  # breadth-first searches kept for chains (see `_Analysis.chain`)
PLACE_BLOCK = 1024  # places propagated together (bit columns: 128 bytes per node)

Place = tuple[str, str, str]  # (kind, code, name): a country or region


class _Analysis:
    """What the flags need, worked out for every provider at once and shared between them.

    - the nodes whose failure alone takes a provider down: its SPOF set from the SPOF programme
      (`spof.single_failures`, every alternative counted);
    - the places (countries, regions) a provider depends on, and those whose loss takes it
      down: one bit column per place, all propagated together (`groups`);
    - shortest chains from a provider down to a cause: a breadth-first search per provider,
      resumed only as far as the causes asked for.

    Places are numbered by (name, kind, code), which is also the order in which they are
    listed. `_PropagatingAnalysis` is the same by one propagation per failure: the reference."""

    def __init__(
        self, graph: DependencyGraph, ratings: RatingBook, providers: Iterable[int] = ()
    ) -> None:
        self.graph = graph
        self.ratings = ratings
        self.eff: Effective = graph.effective(NO_FILTER)
        # (numpy waves: the propagation of `eff.baseline` would first list every dependant)
        self.base = bytearray(self.eff.baseline_array.view(np.uint8).tobytes())
        self._providers = list(providers)
        self._stands_for: dict[int, set[tuple[str, str]]] = {}
        self.place_causes: dict[tuple[str, str, int], CommonCause] = {}
        self._ratings: dict[tuple[str, str], tuple[Rating | None, bool, int]] = {}
        self._takes_down: dict[int, set[int]] = {}
        # Per start: parents, queue and the chains read so far.
        self._search: dict[int, tuple[dict[int, int], deque[int], dict[int, tuple[str, ...]]]] = {}
        self._dependants: list[list[int]] | None = None
        self._place_list: list[Place] | None = None
        self._place_bit: dict[tuple[str, str], int] = {}
        self._owners: dict[int, list[tuple[str, str]]] = {}  # node -> the places it is in
        self._by_provider: dict[int, tuple[int, int]] | None = None

    def edge_attributes(self, source: int) -> Mapping[str, Mapping[str, Any]]:
        """The attributes of the edges out of `source`, by target id."""
        graph = self.graph
        ids = graph.node_ids
        return {
            ids[d]: graph.edge_attributes(e)
            for d, e in zip(graph.deps[source], graph.out_edges(source), strict=True)
        }

    def dependants(self) -> list[list[int]]:
        if self._dependants is None:
            self._dependants = self.graph.dependants()
        return self._dependants

    def takes_down(self, x: int) -> set[int]:
        """The nodes whose failure alone takes x down (x included), among what x depends on.
        Redundant nodes (any, k-of-n) are left out as causes: they fail through their
        alternatives, which are listed when one failure takes them all."""
        found = self._takes_down.get(x)
        if found is None:
            wanted = [p for p in self._providers if p not in self._takes_down]
            if x not in wanted:
                wanted.append(x)
            k = self.graph.k
            for y, spofs in single_failures(self.graph, wanted).items():
                self._takes_down[y] = {v for v in spofs if v == y or not k[v]}
            found = self._takes_down[x]
        return found

    # --- places --------------------------------------------------------------------------------

    def own_places(self, i: int) -> list[tuple[str, str, str]]:
        """The countries and regions node i itself is in: (kind, code, name)."""
        node = self.graph.nodes[i]
        out = []
        country = node.attributes.get("country")
        if country:
            code = str(country).upper()
            rating = self.ratings.country(code)
            out.append((COUNTRY, code, rating.name if rating else code))
        if node.kind in (NodeKind.CLOUD_REGION, NodeKind.GEO_REGION):
            rating = self.ratings.region(node.name) or self.ratings.region(node.id)
            if rating is not None:
                out.append((REGION, rating.code, rating.name))
        return out

    def _places_found(self) -> list[Place]:
        if self._place_list is None:
            found: dict[tuple[str, str], str] = {}
            for i, node in enumerate(self.graph.nodes):
                if node.attributes.get("country") or node.kind in (
                    NodeKind.CLOUD_REGION,
                    NodeKind.GEO_REGION,
                ):
                    mine = self.own_places(i)
                    for kind, code, name in mine:
                        found.setdefault((kind, code), name)
                    if mine:
                        self._owners[i] = [(kind, code) for kind, code, _name in mine]
            self._place_list = sorted(
                ((kind, code, name) for (kind, code), name in found.items()),
                key=lambda t: (t[2], t[0], t[1]),
            )
            self._place_bit = {
                (kind, code): b for b, (kind, code, _) in enumerate(self._place_list)
            }
        return self._place_list

    def _columns(self) -> dict[int, tuple[int, int]]:
        """Per provider: the places it depends on and those whose loss takes it down, as the
        bits of two integers (bit b: place b). Propagated over the graph a block of places at a
        time, so that memory stays bounded however many places are rated."""
        if self._by_provider is None:
            places = self._places_found()
            graph = self.graph
            own: list[list[int]] = [[] for _ in places]
            for i, keys in self._owners.items():
                for key in keys:
                    own[self._place_bit[key]].append(i)
            lost = [
                sorted(graph.index[i] for i in self._nodes_in(kind, code))
                for kind, code, _name in places
            ]
            providers = self._providers
            reach_bits = dict.fromkeys(providers, 0)
            lost_bits = dict.fromkeys(providers, 0)
            for low in range(0, len(places), PLACE_BLOCK):
                high = min(low + PLACE_BLOCK, len(places))
                mask = (1 << (high - low)) - 1
                reach = reach_columns(graph, seed_columns(len(graph), own[low:high]))
                down = down_columns(graph, lost[low:high])
                for x in providers:
                    reach_bits[x] |= (as_int(reach[x]) & mask) << low
                    lost_bits[x] |= (as_int(down[x]) & mask) << low
            self._by_provider = {x: (reach_bits[x], lost_bits[x]) for x in providers}
        return self._by_provider

    def _nodes_in(self, kind: str, code: str) -> set[str]:
        if kind == COUNTRY:
            return nodes_in_places(self.graph, countries=[code])
        return nodes_in_places(self.graph, regions=[code])

    def _bits(self, bits: int) -> list[Place]:
        places = self._places_found()
        out = []
        while bits:
            low = bits & -bits
            out.append(places[low.bit_length() - 1])
            bits ^= low
        return out

    def places(self, x: int) -> list[Place]:
        """Countries and regions where provider x or something it depends on is, by name."""
        return self._bits(self._columns()[x][0])

    def rating(self, kind: str, code: str) -> tuple[Rating | None, bool, int]:
        """The place's rating, whether it is high risk, and the rank of its overall level."""
        key = (kind, code)
        found = self._ratings.get(key)
        if found is None:
            rating = self.ratings.for_place(kind, code)
            overall = rating.overall if rating is not None else None
            found = self._ratings[key] = (
                rating,
                rating is not None and rating.high_risk,
                overall.rank if overall else 0,
            )
        return found

    def shared_places(self, f: int, p: int, covered: set[tuple[str, str]]) -> list[Place]:
        """Places of f (by name) whose loss takes down both f and p, except `covered`."""
        if self.base[f] or self.base[p]:
            return []
        columns = self._columns()
        (reach, lost), (_, lost_p) = columns[f], columns[p]
        bits = reach & lost & lost_p
        if not bits:
            return []
        for key in covered:
            b = self._place_bit.get(key)
            if b is not None:
                bits &= ~(1 << b)
        return self._bits(bits)

    def lost_with(self, p: int) -> list[Place]:
        """Places p depends on whose loss takes it down, by name."""
        reach, lost = self._columns()[p]
        return self._bits(reach & lost)

    def places_of(self, v: int) -> set[tuple[str, str]]:
        """The places a region node stands for (a country's node is that country)."""
        found = self._stands_for.get(v)
        if found is None:
            found = self._stands_for[v] = self._places_of(v)
        return found

    def _places_of(self, v: int) -> set[tuple[str, str]]:
        node = self.graph.nodes[v]
        out: set[tuple[str, str]] = set()
        if node.kind == NodeKind.GEO_REGION and node.attributes.get("country"):
            out.add((COUNTRY, str(node.attributes["country"]).upper()))
        if node.kind in (NodeKind.CLOUD_REGION, NodeKind.GEO_REGION):
            rating = self.ratings.region(node.name) or self.ratings.region(node.id)
            if rating is not None:
                out.add((REGION, rating.code))
        return out

    # --- chains --------------------------------------------------------------------------------

    def chain(self, start: int, target: int) -> tuple[str, ...]:
        """A shortest dependency chain from start down to target (node ids): breadth first,
        dependencies in order, resumed from where it stopped until the target is reached. The
        searches of the last `SEARCHES_KEPT` starts are kept (a provider serves several
        capabilities in a row); an older one is made again if asked, to the same result."""
        found = self._search.get(start)
        if found is None:
            found = self._search[start] = ({start: -1}, deque([start]), {})
            if len(self._search) > SEARCHES_KEPT:
                del self._search[next(iter(self._search))]
        parents, queue, chains = found
        chain = chains.get(target)
        if chain is not None:
            return chain  # (a fallback is checked against each of its primaries)
        deps = self.eff.deps
        while target not in parents and queue:
            x = queue.popleft()
            for d in deps[x]:
                if d not in parents:
                    parents[d] = x
                    queue.append(d)
        if target not in parents:
            return ()
        ids = self.graph.node_ids
        out = []
        x = target
        while x != -1:
            out.append(ids[x])
            x = parents[x]
        chain = chains[target] = tuple(reversed(out))
        return chain

    def needs(self, capability: int) -> tuple[Need, ...]:
        """Business services that need the capability, through any path."""
        dependants = self.dependants()
        seen = {capability}
        stack = [capability]
        found = []
        while stack:
            x = stack.pop()
            for a in dependants[x]:
                if a not in seen:
                    seen.add(a)
                    stack.append(a)
                    node = self.graph.nodes[a]
                    if node.kind == NodeKind.BUSINESS_SERVICE:
                        found.append(
                            Need(
                                node.id,
                                node.label,
                                node.attributes.get("criticality"),
                                node.rto_hours,
                            )
                        )
        order = {"critical": 0, "high": 1, "medium": 2, "low": 3}
        found.sort(key=lambda n: (order.get(n.criticality or "", 9), n.name.lower()))
        return tuple(found)


class _PropagatingAnalysis(_Analysis):
    """The reference: one propagation per failure (each dependency of each provider, each
    place), kept to check the analysis against (tests) and to measure it (benchmark)."""

    def __init__(
        self, graph: DependencyGraph, ratings: RatingBook, providers: Iterable[int] = ()
    ) -> None:
        super().__init__(graph, ratings, providers)
        self._down: dict[int, bytearray] = {}
        self._down_budget = max(64, DOWN_CACHE_BYTES // max(len(graph.nodes), 1))
        self._place_down: dict[tuple[str, str], bytearray] = {}
        self._closure: dict[int, list[int]] = {}

    def closure(self, x: int) -> list[int]:
        found = self._closure.get(x)
        if found is None:
            found = self._closure[x] = self.eff.closure([x])
        return found

    def down(self, v: int) -> bytearray:
        # Each array is as long as the graph: keep a bounded number (least recently used out),
        # or a large map would need memory growing with the square of its size.
        found = self._down.get(v)
        if found is None:
            found = self._down[v] = self.eff.down([v])
            while len(self._down) > self._down_budget:
                self._down.pop(next(iter(self._down)))
        else:
            self._down[v] = self._down.pop(v)  # most recently used last
        return found

    def takes_down(self, x: int) -> set[int]:
        found = self._takes_down.get(x)
        if found is None:
            if self.base[x]:
                found = set()  # down already: no single failure is the cause
            else:
                k = self.graph.k
                found = {
                    v
                    for v in self.closure(x)
                    if (v == x or not k[v]) and not self.base[v] and self.down(v)[x]
                }
            self._takes_down[x] = found
        return found

    def place_down(self, kind: str, code: str) -> bytearray:
        key = (kind, code)
        found = self._place_down.get(key)
        if found is None:
            lost = self._nodes_in(kind, code)
            found = self._place_down[key] = self.eff.down(self.graph.index[i] for i in lost)
        return found

    def places(self, x: int) -> list[Place]:
        out: dict[tuple[str, str], str] = {}
        for i in self.closure(x):
            for kind, code, name in self.own_places(i):
                out.setdefault((kind, code), name)
        return sorted(
            ((kind, code, name) for (kind, code), name in out.items()),
            key=lambda t: (t[2], t[0], t[1]),
        )

    def shared_places(self, f: int, p: int, covered: set[tuple[str, str]]) -> list[Place]:
        out = []
        for kind, code, name in self.places(f):
            if (kind, code) in covered:
                continue
            down = self.place_down(kind, code)
            if down[f] and down[p] and not self.base[f] and not self.base[p]:
                out.append((kind, code, name))
        return out

    def lost_with(self, p: int) -> list[Place]:
        return [
            (kind, code, name)
            for kind, code, name in self.places(p)
            if self.place_down(kind, code)[p]
        ]


def register(
    graph: DependencyGraph,
    ratings: RatingBook | None = None,
    today: date | None = None,
    capabilities: Iterable[str] | None = None,
    *,
    reference: bool = False,
) -> list[Entry]:
    """Every capability node (or the chosen ones) with its providers and flags. `reference`:
    by one propagation per failure instead (the same answer, far slower: for tests)."""
    ratings = ratings or RatingBook()
    today = today or date.today()
    chosen = (
        [graph.index[c] for c in capabilities]
        if capabilities is not None
        else [i for i, n in enumerate(graph.nodes) if n.kind == NodeKind.CAPABILITY]
    )
    providers = dict.fromkeys(p for c in chosen for p in graph.deps[c])
    analysis = (_PropagatingAnalysis if reference else _Analysis)(graph, ratings, providers)
    # Millions of small objects are made and all kept (causes, flags).
    with collector_paused():
        entries = [_entry(analysis, c, today) for c in chosen]
    entries.sort(key=lambda e: e.name.lower())
    return entries


def _entry(analysis: _Analysis, c: int, today: date) -> Entry:
    graph = analysis.graph
    node = graph.nodes[c]
    deps = graph.deps[c]
    n = len(deps)
    needed = graph.k[c] or n  # `all`: every provider must run
    order = sorted(
        range(n), key=lambda j: (graph.switchover[c][j], graph.nodes[deps[j]].label.lower())
    )
    roles = {}
    for rank, j in enumerate(order):
        roles[j] = PRIMARY if graph.switchover[c][j] == 0 or rank < needed else FALLBACK
    needs = analysis.needs(c)
    edge_attributes = analysis.edge_attributes(c)
    primaries = [deps[j] for j in order if roles[j] == PRIMARY]
    providers = []
    for j in order:
        p = deps[j]
        providers.append(
            _provider(
                analysis,
                p,
                roles[j],
                graph.switchover[c][j],
                read_terms(edge_attributes.get(graph.nodes[p].id, {})),
                [q for q in primaries if q != p],
                needs,
                today,
            )
        )
    flags = []
    critical = [s for s in needs if s.criticality == "critical"]
    if critical and n - needed < 1:
        who = _names([s.name for s in critical])
        if n == 0:
            message = f"No provider at all; {who} need{'s' if len(critical) == 1 else ''} it."
        elif graph.k[c] and n > 1:
            message = (
                f"All {n} providers must run (it needs {needed}): none is spare if one fails; "
                f"{who} {'is' if len(critical) == 1 else 'are'} critical."
            )
        else:
            message = (
                f"Only {graph.nodes[deps[0]].label if n == 1 else 'its primaries'}: no fallback "
                f"for {who} "
                f"({'a critical service' if len(critical) == 1 else 'critical services'})."
            )
        flags.append(Flag(FlagCode.NO_FALLBACK, "danger", message, tuple(s.id for s in critical)))
    return Entry(
        node.id,
        node.label,
        node.requires,
        needed,
        tuple(providers),
        needs,
        tuple(flags),
    )


def _provider(
    analysis: _Analysis,
    p: int,
    role: str,
    switchover: float,
    terms: Terms,
    other_primaries: list[int],
    needs: tuple[Need, ...],
    today: date,
) -> Provider:
    graph = analysis.graph
    node = graph.nodes[p]
    flags: list[Flag] = []
    if terms.problems:
        flags.append(
            Flag(
                FlagCode.BAD_TERMS,
                "warning",
                "Stored terms cannot be read: "
                + "; ".join(terms.problems)
                + ". Edit the mapping to fix them.",
            )
        )
    slow = [s for s in needs if s.rto_hours is not None and switchover > s.rto_hours]
    if slow:
        parts = [f"{s.name} ({_hours(s.rto_hours)})" for s in slow]  # type: ignore[arg-type]
        flags.append(
            Flag(
                FlagCode.SLOW_SWITCHOVER,
                "danger" if any(s.criticality == "critical" for s in slow) else "warning",
                f"Switchover takes {_hours(switchover)}, longer than the RTO of "
                f"{_names(parts)}: it cannot restore {'it' if len(slow) == 1 else 'them'} in "
                "time, so the analysis does not count it there.",
                tuple(s.id for s in slow),
            )
        )
    causes: list[CommonCause] = []
    # A fallback is checked against every primary; an active-active primary against the others.
    if role == FALLBACK or other_primaries:
        causes = _common_causes(analysis, p, other_primaries)
    if causes:
        by_primary: dict[str, list[CommonCause]] = {}
        for cause in causes:
            by_primary.setdefault(cause.primary, []).append(cause)
        for primary, found in by_primary.items():
            names = [c.name for c in found[:SHOWN_CAUSES]]
            more = len(found) - len(names)
            flags.append(
                Flag(
                    FlagCode.COMMON_CAUSE,
                    "danger",
                    f"Shares {_names(names)}{f' (and {more} more)' if more else ''} with the "
                    f"primary {graph.node(primary).label}: losing "
                    f"{'it' if len(found) == 1 else 'any one of them'} takes both down.",
                    tuple(c.id for c in found),
                )
            )
    risky: list[Rating] = []
    if role == FALLBACK:
        if terms.status == Status.IDENTIFIED:
            flags.append(
                Flag(
                    FlagCode.NOT_CONTRACTED,
                    "warning",
                    "Identified only: nothing obliges the provider to take over.",
                )
            )
        elif terms.status is None and not any("status" in t for t in terms.problems):
            flags.append(
                Flag(
                    FlagCode.NOT_CONTRACTED,
                    "info",
                    "Not recorded whether this fallback is contracted.",
                )
            )
        limit = months_before(today, TEST_INTERVAL_MONTHS)
        if terms.last_tested is None:
            flags.append(Flag(FlagCode.UNTESTED, "warning", "Never tested (no test recorded)."))
        elif terms.last_tested < limit:
            flags.append(
                Flag(
                    FlagCode.UNTESTED,
                    "warning",
                    f"Last tested on {terms.last_tested.isoformat()}, more than "
                    f"{TEST_INTERVAL_MONTHS} months ago.",
                )
            )
        risky = _risky_places(analysis, p)
        if risky:
            flags.append(
                Flag(
                    FlagCode.HIGH_RISK_REGION,
                    "warning",
                    "Depends on a high-risk "
                    + ("region" if len(risky) == 1 else "regions")
                    + ": "
                    + "; ".join(r.summary() for r in risky)
                    + ".",
                    tuple(f"{r.kind}:{r.code}" for r in risky),
                )
            )
    return Provider(
        node.id,
        node.label,
        node.kind,
        role,
        switchover,
        terms,
        tuple(flags),
        tuple(causes),
        tuple(risky),
        tuple(analysis.ratings.for_node(node)),
    )


def _common_causes(analysis: _Analysis, f: int, primaries: list[int]) -> list[CommonCause]:
    out: list[CommonCause] = []
    for p in primaries:
        out.extend(_pair_causes(analysis, f, p))
    return out


def _pair_causes(analysis: _Analysis, f: int, p: int) -> list[CommonCause]:
    """What takes down both f and p: shared nodes, nearest first, then places."""
    graph = analysis.graph
    out: list[CommonCause] = []
    covered: set[tuple[str, str]] = set()
    shared = analysis.takes_down(f) & analysis.takes_down(p)
    if shared:
        nodes, primary = graph.nodes, graph.node_ids[p]
        ranked = []
        for v in shared:
            chain = analysis.chain(f, v)
            ranked.append((len(chain) or 1_000_000, nodes[v].label, v, chain))
        ranked.sort(key=lambda t: t[:3])
        for _depth, label, v, chain in ranked:
            node = nodes[v]
            covered.update(analysis.places_of(v))
            name = label
            if v == p:
                name = f"the primary itself ({label})"
            elif v == f:
                name = f"the fallback itself ({label}), which the primary depends on"
            out.append(CommonCause(node.id, name, node.kind, primary, chain))
    for kind, code, name in analysis.shared_places(f, p, covered):
        # The same for every fallback of p: made once (a large map has a million of them).
        cause = analysis.place_causes.get((kind, code, p))
        if cause is None:
            cause = analysis.place_causes[kind, code, p] = CommonCause(
                f"{kind}:{code}",
                name,
                kind,
                graph.node_ids[p],
                (),
                analysis.rating(kind, code)[0],
            )
        out.append(cause)
    return out


def _risky_places(analysis: _Analysis, p: int) -> list[Rating]:
    found = []
    for kind, code, _name in analysis.lost_with(p):
        rating, high_risk, rank = analysis.rating(kind, code)
        if high_risk:
            found.append((-rank, rating.name, rating))  # type: ignore[union-attr]
    found.sort(key=lambda t: t[:2])
    return [rating for _rank, _name, rating in found]


# --- as JSON ------------------------------------------------------------------------------------


def _flag_document(flag: Flag) -> dict[str, Any]:
    return {
        "code": flag.code.value,
        "level": flag.level,
        "message": flag.message,
        "nodes": list(flag.nodes),
    }


def rating_document(rating: Rating) -> dict[str, Any]:
    return {
        "kind": rating.kind,
        "code": rating.code,
        "name": rating.name,
        "natural_hazard": rating.natural_hazard.value if rating.natural_hazard else None,
        "natural_hazard_score": rating.natural_hazard_score,
        "political_instability": (
            rating.political_instability.value if rating.political_instability else None
        ),
        "political_instability_score": rating.political_instability_score,
        "overall": rating.overall.value if rating.overall else None,
        "high_risk": rating.high_risk,
        "source": rating.source,
    }


def entry_document(entry: Entry) -> dict[str, Any]:
    return {
        "id": entry.id,
        "name": entry.name,
        "requires": entry.requires,
        "fallback_status": entry.fallback_status,
        "flagged": entry.flagged,
        "flags": [_flag_document(f) for f in entry.flags],
        "needed_by": [
            {"id": s.id, "name": s.name, "criticality": s.criticality, "rto_hours": s.rto_hours}
            for s in entry.needs
        ],
        "providers": [
            {
                "id": p.id,
                "name": p.name,
                "kind": p.kind,
                "role": p.role,
                "switchover_hours": p.switchover_hours,
                "status": p.status,
                "last_tested": p.terms.last_tested.isoformat() if p.terms.last_tested else None,
                "capacity_pct": p.terms.capacity_pct,
                "notes": p.terms.notes or None,
                "flags": [_flag_document(f) for f in p.flags],
                "common_causes": [
                    {
                        "id": c.id,
                        "name": c.name,
                        "kind": c.kind,
                        "primary": c.primary,
                        "chain": list(c.chain),
                    }
                    for c in p.common_causes
                ],
                "ratings": [rating_document(r) for r in p.ratings],
            }
            for p in entry.providers
        ],
    }


@dataclass(frozen=True)
class Counts:
    capabilities: int = 0
    flagged: int = 0
    by_code: dict[str, int] = field(default_factory=dict)


def counts(entries: Iterable[Entry]) -> Counts:
    by_code: dict[str, int] = {}
    total = flagged = 0
    for entry in entries:
        total += 1
        flagged += entry.flagged
        for code in {f.code.value for f in entry.all_flags if f.level != "info"}:
            by_code[code] = by_code.get(code, 0) + 1
    return Counts(total, flagged, by_code)
