"""Property-based fuzzing of every importer's parser, without a database or Flask.

Each parser gets arbitrary bytes and near-valid files (a valid sample truncated, with bytes
overwritten, inserted or deleted, with a column dropped or renamed, cells swapped for wild values
such as NaN, 1e309, 400-digit numbers, NUL or far-away dates, a BOM, another encoding, JSON
values of the wrong type, workbooks that are zips of junk). It must answer with its own error
type carrying a message a person can act on, or with a valid result: never another exception.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz_inputs import (
    BANK_CSV,
    BANK_XLSX,
    EDGES_CSV,
    FEED,
    FEED_JSON,
    GRAPH,
    GRAPH_JSON,
    INCIDENTS_CSV,
    INCIDENTS_XLSX,
    KPI_CODES,
    LOOKUP,
    MEASUREMENTS_CSV,
    NODES_CSV,
    REGIONS_CSV,
    WILLEMS,
    byte_mutant,
    csv_mutant,
    json_mutant,
    workbook,
    xlsx_inputs,
)
from vendor_portal.graph.domain import interchange, regions
from vendor_portal.graph.domain.files import read_graph_file
from vendor_portal.graph.domain.interchange import InvalidGraph
from vendor_portal.kpis import domain as kpis
from vendor_portal.kpis.files import FileProblem, read_feed, read_table
from vendor_portal.questionnaires import bank

# Bounded for CI; VENDOR_PORTAL_FUZZ_EXAMPLES raises it for a longer local hunt.
EXAMPLES = int(os.environ.get("VENDOR_PORTAL_FUZZ_EXAMPLES", "100"))
FUZZ = settings(
    max_examples=EXAMPLES,
    # Repeatable in CI; random (and so exploring) when a longer hunt is asked for.
    derandomize="VENDOR_PORTAL_FUZZ_EXAMPLES" not in os.environ,
    database=None,
    deadline=None,  # pandas and openpyxl take a variable while to warm up
    # Samples are built from fixed files, so most inputs are large by design.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
SLOW_FUZZ = settings(FUZZ, max_examples=max(EXAMPLES // 4, 10))  # Excel: ~10 ms a workbook

# --- what every parser must do ----------------------------------------------------------------


def refused_or_parsed(parse: Callable[[], Any], error: type[Exception]) -> Any:
    """The parser's result, or None when it refused with its own error and a message."""
    try:
        return parse()
    except error as exc:
        assert str(exc).strip(), f"{error.__name__} without a message"
        return None


# --- graph interchange (JSON, CSV pair), Willems chains ----------------------------------------


def assert_graph_is_whole(graph) -> None:
    ids = [n.id for n in graph.nodes]
    assert len(ids) == len(set(ids))
    assert all(e.source in ids and e.target in ids for e in graph.edges)
    # What was imported can be exported and imported again unchanged.
    again = interchange.parse_json(interchange.to_json(graph))
    assert [n.id for n in again.nodes] == ids


def graph_or_problems(parse: Callable[[], Any]) -> None:
    try:
        graph = parse()
    except InvalidGraph as exc:
        assert exc.problems and str(exc).startswith("The graph was not imported")
        assert all(p.where and p.message for p in exc.problems)
        return
    assert_graph_is_whole(graph)


@FUZZ
@given(data=st.binary(max_size=2000), name=st.sampled_from(["g.json", "g.csv", "chain.csv", "x"]))
def test_graph_files_of_arbitrary_bytes(data, name):
    graph_or_problems(lambda: read_graph_file(data, name))
    graph_or_problems(lambda: read_graph_file(data, name, fmt="willems"))


@FUZZ
@given(data=byte_mutant(GRAPH_JSON) | json_mutant(GRAPH))
def test_graph_json_near_valid(data):
    graph_or_problems(lambda: read_graph_file(data, "graph.json"))


@FUZZ
@given(
    nodes=byte_mutant(NODES_CSV) | csv_mutant(NODES_CSV) | st.just(NODES_CSV),
    edges=byte_mutant(EDGES_CSV) | csv_mutant(EDGES_CSV) | st.just(EDGES_CSV),
)
def test_graph_csv_pairs_near_valid(nodes, edges):
    graph_or_problems(lambda: read_graph_file(nodes, "nodes.csv", edges, "edges.csv"))


@FUZZ
@given(
    data=byte_mutant(WILLEMS) | csv_mutant(WILLEMS),
    alternatives=st.sampled_from(["", "Dist", "Dist;Manuf,Retail", ";;"]),
)
def test_willems_chains_near_valid(data, alternatives):
    graph_or_problems(
        lambda: read_graph_file(data, "chain.csv", fmt="willems", alternatives=alternatives)
    )


