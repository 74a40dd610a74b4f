"""The data the authorization matrix requests: one object of every kind, owned by vendor A.

Built with the test builders and the services (as the app itself would write it). Vendor B has
a user and nothing else worth seeing: every id below belongs to vendor A, so vendor B's user
must get 404 for each of them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests import exercises_factories, findings_factories
from tests.evidence_factories import EvidenceBuilder, pdf_bytes
from tests.factories import Builders
from tests.graph_factories import GraphBuilders
from tests.kpis_factories import KpiBuilders
from tests.questionnaires_factories import QuestionnaireBuilder
from vendor_portal.audit.services import Actor, acting_as
from vendor_portal.auth import services as accounts
from vendor_portal.contracts import services as contracts
from vendor_portal.contracts.models import Obligation
from vendor_portal.exercises import services as exercises
from vendor_portal.exercises.domain import Window
from vendor_portal.findings import services as findings
from vendor_portal.gate import services as gate
from vendor_portal.graph.models import RegionRisk
from vendor_portal.kpis import services as kpi_services
from vendor_portal.kpis.models import KpiBreach
from vendor_portal.storage import FilesystemStorage
from vendor_portal.subcontracting import services as subcontracting

PRINCIPALS = (
    "anonymous",
    "admin",
    "vendor_manager",
    "procurement",
    "auditor",
    "vendor_a",
    "vendor_b",
)
INTERNAL_PRINCIPALS = ("admin", "vendor_manager", "procurement", "auditor")
# A name no page shown to vendor B may contain: vendor A's data leaking into B's lists.
VENDOR_A_NAME = "Aquila Leakcheck Hosting"


@dataclass
class World:
    users: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # principal -> API bearer token
    ids: dict[str, Any] = field(default_factory=dict)  # URL argument values, see url_args()
    vendor_a_id: int = 0
    vendor_b_id: int = 0


def build_world(session: Session, app: Flask) -> World:
    build = Builders(session)
    world = World()
    vendor_a = build.vendor(name=VENDOR_A_NAME, tier="critical")
    vendor_b = build.vendor(name="Borealis Other Vendor", tier="critical")
    world.vendor_a_id, world.vendor_b_id = vendor_a.id, vendor_b.id
    for role in ("admin", "vendor_manager", "procurement", "auditor"):
        world.users[role] = build.user(role=role)
    world.users["vendor_a"] = build.user(role="vendor_user", vendor=vendor_a)
    world.users["vendor_b"] = build.user(role="vendor_user", vendor=vendor_b)
    for principal, user in world.users.items():
        world.tokens[principal] = build.token(user, name=f"matrix {principal}")
    user_a, manager = world.users["vendor_a"], world.users["vendor_manager"]
    ids = world.ids
    ids["vendor_id"] = vendor_a.id
    ids["contact_id"] = build.contact(vendor_a).id

    # vendor services, KPIs, incidents, breaches, a staged KPI upload
    kpis = KpiBuilders(session)
    service = kpis.service(vendor_a)
    ids["vendor_service_id"] = service.id
    kpi = kpis.kpi(service)
    ids["kpi_id"] = kpi.id
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
    ids["incident_id"] = kpis.incident(service, started, started + timedelta(hours=5)).id
    month = date(started.year, started.month, 1)
    breach = KpiBreach(
        kpi_id=kpi.id,
        vendor_id=vendor_a.id,
        vendor_service_id=service.id,
        period_start=month,
        period_end=month + timedelta(days=27),
        value=99.0,
        threshold=99.9,
        comparator="gte",
    )
    session.add(breach)
    upload = kpi_services.stage_upload(
        session,
        user_a.id,
        "incidents",
        "incidents.csv",
        b"external_id,title,severity,started_at\nM-1,Outage,major,2024-01-01T00:00:00Z\n",
        datetime.now(UTC),
    )
    session.commit()
    ids["breach_id"], ids["upload_token"] = breach.id, upload.token

    # evidence (a real stored file), findings with an attachment
    evidence = EvidenceBuilder(session, app).version(vendor_a, content=pdf_bytes("matrix"))
    ids["evidence_version_id"], ids["evidence_item_id"] = evidence.id, evidence.item_id
    storage = FilesystemStorage(app.config["EVIDENCE_DIR"])
    finding = findings_factories.finding(session, vendor_a)
    ids["finding_id"] = finding.id
    with acting_as(Actor(None, "test")):
        stored = storage.save(io.BytesIO(pdf_bytes("finding")), "fix.pdf")
        ids["finding_evidence_id"] = findings.attach_evidence(
            session, finding, stored, "fix.pdf"
        ).id
        session.commit()

    # questionnaires: an assignment to vendor A (round 1), and the template behind it
    questionnaires = QuestionnaireBuilder(session)
    version = questionnaires.version()
    assignment = questionnaires.assignment(vendor_a, version)
    ids["assignment_id"], ids["round_number"] = assignment.id, 1
    ids["template_version_id"] = version.id
    ids["section_id"] = version.sections[0].id
    ids["question_id"] = version.sections[0].questions[0].id

    # graph: business service, nodes, an edge
    graph = GraphBuilders(session)
    ids["business_service_id"] = graph.business_service().id
    upstream, downstream = graph.node("Matrix capability"), graph.node("Matrix component")
    ids["node_id"] = upstream.id
    ids["edge_id"] = graph.depends(upstream, downstream).id
    rating = RegionRisk(kind="country", code="IN", name="India", source="import", details={})
    session.add(rating)
    session.commit()
    ids["rating_id"] = rating.id

    # exercises: one with vendor A only, a proposal from A, a blackout, a scenario, a feed
    exercise = exercises_factories.exercise(session, [vendor_a], organizer=manager)
    ids["exercise_id"] = exercise.id
    start = exercises_factories.soon(days=20)
    with acting_as(Actor(user_a.id, user_a.email)):
        exercises.respond(
            session,
            exercise,
            vendor_a.id,
            user_a.id,
            "proposed",
            proposed=Window(start, start + timedelta(hours=3)),
        )
        today = datetime.now(UTC).date()
        ids["blackout_id"] = exercises.add_blackout(
            session, vendor_a.id, today + timedelta(days=60), today + timedelta(days=62), "", None
        ).id
        ids["feed_token"] = exercises.create_feed_token(session, user_a)
        ids["scenario_id"] = exercises.save_scenario(
            session, None, {"name": "Matrix scenario", "description": "A drill.", "injects": ""}
        ).id
        session.commit()

    # contracts, the gate, obligations, webhooks
    with acting_as(Actor(None, "test")):
        contract = contracts.create_contract(
            session, vendor_a, title="Matrix hosting", vendor_service_ids=[service.id]
        )
        ids["contract_id"] = contract.id
        ids["exception_id"] = gate.request_exception(
            session,
            contract,
            checks=["evidence"],
            justification="Renewal in progress.",
            expires_on=datetime.now(UTC).date() + timedelta(days=30),
            user_id=world.users["procurement"].id,
        ).id
        ids["webhook_id"] = gate.create_webhook(session, "https://hooks.example.com/gate").id
        ids["obligation_id"] = (
            session.scalars(select(Obligation).order_by(Obligation.id)).first().id
        )

        # subcontracting: a declaration, a notice, a flow-down review with an evidenced item
        declaration = subcontracting.declare(
            session, vendor_a, name="Matrix Sub Datacentre", country="FR"
        )
        ids["declaration_id"] = declaration.id
        ids["notice_id"] = subcontracting.submit_notice(
            session,
            vendor_a,
            kind="new",
            subcontractor_name="Matrix Newcomer",
            subcontractor_country="FR",
            notice_days=30,
        ).id
        review = subcontracting.start_review(session, vendor_a, manager.id)
        item = review.items[0]
        stored = storage.save(io.BytesIO(pdf_bytes("flow-down")), "clause.pdf")
        subcontracting.record_item(
            session, item, outcome=item.outcome, comment="seen", evidence=stored
        )
        ids["review_id"], ids["review_item_id"] = review.id, item.id
        session.commit()

    # accounts: an invitation not yet accepted, an API token of vendor A's user
    invitee = accounts.create_user(
        session,
        email="invitee@example.com",
        name="Invitee",
        role="vendor_user",
        vendor_id=vendor_a.id,
    )
    session.commit()
    ids["user_id"] = invitee.id
    ids["invite_token"] = accounts.invite_token(app.config["SECRET_KEY"], invitee)
    ids["api_token_id"] = accounts.create_token(session, user_a, "revocable")[0].id
    session.commit()
    return world
