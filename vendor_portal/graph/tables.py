from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import case

from vendor_portal.graph.domain.model import KIND_LABELS, NodeKind
from vendor_portal.graph.models import BusinessService, GraphNode, GraphServiceResult, RegionRisk
from vendor_portal.tables import BadTableRequest, Column, Page, Table


def _hours(value: float | None) -> Any:
    return "" if value is None else value


@dataclass
class ServiceRow:
    """A business service with its row of the current SPOF analysis, for lists and exports."""

    service: BusinessService
    analysis: GraphServiceResult | None = None

    @property
    def spof_count(self) -> int | None:
        return self.analysis.spof_count if self.analysis else None

    @property
    def gap_count(self) -> int | None:
        return self.analysis.gap_count if self.analysis else None

    @property
    def common_causes(self) -> str:
        return self.analysis.common_causes if self.analysis else ""

    @property
    def down(self) -> bool:
        return bool(self.analysis and self.analysis.down)

    @property
    def status(self) -> str:
        return analysis_status(self.analysis) if self.analysis else "not mapped"


def analysis_status(result: GraphServiceResult) -> str:
    if result.down:
        return "down with nothing failed"
    if result.spof_count:
        return f"{result.spof_count} single points of failure"
    return "no single point of failure"


BUSINESS_SERVICE_TABLE = Table(
    columns=[
        Column("name", "Name", lambda r: r.service.name, BusinessService.name),
        Column(
            "criticality",
            "Criticality",
            lambda r: r.service.criticality,
            BusinessService.criticality,
        ),
        Column("owner", "Owner", lambda r: r.service.owner or "", BusinessService.owner),
        Column(
            "mtd_hours", "MTD (h)", lambda r: _hours(r.service.mtd_hours), BusinessService.mtd_hours
        ),
        Column(
            "rto_hours", "RTO (h)", lambda r: _hours(r.service.rto_hours), BusinessService.rto_hours
        ),
        Column(
            "rpo_hours", "RPO (h)", lambda r: _hours(r.service.rpo_hours), BusinessService.rpo_hours
        ),
        Column(
            "downtime_cost_per_hour",
            "Cost of downtime per hour",
            lambda r: _hours(r.service.downtime_cost_per_hour),
            BusinessService.downtime_cost_per_hour,
        ),
        Column("spofs", "Single points of failure", lambda r: r.spof_count if r.analysis else ""),
        Column("gaps", "Gaps", lambda r: r.gap_count if r.analysis else ""),
        Column("common_causes", "Common causes", lambda r: r.common_causes),
        Column("status", "Status", lambda r: r.status),
    ],
    default_sort="name",
    export_name="business-services",
)


_R = GraphServiceResult
# The map page's list: every business service in the current SPOF analysis.
ANALYSIS_TABLE = Table(
    columns=[
        # The analysis' own order (the services' order in the graph), the default.
        Column("position", "#", lambda r: r.position + 1, _R.position),
        Column("name", "Business service", lambda r: r.name, _R.name),
        Column("criticality", "Criticality", lambda r: r.criticality or "", _R.criticality),
        Column("rto_hours", "RTO (h)", lambda r: _hours(r.rto_hours), _R.rto_hours),
        Column(
            "downtime_cost_per_hour",
            "Cost of downtime per hour",
            lambda r: _hours(r.downtime_cost_per_hour),
            _R.downtime_cost_per_hour,
        ),
        Column("spofs", "Single points of failure", lambda r: r.spof_count, _R.spof_count),
        Column("common_causes", "Common causes", lambda r: r.common_causes, _R.common_cause_count),
        Column("gaps", "Gaps", lambda r: r.gaps, _R.gap_count),
        Column("status", "Status", analysis_status, _R.down),
        Column("id", "Id", lambda r: r.key, _R.key),
    ],
    default_sort="position",
    export_name="spof-analysis",
)
ANALYSIS_STATUSES = {
    "spofs": "With single points of failure",
    "gaps": "With gaps",
    "down": "Down with nothing failed",
    "clear": "No single point of failure or gap",
}


