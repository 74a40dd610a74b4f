"""Plotly figures as plain dicts (data + layout), rendered by static/js/kpis.js.

Built here rather than in the browser so that the page carries exactly what it shows, as JSON
in a <script type="application/json"> block (not executed, allowed by the CSP).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import pandas as pd

from vendor_portal.kpis.domain import Comparator, period_label

GREEN, AMBER, RED, GREY = "#198754", "#ffc107", "#b02a37", "#adb5bd"
SEVERITY_COLOURS = {
    "critical": "#b02a37",
    "major": "#d9480f",
    "minor": "#997404",
    "maintenance": "#6c757d",
}
FONT = {"family": "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif", "size": 12}


def _layout(**extra: Any) -> dict[str, Any]:
    layout: dict[str, Any] = {
        "font": FONT,
        "margin": {"l": 60, "r": 20, "t": 30, "b": 40},
        "paper_bgcolor": "#ffffff",
        "plot_bgcolor": "#ffffff",
        "hoverlabel": {"font": FONT},
    }
    layout.update(extra)
    return layout


def attainment_heatmap(
    vendors: Sequence[Any], months: Sequence[date], links: Sequence[str]
) -> dict[str, Any]:
    """Vendors x months, coloured by the share of KPI periods on target."""
    labels = [period_label(m, "month") for m in months]
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    for row in vendors:
        z.append([row.by_month[m][0] if m in row.by_month else None for m in months])
        text.append(
            [
                f"{row.by_month[m][1] - row.by_month[m][2]} of {row.by_month[m][1]} KPI periods met"
                if m in row.by_month
                else "no KPI measured"
                for m in months
            ]
        )
    names = [row.vendor.name for row in vendors]
    return {
        "data": [
            {
                "type": "heatmap",
                "x": labels,
                "y": names,
                "z": z,
                "text": text,
                "customdata": [[link] * len(months) for link in links],
                "zmin": 0,
                "zmax": 100,
                "xgap": 2,
                "ygap": 2,
                "colorscale": [[0, RED], [0.5, AMBER], [0.9, "#9ec5a8"], [1, GREEN]],
                # Plotly's colorbar sets empty style attributes, which the CSP blocks; the page
                # draws the key in HTML instead. The gaps also keep plotly from probing
                # image-rendering support through a style attribute.
                "showscale": False,
                "hovertemplate": "%{y}<br>%{x}: %{z:.0f} % (%{text})<extra></extra>",
                "hoverongaps": False,
            }
        ],
        "layout": _layout(
            height=max(220, 60 + 26 * len(names)),
            margin={"l": 200, "r": 20, "t": 10, "b": 40},
            yaxis={"autorange": "reversed", "automargin": True},
            xaxis={"type": "category", "side": "bottom"},
        ),
    }


def kpi_trend(result: Any) -> dict[str, Any]:
    """One KPI's value per period against its target line; misses in red."""
    kpi = result.kpi
    periods = result.periods
    x = [p.start.isoformat() for p in periods]
    colours = [GREY if p.met is None else GREEN if p.met else RED for p in periods]
    hover = [
        f"{p.label}: "
        + ("nothing to measure" if p.value is None else f"{p.value:.3f} {kpi.unit}".strip())
        + ("" if p.complete else " (period in progress)")
        for p in periods
    ]
    unit = f" ({kpi.unit})" if kpi.unit else ""
    return {
        "data": [
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": kpi.name,
                "x": x,
                "y": [p.value for p in periods],
                "marker": {"color": colours, "size": 9},
                "line": {"color": "#0d6efd"},
                "text": hover,
                "hovertemplate": "%{text}<extra></extra>",
                "connectgaps": False,
            },
            {
                "type": "scatter",
                "mode": "lines",
                "name": f"Target {Comparator(kpi.comparator).symbol} {kpi.threshold:g}",
                "x": x,
                "y": [kpi.threshold] * len(x),
                "line": {"color": RED, "dash": "dash", "width": 1.5},
                "hoverinfo": "skip",
            },
        ],
        "layout": _layout(
            height=240,
            showlegend=True,
            legend={"orientation": "h", "y": 1.15, "x": 0},
            xaxis={"type": "date", "tickformat": "%b %Y"},
            yaxis={"title": {"text": f"{kpi.metric_label}{unit}"}, "automargin": True},
        ),
    }


