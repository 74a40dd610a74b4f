"""Real multi-echelon supply chains (Willems 2008) as dependency graphs.

A chain file has one row per arc (`/arcs/arc/@from` -> `/arcs/arc/@to`: material flows from the
upstream stage to the downstream stage) or per stage (`/stages/stage/@stageName`,
`@stageClassification` Part / Manuf / Trans / Dist / Retail, `@stageCost`, `@stageTime`, ...).

How a chain maps onto the graph:

- every stage is a node; an arc `U -> D` becomes the edge `D -> U` (D depends on U);
- demand stages become business services: every Retail stage, and every stage that supplies no
  other stage (chains without retail stages end at distribution or manufacturing);
- Part stages become components, Manuf and Dist stages facilities, Trans stages vendor services
  (a transport lane is a service bought from a carrier);
- a stage needs all its upstream stages (a bill of materials: an assembly needs every part), unless
  its classification is listed in `alternatives`: such a stage with several upstream stages can
  be supplied by any one of them (e.g. a distribution centre fed by several plants);
- the chain has no recovery objectives, so services carry no RTO and every alternative counts;
  stage cost, time, demand and service level are kept as node fields.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from vendor_portal.graph.domain.interchange import InvalidGraph, Problem, decode
from vendor_portal.graph.domain.model import NodeKind

ARC_FROM = "/arcs/arc/@from"
ARC_TO = "/arcs/arc/@to"
STAGE = "/stages/stage/@"
KIND_BY_CLASS = {
    "part": NodeKind.COMPONENT,
    "parts": NodeKind.COMPONENT,
    "manuf": NodeKind.FACILITY,
    "dist": NodeKind.FACILITY,
    "trans": NodeKind.VENDOR_SERVICE,
    "retail": NodeKind.BUSINESS_SERVICE,
}
CLASS_NAMES = {
    "part": "Part",
    "parts": "Part",
    "manuf": "Manufacturing",
    "dist": "Distribution",
    "trans": "Transport",
    "retail": "Retail",
}
# Stage attributes kept, as numbers, under these field names.
NUMERIC = {
    "stageCost": "stage_cost",
    "stageTime": "stage_time_days",
    "avgDemand": "avg_demand",
    "stDevDemand": "std_dev_demand",
    "serviceLevel": "service_level",
    "maxServiceTime": "max_service_time_days",
    "stDevStageTime": "std_dev_stage_time",
}


@dataclass
class WillemsChain:
    company: str
    stages: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> raw fields
    arcs: list[tuple[str, str]] = field(default_factory=list)  # (upstream, downstream)


def read_chain(data: str | bytes, label: str = "chain.csv") -> WillemsChain:
    text = decode(data, label)
    lines = text.splitlines()
    offset = 0
    if lines and lines[0].split(",", 1)[0].strip() == "/chain":
        offset = 1  # a first line naming the root element precedes the header
    reader = csv.DictReader(io.StringIO("\n".join(lines[offset:])))
    columns = reader.fieldnames or []
    if ARC_FROM not in columns or ARC_TO not in columns or f"{STAGE}stageName" not in columns:
        raise InvalidGraph(
            [
                Problem(
                    f"{label} line {offset + 1}",
                    f"is not a Willems chain: it needs the columns {ARC_FROM}, {ARC_TO} and "
                    f"{STAGE}stageName",
                )
            ]
        )
    chain = WillemsChain(company="")
    problems: list[Problem] = []
    seen_arcs: set[tuple[str, str]] = set()
    for row in reader:
        where = f"{label} line {reader.line_num + offset}"
        chain.company = chain.company or (row.get("/@company") or "").strip()
        upstream, downstream = (row.get(ARC_FROM) or "").strip(), (row.get(ARC_TO) or "").strip()
        if upstream or downstream:
            if not upstream or not downstream:
                problems.append(Problem(where, "an arc needs both a from and a to stage"))
            elif (upstream, downstream) not in seen_arcs:
                seen_arcs.add((upstream, downstream))
                chain.arcs.append((upstream, downstream))
        name = (row.get(f"{STAGE}stageName") or "").strip()
        if name:
            if name in chain.stages:
                problems.append(Problem(where, f"stage {name!r} is described twice"))
                continue
            chain.stages[name] = {
                key[len(STAGE) :]: (value or "").strip()
                for key, value in row.items()
                if key and key.startswith(STAGE) and (value or "").strip()
            }
    for upstream, downstream in chain.arcs:
        for stage in (upstream, downstream):
            if stage not in chain.stages:
                problems.append(
                    Problem(
                        label,
                        f"the arc {upstream} -> {downstream} names the unknown stage {stage!r}",
                    )
                )
    if problems:
        raise InvalidGraph(problems)
    return chain


def to_interchange(chain: WillemsChain, alternatives: Iterable[str] = ()) -> dict[str, Any]:
    """The chain as an interchange document (see the module docstring for the mapping)."""
    any_classes = {a.strip().lower() for a in alternatives if a.strip()}
    upstream_of: dict[str, list[str]] = {name: [] for name in chain.stages}
    supplies: dict[str, int] = dict.fromkeys(chain.stages, 0)
    for upstream, downstream in chain.arcs:
        upstream_of[downstream].append(upstream)
        supplies[upstream] += 1
    nodes = []
    for name, fields in chain.stages.items():
        klass = fields.get("stageClassification", "").lower()
        kind = KIND_BY_CLASS.get(klass, NodeKind.COMPONENT)
        if supplies[name] == 0:
            kind = NodeKind.BUSINESS_SERVICE  # a demand stage
        requires = "any" if klass in any_classes and len(upstream_of[name]) > 1 else "all"
        node: dict[str, Any] = {
            "id": name,
            "kind": kind.value,
            "name": f"{CLASS_NAMES.get(klass, klass.title() or 'Stage')} {name.rsplit('_', 1)[-1]}",
            "requires": requires,
            "stage_classification": fields.get("stageClassification", ""),
        }
        for source, target in NUMERIC.items():
            value = fields.get(source)
            if value:
                try:
                    number = float(value)
                except ValueError:
                    number = math.nan
                # Kept as the text it was when it is not a finite number (NaN is not JSON).
                node[target] = number if math.isfinite(number) else value
        if chain.company:
            node["chain"] = chain.company
        nodes.append(node)
    edges = [{"from": downstream, "to": upstream} for upstream, downstream in chain.arcs]
    return {"nodes": nodes, "edges": edges}