def test_the_samples_themselves_parse():
    """The fuzzing starts from valid files: if these fail, the mutants prove nothing."""
    assert len(read_graph_file(GRAPH_JSON, "g.json").nodes) == 8
    assert len(read_graph_file(NODES_CSV, "n.csv", EDGES_CSV).edges) == 8
    assert len(read_graph_file(WILLEMS, "chain.csv").nodes) == 5
    table = read_table("i.csv", INCIDENTS_CSV)
    raw, problems = kpis.apply_mapping(
        table, kpis.guess_mapping(table.columns, kpis.INCIDENT_FIELDS), kpis.INCIDENT_FIELDS
    )
    assert not problems
    assert not kpis.parse_incidents(raw, LOOKUP, "Europe/Berlin").errors
    assert len(read_table("i.xlsx", INCIDENTS_XLSX)) == 3
    table = read_table("m.csv", MEASUREMENTS_CSV)
    raw, _ = kpis.apply_mapping(
        table, kpis.guess_mapping(table.columns, kpis.MEASUREMENT_FIELDS), kpis.MEASUREMENT_FIELDS
    )
    assert not kpis.parse_measurements(raw, LOOKUP, KPI_CODES).errors
    assert len(kpis.status_feed_frame(read_feed(FEED_JSON))) == 2
    assert bank.import_bank("b.csv", BANK_CSV, "B").spec is not None
    assert bank.import_bank("b.xlsx", BANK_XLSX, "B").spec is not None


# --- KPI imports: incidents and measurements (CSV, Excel), status feeds ------------------------


def check_rows(filename: str, content: bytes, fields, timezone: str | None = "UTC") -> None:
    """read_table refuses with FileProblem or gives a table; the row checks then report every
    problem as a CellError and never raise."""
    table = refused_or_parsed(lambda: read_table(filename, content), FileProblem)
    if table is None:
        return
    mapping = kpis.guess_mapping(table.columns, fields)
    raw, problems = kpis.apply_mapping(table, mapping, fields)
    assert all(isinstance(p, str) and p for p in problems)
    if problems or any(f not in raw for f in fields):
        return
    if fields is kpis.INCIDENT_FIELDS:
        parsed = kpis.parse_incidents(raw, LOOKUP, timezone)
    else:
        parsed = kpis.parse_measurements(raw, LOOKUP, KPI_CODES)
    assert all(e.message for e in parsed.errors)
    if not parsed.errors:
        assert len(parsed.frame) == len(raw)


@FUZZ
@given(
    content=st.binary(max_size=2000) | byte_mutant(INCIDENTS_CSV) | csv_mutant(INCIDENTS_CSV),
    timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/St_Johns", None]),
)
def test_incident_csv_files(content, timezone):
    check_rows("incidents.csv", content, kpis.INCIDENT_FIELDS, timezone)


@FUZZ
@given(content=byte_mutant(MEASUREMENTS_CSV) | csv_mutant(MEASUREMENTS_CSV, sep=";"))
def test_measurement_csv_files(content):
    check_rows("measurements.csv", content, kpis.MEASUREMENT_FIELDS)


@SLOW_FUZZ
@given(content=xlsx_inputs(INCIDENTS_XLSX))
def test_incident_workbooks_damaged(content):
    check_rows("incidents.xlsx", content, kpis.INCIDENT_FIELDS)


@SLOW_FUZZ
@given(content=csv_mutant(INCIDENTS_CSV))
def test_incident_workbooks_with_wild_cells(content):
    try:
        xlsx = workbook(content)
    except Exception:
        return
    check_rows("incidents.xlsx", xlsx, kpis.INCIDENT_FIELDS)


def check_feed(content: bytes) -> None:
    feed = refused_or_parsed(lambda: read_feed(content), FileProblem)
    if feed is None:
        return
    for products, locations in (([], []), (["google bigquery"], ["asia-east1"])):
        frame = kpis.status_feed_frame(feed, products, locations, "minor")
        frame["vendor_service"] = "10"
        parsed = kpis.parse_incidents(frame, LOOKUP, None)
        assert all(e.message for e in parsed.errors)


@FUZZ
@given(content=st.binary(max_size=1000) | byte_mutant(FEED_JSON) | json_mutant(FEED))
def test_status_feeds(content):
    check_feed(content)


# --- question banks (CSV, Excel, CISA layout) ---------------------------------------------------


def check_bank(filename: str, content: bytes) -> None:
    imported = bank.import_bank(filename, content, "Fuzzed bank")
    assert (imported.spec is None) != (not imported.errors)
    assert all(isinstance(e, str) and e.strip() for e in imported.errors)


@FUZZ
@given(
    content=st.binary(max_size=2000) | byte_mutant(BANK_CSV) | csv_mutant(BANK_CSV),
    filename=st.sampled_from(["bank.csv", "bank.txt"]),
)
def test_question_bank_csv(content, filename):
    check_bank(filename, content)


@SLOW_FUZZ
@given(content=xlsx_inputs(BANK_XLSX))
def test_question_bank_workbooks(content):
    check_bank("bank.xlsx", content)


def test_cisa_bank_from_shared_data_near_valid(shared_data):
    path = shared_data / "questionnaires" / "cisa_vendor_scrm_questions.csv"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    sample = path.read_bytes()

    @SLOW_FUZZ
    @given(content=byte_mutant(sample) | csv_mutant(sample))
    def fuzz(content):
        check_bank("cisa.csv", content)

    fuzz()


# --- region-risk ratings (CSV) and the public index files they can be computed from -----------


