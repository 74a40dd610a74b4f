"""The graph interchange format (stable): JSON, or the same content as a nodes CSV and an edges CSV.

```json
{"nodes": [{"id": "svc-pay", "kind": "business_service", "name": "Card payments",
            "rto_hours": 4, "mtd_hours": 24, "downtime_cost_per_hour": 50000},
           {"id": "cap-host", "kind": "capability", "requires": "any"}, ...],
 "edges": [{"from": "svc-pay", "to": "cap-host"},
           {"from": "cap-host", "to": "vs-beta", "switchover_hours": 2}, ...]}
```

Everything is checked before anything is returned: unknown kinds, missing or duplicate ids,
dangling or repeated edges, a k larger than the node's number of dependencies, negative or
non-numeric times and costs. Each problem names where it is (`nodes[3]`, `edges.csv line 7`) and
the id; a file with any problem gives no graph at all (`InvalidGraph` lists them all).
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from vendor_portal.graph.domain.model import (
    KINDS,
    SERVICE_FIELDS,
    DependencyGraph,
    Edge,
    Node,
    Requires,
    default_requires,
)
from vendor_portal.vendors.domain import country_problem

NODE_COLUMNS = ("id", "kind", "name", "requires")
EDGE_COLUMNS = ("from", "to", "switchover_hours")
NUMERIC_NODE_FIELDS = SERVICE_FIELDS
MAX_ID_LENGTH = 200
MAX_NAME_LENGTH = 200
MAX_SHOWN_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    where: str  # "nodes[3]", "nodes.csv line 4", "edges[2]", "file"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class InvalidGraph(ValueError):
    """The file cannot be imported; `problems` says every reason, each with where it is."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        shown = "; ".join(str(p) for p in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        count = "1 problem" if len(problems) == 1 else f"{len(problems)} problems"
        super().__init__(f"The graph was not imported ({count}): {shown}{more}.")


@dataclass(frozen=True)
class _Row:
    where: str
    values: Mapping[str, Any]  # missing / empty values already removed


def _present(value: Any) -> bool:
    return value is not None and not (isinstance(value, str) and value.strip() == "")


# --- reading ---------------------------------------------------------------------------------


def parse_json(source: str | bytes | Mapping[str, Any]) -> DependencyGraph:
    """A graph from interchange JSON (text, bytes, or an already decoded object)."""
    if isinstance(source, (str, bytes)):
        try:
            data = json.loads(source, parse_constant=_no_constant)
        except UnicodeDecodeError as exc:
            raise InvalidGraph([Problem("file", f"is not UTF-8 text ({exc.reason})")]) from exc
        except json.JSONDecodeError as exc:
            raise InvalidGraph(
                [Problem("file", f"is not valid JSON: {exc.msg} at line {exc.lineno}")]
            ) from exc
        except ValueError as exc:  # NaN or Infinity, or a number of more than 4300 digits
            raise InvalidGraph([Problem("file", f"is not valid JSON: {exc}")]) from exc
        except RecursionError as exc:
            raise InvalidGraph([Problem("file", "is nested too deeply to be a graph")]) from exc
    else:
        data = source
    if not isinstance(data, Mapping):
        raise InvalidGraph([Problem("file", 'must be a JSON object with "nodes" and "edges"')])
    problems: list[Problem] = []
    nodes = data.get("nodes")
    edges = data.get("edges", [])
    if not isinstance(nodes, list):
        problems.append(Problem("file", '"nodes" must be a list of node objects'))
    if not isinstance(edges, list):
        problems.append(Problem("file", '"edges" must be a list of edge objects'))
    if problems:
        raise InvalidGraph(problems)
    return _build(
        _json_rows(nodes, "nodes", problems), _json_rows(edges, "edges", problems), problems
    )


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _has_nul(value: Any) -> bool:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        if isinstance(item, Mapping):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _json_rows(items: list[Any], label: str, problems: list[Problem]) -> list[_Row]:
    rows = []
    for position, item in enumerate(items):
        where = f"{label}[{position}]"
        if not isinstance(item, Mapping):
            problems.append(Problem(where, "must be an object"))
            continue
        if _has_nul(item):
            problems.append(Problem(where, "contains a NUL character (U+0000), which is not text"))
            continue
        rows.append(_Row(where, {k: v for k, v in item.items() if _present(v)}))
    return rows


def parse_csv(
    nodes_csv: str | bytes,
    edges_csv: str | bytes | None,
    nodes_label: str = "nodes.csv",
    edges_label: str = "edges.csv",
) -> DependencyGraph:
    """A graph from a nodes CSV and an edges CSV with the JSON field names as columns."""
    problems: list[Problem] = []
    node_rows = _csv_rows(nodes_csv, nodes_label, ("id", "kind"), problems)
    edge_rows = (
        [] if edges_csv is None else _csv_rows(edges_csv, edges_label, ("from", "to"), problems)
    )
    if problems:
        raise InvalidGraph(problems)
    return _build(node_rows, edge_rows, problems)


