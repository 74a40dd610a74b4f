"""Inputs for fuzzing the importers: valid sample files and Hypothesis strategies that damage
them (bytes truncated, overwritten, inserted or deleted; columns dropped, renamed or swapped;
cells and JSON values swapped for wild ones; BOMs; other encodings; workbooks that are zips of
junk). Shared by tests/unit/test_parser_fuzzing.py and tests/web/test_import_fuzzing.py."""

from __future__ import annotations

import copy
import csv
import io
import json
import zipfile
from typing import Any

import pandas as pd
from hypothesis import strategies as st

from tests.questionnaires_factories import small_spec
from vendor_portal.graph.domain import interchange
from vendor_portal.kpis import domain as kpis
from vendor_portal.questionnaires import bank

# --- valid samples ---------------------------------------------------------------------------

GRAPH = {
    "nodes": [
        {
            "id": "svc-pay",
            "kind": "business_service",
            "name": "Card payments",
            "rto_hours": 4,
            "mtd_hours": 24,
            "downtime_cost_per_hour": 50000,
        },
        {"id": "cap-host", "kind": "capability", "name": "Payments hosting", "requires": "any"},
        {"id": "vs-acme", "kind": "vendor_service", "name": "Acme Cloud", "country": "DE"},
        {"id": "vs-beta", "kind": "vendor_service", "name": "Beta Cloud"},
        {"id": "carriers", "kind": "capability", "requires": 2},
        {"id": "c1", "kind": "vendor_service"},
        {"id": "c2", "kind": "vendor_service"},
        {"id": "euw1", "kind": "cloud_region", "name": "eu-west-1"},
    ],
    "edges": [
        {"from": "svc-pay", "to": "cap-host"},
        {"from": "svc-pay", "to": "carriers"},
        {"from": "carriers", "to": "c1"},
        {"from": "carriers", "to": "c2", "switchover_hours": 1.5},
        {"from": "cap-host", "to": "vs-acme"},
        {"from": "cap-host", "to": "vs-beta", "switchover_hours": 2},
        {"from": "vs-acme", "to": "euw1"},
        {"from": "vs-beta", "to": "euw1"},
    ],
}
GRAPH_JSON = json.dumps(GRAPH).encode()
NODES_CSV, EDGES_CSV = (text.encode() for text in interchange.to_csv(interchange.parse_json(GRAPH)))
# A Willems chain in the layout of ../shared/data/willems_2008 (a root line, then XPath columns).
WILLEMS = (
    "\ufeff/chain,,,,,,,,\n"
    "/@company,/arcs/arc/@from,/arcs/arc/@to,/stages/stage/@avgDemand,"
    "/stages/stage/@stageClassification,/stages/stage/@stageCost,/stages/stage/@stageName,"
    "/stages/stage/@stageTime,/stages/stage/@serviceLevel\n"
    "1,Part_0001,Manuf_0001,,,,,,\n"
    "1,Part_0002,Manuf_0001,,,,,,\n"
    "1,Manuf_0001,Dist_0001,,,,,,\n"
    "1,Dist_0001,Retail_0001,,,,,,\n"
    "1,,,,Part,2.5,Part_0001,10,\n"
    "1,,,,Part,1.25,Part_0002,5,\n"
    "1,,,,Manuf,40,Manuf_0001,3,\n"
    "1,,,,Dist,4,Dist_0001,1,\n"
    "1,,,120,Retail,0,Retail_0001,0,0.95\n"
).encode()

