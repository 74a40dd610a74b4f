"""The stored dependency graph: building it from records, editing, import/export, and analyses
cached per graph version. Services take the session and flush; the request or CLI commits.

The part of the graph built from records (a node per business service, per active vendor
service and its vendor, per country and cloud region named in hosting data, and the edges
"vendor service depends on its vendor and on where it is hosted") is kept in step with the records
by `ensure_current`: it compares a fingerprint of those records with the one the graph was built
from, and rebuilds that part when they differ. Everything else (capabilities, components,
facilities, extra edges, requirements, switchover times) is drawn by hand or imported.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import Select, Text, cast, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vendor_portal.audit.services import Actor, acting_as, current_actor, record_event
from vendor_portal.db import utcnow
from vendor_portal.graph import records
from vendor_portal.graph.domain import documents
from vendor_portal.graph.domain.business import CRITICALITY_ORDER, slug
from vendor_portal.graph.domain.interchange import InvalidGraph, Problem, to_json
from vendor_portal.graph.domain.model import (
    KINDS,
    DependencyGraph,
    Node,
    NodeKind,
    default_requires,
)
from vendor_portal.graph.domain.scenario import nodes_in_places, run_scenario
from vendor_portal.graph.domain.spof import spof_reports
from vendor_portal.graph.models import (
    BusinessService,
    GraphEdge,
    GraphNode,
    GraphResult,
    GraphServiceResult,
    GraphState,
    RegionRisk,
)
from vendor_portal.stamped import Kept
from vendor_portal.vendors.domain import country_name
from vendor_portal.vendors.models import Vendor, VendorService

STATE_ID = 1
RECORD = "record"
MANUAL = "manual"
IMPORTED = "import"
# Node fields that link a node to a record; exported, and read back on import.
LINK_FIELDS = ("vendor_id", "vendor_service_id", "business_service_id")
BUSINESS_FIELDS = ("rto_hours", "mtd_hours", "rpo_hours", "downtime_cost_per_hour")
# Part of the cache key of stored results: raise it when the documents change shape or wording,
# so that results computed by an older release are not served.
RESULT_FORMAT = 1


class GraphChangeError(ValueError):
    """An edit that would break the graph; the message says why (and `field` where)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


# --- keys of record-built nodes ---------------------------------------------------------------


def vendor_key(vendor_id: int) -> str:
    return f"vendor:{vendor_id}"


def vendor_service_key(service_id: int) -> str:
    return f"vendor_service:{service_id}"


def country_key(code: str) -> str:
    return f"country:{code.upper()}"


def cloud_key(region: str) -> str:
    return f"cloud:{region.strip().lower()}"


RESERVED_PREFIXES = {
    "vendor:": NodeKind.VENDOR,
    "vendor_service:": NodeKind.VENDOR_SERVICE,
    "country:": NodeKind.GEO_REGION,
    "cloud:": NodeKind.CLOUD_REGION,
}


# --- version and state ---------------------------------------------------------------------------


def _wrote(session: Session) -> None:
    session.info["graph_wrote"] = True


def commit_if_written(session: Session) -> bool:
    """Commit what reading the graph brought up to date or stored (the record-built part, a
    result computed for this version), if anything; whether there was. Pages call it before
    reading what they show: a commit with nothing to keep would only make the session load
    its objects again."""
    if session.info.pop("graph_wrote", False):
        session.commit()
        return True
    return False


def state(session: Session) -> GraphState:
    """The state row, created when missing (a new database, or one emptied by tests)."""
    found = session.get(GraphState, STATE_ID)
    if found is not None:
        return found
    try:
        with session.begin_nested():
            session.add(GraphState(id=STATE_ID, token=uuid.uuid4().hex, version=1))
    except IntegrityError:
        pass  # created meanwhile by another request
    _wrote(session)
    return session.get(GraphState, STATE_ID)  # type: ignore[return-value]


def bump_version(session: Session) -> int:
    """Raise the graph version (every change does); atomic under concurrent writers."""
    current = state(session)
    session.execute(
        update(GraphState)
        .where(GraphState.id == STATE_ID)
        .values(version=GraphState.version + 1, updated_at=utcnow())
    )
    session.refresh(current)
    return current.version


# --- building from records -----------------------------------------------------------------------


@dataclass
class _Wanted:
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)  # key -> column values
    edges: set[tuple[str, str]] = field(default_factory=set)
    fingerprint: str = ""


def _records(session: Session) -> _Wanted:
    wanted = _Wanted()
    parts: list[Any] = []
    rows = session.execute(
        select(
            VendorService.id,
            VendorService.name,
            VendorService.hosting_countries,
            VendorService.cloud_regions,
            Vendor.id,
            Vendor.name,
            Vendor.country,
        )
        .join(Vendor, VendorService.vendor_id == Vendor.id)
        .where(VendorService.archived_at.is_(None), Vendor.archived_at.is_(None))
        .order_by(VendorService.id)
    ).all()
    for service_id, name, countries, regions, vendor_id, vendor_name, vendor_country in rows:
        countries = sorted({c.upper() for c in countries or [] if c})
        regions = sorted({r.strip() for r in regions or [] if r and r.strip()})
        parts.append(["vs", service_id, name, countries, regions, vendor_id])
        vkey, skey = vendor_key(vendor_id), vendor_service_key(service_id)
        wanted.nodes[vkey] = {
            "kind": NodeKind.VENDOR.value,
            "name": vendor_name,
            "vendor_id": vendor_id,
            "country": vendor_country,
        }
        wanted.nodes[skey] = {
            "kind": NodeKind.VENDOR_SERVICE.value,
            "name": name,
            "vendor_id": vendor_id,
            "vendor_service_id": service_id,
        }
        wanted.edges.add((skey, vkey))
        for code in countries:
            ckey = country_key(code)
            wanted.nodes[ckey] = {
                "kind": NodeKind.GEO_REGION.value,
                "name": country_name(code),
                "country": code,
            }
            wanted.edges.add((skey, ckey))
        for region in regions:
            rkey = cloud_key(region)
            wanted.nodes.setdefault(rkey, {"kind": NodeKind.CLOUD_REGION.value, "name": region})
            wanted.edges.add((skey, rkey))
    vendors_seen = {row[4] for row in rows}
    vendors_seen |= _subcontracting(session, wanted, parts)
    for vendor_id, vendor_name, vendor_country in session.execute(
        select(Vendor.id, Vendor.name, Vendor.country).where(Vendor.id.in_(vendors_seen))
        if vendors_seen
        else select(Vendor.id, Vendor.name, Vendor.country).where(False)
    ):
        parts.append(["v", vendor_id, vendor_name, vendor_country])
        wanted.nodes[vendor_key(vendor_id)] = {
            "kind": NodeKind.VENDOR.value,
            "name": vendor_name,
            "vendor_id": vendor_id,
            "country": vendor_country,
        }
    # Archived business services keep their node (and hand-drawn edges) for when they come
    # back; the analyses leave them out (see _read_graph).
    for bs_id, bs_name, archived_at in session.execute(
        select(BusinessService.id, BusinessService.name, BusinessService.archived_at).order_by(
            BusinessService.id
        )
    ):
        parts.append(["bs", bs_id, bs_name, archived_at is not None])
        wanted.nodes[f"bs#{bs_id}"] = {
            "kind": NodeKind.BUSINESS_SERVICE.value,
            "name": bs_name,
            "business_service_id": bs_id,
        }
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    wanted.fingerprint = digest.hexdigest()
    return wanted


