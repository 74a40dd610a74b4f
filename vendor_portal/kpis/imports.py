"""Imports of incidents and measurements: files (CSV, Excel, status feeds) and API lists.

One path for every source: rows are renamed to the domain's fields, checked as a whole
(domain.parse_incidents / parse_measurements), and stored only when no row has a problem, in
the caller's transaction. Services flush; callers commit.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import available_timezones

import pandas as pd
from sqlalchemy.orm import Session

from vendor_portal.kpis import domain, services
from vendor_portal.kpis.files import FileProblem, read_feed, read_table
from vendor_portal.kpis.models import KpiUpload
from vendor_portal.kpis.services import ImportProblem, ImportResult, locate

KINDS = {
    "incidents": "Incidents (CSV or Excel)",
    "status_feed": "Incidents from a status-page feed (JSON, Google Cloud format)",
    "measurements": "KPI measurements (CSV or Excel)",
}
FIELDS = {
    "incidents": domain.INCIDENT_FIELDS,
    "measurements": domain.MEASUREMENT_FIELDS,
}
REQUIRED = {
    "incidents": domain.INCIDENT_REQUIRED,
    "measurements": domain.MEASUREMENT_REQUIRED,
}
WHOLE_FILE_SERVICE = "the vendor service chosen for the whole file"


class ImportRefused(ValueError):
    """The input has problems; nothing was stored."""

    def __init__(self, problems: list[ImportProblem]) -> None:
        super().__init__(f"{len(problems)} problem(s); nothing was stored.")
        self.problems = problems


def timezones() -> list[str]:
    return sorted(available_timezones() - {"localtime", "Factory"})


@dataclass
class PreparedImport:
    """A checked upload: what would be stored, and every problem found."""

    kind: str
    columns: list[str] = field(default_factory=list)
    total: int = 0
    frame: pd.DataFrame | None = None
    problems: list[ImportProblem] = field(default_factory=list)
    creates: int = 0
    updates: int = 0
    row_label: str = "row"

    @property
    def ok(self) -> bool:
        return not self.problems and self.frame is not None

    def preview(self, limit: int = 20) -> list[dict[str, str]]:
        """The first rows as they would be stored, as text (times in UTC)."""
        if self.frame is None:
            return []
        return [
            {key: _cell(value) for key, value in row.items()}
            for row in self.frame.head(limit).to_dict("records")
        ]


def _cell(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def file_columns(upload: KpiUpload) -> list[str]:
    """The upload's column names (empty for a feed); FileProblem if it cannot be read."""
    if upload.kind == "status_feed":
        read_feed(upload.content)
        return []
    return list(read_table(upload.filename, upload.content).columns)


def prepare(session: Session, upload: KpiUpload, user: Any) -> PreparedImport:
    """Read, map and check an upload with the options chosen for it (upload.options)."""
    options = upload.options or {}
    prepared = PreparedImport(kind=upload.kind)
    fixed_service = options.get("service_id")
    lookup = services.service_lookup(
        session, user, only=int(fixed_service) if fixed_service else None
    )
    try:
        if upload.kind == "status_feed":
            prepared.row_label = "feed item"
            feed = read_feed(upload.content)
            raw = domain.status_feed_frame(
                feed,
                options.get("products", []),
                options.get("locations", []),
                options.get("disruption") or "minor",
            )
            rows = [int(i) + 1 for i in raw.index]
            if not fixed_service:
                prepared.problems.append(
                    ImportProblem(None, None, "Choose the vendor service the feed reports on.")
                )
                return prepared
            raw["vendor_service"] = str(fixed_service)
            names = {"vendor_service": WHOLE_FILE_SERVICE}
        else:
            table = read_table(upload.filename, upload.content)
            prepared.columns = list(table.columns)
            mapping = dict(options.get("mapping") or {})
            raw, mapping_problems = domain.apply_mapping(table, mapping, FIELDS[upload.kind])
            prepared.problems += [ImportProblem(None, None, m) for m in mapping_problems]
            if fixed_service and "vendor_service" not in raw:
                raw["vendor_service"] = str(fixed_service)
                mapping["vendor_service"] = WHOLE_FILE_SERVICE
            for name in REQUIRED[upload.kind]:
                if not mapping.get(name):
                    prepared.problems.append(
                        ImportProblem(
                            None,
                            None,
                            f"No column chosen for {domain.FIELD_LABELS[name]}, which is "
                            "required"
                            + (
                                " (or choose one vendor service for the whole file)."
                                if name == "vendor_service"
                                else "."
                            ),
                        )
                    )
            if prepared.problems:
                return prepared
            rows = [int(i) + 2 for i in table.index]
            names = {f: c for f, c in mapping.items() if c}
    except FileProblem as exc:
        prepared.problems.append(ImportProblem(None, None, str(exc)))
        return prepared
    return _check(session, prepared, raw, rows, names, lookup, options.get("timezone"))