INCIDENTS_CSV = (
    b"vendor_service,external_id,title,severity,started_at,acknowledged_at,notified_at,"
    b"ended_at,description\n"
    b"10,INC-1,Outage,major,2024-03-01T10:00:00+01:00,2024-03-01T10:05:00+01:00,"
    b"2024-03-01T10:20:00+01:00,2024-03-01T12:30:00Z,Storage failure\n"
    b"Payments hosting,INC-2,Slow API,minor,2024-03-02 08:00:00,,,,\n"
    b"11,INC-3,Ongoing,critical,2024-03-03T00:00:00Z,,,,Still down\n"
)
MEASUREMENTS_CSV = (
    b"vendor_service;code;period_start;value;note\n"
    b"10;ON_TIME;2024-01-01;98.5;January\n"
    b"11;ON_TIME;2024-02-01;97;\n"
    b"payments hosting;RTO_TEST;2024-03-01;3.5;annual test\n"
)
LOOKUP = kpis.ServiceLookup({"10": 10, "payments hosting": 10, "11": 11, "12": 12})
KPI_CODES = {10: {"on_time", "rto_test"}, 11: {"on_time"}}  # measured KPIs per service
FEED = [
    {
        "id": "TaA75H7XA1DQyM2ReK2f",
        "number": "15267780622191605299",
        "begin": "2022-07-01T13:37:44+00:00",
        "created": "2022-07-01T14:05:02+00:00",
        "end": "2022-07-01T19:25:45+00:00",
        "external_desc": "[Google BigQuery] Lower throughput from the Read API",
        "severity": "medium",
        "service_name": "Google BigQuery",
        "affected_products": [{"title": "Google BigQuery", "id": "9CcrhHUcFevXPSVaSxkf"}],
        "previously_affected_locations": [{"title": "Taiwan (asia-east1)", "id": "asia-east1"}],
        "most_recent_update": {"text": "Resolved.", "status": "AVAILABLE"},
    },
    {
        "id": "abc",
        "begin": "2022-06-01T00:00:00+00:00",
        "created": "2022-05-31T23:00:00+00:00",
        "end": "",
        "severity": "high",
        "service_name": "Cloud Storage",
        "affected_products": [],
        "previously_affected_locations": [],
    },
]
FEED_JSON = json.dumps(FEED).encode()
BANK_CSV = bank.export_csv(small_spec("Fuzzed bank"))


def workbook(csv_bytes: bytes, sep: str = ",") -> bytes:
    frame = pd.read_csv(io.BytesIO(csv_bytes), sep=sep, dtype=str, keep_default_na=False)
    out = io.BytesIO()
    frame.to_excel(out, index=False, engine="openpyxl")
    return out.getvalue()


INCIDENTS_XLSX = workbook(INCIDENTS_CSV)
BANK_XLSX = bank.export_xlsx(small_spec("Fuzzed bank"))

# --- mutations -------------------------------------------------------------------------------

WILD_TEXT = [
    "",
    " ",
    "NaN",
    "nan",
    "inf",
    "-Infinity",
    "1e309",
    "-1e309",
    "9" * 400,
    "-1",
    "0",
    "1,5",
    "0x1F",
    "²",
    "١٢",
    "\x00",
    "a\x00b",
    "=HYPERLINK(1)",
    "😀" * 50,
    "x" * 5000,
    "2024-13-45",
    "9999-12-31T23:59:59Z",
    "5261-01-27T19:11:26Z",
    "0001-01-01T00:00:00+01:00",
    "1677-09-21T00:00:00Z",
    "2024-03-01T10:00:00+25:00",
    "null",
    "true",
    '"',
    "\n",
    "all",
    "any",
    "3",
]
WILD_JSON: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    10**400,
    -(10**30),
    1e308,
    float("nan"),
    float("inf"),
    0.5,
    [],
    {},
    [1, "a", None],
    {"nested": {"deeper": [1, 2, {"x": None}]}},
    "__DEEP__",  # replaced in the JSON text: nesting deeper than the parser's recursion limit
    "__DIGITS__",  # replaced in the JSON text: a number longer than Python converts to int
    *WILD_TEXT,
]
RAW_JSON = {'"__DEEP__"': "[" * 5000 + "]" * 5000, '"__DIGITS__"': "1" * 5000}
BOMS = [b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf\xef\xbb\xbf"]


def _overwrite(data: bytes, at: int, junk: bytes) -> bytes:
    return data[:at] + junk + data[at + len(junk) :]


@st.composite
def byte_mutant(draw: st.DrawFn, sample: bytes) -> bytes:
    """The sample after one to three byte-level accidents."""
    data = sample
    for _ in range(draw(st.integers(1, 3))):
        n = len(data)
        kind = draw(
            st.sampled_from(["truncate", "overwrite", "insert", "wild", "delete", "bom", "recode"])
        )
        at = draw(st.integers(0, n))
        if kind == "truncate":
            data = data[:at]
        elif kind == "overwrite":
            data = _overwrite(data, at, draw(st.binary(min_size=1, max_size=8)))
        elif kind == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=16)) + data[at:]
        elif kind == "wild":
            data = data[:at] + draw(st.sampled_from(WILD_TEXT)).encode() + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 64)) :]
        elif kind == "bom":
            data = draw(st.sampled_from(BOMS)) + data
        else:
            text = data.decode("utf-8", errors="replace")
            encoding = draw(st.sampled_from(["utf-16", "utf-16-le", "utf-32", "cp1252", "latin-1"]))
            data = text.encode(encoding, errors="replace")
    return data


