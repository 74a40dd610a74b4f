"""Reading uploaded tables (CSV or Excel) and status feeds into frames. No flask, no database."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pandas as pd

TABLE_EXTENSIONS = (".csv", ".xlsx")
FEED_EXTENSIONS = (".json",)


class FileProblem(ValueError):
    """The file cannot be read; the message says why in words a user can act on."""


def read_table(filename: str, content: bytes) -> pd.DataFrame:
    """The first sheet or the CSV as text cells (Excel dates stay datetimes), blank rows dropped.

    The index keeps each row's position, so that row numbers refer to the file: index i is
    line/row i + 2 (the header is row 1).
    """
    name = filename.lower()
    if not content:
        raise FileProblem("The file is empty.")
    if name.endswith(".csv"):
        table = _read_csv(content)
    elif name.endswith(".xlsx"):
        try:
            table = pd.read_excel(io.BytesIO(content), dtype=object, engine="openpyxl")
        except Exception as exc:  # openpyxl raises many types for a damaged workbook
            raise FileProblem(f"This is not a readable Excel workbook ({exc}).") from exc
    else:
        raise FileProblem("Upload a .csv or .xlsx file.")
    table.columns = [str(c).strip() for c in table.columns]
    if any(c.startswith("Unnamed:") for c in table.columns) or not len(table.columns):
        raise FileProblem("Every column needs a name in the first row.")
    duplicated = sorted({c for c in table.columns if list(table.columns).count(c) > 1})
    if duplicated:
        raise FileProblem(f"Column names must be unique; repeated: {', '.join(duplicated)}.")
    blank = table.map(lambda v: v is None or (isinstance(v, float) and pd.isna(v)) or v == "")
    table = table[~blank.all(axis=1)]
    if table.empty:
        raise FileProblem("The file has a header row but no data rows.")
    return table


def _read_csv(content: bytes) -> pd.DataFrame:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - cp1252 decodes nearly anything
        raise FileProblem("The file is not text in UTF-8 or Windows-1252.")
    if "\x00" in text:
        raise FileProblem("The file contains NUL characters: it is not a CSV text file.")
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    try:
        table = pd.read_csv(
            io.StringIO(text),
            sep=delimiter,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FileProblem(f"This CSV cannot be read: {exc}".strip()) from exc
    if not isinstance(table.index, pd.RangeIndex):
        # pandas turns the first column(s) into an index when the rows are wider than the header
        raise FileProblem("The rows have more cells than the first row names columns.")
    return table


def read_feed(content: bytes) -> list[dict[str, Any]]:
    from vendor_portal.kpis.domain import feed_problem

    try:
        data = json.loads(content.decode("utf-8-sig"))
    # ValueError: also a number of more than 4300 digits; RecursionError: nesting too deep.
    except (ValueError, RecursionError) as exc:
        raise FileProblem(f"This is not a JSON file: {exc}.") from exc
    if "\x00" in json.dumps(data, ensure_ascii=False):  # a "\u0000" in a string: not storable
        raise FileProblem("The feed contains NUL characters (U+0000), which are not text.")
    if isinstance(data, dict) and isinstance(data.get("incidents"), list):
        data = data["incidents"]  # some status pages wrap the list
    problem = feed_problem(data)
    if problem:
        raise FileProblem(problem)
    return data
