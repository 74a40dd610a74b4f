"""One way to list things: filtering, sorting, pagination and CSV/Excel export.

A `Table` names its columns once; the HTML page, the JSON API and the export all read the
same query through it, so what a user sees is what they export.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from flask import Response
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

EXPORT_FORMATS = ("csv", "xlsx")
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class BadTableRequest(ValueError):
    """A page, sort or filter parameter that cannot be honoured; the message says which."""


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    value: Callable[[Any], Any]
    sort: Any = None  # a column expression when the table can be sorted by it


@dataclass(frozen=True)
class Page:
    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def first_index(self) -> int:
        return 0 if self.total == 0 else (self.page - 1) * self.per_page + 1

    @property
    def last_index(self) -> int:
        return min(self.total, self.page * self.per_page)

    def window(self, size: int = 2) -> list[int | None]:
        """Page numbers to show, None for a gap: 1 … 4 5 [6] 7 8 … 20."""
        shown = {1, self.pages, *range(self.page - size, self.page + size + 1)}
        numbers = sorted(n for n in shown if 1 <= n <= self.pages)
        out: list[int | None] = []
        for n in numbers:
            if out and n - (out[-1] or 0) > 1:
                out.append(None)
            out.append(n)
        return out


@dataclass
class Table:
    columns: list[Column]
    default_sort: str
    export_name: str
    sort_columns: dict[str, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.sort_columns = {c.key: c.sort for c in self.columns if c.sort is not None}

    def sorted(self, stmt: Select[Any], sort: str | None, tiebreak: Any) -> Select[Any]:
        sort = sort or self.default_sort
        descending = sort.startswith("-")
        key = sort.lstrip("-")
        if key not in self.sort_columns:
            raise BadTableRequest(
                f"Cannot sort by {key!r}; choose one of {', '.join(sorted(self.sort_columns))}."
            )
        expr = self.sort_columns[key]
        return stmt.order_by(expr.desc() if descending else expr.asc(), tiebreak.asc())

    def rows(self, items: Iterable[Any]) -> Iterator[list[Any]]:
        for item in items:
            yield [c.value(item) for c in self.columns]


MAX_PAGE = 1_000_000_000


def parse_page_args(
    args: Mapping[str, str], default_per_page: int, max_per_page: int
) -> tuple[int, int]:
    try:
        page = int(args.get("page", 1))
        per_page = int(args.get("per_page", default_per_page))
    except ValueError as exc:
        raise BadTableRequest("page and per_page must be whole numbers.") from exc
    if page < 1:
        raise BadTableRequest("page starts at 1.")
    if page > MAX_PAGE:
        # Far past any real page; much larger ones would overflow the database's row offset.
        raise BadTableRequest(f"page must be at most {MAX_PAGE}.")
    if not 1 <= per_page <= max_per_page:
        raise BadTableRequest(f"per_page must be between 1 and {max_per_page}.")
    return page, per_page


def count_rows(session: Session, stmt: Select[Any]) -> int:
    """How many rows a select gives."""
    return session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0


def paginate(
    session: Session,
    stmt: Select[Any],
    page: int,
    per_page: int,
    total: int | None = None,
    *,
    rows: bool = False,
) -> Page:
    """One page of a select, with the total count of matching rows (counted here unless the
    caller knows it). Items are the first column's objects, or with `rows` whole rows (a page
    that shows a few columns need not load ORM objects)."""
    if total is None:
        total = count_rows(session, stmt)
    limited = stmt.limit(per_page).offset((page - 1) * per_page)
    items = list(session.execute(limited)) if rows else list(session.scalars(limited).unique())
    return Page(items=items, page=page, per_page=per_page, total=total)


def _cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _csv_safe(value: Any) -> Any:
    """Neutralise cells a spreadsheet would run as a formula (CSV injection)."""
    value = _cell(value)
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def export_response(table: Table, items: Iterable[Any], fmt: str) -> Response:
    if fmt not in EXPORT_FORMATS:
        raise BadTableRequest(f"Export format must be one of {', '.join(EXPORT_FORMATS)}.")
    headers = [c.label for c in table.columns]
    filename = f"{table.export_name}-{date.today().isoformat()}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "csv":
        # Built in memory while the session is open; streaming would outlive the request's session.
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(headers)
        for row in table.rows(items):
            writer.writerow([_csv_safe(v) for v in row])
        return Response(buffer.getvalue(), mimetype="text/csv; charset=utf-8", headers=disposition)

    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(table.export_name[:31])
    sheet.append(headers)
    for row in table.rows(items):
        sheet.append([_csv_safe(v) for v in row])
    out = io.BytesIO()
    workbook.save(out)
    return Response(out.getvalue(), mimetype=XLSX_MIMETYPE, headers=disposition)
