"""Plotly figures as plain JSON (drawn by static/js/graph.js with the bundled plotly.js)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from vendor_portal.graph.domain.layout import GraphMap
from vendor_portal.graph.domain.model import KIND_LABELS, NodeKind

KIND_COLOURS = {
    NodeKind.BUSINESS_SERVICE: "#0d6efd",
    NodeKind.CAPABILITY: "#6f42c1",
    NodeKind.VENDOR: "#d63384",
    NodeKind.VENDOR_SERVICE: "#fd7e14",
    NodeKind.FACILITY: "#20c997",
    NodeKind.CLOUD_REGION: "#0dcaf0",
    NodeKind.GEO_REGION: "#198754",
    NodeKind.COMPONENT: "#6c757d",
}
LABELS_UP_TO = 60  # above this many nodes, only business services are named (others on hover)
LAYER_HEIGHT = 110


def dependency_map(
    graph_map: GraphMap,
    url: Callable[[str], str | None],
    spofs: Iterable[str] = (),
    common_causes: Iterable[str] = (),
    gaps: Iterable[str] = (),
    details: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A layered map: services at the top, regions at the bottom, one colour per kind; SPOFs
    ringed in red, common causes marked with a diamond, gaps with a cross."""
    nodes = graph_map.nodes
    spofs, common, gap_set = set(spofs), set(common_causes), set(gaps)
    details = details or {}
    xs = [n.x for n in nodes]
    ys = [-n.layer for n in nodes]
    edge_x: list[float | None] = []
    edge_y: list[float | None] = []
    for a, b in graph_map.edges:
        edge_x += [xs[a], xs[b], None]
        edge_y += [ys[a], ys[b], None]
    data: list[dict[str, Any]] = [
        {
            "type": "scatter",
            "mode": "lines",
            "x": edge_x,
            "y": edge_y,
            "line": {"width": 0.8, "color": "#adb5bd"},
            "hoverinfo": "skip",
            "showlegend": False,
            "name": "dependencies",
        }
    ]
    # Names under every node while they fit; beyond that only the business services are named
    # (the rest on hover). Alternating above and below keeps neighbours apart.
    all_labels = len(nodes) <= LABELS_UP_TO
    position_in_layer: dict[int, int] = {}
    seen_per_layer: dict[int, int] = {}
    for i, n in enumerate(nodes):
        position_in_layer[i] = seen_per_layer.get(n.layer, 0)
        seen_per_layer[n.layer] = position_in_layer[i] + 1
    for kind in NodeKind:
        members = [i for i, n in enumerate(nodes) if n.kind == kind]
        if not members:
            continue
        labelled = all_labels or kind == NodeKind.BUSINESS_SERVICE
        data.append(
            {
                "type": "scatter",
                "mode": "markers+text" if labelled else "markers",
                "name": KIND_LABELS[kind],
                "x": [xs[i] for i in members],
                "y": [ys[i] for i in members],
                "text": [nodes[i].name for i in members] if labelled else None,
                "textposition": [
                    "top center" if position_in_layer[i] % 2 else "bottom center" for i in members
                ],
                "textfont": {"size": 10},
                "hovertext": [_hover(nodes[i], details) for i in members],
                "hoverinfo": "text",
                "customdata": [url(nodes[i].key) for i in members],
                "marker": {
                    "size": [_size(nodes[i]) for i in members],
                    "color": KIND_COLOURS[kind],
                    "line": {"width": 1, "color": "#ffffff"},
                },
            }
        )
    for name, chosen, marker in (
        (
            "Single points of failure",
            spofs - common,
            {"symbol": "circle-open", "color": "#dc3545", "size": 20, "line": {"width": 3}},
        ),
        (
            "Common causes",
            common,
            {"symbol": "diamond-open", "color": "#dc3545", "size": 24, "line": {"width": 3}},
        ),
        (
            "Gaps",
            gap_set,
            {"symbol": "x-open", "color": "#b02a37", "size": 22, "line": {"width": 3}},
        ),
    ):
        members = [i for i, n in enumerate(nodes) if n.key in chosen]
        if members:
            data.append(
                {
                    "type": "scatter",
                    "mode": "markers",
                    "name": name,
                    "x": [xs[i] for i in members],
                    "y": [ys[i] for i in members],
                    "hovertext": [_hover(nodes[i], details) for i in members],
                    "hoverinfo": "text",
                    "customdata": [url(nodes[i].key) for i in members],
                    "marker": marker,
                }
            )
    depth = max((n.layer for n in nodes), default=0) + 1
    layout = {
        "height": max(420, min(1600, depth * LAYER_HEIGHT + 120)),
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "showlegend": True,
        "legend": {"orientation": "h", "y": 1.02, "yanchor": "bottom"},
        "hovermode": "closest",
        "dragmode": "pan",
        "xaxis": {"visible": False},
        "yaxis": {"visible": False},
        "plot_bgcolor": "#ffffff",
    }
    return {"data": data, "layout": layout}


def _size(node: Any) -> int:
    if node.grouped:
        return min(40, 12 + len(node.members) // 10)
    return 16 if node.kind == NodeKind.BUSINESS_SERVICE else 11


def _hover(node: Any, details: dict[str, str]) -> str:
    label = KIND_LABELS.get(node.kind, node.kind)
    extra = details.get(node.key)
    text = f"<b>{_escape(node.name)}</b><br>{label}"
    if node.grouped:
        text += f"<br>{len(node.members)} nodes grouped (too many to draw one by one)"
    if extra:
        text += f"<br>{_escape(extra)}"
    return text


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def concentration_chart(
    items: list[dict[str, Any]], url: Callable[[str], str | None], top: int = 20
) -> dict[str, Any]:
    """Horizontal bars: the summed downtime cost per hour riding on each node, costliest on top."""
    chosen = list(reversed(items[:top]))
    data = [
        {
            "type": "bar",
            "orientation": "h",
            "x": [i["cost_per_hour"] for i in chosen],
            "y": [f"{i['name']} " for i in chosen],
            "marker": {"color": [KIND_COLOURS.get(i["kind"], "#6c757d") for i in chosen]},
            "customdata": [url(i["id"]) for i in chosen],
            "hovertext": [
                f"{_escape(i['name'])}: SPOF of {i['service_count']} service"
                f"{'s' if i['service_count'] != 1 else ''}, {i['cost_per_hour']:,.0f} per hour"
                for i in chosen
            ],
            "hoverinfo": "text",
            "name": "Cost of downtime per hour",
        }
    ]
    layout = {
        "height": max(260, 28 * len(chosen) + 80),
        "margin": {"l": 10, "r": 10, "t": 10, "b": 40},
        "xaxis": {"title": {"text": "Summed cost of downtime per hour"}, "tickformat": ",.0f"},
        "yaxis": {"automargin": True},
        "showlegend": False,
    }
    return {"data": data, "layout": layout}