def _subcontracting(session: Session, wanted: _Wanted, parts: list[Any]) -> set[int]:
    """Declared subcontracting chains: whoever a subcontractor works for depends on it. A
    direct subcontractor declared for some of the head vendor's services sits under those
    services' nodes (else under the vendor's); a deeper one under the subcontractor above it.
    Returns the vendors involved."""
    from vendor_portal.subcontracting.models import SubcontractorDeclaration, declaration_service

    rows = session.execute(
        select(
            SubcontractorDeclaration.id,
            SubcontractorDeclaration.vendor_id,
            SubcontractorDeclaration.subcontractor_id,
            SubcontractorDeclaration.parent_id,
        )
        .join(Vendor, Vendor.id == SubcontractorDeclaration.subcontractor_id)
        .where(SubcontractorDeclaration.removed_at.is_(None), Vendor.archived_at.is_(None))
        .order_by(SubcontractorDeclaration.id)
    ).all()
    if not rows:
        return set()
    subcontractor_of = {row.id: row.subcontractor_id for row in rows}
    services_of: dict[int, list[int]] = {}
    for declaration_id, service_id in session.execute(
        select(declaration_service.c.declaration_id, declaration_service.c.vendor_service_id)
    ):
        services_of.setdefault(declaration_id, []).append(service_id)
    involved: set[int] = set()
    for row in rows:
        target = vendor_key(row.subcontractor_id)
        if row.parent_id is not None:
            if row.parent_id not in subcontractor_of:
                continue  # the subcontractor above was removed: the chain is broken there
            sources = [vendor_key(subcontractor_of[row.parent_id])]
            involved.add(subcontractor_of[row.parent_id])
        else:
            sources = [
                vendor_service_key(s)
                for s in services_of.get(row.id, [])
                if vendor_service_key(s) in wanted.nodes
            ] or [vendor_key(row.vendor_id)]
            involved.add(row.vendor_id)
        involved.add(row.subcontractor_id)
        for source in sources:
            if source != target:
                wanted.edges.add((source, target))
        parts.append(["sub", row.id, sorted(sources), target])
    return involved


def ensure_current(session: Session) -> GraphState:
    """Bring the record-built part of the graph up to date if its records changed.

    Cheap while the records' change marker (see records.py) still has the stamp the graph was
    last checked against; otherwise the records are read and fingerprinted (the fallback, also
    when there is no marker) and the graph rebuilt from them if they differ."""
    found = session.execute(
        select(GraphState, records.stamp_query().scalar_subquery()).where(GraphState.id == STATE_ID)
    ).first()
    if found is None:
        current, stamp = state(session), records.current_stamp(session)
    else:
        current, stamp = found
    if stamp is not None and current.records_stamp == stamp:
        return current
    wanted = _records(session)
    _wrote(session)
    if current.records_fingerprint == wanted.fingerprint:
        _note_checked(session, current, stamp)
        return current
    try:
        with session.begin_nested(), _as_sync():
            _sync(session, wanted)
            current.records_fingerprint = wanted.fingerprint
            session.flush()
    except IntegrityError:
        # Another request built the same nodes meanwhile; use what it stored.
        session.expire_all()
        return state(session)
    _note_checked(session, current, stamp)
    return current


def _note_checked(session: Session, current: GraphState, stamp: int | None) -> None:
    """Remember the stamp the records were read at (read before them), creating the marker
    when there is none yet."""
    if stamp is None:
        try:
            with session.begin_nested():
                stamp = records.create_marker(session)
        except IntegrityError:
            return  # another request created it meanwhile: check again next time
    if current.records_stamp != stamp:
        current.records_stamp = stamp
        session.flush()


@contextmanager
def _as_sync() -> Iterator[None]:
    """Changes made to follow the records are audited as such, on behalf of who caused them."""
    actor = current_actor()
    with acting_as(
        Actor(actor.user_id, f"{actor.label} (graph built from records)", actor.address)
    ):
        yield


def rebuild_from_records(session: Session) -> bool:
    """Force the record-built part into step with the records; True when anything changed."""
    stamp = records.current_stamp(session)
    wanted = _records(session)
    with _as_sync():
        changed = _sync(session, wanted)
        current = state(session)
        current.records_fingerprint = wanted.fingerprint
        session.flush()
    _note_checked(session, current, stamp)
    return changed


def _unique_key(session: Session, base: str, taken: set[str] | None = None) -> str:
    key, n = base, 1
    while (taken is not None and key in taken) or session.scalar(
        select(GraphNode.id).where(GraphNode.key == key)
    ):
        n += 1
        key = f"{base}-{n}"
    return key