def availability_bars(availability: pd.DataFrame, names: dict[int, str]) -> dict[str, Any]:
    """Monthly availability per service, the axis starting near the lowest month."""
    # Whole columns as plain lists, grouped by service in the order they first appear (as a
    # pandas groupby without sorting, at a fraction of its cost on a scorecard's few rows).
    service_ids = availability["service_id"].tolist()
    starts = availability["period_start"].tolist()
    percents = availability["availability_pct"].round(4).tolist()
    minutes_down = (availability["downtime_seconds"] / 60).round(1).tolist()
    rows_of: dict[Any, list[int]] = {}
    for row, service_id in enumerate(service_ids):
        rows_of.setdefault(service_id, []).append(row)
    data = []
    lowest = 100.0
    for service_id, rows in rows_of.items():
        values = [percents[i] for i in rows]
        lowest = min([lowest, *values])
        data.append(
            {
                "type": "bar",
                "name": names.get(int(service_id), str(service_id)),
                "x": [starts[i].isoformat() for i in rows],
                "y": values,
                "customdata": [minutes_down[i] for i in rows],
                "hovertemplate": "%{fullData.name}<br>%{x|%b %Y}: %{y:.3f} %"
                "<br>%{customdata} min down<extra></extra>",
            }
        )
    floor = min(99.0, lowest - (100 - lowest) * 0.1)
    return {
        "data": data,
        "layout": _layout(
            height=280,
            barmode="group",
            legend={"orientation": "h", "y": 1.15, "x": 0},
            xaxis={"type": "date", "tickformat": "%b %Y", "dtick": "M1"},
            yaxis={"range": [max(0.0, floor), 100], "title": {"text": "Availability %"}},
        ),
    }


def incident_timeline(
    incidents: Sequence[Any], names: dict[int, str], start: date, now: datetime
) -> dict[str, Any]:
    """Each incident as a bar from its start to its end (or now), by service and severity."""
    data = []
    for severity, colour in SEVERITY_COLOURS.items():
        chosen = [i for i in incidents if i.severity == severity]
        if not chosen:
            continue
        ends = [i.ended_at or now for i in chosen]
        data.append(
            {
                "type": "bar",
                "orientation": "h",
                "name": severity.capitalize(),
                "y": [names.get(i.vendor_service_id, "") for i in chosen],
                "base": [i.started_at.isoformat() for i in chosen],
                # Bar length in milliseconds on a date axis; at least a minute, to be visible.
                "x": [
                    max(60_000, (end - i.started_at).total_seconds() * 1000)
                    for i, end in zip(chosen, ends, strict=True)
                ],
                "marker": {"color": colour},
                "text": [
                    f"{i.title}<br>{i.started_at:%Y-%m-%d %H:%M} UTC to "
                    + (f"{i.ended_at:%Y-%m-%d %H:%M} UTC" if i.ended_at else "ongoing")
                    for i in chosen
                ],
                "textposition": "none",
                "hovertemplate": "%{text}<extra>%{fullData.name}</extra>",
            }
        )
    rows = len({names.get(i.vendor_service_id, "") for i in incidents}) or 1
    return {
        "data": data,
        "layout": _layout(
            height=120 + 40 * rows,
            barmode="overlay",
            margin={"l": 160, "r": 20, "t": 30, "b": 40},
            legend={"orientation": "h", "y": 1.2, "x": 0},
            xaxis={"type": "date", "range": [start.isoformat(), now.isoformat()]},
            yaxis={"automargin": True, "type": "category"},
        ),
    }