def decode(data: str | bytes, label: str) -> str:
    """UTF-8 text (a BOM dropped); InvalidGraph naming the file when it is not."""
    if isinstance(data, str):
        text = data.lstrip("\ufeff")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidGraph([Problem(label, f"is not UTF-8 text ({exc.reason})")]) from exc
    if "\x00" in text:  # no database text column can hold it
        raise InvalidGraph([Problem(label, "contains a NUL character (U+0000), which is not text")])
    return text


def _csv_rows(
    data: str | bytes, label: str, required: tuple[str, ...], problems: list[Problem]
) -> list[_Row]:
    reader = csv.reader(io.StringIO(decode(data, label), newline=""))
    try:
        header = next(reader)
    except StopIteration:
        problems.append(
            Problem(
                label, f"is empty; the first line names the columns ({', '.join(required)}, ...)"
            )
        )
        return []
    except csv.Error as exc:
        problems.append(Problem(f"{label} line 1", f"cannot be read as CSV ({exc})"))
        return []
    columns = [c.strip() for c in header]
    missing = [c for c in required if c not in columns]
    if missing:
        problems.append(
            Problem(
                f"{label} line 1",
                f"has no {', '.join(repr(c) for c in missing)} column "
                f"(found: {', '.join(columns) or 'nothing'})",
            )
        )
        return []
    duplicated = sorted({c for c in columns if columns.count(c) > 1 and c})
    if duplicated:
        problems.append(
            Problem(f"{label} line 1", f"repeats the column(s) {', '.join(duplicated)}")
        )
        return []
    rows = []
    try:
        for cells in reader:
            where = f"{label} line {reader.line_num}"
            if not any(cell.strip() for cell in cells):
                continue  # blank line
            if len(cells) > len(columns):
                problems.append(
                    Problem(where, f"has {len(cells)} cells but the header names {len(columns)}")
                )
                continue
            values = {
                column: cell.strip()
                for column, cell in zip(columns, cells, strict=False)
                if column and cell.strip() != ""
            }
            rows.append(_Row(where, values))
    except csv.Error as exc:
        problems.append(
            Problem(f"{label} line {reader.line_num}", f"cannot be read as CSV ({exc})")
        )
    return rows


