"""Small results for other pages, read from the stored SPOF analysis (one row per business
service, see services.spof_summary) without its documents: the home page's counts and names,
one service's entry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import or_
from sqlalchemy.orm import Session

from vendor_portal.graph import services
from vendor_portal.graph.models import GraphServiceResult, GraphState

SHOWN_NAMES = 4


def attention(session: Session, current: GraphState | None = None) -> dict[str, Any]:
    """Business services with SPOFs or gaps: how many, whether any is down, the first names.
    `current`: the graph state when the caller has just brought it up to date."""
    summary, current = services.spof_summary(session, current)
    if not summary["needing"]:
        return {"count": 0, "down": False, "names": []}
    r = GraphServiceResult
    names = session.scalars(
        services.service_result_query(current)
        .with_only_columns(r.name)
        .where(or_(r.spof_count > 0, r.gap_count > 0))
        .order_by(r.position)
        .limit(SHOWN_NAMES + 1)
    ).all()
    return {"count": summary["needing"], "down": summary["down"] > 0, "names": list(names)}


def service_spofs(session: Session, key: str) -> dict[str, Any]:
    """`spof_document(session, key)` for one business service node, without the rest."""
    current = services.ensure_current(session)
    entry = services.service_entry(session, key, current)
    return {"graph_version": current.version, "services": [entry] if entry else []}