def _sync(session: Session, wanted: _Wanted) -> bool:
    nodes = {n.key: n for n in session.scalars(select(GraphNode))}
    by_business = {n.business_service_id: n for n in nodes.values() if n.business_service_id}
    changed = False
    resolved: dict[str, GraphNode] = {}
    for key, values in wanted.nodes.items():
        if key.startswith("bs#"):
            node = by_business.get(values["business_service_id"])
            if node is None:
                node = GraphNode(
                    key=_unique_key(session, slug(values["name"]), set(nodes)),
                    requires="all",
                    attributes={},
                    origin=RECORD,
                )
                session.add(node)
                nodes[node.key] = node
                changed = True
        else:
            node = nodes.get(key)
            if node is None:
                node = GraphNode(
                    key=key,
                    requires=str(default_requires(values["kind"])),
                    attributes={},
                    origin=RECORD,
                )
                session.add(node)
                nodes[key] = node
                changed = True
        for column, value in values.items():
            if getattr(node, column) != value:
                setattr(node, column, value)
                changed = True
        if node.origin != RECORD:
            node.origin = RECORD
            changed = True
        resolved[key] = node
    session.flush()

    wanted_ids = {id(n) for n in resolved.values()}
    # Record-built nodes whose record went away: a business service or vendor service archived
    # goes with its edges; a vendor, country or region node stays while hand-drawn edges use it.
    used = _nodes_with_manual_edges(session)
    for node in list(nodes.values()):
        if node.origin != RECORD or id(node) in wanted_ids:
            continue
        if node.kind in (NodeKind.BUSINESS_SERVICE, NodeKind.VENDOR_SERVICE) or node.id not in used:
            _delete_node(session, node)
        else:
            node.origin = MANUAL
        changed = True
    session.flush()

    wanted_edges = {(resolved[a].id, resolved[b].id) for a, b in wanted.edges}
    existing = {
        (e.source_id, e.target_id): e
        for e in session.scalars(
            select(GraphEdge).where(
                or_(
                    GraphEdge.origin == RECORD,
                    GraphEdge.source_id.in_([s for s, _ in wanted_edges] or [-1]),
                )
            )
        )
    }
    for pair, edge in existing.items():
        if edge.origin == RECORD and pair not in wanted_edges:
            session.delete(edge)
            changed = True
    for pair in wanted_edges:
        edge = existing.get(pair)
        if edge is None:
            session.add(
                GraphEdge(source_id=pair[0], target_id=pair[1], origin=RECORD, attributes={})
            )
            changed = True
        elif edge.origin != RECORD:
            edge.origin = RECORD
    session.flush()
    if changed:
        bump_version(session)
    return changed


def _delete_node(session: Session, node: GraphNode) -> None:
    """Delete a node and its edges, each through the ORM so that the audit log sees them."""
    for edge in session.scalars(
        select(GraphEdge).where(or_(GraphEdge.source_id == node.id, GraphEdge.target_id == node.id))
    ):
        session.delete(edge)
    session.flush()
    session.delete(node)


def _nodes_with_manual_edges(session: Session) -> set[int]:
    rows = session.execute(
        select(GraphEdge.source_id, GraphEdge.target_id).where(GraphEdge.origin != RECORD)
    )
    return {i for pair in rows for i in pair}


# --- loading into the engine ---------------------------------------------------------------------

_loaded = Kept(4)  # graph version (cache_key) -> DependencyGraph


def cache_key(current: GraphState) -> tuple[str, int, str]:
    """What identifies one version of the stored graph in the caches that follow it (this
    module's results and the pages' rendered parts)."""
    # The time of the last change is part of the key: a version raised in a transaction that was
    # rolled back and raised again later is then not mistaken for the first one.
    return (current.token, current.version, current.updated_at.isoformat())


def load_graph(session: Session, current: GraphState | None = None) -> DependencyGraph:
    """The stored graph as the engine sees it, kept in memory per graph version."""
    current = current or ensure_current(session)
    key = cache_key(current)
    found = _loaded.get(key)
    if found is not None:
        return found
    graph = _read_graph(session)
    _loaded.put(key, graph)
    return graph