NODE_TABLE = Table(
    columns=[
        Column("key", "Id", lambda n: n.key, GraphNode.key),
        Column("name", "Name", lambda n: n.name, GraphNode.name),
        Column("kind", "Kind", lambda n: KIND_LABELS[NodeKind(n.kind)], GraphNode.kind),
        Column("requires", "Requires", lambda n: n.requires, GraphNode.requires),
        Column("country", "Country", lambda n: n.country or "", GraphNode.country),
        Column("origin", "Source", lambda n: n.origin, GraphNode.origin),
    ],
    default_sort="name",
    export_name="graph-nodes",
)


CONCENTRATION_TABLE = Table(
    columns=[
        Column("rank", "Rank", lambda i: i["rank"]),
        Column("name", "Node", lambda i: i["name"]),
        Column("kind", "Kind", lambda i: KIND_LABELS.get(i["kind"], i["kind"])),
        Column("service_count", "Services it is a SPOF of", lambda i: i["service_count"]),
        Column("cost_per_hour", "Summed cost of downtime per hour", lambda i: i["cost_per_hour"]),
        Column("common_cause_count", "As a common cause", lambda i: i["common_cause_count"]),
        Column("services", "Services", lambda i: "; ".join(i["service_names"])),
        Column("id", "Id", lambda i: i["id"]),
    ],
    default_sort="rank",
    export_name="concentration",
)
CONCENTRATION_SORTS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "rank": lambda i: i["rank"],
    "name": lambda i: i["name"].lower(),
    "kind": lambda i: i["kind"] or "",
    "service_count": lambda i: i["service_count"],
    "cost_per_hour": lambda i: i["cost_per_hour"],
    "common_cause_count": lambda i: i["common_cause_count"],
}


SPOF_TABLE = Table(
    columns=[
        Column("name", "Single point of failure", lambda s: s["name"]),
        Column("kind", "Kind", lambda s: KIND_LABELS.get(s["kind"], s["kind"])),
        Column("common_cause", "Common cause", lambda s: "yes" if s["common_cause"] else ""),
        Column("explanation", "How it takes the service down", lambda s: s["explanation"]),
        Column("witness", "Chain (ids, from the failure up)", lambda s: " > ".join(s["witness"])),
        Column("id", "Id", lambda s: s["id"]),
    ],
    default_sort="name",
    export_name="spofs",
)


def sort_items(
    items: Sequence[dict[str, Any]],
    sort: str | None,
    keys: dict[str, Callable[[Any], Any]],
    default: str,
) -> list[dict[str, Any]]:
    """Sort an in-memory list by a column key (`-key` for descending), or say what is allowed."""
    sort = sort or default
    key = sort.lstrip("-")
    if key not in keys:
        raise BadTableRequest(f"Cannot sort by {key!r}; choose one of {', '.join(sorted(keys))}.")
    return sorted(items, key=keys[key], reverse=sort.startswith("-"))


def page_of(items: Sequence[Any], page: int, per_page: int) -> Page:
    start = (page - 1) * per_page
    return Page(
        items=list(items[start : start + per_page]), page=page, per_page=per_page, total=len(items)
    )


# --- the fallback-provider register ------------------------------------------------------------


@dataclass
class FallbackRow:
    """One line of the register: a provider of a capability, or the capability's missing
    fallback (provider None)."""

    entry: Any  # domain.fallbacks.Entry
    provider: Any = None  # domain.fallbacks.Provider
    edge_id: int | None = None

    @property
    def flags(self) -> list[Any]:
        if self.provider is None:
            return list(self.entry.flags)
        own = list(self.provider.flags)
        # The capability's own flags (no fallback) show on its first line.
        if self.entry.providers and self.provider is self.entry.providers[0]:
            own = list(self.entry.flags) + own
        return own

    @property
    def shown_flags(self) -> list[Any]:
        return [f for f in self.flags if f.level != "info"]

    @property
    def role(self) -> str:
        return self.provider.role if self.provider else "fallback"

    @property
    def status(self) -> str:
        if self.provider is None:
            return "missing"
        return self.provider.status or "not recorded"

    @property
    def needed_by(self) -> str:
        return "; ".join(
            f"{n.name} ({n.criticality or '—'}, RTO "
            f"{'—' if n.rto_hours is None else f'{n.rto_hours:g} h'})"
            for n in self.entry.needs
        )


def _terms(row: FallbackRow, name: str) -> Any:
    if row.provider is None:
        return None
    return getattr(row.provider.terms, name)


