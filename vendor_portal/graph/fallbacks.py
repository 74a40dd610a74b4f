"""The fallback-provider register over the stored graph: computing it, and changing a mapping.

A mapping is the edge from a capability node to a provider: adding one adds the edge, its
switchover time is the edge's, and its terms (status, last test, capacity, notes) are stored on
the same edge (see domain/fallbacks.py). Services flush; the request or CLI commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vendor_portal.graph import regions, services
from vendor_portal.graph.domain import fallbacks as domain
from vendor_portal.graph.domain.fallbacks import Entry
from vendor_portal.graph.domain.model import NodeKind
from vendor_portal.graph.models import GraphEdge, GraphNode, RegionRisk
from vendor_portal.stamped import Kept


@dataclass(frozen=True)
class Register:
    entries: list[Entry]
    graph_version: int
    as_of: date


# Registers computed per graph version, ratings and day: the home page and the register page
# ask for the same one, and a large map takes seconds to analyse.
_computed = Kept(4)


def register(
    session: Session,
    today: date | None = None,
    capability: str | None = None,
    *,
    compute: bool = True,
) -> Register | None:
    """The register for the current graph and ratings (one capability by node id, or all).

    With `compute=False`, only an already computed register is returned (else None): the home
    page must not start an analysis that takes minutes on a very large map."""
    current = services.ensure_current(session)
    today = today or date.today()
    if capability is not None:
        graph = services.load_graph(session, current)
        node = graph.index.get(capability)
        if node is None or graph.nodes[node].kind != NodeKind.CAPABILITY:
            raise UnknownCapability(f"There is no capability {capability!r} in the graph.")
        entries = domain.register(graph, regions.rating_book(session), today, [capability])
        return Register(entries, current.version, today)
    count, latest = session.execute(
        select(func.count(RegionRisk.id), func.max(RegionRisk.updated_at))
    ).one()
    key = (*services.cache_key(current), count, latest.isoformat() if latest else None, today)
    found = _computed.get(key)
    if found is None and not compute:
        return None
    if found is None:
        graph = services.load_graph(session, current)
        found = domain.register(graph, regions.rating_book(session), today)
        _computed.put(key, found)
    return Register(found, current.version, today)


class UnknownCapability(LookupError):
    pass


@dataclass(frozen=True)
class TermsInput:
    switchover_hours: float
    status: str | None
    last_tested: date | None
    capacity_pct: float | None
    notes: str | None


def _check(values: TermsInput, today: date) -> None:
    problems = domain.terms_problems(values.status, values.last_tested, values.capacity_pct, today)
    if values.switchover_hours < 0:
        problems["switchover_hours"] = "The switchover time cannot be negative."
    if problems:
        field, message = next(iter(problems.items()))
        raise services.GraphChangeError(message, field)


def add_mapping(
    session: Session, capability: GraphNode, provider: GraphNode, values: TermsInput
) -> GraphEdge:
    """A new provider for a capability: the edge, with its switchover time and terms."""
    if capability.kind != NodeKind.CAPABILITY:
        raise services.GraphChangeError(f"{capability.name} is not a capability.", "capability")
    if provider.id == capability.id:
        raise services.GraphChangeError("A capability cannot provide itself.", "provider")
    if provider.kind == NodeKind.BUSINESS_SERVICE:
        raise services.GraphChangeError(
            "A business service cannot be a provider; choose what delivers the capability.",
            "provider",
        )
    _check(values, date.today())
    edge = services.add_edge(session, capability, provider, values.switchover_hours)
    edge.attributes = domain.with_terms(
        edge.attributes or {},
        values.status,
        values.last_tested,
        values.capacity_pct,
        values.notes,
    )
    session.flush()
    services.bump_version(session)
    return edge


def update_mapping(session: Session, edge: GraphEdge, values: TermsInput) -> GraphEdge:
    _check(values, date.today())
    edge.attributes = domain.with_terms(
        edge.attributes or {},
        values.status,
        values.last_tested,
        values.capacity_pct,
        values.notes,
    )
    # Saves the terms and the switchover in one flush, and raises the graph version.
    return services.update_edge(session, edge, values.switchover_hours)


def remove_mapping(session: Session, edge: GraphEdge) -> None:
    services.remove_edge(session, edge)


def mapping_edge(session: Session, edge_id: int) -> GraphEdge | None:
    """An edge out of a capability (a register mapping), or None."""
    edge = session.get(GraphEdge, edge_id)
    if edge is None or edge.source.kind != NodeKind.CAPABILITY:
        return None
    return edge


def edge_ids(session: Session) -> dict[tuple[str, str], int]:
    """(capability key, provider key) -> edge id, for links from the register."""
    source = GraphNode.__table__.alias("s")
    target = GraphNode.__table__.alias("t")
    rows = session.execute(
        select(source.c.key, target.c.key, GraphEdge.id)
        .select_from(GraphEdge.__table__)
        .join(source, source.c.id == GraphEdge.source_id)
        .join(target, target.c.id == GraphEdge.target_id)
        .where(source.c.kind == NodeKind.CAPABILITY.value)
    )
    return {(a, b): i for a, b, i in rows}


def capability_choices(session: Session) -> list[tuple[str, str]]:
    rows = session.execute(
        select(GraphNode.id, GraphNode.name, GraphNode.key)
        .where(GraphNode.kind == NodeKind.CAPABILITY.value)
        .order_by(GraphNode.name)
    )
    return [(str(i), f"{name} ({key})") for i, name, key in rows]


def provider_choices(session: Session) -> list[tuple[str, str]]:
    from vendor_portal.graph.domain.model import KIND_LABELS

    order = {
        NodeKind.VENDOR_SERVICE.value: 0,
        NodeKind.COMPONENT.value: 1,
        NodeKind.FACILITY.value: 2,
        NodeKind.VENDOR.value: 3,
        NodeKind.CAPABILITY.value: 4,
    }
    rows = session.execute(
        select(GraphNode.id, GraphNode.kind, GraphNode.name, GraphNode.key).where(
            GraphNode.kind != NodeKind.BUSINESS_SERVICE.value
        )
    ).all()
    rows.sort(key=lambda r: (order.get(r.kind, 9), r.name.lower()))
    return [
        (str(i), f"{KIND_LABELS[NodeKind(kind)]} · {name} ({key})") for i, kind, name, key in rows
    ]


# Up to this many graph nodes the home page computes the register itself; beyond, it shows the
# flags once the register page has computed them (in this process, for this graph version).
HOME_INLINE_NODE_LIMIT = 50_000


def flagged_summary(session: Session) -> dict[str, Any] | None:
    """Counts for the home page: capabilities flagged, and the worst level (None when the map
    is too large to analyse inline and the register has not been computed yet)."""
    nodes = session.scalar(select(func.count(GraphNode.id))) or 0
    result = register(session, compute=nodes <= HOME_INLINE_NODE_LIMIT)
    if result is None:
        return None
    flagged = [e for e in result.entries if e.flagged]
    danger = any(f.level == "danger" for e in flagged for f in e.all_flags)
    return {"flagged": flagged, "danger": danger, "total": len(result.entries)}