@FUZZ
@given(content=st.binary(max_size=1000) | byte_mutant(REGIONS_CSV) | csv_mutant(REGIONS_CSV))
def test_region_risk_csv(content):
    ratings = refused_or_parsed(lambda: regions.parse_csv(content), regions.InvalidRatings)
    if ratings is not None:
        assert ratings and len({r.key for r in ratings}) == len(ratings)


INDEX_CSV = "ISO3,Name,2019,2020\nDEU,Germany,0.6,0.7\nFRA,France,0.3,..\nTUR,Turkey,-1.1,NA\n"


@FUZZ
@given(content=byte_mutant(INDEX_CSV.encode()) | csv_mutant(INDEX_CSV.encode()))
def test_region_risk_index_files(content):
    text = content.decode("utf-8", errors="replace")
    refused_or_parsed(lambda: regions.latest_values(text, "index.csv"), regions.IndexFileError)


# --- inputs that broke a parser once: kept as plain regressions ---------------------------------

DEEP = "[" * 5000 + "]" * 5000
DIGITS = "1" * 5000


@pytest.mark.parametrize(
    "text",
    [
        '{"nodes": [{"id": "a", "kind": "business_service", "rto_hours": 1%s}]}' % ("0" * 400),
        '{"nodes": [{"id": "a", "kind": "facility"}, {"id": "b", "kind": "facility"}], "edges": '
        '[{"from": "a", "to": "b", "switchover_hours": 1%s}]}' % ("0" * 400),
        '{"nodes": [{"id": "a", "kind": "capability", "requires": "\u00b2"}]}',
        '{"nodes": [{"id": "a", "kind": "facility", "x": NaN}]}',
        '{"nodes": [' + DIGITS + "]}",
        '{"nodes": ' + DEEP + "}",
    ],
    ids=["huge-hours", "huge-switchover", "superscript-k", "nan", "5000-digits", "deep"],
)
def test_graph_json_regressions(text):
    with pytest.raises(InvalidGraph) as refused:
        read_graph_file(text.encode(), "graph.json")
    assert refused.value.problems


def test_willems_regressions():
    with pytest.raises(InvalidGraph, match="not UTF-8"):
        read_graph_file(b"\x80\xff", "chain.csv", fmt="willems")
    chain = WILLEMS.replace(b"Part,2.5,", b"Part,NaN,")
    graph = read_graph_file(chain, "chain.csv", fmt="willems")
    assert graph.node("Part_0001").attributes["stage_cost"] == "NaN"  # kept as text, not NaN


@pytest.mark.parametrize(
    "content",
    [
        DEEP.encode(),
        DIGITS.encode(),
        b'[{"id": "x", "begin": "2022-01-01T00:00:00Z", "affected_products": true}]',
        b'[{"id": "x", "begin": "2022", "most_recent_update": []}]',
    ],
    ids=["deep", "digits", "products", "update"],
)
def test_status_feed_regressions(content):
    with pytest.raises(FileProblem):
        read_feed(content)


def test_instant_regressions():
    values = pd.Series(["5261-01-27T19:11:26Z", "2024-03-01T10Z", "2024-03-01 10:00", "0001-01-01"])
    parsed, bad = kpis.parse_instants(values, "Europe/Berlin")
    assert bad.tolist() == [True, True, False, True]
    assert parsed[2] == pd.Timestamp("2024-03-01T09:00:00Z")


def test_question_bank_regressions():
    imported = bank.import_bank("b.csv", b"section,code,Code,question,type\n", "B")
    assert imported.spec is None and "more than once" in imported.errors[0]
    # A row wider than the header: pandas would shift every cell one column to the right.
    imported = bank.import_bank("b.csv", b"section,code,question,type\nS,C1,Q?,text,x\n", "B")
    assert imported.spec is None and "more cells" in imported.errors[0]
    imported = bank.import_bank("b.csv", BANK_CSV.replace(b"?", b"?\x00", 1), "B")
    assert imported.spec is None and "NUL" in imported.errors[0]


@pytest.mark.parametrize(
    "content",
    [b"a,b\n1,2,3\n4,5,6\n", INCIDENTS_CSV.replace(b"Outage", b"Out\x00age")],
    ids=["wider-rows", "nul"],
)
def test_kpi_table_regressions(content):
    with pytest.raises(FileProblem):
        read_table("incidents.csv", content)


def test_nul_characters_are_refused_by_the_graph_and_region_parsers():
    with pytest.raises(InvalidGraph, match="NUL"):
        read_graph_file(GRAPH_JSON.replace(b"Card payments", b"Card\\u0000payments"), "g.json")
    with pytest.raises(InvalidGraph, match="NUL"):
        read_graph_file(NODES_CSV.replace(b"svc-pay", b"svc\x00pay", 1), "n.csv", EDGES_CSV)
    with pytest.raises(regions.InvalidRatings, match="NUL"):
        regions.parse_csv(REGIONS_CSV.replace(b"Germany", b"Ger\x00many"))
    with pytest.raises(regions.IndexFileError):
        regions.latest_values("ISO3,\u00b2\nDEU,1\n", "index.csv")  # no year column: "²" is none
