"""Property-based fuzzing of /api/v1 with schemathesis, against the app through WSGI.

Every documented operation gets generated requests (valid and invalid) with an admin's bearer
token on a database holding the demo data; most generated path ids are mapped onto objects that
exist, so the handlers behind the 404 are reached too. Each response must be no 5xx, a documented
status code and content type, and a body matching the documented schema. Write operations are
fuzzed too: the module has its own throwaway database.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest
import schemathesis
from flask.testing import FlaskClient
from hypothesis import settings
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from tests.conftest import base_config, reset_postgres
from vendor_portal import create_app
from vendor_portal.api.openapi import document
from vendor_portal.auth.models import User
from vendor_portal.auth.services import create_token
from vendor_portal.contracts.models import Contract
from vendor_portal.evidence.models import EvidenceVersion
from vendor_portal.exercises.models import Exercise
from vendor_portal.extensions import db
from vendor_portal.findings.models import Finding
from vendor_portal.graph.models import BusinessService
from vendor_portal.kpis.models import Incident
from vendor_portal.questionnaires.models import Assignment
from vendor_portal.subcontracting.models import (
    FlowDownItem,
    FlowDownReview,
    SubcontractorDeclaration,
)
from vendor_portal.vendors.models import Vendor, VendorService

# Bounded for CI: examples per operation in the fuzzing phase (raise it for a longer local run).
MAX_EXAMPLES = int(os.environ.get("VENDOR_PORTAL_FUZZ_EXAMPLES", "15"))

# Parameters and body fields holding ids -> the models whose ids they take.
ID_FIELDS = {
    "vendor_id": [Vendor],
    "service_id": [VendorService, BusinessService],
    "vendor_service_id": [VendorService],
    "contract_id": [Contract],
    "version_id": [EvidenceVersion],
    "exercise_id": [Exercise],
    "finding_id": [Finding],
    "incident_id": [Incident],
    "assignment_id": [Assignment],
    "review_id": [FlowDownReview],
    "item_id": [FlowDownItem],
    "declaration_id": [SubcontractorDeclaration],
}

schema = schemathesis.openapi.from_dict(
    document(),
    config=SchemathesisConfig.from_dict(
        {
            # A fixed seed keeps CI repeatable; set VENDOR_PORTAL_FUZZ_SEED to explore others.
            "seed": int(os.environ.get("VENDOR_PORTAL_FUZZ_SEED", "20260101")),
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)

CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]


class SeededApi:
    """The app with the demo data in it, an admin's token and the ids that exist."""

    def __init__(self, app, token: str, ids: dict[str, list[int]]) -> None:
        self.app = app
        self.token = token
        self.ids = ids

    def existing(self, name: str, value):
        """Most generated ids become ids that exist; every fifth is left as generated (a 404).
        Deterministic in the generated value, so Hypothesis can still shrink and replay."""
        ids = self.ids.get(name)
        if not ids or type(value) is not int or value % 5 == 0:
            return value
        return ids[value % len(ids)]

    def aim(self, case) -> None:
        if case.path_parameters:
            for name, value in case.path_parameters.items():
                case.path_parameters[name] = self.existing(name, value)
        if isinstance(case.body, dict):
            for name, value in case.body.items():
                case.body[name] = self.existing(name, value)


class BufferedClient(FlaskClient):
    """Reads each response whole and closes it, as a server would: schemathesis reads the body
    of a streamed download but leaves the file behind it open."""

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)
        return super().open(*args, **kwargs)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def seeded_api(request, tmp_path_factory) -> Iterator[SeededApi]:
    """One app per database for the whole module, seeded once: seeding for each of the ~50
    operations would cost more than the fuzzing. Like the `app` fixture, on SQLite always and
    on PostgreSQL when configured."""
    tmp_path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    if request.param == "sqlite":
        path = tmp_path / "fuzz.sqlite3"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        url = f"sqlite:///{path}"
    else:
        url = request.getfixturevalue("postgres_migrated")
    app = create_app(base_config(tmp_path, url))
    if request.param == "postgresql":
        with app.app_context():
            reset_postgres(app)
    seeded = app.test_cli_runner().invoke(args=["seed-demo"])
    assert seeded.exit_code == 0, seeded.output
    with app.app_context():
        engine = db.engine
    with Session(engine) as session:
        admin = session.scalar(select(User).where(User.role == "admin"))
        _, token = create_token(session, admin, "fuzzing")
        session.commit()
        ids = {
            name: sorted({i for model in models for i in session.scalars(select(model.id))})
            for name, models in ID_FIELDS.items()
        }
    yield SeededApi(app, token, ids)
    engine.dispose()


@schema.parametrize()
@settings(deadline=None)
def test_api_operations_answer_as_documented(case, seeded_api):
    seeded_api.aim(case)
    case.call_and_validate(
        headers={"Authorization": f"Bearer {seeded_api.token}"},
        checks=CHECKS,
        app=seeded_api.app,
        session=BufferedClient(seeded_api.app, seeded_api.app.response_class),
    )