def _read_graph(session: Session) -> DependencyGraph:
    """The stored graph, read as plain DBAPI tuples (no ORM objects, no Row objects) straight
    into arrays: a million edges load in a second or two.

    JSON columns come back as text and are only parsed when not empty: nearly every node and
    edge of a large map has no extra fields, and parsing a million `{}` costs more than the rest
    of the edge read."""
    b = BusinessService.__table__.c
    business: dict[int, tuple[Any, ...]] = {}
    archived: set[int] = set()
    for service_id, is_archived, *values in _plain_rows(
        session,
        select(
            b.id,
            b.archived_at.is_not(None),
            *(getattr(b, name) for name in _SERVICE_COLUMNS),
        ),
    ):
        if is_archived:
            archived.add(service_id)
        else:
            business[service_id] = tuple(values)
    n = GraphNode.__table__.c
    node_ids: list[int] = []
    nodes: list[Node] = []
    loads = json.loads
    for (
        node_id,
        key,
        kind,
        name,
        requires_text,
        country,
        raw,
        vendor_id,
        vendor_service_id,
        business_service_id,
    ) in _plain_rows(
        session,
        select(
            n.id,
            n.key,
            n.kind,
            n.name,
            n.requires,
            n.country,
            cast(n.attributes, Text),
            n.vendor_id,
            n.vendor_service_id,
            n.business_service_id,
        ).order_by(n.id),
    ):
        attributes = loads(raw) if raw and raw != "{}" else {}
        if country:
            attributes["country"] = country
        if vendor_id is not None:
            attributes["vendor_id"] = vendor_id
        if vendor_service_id is not None:
            attributes["vendor_service_id"] = vendor_service_id
        if business_service_id is not None:
            if business_service_id in archived:
                continue  # an archived business service leaves the analyses
            attributes["business_service_id"] = business_service_id
            for field_name, value in zip(
                _SERVICE_COLUMNS, business.get(business_service_id, _NO_VALUES), strict=True
            ):
                if value is None:
                    attributes.pop(field_name, None)
                else:
                    attributes[field_name] = value
        attributes["node_id"] = node_id
        requires: str | int = int(requires_text) if requires_text.isdigit() else requires_text
        nodes.append(Node(key, kind, name, requires, attributes))
        node_ids.append(node_id)
    e = GraphEdge.__table__.c
    rows = _plain_rows(session, select(e.source_id, e.target_id, e.switchover_hours).order_by(e.id))
    try:
        table = np.fromiter(
            itertools.chain.from_iterable(rows), dtype=np.float64, count=3 * len(rows)
        ).reshape(-1, 3)
    except TypeError:  # a NULL switchover (none stored by the app): read as 0
        table = np.array([[0.0 if v is None else v for v in row] for row in rows]).reshape(-1, 3)
    del rows
    position = _Positions(node_ids)
    # Edges to a node left out (an archived business service) are left out too.
    source_at, source_ok = position(table[:, 0].astype(np.int64))
    target_at, target_ok = position(table[:, 1].astype(np.int64))
    kept = source_ok & target_ok
    source_at, target_at = source_at[kept], target_at[kept]
    extra: dict[int, dict[str, Any]] = {}
    with_fields = _plain_rows(
        session,
        select(e.source_id, e.target_id, cast(e.attributes, Text)).where(
            cast(e.attributes, Text) != "{}"
        ),
    )
    if with_fields:
        # Edges are unique per (source, target): find each by its pair.
        pair = source_at * len(node_ids) + target_at
        order = np.argsort(pair)
        for source_id, target_id, raw in with_fields:
            attributes = json.loads(raw) if raw else None
            (a,), (a_ok,) = position(np.array([source_id]))
            (b,), (b_ok,) = position(np.array([target_id]))
            if not (attributes and a_ok and b_ok):
                continue
            key = a * len(node_ids) + b
            at = int(np.searchsorted(pair, key, sorter=order))
            if at < len(pair) and pair[order[at]] == key:
                extra[int(order[at])] = attributes
    return DependencyGraph.from_arrays(nodes, source_at, target_at, table[kept, 2], extra)


