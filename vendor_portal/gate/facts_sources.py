"""Where the gate's facts come from: one small adapter per feature, so the rules stay pure."""

from __future__ import annotations

from collections import defaultdict

import networkx as nx
from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_portal.evidence.models import EvidenceItem, EvidenceVersion
from vendor_portal.exercises.services import last_completed_exercises
from vendor_portal.gate.domain import BusinessServiceFact, EvidenceFact, QuestionnaireFact
from vendor_portal.graph.models import BusinessService, GraphEdge, GraphNode
from vendor_portal.graph.services import ensure_current
from vendor_portal.questionnaires.models import Assignment, QuestionnaireTemplate


def evidence(session: Session, vendor_id: int) -> tuple[EvidenceFact, ...]:
    """Every version of the vendor's evidence (the rules tell accepted, rejected and pending)."""
    rows = session.execute(
        select(EvidenceItem.evidence_type, EvidenceVersion)
        .join(EvidenceVersion, EvidenceVersion.item_id == EvidenceItem.id)
        .where(EvidenceVersion.vendor_id == vendor_id)
    ).all()
    return tuple(
        EvidenceFact(
            evidence_type,
            version.status,
            version.issued_on or version.uploaded_at.date(),
            version.valid_until,
        )
        for evidence_type, version in rows
    )


def exercises_completed(session: Session, vendor_id: int) -> tuple:
    last = last_completed_exercises(session, [vendor_id]).get(vendor_id)
    return (last,) if last else ()


def questionnaires(session: Session, vendor_id: int) -> tuple[QuestionnaireFact, ...]:
    """Accepted questionnaire assignments with their submission day and total score (%)."""
    rows = session.execute(
        select(QuestionnaireTemplate.name, Assignment.submitted_at, Assignment.score)
        .join(QuestionnaireTemplate, QuestionnaireTemplate.id == Assignment.template_id)
        .where(Assignment.vendor_id == vendor_id, Assignment.status == "accepted")
    ).all()
    return tuple(
        QuestionnaireFact(name, submitted.date(), score, True)
        for name, submitted, score in rows
        if submitted is not None
    )


def business_services_supported(
    session: Session, vendor_service_ids: list[int]
) -> tuple[BusinessServiceFact, ...]:
    """Business services whose dependencies reach any of these vendor services, in the map."""
    if not vendor_service_ids:
        return ()
    ensure_current(session)  # nodes for records created since the map was last read
    graph = nx.DiGraph()
    graph.add_edges_from(session.execute(select(GraphEdge.source_id, GraphEdge.target_id)).all())
    service_nodes = dict(
        session.execute(
            select(GraphNode.id, GraphNode.vendor_service_id).where(
                GraphNode.vendor_service_id.in_(vendor_service_ids)
            )
        ).all()
    )
    supported: dict[int, set[int]] = defaultdict(set)
    rows = session.execute(
        select(BusinessService, GraphNode.id)
        .join(GraphNode, GraphNode.business_service_id == BusinessService.id)
        .where(BusinessService.archived_at.is_(None))
    ).all()
    services = {}
    for business, node_id in rows:
        services[business.id] = business
        if node_id not in graph:
            continue
        reach = nx.descendants(graph, node_id)
        supported[business.id] = {service_nodes[n] for n in reach if n in service_nodes}
    return tuple(
        BusinessServiceFact(
            services[b].name, services[b].rto_hours, services[b].rpo_hours, frozenset(ids)
        )
        for b, ids in sorted(supported.items(), key=lambda kv: services[kv[0]].name)
        if ids
    )