def _check(
    session: Session,
    prepared: PreparedImport,
    raw: pd.DataFrame,
    rows: Sequence[int],
    names: Mapping[str, str],
    lookup: domain.ServiceLookup,
    timezone: str | None,
) -> PreparedImport:
    prepared.total = len(raw)
    if prepared.kind == "measurements":
        parsed = domain.parse_measurements(raw, lookup, services.kpi_codes(session))
    else:
        parsed = domain.parse_incidents(raw, lookup, timezone or None)
    prepared.problems += locate(parsed.errors, rows, names, label=prepared.row_label)
    prepared.frame = parsed.frame
    if not prepared.problems:
        if prepared.kind == "measurements":
            prepared.updates = services.count_existing_measurements(session, parsed.frame)
        else:
            prepared.updates = services.count_existing_incidents(session, parsed.frame)
        prepared.creates = prepared.total - prepared.updates
    return prepared


def store(session: Session, upload: KpiUpload, user: Any) -> ImportResult:
    """Check the upload again and store every row, or raise ImportRefused and store nothing."""
    prepared = prepare(session, upload, user)
    if not prepared.ok:
        raise ImportRefused(prepared.problems)
    source = {"incidents": "file", "status_feed": "status_feed", "measurements": "file"}[
        upload.kind
    ]
    origin = {
        "file": upload.filename,
        "sha256": hashlib.sha256(upload.content).hexdigest(),
        "bytes": len(upload.content),
    }
    upsert = services.upsert_measurements if upload.kind == "measurements" else None
    upsert = upsert or services.upsert_incidents
    result = upsert(session, prepared.frame, source=source, user_id=user.id, origin=origin)
    session.delete(upload)
    session.flush()
    return result


# --- the JSON API: lists of objects, errors named "[index].field" -----------------------------


def _api_frame(items: Any, fields: Sequence[str]) -> tuple[pd.DataFrame, list[ImportProblem]]:
    problems: list[ImportProblem] = []
    if isinstance(items, dict):
        items = [items]
    if not isinstance(items, list) or not items:
        return pd.DataFrame(), [ImportProblem(None, None, "Send a non-empty JSON list of objects.")]
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            problems.append(ImportProblem(index, None, "Each item must be a JSON object."))
            continue
        unknown = sorted(set(item) - set(fields))
        problems += [ImportProblem(index, name, "Unknown field.") for name in unknown]
        for name in ("vendor_service",):
            value = item.get(name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                problems.append(ImportProblem(index, name, "Must be a vendor service id."))
    if problems:
        return pd.DataFrame(), problems
    frame = pd.DataFrame([{f: item.get(f) for f in fields} for item in items], dtype=object)
    for name in fields:
        # Typed JSON values as the text a file would hold; numbers stay numbers for values.
        if name not in ("value",):
            frame[name] = frame[name].map(
                lambda v: v if v is None or isinstance(v, str) else str(v)
            )
    return frame, problems


def _json_origin(items: Any) -> dict[str, Any]:
    """What the audit event names an API import by: the SHA-256 of its canonical JSON."""
    canonical = json.dumps(items, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return {"sha256": hashlib.sha256(canonical.encode()).hexdigest()}


def api_fields(problems: Sequence[ImportProblem]) -> dict[str, str]:
    """Problems as the API's error.fields: "[3].started_at" -> message."""
    out: dict[str, str] = {}
    for problem in problems:
        key = "" if problem.row is None else f"[{problem.row}]"
        key += f".{problem.column}" if problem.column else ""
        out[key.lstrip(".") or "body"] = problem.message
    return out


def store_api_incidents(session: Session, items: Any, user: Any) -> ImportResult:
    """Incidents from a monitoring or status-page feed: each names its vendor_service id.
    Times need a UTC offset. All or nothing."""
    frame, problems = _api_frame(items, domain.INCIDENT_FIELDS)
    if problems:
        raise ImportRefused(problems)
    lookup = services.service_lookup(session, user)
    ids_only = domain.ServiceLookup({k: v for k, v in lookup.by_key.items() if k.isdigit()})
    parsed = domain.parse_incidents(frame, ids_only, naive_timezone=None)
    if parsed.errors:
        raise ImportRefused(locate(parsed.errors, list(range(len(frame))), {}, label="item"))
    return services.upsert_incidents(
        session, parsed.frame, source="api", user_id=user.id, origin=_json_origin(items)
    )


def store_api_measurements(session: Session, items: Any, user: Any) -> ImportResult:
    frame, problems = _api_frame(items, domain.MEASUREMENT_FIELDS)
    if problems:
        raise ImportRefused(problems)
    lookup = services.service_lookup(session, user)
    ids_only = domain.ServiceLookup({k: v for k, v in lookup.by_key.items() if k.isdigit()})
    parsed = domain.parse_measurements(frame, ids_only, services.kpi_codes(session))
    if parsed.errors:
        raise ImportRefused(locate(parsed.errors, list(range(len(frame))), {}, label="item"))
    return services.upsert_measurements(
        session, parsed.frame, source="api", user_id=user.id, origin=_json_origin(items)
    )