class _Positions:
    """Positions of database ids among `ids` (ascending): a direct table when the ids are dense
    (the usual case), a binary search otherwise."""

    def __init__(self, ids: list[int]) -> None:
        self.known = np.array(ids, dtype=np.int64)
        top = int(self.known[-1]) if ids else 0
        self.table: np.ndarray | None = None
        if top <= 4 * len(ids) + 1024:
            self.table = np.full(top + 1, -1, dtype=np.int64)
            self.table[self.known] = np.arange(len(ids))

    def __call__(self, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Positions of `wanted` ids (0 where absent) and which of them were found."""
        if self.table is not None:
            inside = (wanted >= 0) & (wanted < len(self.table))
            at = np.full(len(wanted), -1, dtype=np.int64)
            at[inside] = self.table[wanted[inside]]
        else:
            at = np.searchsorted(self.known, wanted)
            inside = at < len(self.known)
            found = np.zeros(len(wanted), dtype=bool)
            found[inside] = self.known[at[inside]] == wanted[inside]
            at = np.where(found, at, -1)
        found = at >= 0
        return np.where(found, at, 0), found


def _plain_rows(session: Session, statement: Select[Any]) -> list[tuple[Any, ...]]:
    """All rows of a Core select as the driver's own tuples.

    SQLAlchemy's Row objects cost about a microsecond each, which is most of the time of a
    million-edge read. Only for columns that need no result processing (numbers and text)."""
    result = session.execute(statement)
    try:
        return result.cursor.fetchall()  # type: ignore[attr-defined]
    finally:
        result.close()


_SERVICE_COLUMNS = (*BUSINESS_FIELDS, "criticality", "owner")
_NO_VALUES = (None,) * len(_SERVICE_COLUMNS)


# --- analyses, cached per version ----------------------------------------------------------------


def _cached(
    session: Session, name: str, compute: Any, current: GraphState | None = None
) -> tuple[dict[str, Any], GraphState]:
    """A result for the current graph version: stored once, then read back (and kept, once
    read back, in this process: see _read_back). `current`: the state when the caller has
    just brought it up to date. The result is shared between requests: read only."""
    current = current or ensure_current(session)
    token, version = current.token, current.version
    name = f"{name}/{RESULT_FORMAT}"
    kept_as = ("result", name, *cache_key(current))
    found = _read_back.get(kept_as)
    if found is not None:
        return found, current
    found = session.scalar(
        select(GraphResult.payload).where(
            GraphResult.token == token, GraphResult.version == version, GraphResult.name == name
        )
    )
    if found is not None:
        _read_back.put(kept_as, found)
        return found, current
    payload = compute(current)
    _wrote(session)
    try:
        with session.begin_nested():
            _drop_older_results(session, current)
            session.add(GraphResult(token=token, version=version, name=name, payload=payload))
    except IntegrityError:
        pass  # another request stored the same result meanwhile
    return payload, current


# Stored results of a graph version as read back from the database, decoded, kept in this
# process (the most recently used few): what is stored for a graph version never changes, so a
# result read once is the one every later read would return. Keyed by the graph version as
# load_graph keys it (token, version and time of the change). Shared between requests: read
# only.
_read_back = Kept(64)


def _drop_older_results(session: Session, current: GraphState) -> None:
    token, version = current.token, current.version
    session.execute(
        delete(GraphResult).where(or_(GraphResult.token != token, GraphResult.version < version))
    )
    r = GraphServiceResult
    session.execute(delete(r).where(or_(r.token != token, r.version < version)))


# The SPOF analysis is stored one row per business service (GraphServiceResult), with this
# GraphResult beside them saying the set is complete and giving the overall counts.
SPOF_ROWS = "spof-rows"
PER_PAGE = 10  # services per page of the API (an entry with its witnesses can run to 100 kB)
MAX_PER_PAGE = 100
INSERT_CHUNK = 500


def _rows_of(current: GraphState) -> Any:
    """The current version's rows of the SPOF analysis (a where clause)."""
    r = GraphServiceResult
    return (r.token == current.token) & (r.version == current.version) & (r.format == RESULT_FORMAT)


def spof_summary(
    session: Session, current: GraphState | None = None
) -> tuple[dict[str, Any], GraphState]:
    """Ensure the SPOF analysis of the current graph version is stored, computing it the first
    time; its overall counts (`services`, `with_spofs`, `down`, `needing`: with SPOFs or gaps),
    shared between requests (see _read_back): read only."""
    current = current or ensure_current(session)
    name = f"{SPOF_ROWS}/{RESULT_FORMAT}"
    kept_as = ("result", name, *cache_key(current))
    found = _read_back.get(kept_as)
    if found is not None:
        return found, current
    found = session.scalar(
        select(GraphResult.payload).where(
            GraphResult.token == current.token,
            GraphResult.version == current.version,
            GraphResult.name == name,
        )
    )
    if found is not None:
        _read_back.put(kept_as, found)
        return found, current
    graph = load_graph(session, current)
    entries = documents.spof_document(graph, spof_reports(graph))["services"]
    rows = [_service_row(current, position, entry) for position, entry in enumerate(entries)]
    summary = {
        "services": len(rows),
        "with_spofs": sum(1 for row in rows if row["spof_count"]),
        "down": sum(1 for row in rows if row["down"]),
        "needing": sum(1 for row in rows if row["spof_count"] or row["gap_count"]),
    }
    _wrote(session)
    try:
        with session.begin_nested():
            _drop_older_results(session, current)
            for offset in range(0, len(rows), INSERT_CHUNK):
                session.execute(insert(GraphServiceResult), rows[offset : offset + INSERT_CHUNK])
            session.add(
                GraphResult(
                    token=current.token, version=current.version, name=name, payload=summary
                )
            )
    except IntegrityError:
        pass  # another request stored the same analysis meanwhile
    return summary, current


def _service_row(current: GraphState, position: int, entry: dict[str, Any]) -> dict[str, Any]:
    spofs, gaps = entry["spofs"], entry["gaps"]
    return {
        "token": current.token,
        "version": current.version,
        "format": RESULT_FORMAT,
        "position": position,
        "key": entry["id"],
        "business_service_id": entry.get("business_service_id"),
        "name": (entry.get("name") or entry["id"])[:200],
        "criticality": entry.get("criticality"),
        "rto_hours": entry.get("rto_hours"),
        "downtime_cost_per_hour": entry.get("downtime_cost_per_hour"),
        "spof_count": len(spofs),
        "common_cause_count": sum(1 for spof in spofs if spof.get("common_cause")),
        "gap_count": len(gaps),
        "down": bool(entry.get("down")),
        "common_causes": "; ".join(spof["name"] for spof in spofs if spof.get("common_cause")),
        "gaps": "; ".join(gap["name"] for gap in gaps),
        "document": json.dumps(entry, separators=(",", ":"), ensure_ascii=False),
    }


def service_result_query(current: GraphState) -> Select[Any]:
    """The current analysis' per-service rows (without their documents), for lists."""
    return select(GraphServiceResult).where(_rows_of(current))


@dataclass(frozen=True)
class SpofPage:
    """A page of the SPOF document: each service's entry as JSON text, in document order."""

    graph_version: int
    page: int
    per_page: int
    total: int
    entries: list[str]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def spof_page(
    session: Session, page: int, per_page: int, current: GraphState | None = None
) -> SpofPage:
    """One page of `spof_document`'s services, read without the others."""
    summary, current = spof_summary(session, current)
    r = GraphServiceResult
    entries = session.scalars(
        select(r.document)
        .where(_rows_of(current))
        .order_by(r.position)
        .offset((page - 1) * per_page)
        .limit(per_page)
    ).all()
    return SpofPage(current.version, page, per_page, summary["services"], list(entries))


def iter_spof_entries(session: Session, current: GraphState | None = None) -> Iterator[str]:
    """Every service's entry as JSON text, in document order, read a batch at a time."""
    _, current = spof_summary(session, current)
    r = GraphServiceResult
    result = session.execute(
        select(r.document)
        .where(_rows_of(current))
        .order_by(r.position)
        .execution_options(yield_per=100)
    )
    for (document,) in result:
        yield document


def service_entry(
    session: Session, key: str, current: GraphState | None = None
) -> dict[str, Any] | None:
    """One business service node's entry of the SPOF document; None when it has none. The
    entry is shared between requests (see _read_back): read only."""
    current = current or ensure_current(session)
    kept_as = ("service", key, RESULT_FORMAT, *cache_key(current))
    kept = _read_back.get(kept_as)
    if kept is not None:
        return kept
    r = GraphServiceResult
    stmt = select(r.document).where(_rows_of(current), r.key == key)
    found = session.scalar(stmt)
    if found is None:
        # Not in the analysis, or the analysis of this version is not stored yet.
        spof_summary(session, current)
        found = session.scalar(stmt)
        if found is None:
            return None
        return json.loads(found)  # kept once read back committed, as every stored result
    entry = json.loads(found)
    _read_back.put(kept_as, entry)
    return entry


def spof_document(session: Session, service: str | None = None) -> dict[str, Any]:
    """`{"services": [{"id", "spofs": [{"id", "witness"}], "gaps"}]}` plus names and figures.

    `service` narrows it to one business service (its node id, or its record id). The whole
    document runs to hundreds of MB on a large map: pages read `spof_page`, `service_entry`
    or the rows of `service_result_query` instead."""
    current = ensure_current(session)
    if service is not None:
        entry = service_entry(session, resolve_service_key(session, service), current)
        return {"graph_version": current.version, "services": [entry] if entry else []}
    entries = [json.loads(text) for text in iter_spof_entries(session, current)]
    return {"graph_version": current.version, "services": entries}


def ratings_digest(session: Session) -> str:
    """A digest of the risk ratings (shown on the maps' hover text), new after any change: an
    added or removed rating changes the count and the id sum, a changed one its updated_at."""
    row = session.execute(
        select(func.count(RegionRisk.id), func.sum(RegionRisk.id), func.max(RegionRisk.updated_at))
    ).one()
    return hashlib.sha256(repr(tuple(row)).encode()).hexdigest()


class UnknownService(LookupError):
    pass


def resolve_service_key(session: Session, service: str) -> str:
    """A business service's node id from its node id or its record id."""
    node = session.scalar(
        select(GraphNode).where(
            GraphNode.key == service, GraphNode.kind == NodeKind.BUSINESS_SERVICE
        )
    )
    if node is None and service.isdigit():
        node = session.scalar(
            select(GraphNode).where(GraphNode.business_service_id == int(service))
        )
    if node is None:
        raise UnknownService(f"There is no business service {service!r} in the graph.")
    return node.key


def concentration_document(session: Session) -> dict[str, Any]:
    document, current = _cached(
        session,
        "concentration",
        lambda current: documents.concentration_document(
            {"services": [json.loads(text) for text in iter_spof_entries(session, current)]}
        ),
    )
    return {"graph_version": current.version, **document}


@dataclass(frozen=True)
class ScenarioRequest:
    fail: list[str] = field(default_factory=list)
    countries: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)
    vendors: list[int] = field(default_factory=list)