FALLBACK_TABLE = Table(
    columns=[
        Column("capability", "Capability", lambda r: r.entry.name),
        Column("needed_by", "Needed by", lambda r: r.needed_by),
        Column("provider", "Provider", lambda r: r.provider.name if r.provider else "(none)"),
        Column(
            "kind",
            "Provider kind",
            lambda r: KIND_LABELS.get(r.provider.kind, r.provider.kind) if r.provider else "",
        ),
        Column("role", "Role", lambda r: r.role),
        Column(
            "switchover_hours",
            "Switchover (h)",
            lambda r: r.provider.switchover_hours if r.provider else "",
        ),
        Column("status", "Status", lambda r: r.status.replace("_", " ")),
        Column("last_tested", "Last tested", lambda r: _terms(r, "last_tested") or ""),
        Column(
            "capacity_pct",
            "Capacity (%)",
            lambda r: "" if _terms(r, "capacity_pct") is None else _terms(r, "capacity_pct"),
        ),
        Column("flags", "Flags", lambda r: "; ".join(f.label for f in r.shown_flags)),
        Column("reasons", "Reasons", lambda r: " | ".join(f.message for f in r.shown_flags)),
        Column("capability_id", "Capability id", lambda r: r.entry.id),
        Column("provider_id", "Provider id", lambda r: r.provider.id if r.provider else ""),
    ],
    default_sort="capability",
    export_name="fallback-register",
)
_ROLE_ORDER = {"primary": 0, "fallback": 1}
FALLBACK_SORTS: dict[str, Callable[[FallbackRow], Any]] = {
    "capability": lambda r: (
        r.entry.name.lower(),
        _ROLE_ORDER[r.role],
        r.provider.switchover_hours if r.provider else float("inf"),
    ),
    "provider": lambda r: (r.provider.name.lower() if r.provider else "~", r.entry.name.lower()),
    "role": lambda r: (_ROLE_ORDER[r.role], r.entry.name.lower()),
    "switchover_hours": lambda r: (
        r.provider.switchover_hours if r.provider else float("inf"),
        r.entry.name.lower(),
    ),
    "status": lambda r: (r.status, r.entry.name.lower()),
    "last_tested": lambda r: (
        (_terms(r, "last_tested") or date.min).isoformat(),
        r.entry.name.lower(),
    ),
    "capacity_pct": lambda r: (
        -1 if _terms(r, "capacity_pct") is None else _terms(r, "capacity_pct"),
        r.entry.name.lower(),
    ),
    "flags": lambda r: (
        sum(2 if f.level == "danger" else 1 for f in r.shown_flags),
        r.entry.name.lower(),
    ),
}


# --- region risk --------------------------------------------------------------------------------

_LEVEL_RANK = {"low": 0, "medium": 1, "high": 2, "very_high": 3}


def _rank(column: Any) -> Any:
    """Sort levels by severity (low .. very high), unrated last when ascending."""
    return case(_LEVEL_RANK, value=column, else_=-1)


def _level(value: str | None) -> str:
    return value.replace("_", " ") if value else ""


REGION_TABLE = Table(
    columns=[
        Column("name", "Name", lambda r: r.name, RegionRisk.name),
        Column("kind", "Kind", lambda r: r.kind, RegionRisk.kind),
        Column("code", "Code", lambda r: r.code, RegionRisk.code),
        Column(
            "natural_hazard",
            "Natural hazards",
            lambda r: _level(r.natural_hazard),
            _rank(RegionRisk.natural_hazard),
        ),
        Column(
            "natural_hazard_score",
            "Natural hazard score",
            lambda r: "" if r.natural_hazard_score is None else r.natural_hazard_score,
        ),
        Column(
            "political_instability",
            "Political instability",
            lambda r: _level(r.political_instability),
            _rank(RegionRisk.political_instability),
        ),
        Column(
            "political_instability_score",
            "Political instability score",
            lambda r: (
                "" if r.political_instability_score is None else r.political_instability_score
            ),
        ),
        Column("overall", "Overall", lambda r: _level(r.overall), _rank(RegionRisk.overall)),
        Column("source", "Source", lambda r: r.source, RegionRisk.source),
        Column("source_detail", "Based on", lambda r: r.source_detail or ""),
        Column("updated_at", "Updated", lambda r: r.updated_at, RegionRisk.updated_at),
    ],
    default_sort="name",
    export_name="region-risk",
)
