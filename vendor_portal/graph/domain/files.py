"""Reading a graph file in any accepted format: interchange JSON, the nodes/edges CSV pair, or a
Willems (2008) supply chain."""

from __future__ import annotations

from vendor_portal.graph.domain import interchange, willems
from vendor_portal.graph.domain.model import DependencyGraph

FORMATS = ("auto", "json", "csv", "willems")


def detect_format(data: bytes, name: str, has_edges: bool) -> str:
    if has_edges:
        return "csv"
    head = data[:4096].decode("utf-8-sig", errors="replace").lstrip()
    if name.lower().endswith(".json") or head.startswith("{"):
        return "json"
    if head.startswith("/chain") or any(
        "/arcs/arc/@from" in line for line in head.splitlines()[:2]
    ):
        return "willems"
    return "csv"


def read_graph_file(
    data: bytes,
    name: str,
    edges: bytes | None = None,
    edges_name: str = "edges.csv",
    fmt: str = "auto",
    alternatives: str = "",
) -> DependencyGraph:
    """Parse an uploaded or named file in any accepted format; InvalidGraph says what is wrong."""
    if fmt == "auto":
        fmt = detect_format(data, name, edges is not None)
    if fmt == "json":
        return interchange.parse_json(data)
    if fmt == "willems":
        chain = willems.read_chain(data, name)
        return interchange.parse_json(
            willems.to_interchange(chain, alternatives.replace(";", ",").split(","))
        )
    return interchange.parse_csv(data, edges, name, edges_name)