def scenario_document(session: Session, request: ScenarioRequest) -> dict[str, Any]:
    """Fail the named nodes, vendors (with what is built from them), countries and regions."""
    current = ensure_current(session)
    graph = load_graph(session, current)
    unknown = [f for f in request.fail if f not in graph.index]
    if unknown:
        raise GraphChangeError(
            f"Unknown node id(s): {', '.join(unknown)}. Use the ids of GET /api/v1/graph.",
            "fail",
        )
    failed = list(request.fail)
    for vendor_id in request.vendors:
        key = vendor_key(vendor_id)
        if key not in graph.index:
            raise GraphChangeError(f"Vendor {vendor_id} is not in the graph.", "vendors")
        failed.append(key)
    failed.extend(sorted(nodes_in_places(graph, request.countries, request.regions)))
    result = run_scenario(graph, failed)
    return {"graph_version": current.version, **documents.scenario_document(graph, result)}


# --- import and export ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ImportSummary:
    nodes: int
    edges: int
    business_services_created: int
    business_services_updated: int
    version: int


def export_graph(session: Session) -> DependencyGraph:
    graph = load_graph(session)
    nodes = []
    for node in graph.nodes:
        attributes = {k: v for k, v in node.attributes.items() if k not in ("node_id", "owner")}
        if node.attributes.get("owner"):
            attributes["owner"] = node.attributes["owner"]
        nodes.append(Node(node.id, node.kind, node.name, node.requires, attributes))
    return DependencyGraph(nodes, graph.edges)


def _link_problems(
    session: Session, graph: DependencyGraph, locations: dict[str, str]
) -> tuple[list[Problem], dict[str, dict[str, Any]]]:
    """Check that nodes claiming a record (by key or link field) match it; the links found."""
    problems: list[Problem] = []
    links: dict[str, dict[str, Any]] = {}
    vendor_ids = set(session.scalars(select(Vendor.id)))
    services = {
        sid: vid for sid, vid in session.execute(select(VendorService.id, VendorService.vendor_id))
    }
    business_ids = set(session.scalars(select(BusinessService.id)))
    for node in graph.nodes:
        where = f"{locations.get(node.id, 'node')} (id {node.id!r})"
        link: dict[str, Any] = {}
        for prefix, kind in RESERVED_PREFIXES.items():
            if node.id.startswith(prefix) and node.kind != kind:
                problems.append(
                    Problem(
                        where,
                        f"ids starting {prefix!r} are for {kind.value} nodes, not {node.kind}",
                    )
                )
        number = _int_field(node, "vendor_id", where, problems)
        if node.id.startswith("vendor:") and node.id[7:].isdigit():
            number = int(node.id[7:]) if number is None else number
        if number is not None:
            if number not in vendor_ids:
                problems.append(Problem(where, f"there is no vendor {number}"))
            link["vendor_id"] = number
        number = _int_field(node, "vendor_service_id", where, problems)
        if node.id.startswith("vendor_service:") and node.id[15:].isdigit():
            number = int(node.id[15:]) if number is None else number
        if number is not None:
            if number not in services:
                problems.append(Problem(where, f"there is no vendor service {number}"))
            else:
                link["vendor_id"] = services[number]
            link["vendor_service_id"] = number
            if node.kind != NodeKind.VENDOR_SERVICE:
                problems.append(
                    Problem(where, "only a vendor_service node can link to a vendor service")
                )
        number = _int_field(node, "business_service_id", where, problems)
        if number is not None:
            if node.kind != NodeKind.BUSINESS_SERVICE:
                problems.append(
                    Problem(where, "only a business_service node can link to a business service")
                )
            elif number not in business_ids:
                problems.append(Problem(where, f"there is no business service {number}"))
            link["business_service_id"] = number
        links[node.id] = link
    seen: dict[tuple[str, int], str] = {}
    for node_id, link in links.items():
        for name in ("vendor_service_id", "business_service_id"):
            if name in link:
                other = seen.setdefault((name, link[name]), node_id)
                if other != node_id:
                    problems.append(
                        Problem(
                            f"{locations.get(node_id, 'node')} (id {node_id!r})",
                            f"links to the same {name[:-3].replace('_', ' ')} as {other!r}",
                        )
                    )
    return problems, links


def _int_field(node: Node, name: str, where: str, problems: list[Problem]) -> int | None:
    value = node.attributes.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, float) and value.is_integer():
        return int(value)
    problems.append(Problem(where, f"{name} {value!r} is not a record id"))
    return None


