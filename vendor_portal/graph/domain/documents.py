"""Analysis results as JSON documents: the API answers, the CLI output and the cached results.

The stable keys (DESIGN.md) come first; names, kinds, explanations and figures are additional
keys that tools may ignore."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from vendor_portal.graph.domain.model import DependencyGraph
from vendor_portal.graph.domain.scenario import ScenarioResult
from vendor_portal.graph.domain.spof import ServiceReport
from vendor_portal.graph.domain.words import explain_gap, explain_spof


def _node_brief(graph: DependencyGraph, node_id: str) -> dict[str, Any]:
    node = graph.node(node_id)
    return {"id": node.id, "name": node.label, "kind": node.kind}


def spof_document(graph: DependencyGraph, reports: list[ServiceReport]) -> dict[str, Any]:
    services = []
    for report in reports:
        node = graph.node(report.service)
        services.append(
            {
                "id": report.service,
                "spofs": [
                    {
                        "id": spof.node,
                        "witness": list(spof.witness),
                        "name": graph.node(spof.node).label,
                        "kind": graph.node(spof.node).kind,
                        "common_cause": spof.common_cause,
                        "common_cause_of": list(spof.defeats),
                        "explanation": explain_spof(graph, report.service, spof),
                    }
                    for spof in report.spofs
                ],
                "gaps": [
                    {
                        **_node_brief(graph, gap.node),
                        "unmet": gap.unmet,
                        "because": list(gap.because),
                        "required": gap.required,
                        "counted": gap.counted,
                        "total": gap.total,
                        "explanation": explain_gap(graph, report.service, gap),
                    }
                    for gap in report.gaps
                ],
                "name": node.label,
                "down": report.down,
                "rto_hours": report.threshold,
                "downtime_cost_per_hour": node.downtime_cost_per_hour,
                "criticality": node.attributes.get("criticality"),
                "business_service_id": node.attributes.get("business_service_id"),
            }
        )
    return {"services": services}


def concentration_document(spofs: dict[str, Any]) -> dict[str, Any]:
    """For each node: the services it is a SPOF of and their summed cost of downtime per hour,
    the costliest first. Built from a SPOF document."""
    services: dict[str, list[str]] = defaultdict(list)
    cost: dict[str, float] = defaultdict(float)
    common: dict[str, int] = defaultdict(int)
    brief: dict[str, dict[str, Any]] = {}
    names: dict[str, str] = {}
    for service in spofs["services"]:
        names[service["id"]] = service.get("name", service["id"])
        for spof in service["spofs"]:
            services[spof["id"]].append(service["id"])
            cost[spof["id"]] += service.get("downtime_cost_per_hour") or 0.0
            common[spof["id"]] += 1 if spof.get("common_cause") else 0
            brief[spof["id"]] = {"name": spof.get("name", spof["id"]), "kind": spof.get("kind")}
    items = [
        {
            "id": node,
            "name": brief[node]["name"],
            "kind": brief[node]["kind"],
            "service_count": len(found),
            "services": found,
            "service_names": [names[s] for s in found],
            "cost_per_hour": cost[node],
            "common_cause_count": common[node],
        }
        for node, found in services.items()
    ]
    items.sort(key=lambda i: (-i["cost_per_hour"], -i["service_count"], i["id"]))
    for rank, item in enumerate(items, start=1):
        item["rank"] = rank
    return {"items": items}


def scenario_document(graph: DependencyGraph, result: ScenarioResult) -> dict[str, Any]:
    def service(node_id: str) -> dict[str, Any]:
        node = graph.node(node_id)
        return {
            "id": node.id,
            "name": node.label,
            "rto_hours": node.rto_hours,
            "downtime_cost_per_hour": node.downtime_cost_per_hour,
            "criticality": node.attributes.get("criticality"),
        }

    return {
        "down_services": [service(s) for s in result.down_services],
        "cost_per_hour": result.cost_per_hour,
        "failed": [_node_brief(graph, n) for n in result.failed],
        "already_down": [service(s) for s in result.already_down],
        "switched_over": [service(s) for s in result.switched_over],
        "down_nodes": [_node_brief(graph, n) for n in result.down_nodes],
        "restoration_order": [
            {
                "wave": step.wave,
                "nodes": [_node_brief(graph, n) for n in step.nodes],
                "loop": step.loop,
            }
            for step in result.restoration
        ],
    }
