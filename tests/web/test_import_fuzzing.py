"""Fuzzing every upload endpoint and import command with damaged files (see tests/fuzz_inputs.py).

Through the web an importer must answer a clear refusal (422, or the form again with its error
message) or a redirect after a real import, never a server error; through the CLI a non-zero exit
with an `Error:` line and no traceback. Either way, a refusal stores nothing: the row counts of
the tables the import writes are unchanged.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from tests.fuzz_inputs import (
    BANK_CSV,
    BANK_XLSX,
    EDGES_CSV,
    FEED,
    FEED_JSON,
    GRAPH,
    GRAPH_JSON,
    NODES_CSV,
    REGIONS_CSV,
    WILLEMS,
    byte_mutant,
    csv_mutant,
    json_mutant,
    workbook,
    xlsx_inputs,
)
from tests.kpis_factories import KpiBuilders
from vendor_portal.graph.models import BusinessService, GraphEdge, GraphNode, RegionRisk
from vendor_portal.kpis.models import Incident, KpiMeasurement, KpiUpload
from vendor_portal.questionnaires.models import QuestionnaireTemplate, TemplateVersion

# Each example is a request or a command on a real database: fewer than the pure parsers get.
EXAMPLES = int(os.environ.get("VENDOR_PORTAL_FUZZ_EXAMPLES", "15"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize="VENDOR_PORTAL_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    deadline=None,
    suppress_health_check=[
        # One app, database and signed-in client per test, shared by its examples on purpose:
        # each example compares the row counts before and after itself.
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
    ],
)

GRAPH_TABLES = (GraphNode, GraphEdge, BusinessService)


def counts(session, *models) -> dict[str, int]:
    session.expire_all()
    return {m.__name__: session.scalar(select(func.count()).select_from(m)) for m in models}


@pytest.fixture
def admin(client, auth):
    auth.login_as("admin")
    return client


def upload(client, url: str, files: dict[str, tuple[bytes, str]], **fields):
    data = {name: (io.BytesIO(content), filename) for name, (content, filename) in files.items()}
    return client.post(url, data={**data, **fields}, content_type="multipart/form-data")


# How a form shows a refusal: a field's error, or the list of the file's problems.
FIELD_ERROR = b"invalid-feedback"


def assert_refused_or_imported(response, session, before, tables, marker: bytes) -> bool:
    """True when the file was imported (a redirect); else the refusal shows its problems and
    nothing was stored."""
    assert response.status_code in (302, 422), response.status_code
    if response.status_code == 302:
        return True
    assert marker in response.data or FIELD_ERROR in response.data
    assert counts(session, *tables) == before
    return False


# --- dependency graph: JSON, CSV pair, Willems chains ------------------------------------------

GRAPH_UPLOADS = st.one_of(
    st.tuples(st.just("json"), byte_mutant(GRAPH_JSON) | json_mutant(GRAPH), st.none()),
    st.tuples(
        st.just("csv"),
        byte_mutant(NODES_CSV) | csv_mutant(NODES_CSV),
        st.just(EDGES_CSV) | byte_mutant(EDGES_CSV) | csv_mutant(EDGES_CSV),
    ),
    st.tuples(st.just("willems"), byte_mutant(WILLEMS) | csv_mutant(WILLEMS), st.none()),
    st.tuples(st.sampled_from(["auto", "json", "willems"]), st.binary(max_size=400), st.none()),
)


@FUZZ
@given(upload_=GRAPH_UPLOADS)
def test_graph_uploads(admin, session, upload_):
    fmt, content, edges = upload_
    before = counts(session, *GRAPH_TABLES)
    files = {"file": (content, "graph.csv" if fmt == "csv" else "graph.json")}
    if edges is not None:
        files["edges_file"] = (edges, "edges.csv")
    response = upload(admin, "/graph/import", files, format=fmt, alternatives="Dist", confirm="y")
    assert_refused_or_imported(
        response, session, before, GRAPH_TABLES, b'data-testid="import-problems"'
    )


@FUZZ
@given(
    upload_=st.one_of(
        st.tuples(st.just("json"), byte_mutant(GRAPH_JSON) | json_mutant(GRAPH)),
        st.tuples(st.just("willems"), byte_mutant(WILLEMS) | csv_mutant(WILLEMS)),
        st.tuples(st.just("auto"), st.binary(max_size=400)),
    )
)
def test_graph_import_command(runner, session, tmp_path, upload_):
    fmt, content = upload_
    path = tmp_path / "graph-file"
    path.write_bytes(content)
    before = counts(session, *GRAPH_TABLES)
    result = runner.invoke(args=["graph", "import", str(path), "--format", fmt])
    assert_command_refused_or_done(result, session, before, GRAPH_TABLES)


def assert_command_refused_or_done(result, session, before, tables) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    if result.exit_code == 0:
        return
    assert result.exit_code == 1
    assert result.output.startswith("Error: "), result.output
    assert "Traceback" not in result.output
    assert counts(session, *tables) == before


# --- region-risk ratings -----------------------------------------------------------------------

REGION_FILES = st.binary(max_size=400) | byte_mutant(REGIONS_CSV) | csv_mutant(REGIONS_CSV)


@FUZZ
@given(content=REGION_FILES)
def test_region_risk_uploads(admin, session, content):
    before = counts(session, RegionRisk)
    response = upload(admin, "/graph/regions/import", {"file": (content, "ratings.csv")})
    assert_refused_or_imported(response, session, before, (RegionRisk,), b"Nothing was imported")


@FUZZ
@given(content=REGION_FILES)
def test_region_risk_import_command(runner, session, tmp_path, content):
    path = tmp_path / "ratings.csv"
    path.write_bytes(content)
    before = counts(session, RegionRisk)
    result = runner.invoke(args=["graph", "import-region-risk", str(path)])
    assert_command_refused_or_done(result, session, before, (RegionRisk,))


# --- question banks ------------------------------------------------------------------------------


@FUZZ
@given(
    upload_=st.one_of(
        st.tuples(st.just("bank.csv"), byte_mutant(BANK_CSV) | csv_mutant(BANK_CSV)),
        st.tuples(st.just("bank.xlsx"), xlsx_inputs(BANK_XLSX)),
        st.tuples(st.sampled_from(["bank.csv", "bank.xlsx"]), st.binary(max_size=400)),
    )
)
def test_question_bank_uploads(admin, session, upload_):
    filename, content = upload_
    tables = (QuestionnaireTemplate, TemplateVersion)
    before = counts(session, *tables)
    response = upload(
        admin, "/questionnaires/templates/import", {"file": (content, filename)}, template_id=""
    )
    assert_refused_or_imported(response, session, before, tables, b"Nothing was imported")


# --- KPI uploads: incidents and measurements (CSV, Excel), status feeds ---------------------------

KPI_TABLES = (Incident, KpiMeasurement)


@pytest.fixture
def service_id(session, build) -> int:
    return KpiBuilders(session).service(build.vendor(), name="Payments hosting").id


def incidents_csv(service: int) -> bytes:
    return (
        "vendor_service,external_id,title,severity,started_at,acknowledged_at,ended_at\n"
        f"{service},INC-1,Outage,major,2024-03-01T10:00:00+01:00,2024-03-01T10:05:00+01:00,"
        "2024-03-01T12:30:00Z\n"
        "Payments hosting,INC-2,Slow API,minor,2024-03-02 08:00:00,,\n"
    ).encode()


def kpi_upload(admin, session, service: int, kind: str, filename: str, content: bytes) -> None:
    """Upload, look at the preview, ask for the import: a refusal at any step stores nothing."""
    before = counts(session, *KPI_TABLES)
    staged_before = counts(session, KpiUpload)
    response = upload(admin, "/kpis/import", {"file": (content, filename)}, kind=kind)
    if response.status_code == 200:  # the form again, with what is wrong with the file
        assert FIELD_ERROR in response.data
        assert counts(session, *KPI_TABLES, KpiUpload) == {**before, **staged_before}
        return
    assert response.status_code == 302, response.status_code
    preview_url = response.headers["Location"]
    assert admin.get(preview_url).status_code == 200
    token = re.search(r"/kpis/import/([^/?]+)", preview_url).group(1)
    staged = session.scalar(select(KpiUpload).where(KpiUpload.token == token))
    mapping = (staged.options or {}).get("mapping") or {}
    response = admin.post(
        preview_url,
        data={
            **{f"column_{field}": column for field, column in mapping.items()},
            "service_id": str(service) if kind == "status_feed" else "",
            "timezone": "Europe/Berlin",
            "products": "",
            "locations": "",
            "disruption": "minor",
            "action": "import",
        },
    )
    assert response.status_code in (200, 302), response.status_code
    if response.status_code == 302 and "/kpis/import/" not in response.headers["Location"]:
        return  # imported
    assert counts(session, *KPI_TABLES) == before
    assert admin.get(preview_url).status_code == 200  # the problems are listed there


@FUZZ
@given(data=st.data())
def test_incident_uploads(admin, session, service_id, data):
    sample = incidents_csv(service_id)
    filename, content = data.draw(
        st.one_of(
            st.tuples(st.just("incidents.csv"), byte_mutant(sample) | csv_mutant(sample)),
            st.tuples(st.just("incidents.xlsx"), xlsx_inputs(workbook(sample))),
            st.tuples(st.just("incidents.xlsx"), csv_mutant(sample).map(_as_workbook)),
            st.tuples(st.sampled_from(["x.csv", "x.xlsx", "x.txt"]), st.binary(max_size=300)),
        )
    )
    kpi_upload(admin, session, service_id, "incidents", filename, content)


def _as_workbook(csv_bytes: bytes) -> bytes:
    try:
        return workbook(csv_bytes)
    except Exception:
        return csv_bytes


@FUZZ
@given(data=st.data())
def test_measurement_uploads(admin, session, service_id, data):
    sample = (
        "vendor_service;code;period_start;value;note\n"
        f"{service_id};on_time;2024-01-01;98.5;January\n"
    ).encode()
    content = data.draw(byte_mutant(sample) | csv_mutant(sample, sep=";"))
    kpi_upload(admin, session, service_id, "measurements", "measurements.csv", content)


@FUZZ
@given(content=byte_mutant(FEED_JSON) | json_mutant(FEED) | st.binary(max_size=300))
def test_status_feed_uploads(admin, session, service_id, content):
    kpi_upload(admin, session, service_id, "status_feed", "feed.json", content)


def test_samples_import_cleanly(admin, session, service_id, runner, tmp_path: Path):
    """The fuzzing starts from files that import: else every mutant would be refused anyway."""
    ok = upload(
        admin, "/graph/import", {"file": (GRAPH_JSON, "g.json")}, format="json", confirm="y"
    )
    assert ok.status_code == 302
    ok = upload(admin, "/graph/regions/import", {"file": (REGIONS_CSV, "r.csv")})
    assert ok.status_code == 302
    ok = upload(
        admin, "/questionnaires/templates/import", {"file": (BANK_CSV, "b.csv")}, template_id=""
    )
    assert ok.status_code == 302
    before = counts(session, Incident)["Incident"]
    kpi_upload(admin, session, service_id, "incidents", "i.csv", incidents_csv(service_id))
    assert counts(session, Incident)["Incident"] == before + 2
    path = tmp_path / "chain.csv"
    path.write_bytes(WILLEMS)
    assert runner.invoke(args=["graph", "import", str(path)]).exit_code == 0