def import_graph(session: Session, graph: DependencyGraph, source: str) -> ImportSummary:
    """Replace the whole graph with `graph` (already validated), all or nothing.

    Business service nodes create or update business services (by link, by the node id they
    had, or by name); nodes linked to vendors and vendor services keep their link. The
    record-built part is then added for records the file does not cover. Raises InvalidGraph
    when a node claims a record that does not exist."""
    locations = getattr(graph, "locations", {})
    problems, links = _link_problems(session, graph, locations)
    if problems:
        raise InvalidGraph(problems)
    previous = {
        key: bs_id
        for key, bs_id in session.execute(
            select(GraphNode.key, GraphNode.business_service_id).where(
                GraphNode.business_service_id.is_not(None)
            )
        )
    }
    by_name = {
        name.strip().lower(): bs_id
        for bs_id, name in session.execute(
            select(BusinessService.id, BusinessService.name).where(
                BusinessService.archived_at.is_(None)
            )
        )
    }
    removed_nodes = session.scalar(select(func.count(GraphNode.id))) or 0
    removed_edges = session.scalar(select(func.count(GraphEdge.id))) or 0
    # Bulk statements: an import may hold many thousand rows; one audit event records it below.
    session.execute(delete(GraphEdge))
    session.execute(delete(GraphNode))
    created = updated = 0
    claimed: set[int] = set()
    rows = []
    for node in graph.nodes:
        link = dict(links[node.id])
        attributes = {
            k: v
            for k, v in node.attributes.items()
            if k not in LINK_FIELDS and k not in ("country", "node_id")
        }
        if node.kind == NodeKind.BUSINESS_SERVICE:
            bs_id = link.get("business_service_id") or previous.get(node.id)
            if bs_id in claimed:
                bs_id = None
            if bs_id is None:
                candidate = by_name.get(node.label.strip().lower())
                bs_id = candidate if candidate not in claimed else None
            record = session.get(BusinessService, bs_id) if bs_id else None
            values = _business_values(node)
            if record is None:
                record = BusinessService(criticality="high", **values)
                session.add(record)
                created += 1
            else:
                for column, value in values.items():
                    setattr(record, column, value)
                record.archived_at = None
                updated += 1
            session.flush()
            claimed.add(record.id)
            link["business_service_id"] = record.id
            for name in (*BUSINESS_FIELDS, "criticality", "owner"):
                attributes.pop(name, None)
        country = node.attributes.get("country")
        rows.append(
            {
                "key": node.id,
                "kind": node.kind,
                "name": node.name[:200],
                "requires": str(node.requires),
                "country": country if isinstance(country, str) and len(country) == 2 else None,
                "attributes": attributes,
                "origin": IMPORTED,
                "vendor_id": link.get("vendor_id"),
                "vendor_service_id": link.get("vendor_service_id"),
                "business_service_id": link.get("business_service_id"),
                "created_at": utcnow(),
                "updated_at": utcnow(),
            }
        )
    # Business services the file leaves out keep their node id (with nothing under it).
    in_file = {node.id for node in graph.nodes}
    names = dict(session.execute(select(BusinessService.id, BusinessService.name)).all())
    for key, bs_id in previous.items():
        if bs_id not in claimed and key not in in_file and bs_id in names:
            rows.append(
                {
                    "key": key,
                    "kind": NodeKind.BUSINESS_SERVICE.value,
                    "name": names[bs_id],
                    "requires": "all",
                    "country": None,
                    "attributes": {},
                    "origin": RECORD,
                    "vendor_id": None,
                    "vendor_service_id": None,
                    "business_service_id": bs_id,
                    "created_at": utcnow(),
                    "updated_at": utcnow(),
                }
            )
    if rows:
        session.execute(insert(GraphNode), rows)
    ids = dict(session.execute(select(GraphNode.key, GraphNode.id)).all())
    edge_rows = [
        {
            "source_id": ids[edge.source],
            "target_id": ids[edge.target],
            "switchover_hours": float(edge.switchover_hours),
            "attributes": dict(edge.attributes),
            "origin": IMPORTED,
            "created_at": utcnow(),
        }
        for edge in graph.edges
    ]
    if edge_rows:
        session.execute(insert(GraphEdge), edge_rows)
    session.expire_all()
    record_event(
        session,
        "graph.import",
        "graph",
        None,
        {
            "source": source,
            "sha256": hashlib.sha256(to_json(graph).encode()).hexdigest(),
            "nodes": len(graph.nodes),
            "edges": len(graph.edges),
            "replaced_nodes": removed_nodes,
            "replaced_edges": removed_edges,
            "business_services_created": created,
            "business_services_updated": updated,
        },
    )
    bump_version(session)
    rebuild_from_records(session)
    return ImportSummary(
        len(graph.nodes), len(graph.edges), created, updated, state(session).version
    )


def _business_values(node: Node) -> dict[str, Any]:
    values: dict[str, Any] = {"name": node.label[:200]}
    for name in BUSINESS_FIELDS:
        if node.attributes.get(name) is not None:
            values[name] = float(node.attributes[name])
    criticality = node.attributes.get("criticality")
    if isinstance(criticality, str) and criticality in CRITICALITY_ORDER:
        values["criticality"] = criticality
    owner = node.attributes.get("owner")
    if isinstance(owner, str) and owner.strip():
        values["owner"] = owner.strip()[:200]
    return values


# --- editing by hand -----------------------------------------------------------------------------


def node_query(search: str | None = None, kinds: list[str] | None = None) -> Select[Any]:
    stmt = select(GraphNode)
    if search:
        pattern = f"%{search.strip().lower()}%"
        stmt = stmt.where(
            or_(func.lower(GraphNode.name).like(pattern), func.lower(GraphNode.key).like(pattern))
        )
    if kinds:
        stmt = stmt.where(GraphNode.kind.in_(kinds))
    return stmt


def dependency_count(session: Session, node: GraphNode) -> int:
    return (
        session.scalar(select(func.count(GraphEdge.id)).where(GraphEdge.source_id == node.id)) or 0
    )


def _check_requires(
    session: Session, node: GraphNode, requires: str, count: int | None = None
) -> None:
    if requires in ("all", "any"):
        return
    if not requires.isdigit() or int(requires) < 1:
        raise GraphChangeError(
            "Requires must be all, any or a whole number of at least 1.", "requires"
        )
    count = dependency_count(session, node) if count is None else count
    if int(requires) > count:
        raise GraphChangeError(
            f"{node.name} has {count} {'dependency' if count == 1 else 'dependencies'}; it cannot "
            f"require {requires} of them. Add the dependencies first.",
            "requires",
        )