@st.composite
def csv_mutant(draw: st.DrawFn, sample: bytes, sep: str = ",") -> bytes:
    """The sample's table after one to three table-level accidents, written back as CSV."""
    text = sample.decode("utf-8-sig")
    rows = [row for row in csv.reader(io.StringIO(text), delimiter=sep)]
    header_at = 1 if rows and rows[0] and rows[0][0].startswith("/chain") else 0
    for _ in range(draw(st.integers(1, 3))):
        width = max((len(r) for r in rows), default=0)
        kind = draw(
            st.sampled_from(
                ["drop_column", "rename", "swap_columns", "cell", "extra_cells", "short_row", "dup"]
            )
        )
        if not rows or not width:
            break
        column = draw(st.integers(0, width - 1))
        row = draw(st.integers(0, len(rows) - 1))
        if kind == "drop_column":
            rows = [r[:column] + r[column + 1 :] for r in rows]
        elif kind == "rename" and len(rows) > header_at and column < len(rows[header_at]):
            rows[header_at][column] = draw(st.sampled_from(WILD_TEXT) | st.text(max_size=10))
        elif kind == "swap_columns":
            other = draw(st.integers(0, width - 1))
            for r in rows:
                if column < len(r) and other < len(r):
                    r[column], r[other] = r[other], r[column]
        elif kind == "cell" and column < len(rows[row]):
            rows[row][column] = draw(st.sampled_from(WILD_TEXT) | st.text(max_size=20))
        elif kind == "extra_cells":
            rows[row] = rows[row] + draw(st.lists(st.text(max_size=5), min_size=1, max_size=3))
        elif kind == "short_row":
            rows[row] = rows[row][:column]
        elif kind == "dup":
            rows.insert(row, list(rows[row]))
    out = io.StringIO()
    csv.writer(out, delimiter=sep, lineterminator=draw(st.sampled_from(["\n", "\r\n"]))).writerows(
        rows
    )
    return out.getvalue().encode(draw(st.sampled_from(["utf-8", "utf-8-sig"])), errors="replace")


def _paths(value: Any, path: tuple = ()) -> list[tuple]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


@st.composite
def json_mutant(draw: st.DrawFn, sample: Any) -> bytes:
    """The sample with one to three values replaced by wild ones or removed, as JSON text (NaN
    and Infinity written as Python does)."""
    data = json.loads(json.dumps(sample))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(data)))
        wild = draw(
            st.sampled_from(WILD_JSON).map(copy.deepcopy)  # mutated later: never the constant
            | st.recursive(
                st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                lambda inner: (
                    st.lists(inner, max_size=3)
                    | st.dictionaries(st.text(max_size=5), inner, max_size=3)
                ),
                max_leaves=6,
            )
        )
        if not path:
            data = wild
            continue
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        if draw(st.booleans()) and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, list) and draw(st.booleans()):
            parent.insert(path[-1], wild)
        else:
            parent[path[-1]] = wild
    text = json.dumps(data)
    for marker, raw in RAW_JSON.items():
        text = text.replace(marker, raw)
    return text.encode()


@st.composite
def junk_workbook(draw: st.DrawFn) -> bytes:
    """A zip that claims to be a workbook: the right part names, junk inside."""
    names = draw(
        st.lists(
            st.sampled_from(
                [
                    "[Content_Types].xml",
                    "_rels/.rels",
                    "xl/workbook.xml",
                    "xl/_rels/workbook.xml.rels",
                    "xl/worksheets/sheet1.xml",
                    "xl/sharedStrings.xml",
                    "xl/styles.xml",
                    "docProps/app.xml",
                ]
            ),
            unique=True,
            max_size=8,
        )
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in names:
            archive.writestr(name, draw(st.binary(max_size=200) | st.sampled_from([b"<x/>", b""])))
    return out.getvalue()


def xlsx_inputs(sample_xlsx: bytes) -> st.SearchStrategy[bytes]:
    return st.one_of(
        byte_mutant(sample_xlsx),
        junk_workbook(),
        st.binary(max_size=512),
        # A real workbook whose parts are swapped for another's or emptied.
        st.sampled_from(sample_xlsx.split(b"PK")[:3]).map(lambda b: b"PK" + b),
    )


REGIONS_CSV = (
    b"kind,code,name,natural_hazard,political_instability,notes\n"
    b"country,DE,Germany,low,low,\n"
    b"country,TR,Turkey,high,medium,earthquakes\n"
    b"region,eu-west-1,Ireland (AWS),25,10.5,\n"
    b"region,us-east-1,N. Virginia,very high,,hurricanes\n"
)
