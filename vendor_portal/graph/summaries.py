"""Small results derived from the stored SPOF analysis, stored beside it once per graph version.

On a large map the SPOF document (every business service's SPOFs with witness chains) runs to
hundreds of MB of JSON and takes seconds to read back. Pages that need only the home page's
counts, or one service's entry, read these instead: each is derived from the full document the
first time it is asked for in a graph version (through the same per-version result store), and
is then a read of a few kB."""

from __future__ import annotations

import hashlib
from typing import Any

from sqlalchemy.orm import Session

from vendor_portal.graph import services

SHOWN_NAMES = 4


def attention(session: Session) -> dict[str, Any]:
    """Business services with SPOFs or gaps: how many, whether any is down, the first names."""

    def compute(current: Any) -> dict[str, Any]:
        needing = [
            s for s in services.spof_document(session)["services"] if s["spofs"] or s["gaps"]
        ]
        return {
            "count": len(needing),
            "down": any(s["down"] for s in needing),
            "names": [s["name"] for s in needing[: SHOWN_NAMES + 1]],
        }

    document, _ = services._cached(session, "spof-attention", compute)
    return document


def service_spofs(session: Session, key: str) -> dict[str, Any]:
    """`spof_document(session, key)` for one business service node, without the rest."""

    def compute(current: Any) -> dict[str, Any]:
        entries = [s for s in services.spof_document(session)["services"] if s["id"] == key]
        return {"services": entries}

    # Result names are short: a digest of the node id stands for it.
    name = "spof-svc-" + hashlib.sha256(key.encode()).hexdigest()[:16]
    document, current = services._cached(session, name, compute)
    return {"graph_version": current.version, "services": document["services"]}