def create_node(session: Session, values: dict[str, Any]) -> GraphNode:
    """A node drawn by hand: capability, component, facility, region, or any other kind."""
    key = (values.get("key") or "").strip() or _unique_key(session, slug(values["name"]))
    if session.scalar(select(GraphNode.id).where(GraphNode.key == key)):
        raise GraphChangeError(f"Another node already has the id {key!r}.", "key")
    if any(key.startswith(p) for p in RESERVED_PREFIXES):
        raise GraphChangeError(
            "Ids starting vendor:, vendor_service:, country: or cloud: are kept for nodes built "
            "from records.",
            "key",
        )
    kind = values["kind"]
    if kind not in KINDS:
        raise GraphChangeError(f"Unknown kind {kind!r}.", "kind")
    if kind == NodeKind.BUSINESS_SERVICE:
        raise GraphChangeError(
            "Business services are added from the business services page.", "kind"
        )
    node = GraphNode(
        key=key,
        kind=kind,
        name=values["name"],
        requires=str(values.get("requires") or default_requires(kind)),
        country=values.get("country"),
        attributes=_clean_attributes(values.get("description")),
        origin=MANUAL,
    )
    _check_requires(session, node, node.requires, 0)
    session.add(node)
    session.flush()
    bump_version(session)
    return node


def _clean_attributes(
    description: str | None, attributes: dict[str, Any] | None = None
) -> dict[str, Any]:
    out = dict(attributes or {})
    if description:
        out["description"] = description
    else:
        out.pop("description", None)
    return out


def update_node(session: Session, node: GraphNode, values: dict[str, Any]) -> GraphNode:
    """Change what a node requires, its name, country or description. A node built from a
    record keeps the record's name (change it in the record)."""
    requires = str(values.get("requires") or node.requires)
    _check_requires(session, node, requires)
    node.requires = requires
    if node.origin != RECORD and values.get("name"):
        node.name = values["name"]
    # A vendor's or a country's node takes its country from the record.
    fixed = node.origin == RECORD and node.kind in (NodeKind.VENDOR, NodeKind.GEO_REGION)
    if "country" in values and not fixed:
        node.country = values["country"]
    if "description" in values:
        node.attributes = _clean_attributes(values["description"], node.attributes)
    session.flush()
    bump_version(session)
    return node


def delete_node(session: Session, node: GraphNode) -> None:
    if node.origin == RECORD:
        raise GraphChangeError(
            f"{node.name} is built from a record; archive the record instead of deleting the node."
        )
    _delete_node(session, node)
    session.flush()
    bump_version(session)


def add_edge(
    session: Session, source: GraphNode, target: GraphNode, switchover_hours: float
) -> GraphEdge:
    """`source` depends on `target`."""
    if switchover_hours < 0:
        raise GraphChangeError("The switchover time cannot be negative.", "switchover_hours")
    existing = session.scalar(
        select(GraphEdge).where(GraphEdge.source_id == source.id, GraphEdge.target_id == target.id)
    )
    if existing is not None:
        raise GraphChangeError(f"{source.name} already depends on {target.name}.", "target")
    edge = GraphEdge(
        source_id=source.id,
        target_id=target.id,
        switchover_hours=float(switchover_hours),
        attributes={},
        origin=MANUAL,
    )
    session.add(edge)
    session.flush()
    bump_version(session)
    return edge


def update_edge(session: Session, edge: GraphEdge, switchover_hours: float) -> GraphEdge:
    if switchover_hours < 0:
        raise GraphChangeError("The switchover time cannot be negative.", "switchover_hours")
    edge.switchover_hours = float(switchover_hours)
    session.flush()
    bump_version(session)
    return edge


def remove_edge(session: Session, edge: GraphEdge) -> None:
    if edge.origin == RECORD:
        raise GraphChangeError(
            "This dependency comes from the vendor service's record (its vendor or hosting); "
            "change the record instead."
        )
    source = edge.source
    if source.requires.isdigit():
        remaining = dependency_count(session, source) - 1
        if int(source.requires) > remaining:
            raise GraphChangeError(
                f"{source.name} requires {source.requires} of its dependencies; lower that before "
                "removing this one."
            )
    session.delete(edge)
    session.flush()
    bump_version(session)


# --- business services ---------------------------------------------------------------------------


def business_service_query(
    search: str | None = None, criticalities: list[str] | None = None, archived: bool = False
) -> Select[Any]:
    stmt = select(BusinessService)
    if search:
        pattern = f"%{search.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(BusinessService.name).like(pattern),
                func.lower(func.coalesce(BusinessService.owner, "")).like(pattern),
            )
        )
    if criticalities:
        stmt = stmt.where(BusinessService.criticality.in_(criticalities))
    return stmt.where(
        BusinessService.archived_at.is_not(None)
        if archived
        else BusinessService.archived_at.is_(None)
    )


def create_business_service(session: Session, values: dict[str, Any]) -> BusinessService:
    service = BusinessService(**values)
    session.add(service)
    session.flush()
    ensure_current(session)
    bump_version(session)
    return service


def update_business_service(
    session: Session, service: BusinessService, values: dict[str, Any]
) -> BusinessService:
    for key, value in values.items():
        setattr(service, key, value)
    session.flush()
    ensure_current(session)
    bump_version(session)
    return service


def archive_business_service(session: Session, service: BusinessService) -> None:
    """Archived services leave the graph (their node and its edges) and the analyses."""
    if service.archived_at is None:
        service.archived_at = utcnow()
        session.flush()
        ensure_current(session)
        bump_version(session)


def restore_business_service(session: Session, service: BusinessService) -> None:
    if service.archived_at is not None:
        service.archived_at = None
        session.flush()
        ensure_current(session)
        bump_version(session)


def business_service_node(session: Session, service: BusinessService) -> GraphNode | None:
    ensure_current(session)
    return session.scalar(select(GraphNode).where(GraphNode.business_service_id == service.id))