def _number(value: Any) -> float | None:
    """A finite number from JSON or CSV text, or None when it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int beyond any float
            return None
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _requires(value: Any) -> Requires | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 1 else None
    if isinstance(value, float):
        return int(value) if value.is_integer() and value >= 1 else None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in ("all", "any"):
            return text
        if text.isascii() and text.isdigit() and int(text) >= 1:
            return int(text)
    return None


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip()
    return None


def _build(
    node_rows: list[_Row], edge_rows: list[_Row], problems: list[Problem]
) -> DependencyGraph:
    nodes: list[Node] = []
    first_seen: dict[str, str] = {}
    where_of: dict[str, str] = {}
    for row in node_rows:
        node = _node(row, problems)
        if node is None:
            continue
        if node.id in first_seen:
            problems.append(
                Problem(row.where, f"duplicate id {node.id!r} (first at {first_seen[node.id]})")
            )
            continue
        first_seen[node.id] = row.where
        where_of[node.id] = row.where
        nodes.append(node)
    known = set(first_seen)
    # Ids named by rows that were rejected are not reported again as dangling ends.
    rejected = {
        text for row in node_rows if (text := _text(row.values.get("id"))) and text not in known
    }

    edges: list[Edge] = []
    edge_seen: dict[tuple[str, str], str] = {}
    out_degree: dict[str, int] = {}
    for row in edge_rows:
        edge = _edge(row, known, rejected, problems)
        if edge is None:
            continue
        pair = (edge.source, edge.target)
        if pair in edge_seen:
            problems.append(
                Problem(
                    row.where,
                    f"repeats the edge {edge.source} -> {edge.target} (first at {edge_seen[pair]})",
                )
            )
            continue
        edge_seen[pair] = row.where
        out_degree[edge.source] = out_degree.get(edge.source, 0) + 1
        edges.append(edge)

    for node in nodes:
        if isinstance(node.requires, int) and node.requires > out_degree.get(node.id, 0):
            count = out_degree.get(node.id, 0)
            problems.append(
                Problem(
                    f"{where_of[node.id]} (id {node.id!r})",
                    f"requires {node.requires} of its dependencies but has "
                    f"{'only ' if count else ''}{count}",
                )
            )
    if problems:
        raise InvalidGraph(problems)
    graph = DependencyGraph(nodes, edges)
    graph.locations = where_of
    return graph


def _node(row: _Row, problems: list[Problem]) -> Node | None:
    values = dict(row.values)
    raw_id = values.pop("id", None)
    ok = True
    if raw_id is None:
        problems.append(Problem(row.where, "has no id"))
        return None
    if not isinstance(raw_id, str):
        problems.append(Problem(row.where, f"id {raw_id!r} must be a string"))
        return None
    node_id = raw_id.strip()
    label = f"{row.where} (id {node_id!r})"
    if len(node_id) > MAX_ID_LENGTH:
        problems.append(Problem(label, f"id is longer than {MAX_ID_LENGTH} characters"))
        ok = False
    kind = values.pop("kind", None)
    if kind is None:
        problems.append(Problem(label, f"has no kind; expected one of {', '.join(sorted(KINDS))}"))
        ok = False
    elif not isinstance(kind, str) or kind.strip() not in KINDS:
        problems.append(
            Problem(label, f"unknown kind {kind!r}; expected one of {', '.join(sorted(KINDS))}")
        )
        ok = False
    else:
        kind = kind.strip()
    name = values.pop("name", None)
    if name is not None and not isinstance(name, str):
        problems.append(Problem(label, "name must be text"))
        ok = False
    elif name is not None and len(name.strip()) > MAX_NAME_LENGTH:
        problems.append(Problem(label, f"name is longer than {MAX_NAME_LENGTH} characters"))
        ok = False
    requires: Requires | None = None
    if "requires" in values:
        raw = values.pop("requires")
        requires = _requires(raw)
        if requires is None:
            problems.append(
                Problem(label, f"requires {raw!r} must be 'all', 'any' or a positive integer")
            )
            ok = False
    for field in NUMERIC_NODE_FIELDS:
        if field in values:
            number = _number(values[field])
            if number is None:
                problems.append(Problem(label, f"{field} {values[field]!r} is not a number"))
                ok = False
            elif number < 0:
                problems.append(
                    Problem(label, f"{field} must not be negative (got {values[field]})")
                )
                ok = False
            else:
                values[field] = int(number) if number.is_integer() else number
    if "country" in values:
        country = values["country"]
        message = country_problem(country.strip()) if isinstance(country, str) else "must be text"
        if message:
            problems.append(Problem(label, f"country: {message}"))
            ok = False
        else:
            values["country"] = country.strip().upper()
    if not ok:
        return None
    return Node(
        node_id,
        kind,  # type: ignore[arg-type]
        (name or "").strip() or node_id,
        requires if requires is not None else default_requires(kind),  # type: ignore[arg-type]
        values,
    )


def _edge(row: _Row, known: set[str], rejected: set[str], problems: list[Problem]) -> Edge | None:
    values = dict(row.values)
    source = values.pop("from", None)
    target = values.pop("to", None)
    if not isinstance(source, str) or not isinstance(target, str):
        missing = [n for n, v in (("from", source), ("to", target)) if not isinstance(v, str)]
        problems.append(
            Problem(row.where, f"needs {' and '.join(repr(m) for m in missing)} (node ids)")
        )
        return None
    source, target = source.strip(), target.strip()
    label = f"{row.where} ({source} -> {target})"
    ok = True
    for end, role in ((source, "from"), (target, "to")):
        if end not in known and end not in rejected:
            problems.append(Problem(label, f"{role} {end!r} is not a node in this file"))
            ok = False
        elif end in rejected:
            ok = False
    switchover = 0.0
    if "switchover_hours" in values:
        raw = values.pop("switchover_hours")
        number = _number(raw)
        if number is None:
            problems.append(Problem(label, f"switchover_hours {raw!r} is not a number"))
            ok = False
        elif number < 0:
            problems.append(Problem(label, f"switchover_hours must not be negative (got {raw})"))
            ok = False
        else:
            switchover = number
    if not ok:
        return None
    return Edge(source, target, switchover, values)


# --- writing ---------------------------------------------------------------------------------


def node_document(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        "kind": node.kind,
        "name": node.name,
        "requires": node.requires,
        **{k: node.attributes[k] for k in sorted(node.attributes)},
    }


def edge_document(edge: Edge) -> dict[str, Any]:
    hours = edge.switchover_hours
    return {
        "from": edge.source,
        "to": edge.target,
        "switchover_hours": int(hours) if float(hours).is_integer() else hours,
        **{k: edge.attributes[k] for k in sorted(edge.attributes)},
    }


def to_document(graph: DependencyGraph) -> dict[str, Any]:
    return {
        "nodes": [node_document(n) for n in graph.nodes],
        "edges": [edge_document(e) for e in graph.edges],
    }


def to_json(graph: DependencyGraph) -> str:
    return json.dumps(to_document(graph), indent=2, ensure_ascii=False) + "\n"


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _csv(rows: Iterable[dict[str, Any]], first: tuple[str, ...]) -> str:
    rows = list(rows)
    extra = sorted({k for row in rows for k in row} - set(first))
    columns = [*first, *extra]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_csv_cell(row.get(c)) for c in columns])
    return out.getvalue()


def to_csv(graph: DependencyGraph) -> tuple[str, str]:
    """The nodes CSV and the edges CSV."""
    document = to_document(graph)
    return _csv(document["nodes"], NODE_COLUMNS), _csv(document["edges"], EDGE_COLUMNS)


def iter_problems(problems: list[Problem], limit: int = MAX_SHOWN_PROBLEMS) -> Iterator[str]:
    for problem in problems[:limit]:
        yield str(problem)
    if len(problems) > limit:
        yield f"… and {len(problems) - limit} more problems"
