from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vendor_portal.graph.domain.model import KIND_LABELS, NodeKind
from vendor_portal.graph.models import BusinessService, GraphNode
from vendor_portal.tables import BadTableRequest, Column, Page, Table


def _hours(value: float | None) -> Any:
    return "" if value is None else value


@dataclass
class ServiceRow:
    """A business service with its current analysis (SPOFs, gaps), for lists and exports."""

    service: BusinessService
    analysis: dict[str, Any] = field(default_factory=dict)

    @property
    def spof_count(self) -> int | None:
        return len(self.analysis["spofs"]) if self.analysis else None

    @property
    def gap_count(self) -> int | None:
        return len(self.analysis["gaps"]) if self.analysis else None

    @property
    def common_causes(self) -> list[str]:
        return [s["name"] for s in self.analysis.get("spofs", []) if s.get("common_cause")]

    @property
    def down(self) -> bool:
        return bool(self.analysis.get("down"))

    @property
    def status(self) -> str:
        if not self.analysis:
            return "not mapped"
        if self.down:
            return "down with nothing failed"
        if self.analysis["spofs"]:
            return f"{len(self.analysis['spofs'])} single points of failure"
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
        Column("common_causes", "Common causes", lambda r: "; ".join(r.common_causes)),
        Column("status", "Status", lambda r: r.status),
    ],
    default_sort="name",
    export_name="business-services",
)


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
