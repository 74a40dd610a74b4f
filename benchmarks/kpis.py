"""Benchmark: KPI imports and dashboards at portfolio scale, through the real app.

Targets (issue #5): with 5,000 vendor services and 1,000,000 incidents and measurements,

- importing 100,000 incidents from a CSV takes under 20 s (SQLite and PostgreSQL);
- the portfolio dashboard is served in under 300 ms and a scorecard in under 100 ms
  (server time, warm), printed beside the time of a trivial route (`/healthz`).

What it does:

1. Makes a database (a new SQLite file, or `--database-url`, PostgreSQL created when missing)
   and migrates it to head.
2. Generates the portfolio with bulk inserts (executemany on SQLite, COPY on PostgreSQL; no
   per-row ORM or audit): `--vendors` vendors, `--services` vendor services, KPIs on every
   service (availability; acknowledge and notify delays on some; on-time delivery and custom
   measured KPIs), `--incidents` incidents over `--months` months ending today (overlaps,
   month-spanning outages, a few ongoing ones), `--measurements` monthly measurements. It then
   bumps the KPI data version of every service (what every write path does) and opens the
   breaches of the generated history once, as the running system would have.
3. Writes a CSV of `--import-rows` incidents (90 % new, 10 % re-sent external ids with changed
   end times) of the last three months and imports it through the web flow as a vendor
   manager: upload, column mapping, then "Import" (parse and check every row, store all or
   nothing, one audit event, then recompute the breaches of the services touched). The import
   request is timed end to end and re-checked: every row stored, none duplicated.
4. Serves `/healthz`, the portfolio (`/kpis/`, twelve months) and a scorecard
   (`/kpis/vendors/<id>`, a vendor with five services) through the Flask test client in this
   process: after `--warmup` unmeasured rounds, `--repeat` interleaved rounds; prints the
   median and best server time of each and the ratios to the trivial route.

    .venv/bin/python benchmarks/kpis.py
    .venv/bin/python benchmarks/kpis.py --database-url postgresql://postgres@127.0.0.1:5432/vp_kpis
    .venv/bin/python benchmarks/kpis.py --services 500 --incidents 100000 --measurements 100000 \
        --import-rows 10000          # a quick run

Time is wall-clock on this machine: other work on it slows every figure; the load average is
printed before and after.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import logging
import os
import platform
import re
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from vendor_list import (  # noqa: E402 - the benchmarks folder is not a package
    BenchmarkError,
    Database,
    prepare_database,
    vendor_rows,
)

SECRET_KEY = "benchmark-only-secret-key-never-use-in-production-7f3a9c2e"
EMAIL = "bench.kpis@example.com"
PASSWORD = "Bench-kpis-2026-resilience"
IMPORT_TARGET_S = 20.0
PORTFOLIO_TARGET_MS = 300.0
SCORECARD_TARGET_MS = 100.0
SEVERITIES = np.array(["minor", "major", "critical", "maintenance"])
SEVERITY_WEIGHTS = [0.6, 0.25, 0.05, 0.1]
# Values of vendor_portal.vendors.domain.ServiceType (the vendor pages reject any other).
SERVICE_TYPES = [
    "saas",
    "cloud_iaas",
    "network",
    "business_process",
    "data_centre",
    "software_support",
]
MEASURED_CODES = (
    "on_time_delivery",
    "first_call_resolution",
    "change_success_rate",
    "ticket_backlog_days",
    "customer_satisfaction",
)
CHUNK = 100_000


# --- bulk loading ---------------------------------------------------------------------------


def bulk_insert(connection: Any, table: str, columns: Sequence[str], rows: Iterable[tuple]) -> None:
    """COPY on PostgreSQL, executemany on SQLite: no ORM objects, no per-row audit."""
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor, cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"  # noqa: S608 - our own table names
    connection.exec_driver_sql(sql, list(rows))


def instants(values_ns: np.ndarray, postgres: bool) -> list[str | None]:
    """int64 ns (NaT-min for missing) as the text each database stores for UTC instants."""
    text = np.datetime_as_string(values_ns.astype("datetime64[ns]").astype("datetime64[us]"))
    text = np.char.replace(text, "T", " ")
    suffix = "+00:00" if postgres else ""
    missing = values_ns == np.iinfo(np.int64).min
    return [None if gone else f"{t}{suffix}" for t, gone in zip(text, missing, strict=True)]


def month_starts(first: date, count: int) -> list[date]:
    out = []
    year, month = first.year, first.month
    for _ in range(count):
        out.append(date(year, month, 1))
        month += 1
        if month > 12:
            year, month = year + 1, 1
    return out


class Portfolio:
    """The generated data's shape, kept for the import file and the pages."""

    def __init__(self, args: argparse.Namespace, now: datetime) -> None:
        self.args = args
        self.now = now
        this_month = date(now.year, now.month, 1)
        self.months = month_starts(
            date(
                this_month.year - (args.months - 1 + 12 - this_month.month) // 12,
                (this_month.month - args.months) % 12 + 1,
                1,
            ),
            args.months,
        )
        self.begin = datetime(self.months[0].year, self.months[0].month, 1, tzinfo=UTC)
        self.service_ids: list[int] = []
        self.vendor_of: dict[int, int] = {}
        self.incident_keys: np.ndarray = np.empty(0)


def generate(connection: Any, args: argparse.Namespace, now: datetime) -> Portfolio:
    import sqlalchemy as sa

    rng = np.random.default_rng(args.seed)
    postgres = connection.dialect.name == "postgresql"
    shape = Portfolio(args, now)

    vendors = vendor_rows(args.vendors, seed=args.seed)
    for row in vendors:  # every benchmark vendor is a live one
        row["status"] = "active"
    connection.execute(sa.text("SELECT 1"))
    from vendor_portal.vendors.domain import ServiceType
    from vendor_portal.vendors.models import Vendor, VendorService

    service_types = [ServiceType(value) for value in SERVICE_TYPES]  # fails early if one is wrong

    connection.execute(sa.insert(Vendor.__table__), vendors)
    vendor_ids = [r[0] for r in connection.execute(sa.select(Vendor.id).order_by(Vendor.id))]
    # Services spread over vendors: most have 3-7, a few many.
    owners = np.sort(rng.choice(vendor_ids, args.services))
    owners[: len(vendor_ids)] = vendor_ids[: args.services]  # every vendor has one at least
    owners = np.sort(owners)
    service_rows = [
        {
            "vendor_id": int(owner),
            "name": f"{service_types[i % len(service_types)].label} {i:05d}",
            "service_type": service_types[i % len(service_types)].value,
            "hosting_countries": [],
            "cloud_regions": [],
            "created_at": now,
            "updated_at": now,
        }
        for i, owner in enumerate(owners, start=1)
    ]
    connection.execute(sa.insert(VendorService.__table__), service_rows)
    rows = connection.execute(sa.select(VendorService.id, VendorService.vendor_id)).all()
    shape.service_ids = [r[0] for r in rows]
    shape.vendor_of = {r[0]: r[1] for r in rows}
    services = np.array(shape.service_ids, dtype=np.int64)

    # KPIs: availability everywhere, delays on some, measured KPIs for the measured codes.
    kpis = []
    for index, service_id in enumerate(shape.service_ids):
        base = {
            "vendor_service_id": service_id,
            "period": "month",
            "statistic": "worst",
            "description": None,
            "created_at": now,
            "updated_at": now,
            "archived_at": None,
        }
        kpis.append(
            {
                **base,
                "metric": "availability",
                "code": "availability",
                "name": "Availability",
                "unit": "%",
                "comparator": "gte",
                "threshold": 99.9 if index % 5 == 0 else 99.5,
                "severities": ["critical", "major"],
            }
        )
        if index % 5 < 2:
            kpis.append(
                {
                    **base,
                    "metric": "time_to_acknowledge",
                    "code": "time_to_acknowledge",
                    "name": "Time to acknowledge",
                    "unit": "h",
                    "comparator": "lte",
                    "threshold": 2.0,
                    "severities": ["critical", "major"],
                }
            )
        if index % 5 == 2:
            kpis.append(
                {
                    **base,
                    "metric": "time_to_notify",
                    "code": "time_to_notify",
                    "name": "Time to notify",
                    "unit": "h",
                    "comparator": "lte",
                    "threshold": 4.0,
                    "period": "quarter",
                    "statistic": "p95",
                    "severities": ["critical", "major"],
                }
            )
        for code in MEASURED_CODES:
            metric = "on_time_delivery" if code == "on_time_delivery" else "custom"
            kpis.append(
                {
                    **base,
                    "metric": metric,
                    "code": code,
                    "name": code.replace("_", " ").capitalize(),
                    "unit": "days" if code == "ticket_backlog_days" else "%",
                    "comparator": "lte" if code == "ticket_backlog_days" else "gte",
                    "threshold": 6.0 if code == "ticket_backlog_days" else 90.0,
                    "severities": [],
                }
            )
    from vendor_portal.kpis.models import Kpi

    connection.execute(sa.insert(Kpi.__table__), kpis)

    # Incidents: uniform over the months, short mostly, a long tail; a few ongoing.
    span_ns = int((now - shape.begin).total_seconds()) * 10**9
    begin_ns = int(pd.Timestamp(shape.begin).value)
    now_ns = int(pd.Timestamp(now).value)
    columns = (
        "vendor_service_id",
        "external_id",
        "title",
        "description",
        "severity",
        "started_at",
        "acknowledged_at",
        "notified_at",
        "ended_at",
        "source",
        "reported_by_id",
        "created_at",
        "updated_at",
    )
    nat = np.iinfo(np.int64).min
    created_text = instants(np.array([now_ns]), postgres)[0]
    for offset in range(0, args.incidents, CHUNK):
        n = min(CHUNK, args.incidents - offset)
        started = begin_ns + rng.integers(0, span_ns, n)
        minutes = np.where(
            rng.random(n) < 0.97, rng.exponential(8, n), rng.exponential(120, n)
        ).astype(np.int64)
        ended = started + minutes * 60 * 10**9 + rng.integers(1, 60 * 10**9, n)
        ongoing = (started > now_ns - 6 * 3600 * 10**9) & (rng.random(n) < 0.3)
        ended = np.where(ongoing | (ended > now_ns), nat, ended)
        acknowledged = started + rng.exponential(20 * 60, n).astype(np.int64) * 10**9
        notified = acknowledged + rng.exponential(60 * 60, n).astype(np.int64) * 10**9
        acknowledged = np.where(acknowledged > now_ns, nat, acknowledged)
        notified = np.where(notified > now_ns, nat, notified)
        owner = rng.choice(services, n)
        severity = rng.choice(SEVERITIES, n, p=SEVERITY_WEIGHTS)
        text = {
            name: instants(values, postgres)
            for name, values in (
                ("started", started),
                ("acknowledged", acknowledged),
                ("notified", notified),
                ("ended", ended),
            )
        }
        bulk_insert(
            connection,
            "incident",
            columns,
            (
                (
                    int(owner[i]),
                    f"INC-{offset + i:07d}",
                    f"Incident {offset + i}",
                    None,
                    str(severity[i]),
                    text["started"][i],
                    text["acknowledged"][i],
                    text["notified"][i],
                    text["ended"][i],
                    "demo",
                    None,
                    created_text,
                    created_text,
                )
                for i in range(n)
            ),
        )
    # The import re-sends some of the last three months' incidents: remember their keys.
    recent = datetime(shape.months[-3].year, shape.months[-3].month, 1, tzinfo=UTC)
    from vendor_portal.kpis.models import Incident

    keys = connection.execute(
        sa.select(Incident.vendor_service_id, Incident.external_id, Incident.started_at)
        .where(Incident.started_at >= recent, Incident.ended_at.is_not(None))
        .limit(args.import_rows)
    ).all()
    shape.incident_keys = keys

    # Measurements: monthly values of the measured codes, a random subset of every slot.
    slots = len(services) * len(MEASURED_CODES) * len(shape.months)
    count = min(args.measurements, slots)
    chosen = np.sort(rng.choice(slots, count, replace=False))
    months = shape.months
    for offset in range(0, count, CHUNK):
        part = chosen[offset : offset + CHUNK]
        service_index, rest = np.divmod(part, len(MEASURED_CODES) * len(months))
        code_index, month_index = np.divmod(rest, len(months))
        values = np.where(
            code_index == 3, rng.gamma(2.0, 1.0, len(part)), 100 - rng.exponential(2.5, len(part))
        )
        bulk_insert(
            connection,
            "kpi_measurement",
            (
                "vendor_service_id",
                "code",
                "period_start",
                "value",
                "note",
                "source",
                "reported_by_id",
                "created_at",
                "updated_at",
            ),
            (
                (
                    int(services[s]),
                    MEASURED_CODES[c],
                    months[m].isoformat(),
                    round(float(v), 2),
                    None,
                    "demo",
                    None,
                    created_text,
                    created_text,
                )
                for s, c, m, v in zip(service_index, code_index, month_index, values, strict=True)
            ),
        )
    return shape


def shape_from_database(connection: Any, args: argparse.Namespace, now: datetime) -> Portfolio:
    """The shape of a portfolio generated earlier (--from-snapshot)."""
    import sqlalchemy as sa

    from vendor_portal.kpis.models import Incident
    from vendor_portal.vendors.models import VendorService

    shape = Portfolio(args, now)
    rows = connection.execute(sa.select(VendorService.id, VendorService.vendor_id)).all()
    shape.service_ids = [r[0] for r in rows]
    shape.vendor_of = {r[0]: r[1] for r in rows}
    recent = datetime(shape.months[-3].year, shape.months[-3].month, 1, tzinfo=UTC)
    shape.incident_keys = connection.execute(
        sa.select(Incident.vendor_service_id, Incident.external_id, Incident.started_at)
        .where(
            Incident.started_at >= recent,
            Incident.ended_at.is_not(None),
            Incident.external_id.like("INC-%"),
        )
        .limit(args.import_rows)
    ).all()
    return shape


def import_csv(shape: Portfolio, rows: int, seed: int) -> bytes:
    """A monitoring export of the last three months: new incidents and re-sent ones."""
    rng = np.random.default_rng(seed + 1)
    updates = min(len(shape.incident_keys), rows // 10)
    fresh = rows - updates
    recent = datetime(shape.months[-3].year, shape.months[-3].month, 1, tzinfo=UTC)
    lo = int(pd.Timestamp(recent).value)
    hi = int(pd.Timestamp(shape.now).value) - 3600 * 10**9
    started = pd.to_datetime(rng.integers(lo, hi, fresh), utc=True)
    minutes = rng.exponential(8, fresh)
    ended = started + pd.to_timedelta(minutes * 60 + 30, unit="s")
    acknowledged = started + pd.to_timedelta(rng.exponential(600, fresh) + 1, unit="s")
    frame = pd.DataFrame(
        {
            "external_id": [f"MON-{i:07d}" for i in range(fresh)],
            "vendor_service": rng.choice(shape.service_ids, fresh),
            "title": [f"Monitoring alert {i}" for i in range(fresh)],
            "severity": rng.choice(SEVERITIES, fresh, p=SEVERITY_WEIGHTS),
            "started_at": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "acknowledged_at": acknowledged.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "notified_at": "",
            "ended_at": ended.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
    )
    keys = shape.incident_keys[:updates]
    if updates:
        again_started = pd.to_datetime([k[2] for k in keys], utc=True)
        again = pd.DataFrame(
            {
                "external_id": [k[1] for k in keys],
                "vendor_service": [k[0] for k in keys],
                "title": [f"Re-sent {k[1]}" for k in keys],
                "severity": "major",
                "started_at": again_started.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "acknowledged_at": (again_started + pd.Timedelta(minutes=5)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
                "notified_at": "",
                "ended_at": (again_started + pd.Timedelta(minutes=17)).strftime(
                    "%Y-%m-%dT%H:%M:%SZ"
                ),
            }
        )
        frame = pd.concat([frame, again], ignore_index=True)
    frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False)
    return buffer.getvalue().encode()


def seed_rest(
    app: Any,
    database: Database,
    args: argparse.Namespace,
    shape: Portfolio,
    now: datetime,
    began: float,
) -> Portfolio:
    """The user, the data versions, planner statistics and the history's breaches."""
    import sqlalchemy as sa

    from vendor_portal.audit.services import Actor, acting_as
    from vendor_portal.auth.services import create_user
    from vendor_portal.extensions import db
    from vendor_portal.kpis import services

    with acting_as(Actor(None, "benchmark:seed")):
        create_user(
            db.session,
            email=EMAIL,
            name="Benchmark KPI manager",
            role="vendor_manager",
            password=PASSWORD,
        )
        # Bulk inserts bypass the ORM: mark every service's KPI data as changed.
        services.bump_data_versions(db.session, shape.service_ids)
        db.session.commit()
    if database.kind == "postgresql":
        db.session.execute(sa.text("ANALYZE"))
        db.session.commit()
    print(f"  generated in {time.perf_counter() - began:.1f} s", flush=True)
    began = time.perf_counter()
    outcome = services.recompute_breaches(db.session, shape.months[-12], now.date(), now)
    db.session.commit()
    print(
        f"  history: {outcome.evaluated:,} KPI periods of the last 12 months evaluated, "
        f"{len(outcome.opened):,} breaches opened in {time.perf_counter() - began:.1f} s",
        flush=True,
    )
    return shape


# --- measuring ------------------------------------------------------------------------------


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:  # pragma: no cover - not on Linux
        return "n/a"
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def timed_get(client: Any, path: str) -> tuple[float, Any]:
    began = time.perf_counter()
    response = client.get(path)
    elapsed = time.perf_counter() - began
    if response.status_code != 200:
        raise BenchmarkError(f"GET {path} answered {response.status_code}")
    return elapsed, response


def sign_in(client: Any) -> None:
    page = client.get("/auth/login")
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page.text)
    data = {"email": EMAIL, "password": PASSWORD}
    if token:
        data["csrf_token"] = token.group(1)
    response = client.post("/auth/login", data=data)
    if response.status_code != 302:
        raise BenchmarkError(f"sign-in failed ({response.status_code})")


def csrf(page: str) -> dict[str, str]:
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    return {"csrf_token": token.group(1)} if token else {}


def run_import(client: Any, content: bytes) -> tuple[float, float, str]:
    """Upload, map (the headers are guessed), then import; returns (upload s, import s, flash)."""
    form = client.get("/kpis/import")
    began = time.perf_counter()
    response = client.post(
        "/kpis/import",
        data={
            "kind": "incidents",
            "file": (io.BytesIO(content), "monitoring.csv"),
            **csrf(form.text),
        },
        content_type="multipart/form-data",
    )
    uploaded = time.perf_counter() - began
    if response.status_code != 302:
        raise BenchmarkError(f"upload failed ({response.status_code}): {response.text[:500]}")
    location = response.headers["Location"]
    mapping = {
        f"column_{name}": name
        for name in (
            "vendor_service",
            "external_id",
            "title",
            "severity",
            "started_at",
            "acknowledged_at",
            "notified_at",
            "ended_at",
        )
    }
    mapping["timezone"] = "UTC"
    page = client.get(location)  # the preview (not timed: a person reads it first)
    began = time.perf_counter()
    response = client.post(
        location, data={**mapping, "action": "import", **csrf(page.text)}, follow_redirects=False
    )
    imported = time.perf_counter() - began
    if response.status_code != 302 or "/kpis/incidents" not in response.headers["Location"]:
        raise BenchmarkError(f"import refused ({response.status_code}): {response.text[:2000]}")
    with client.session_transaction() as session:
        messages = [m for _, m in session.get("_flashes", [])]
    return uploaded, imported, " / ".join(messages)


def median_ms(values: Sequence[float]) -> float:
    return statistics.median(values) * 1000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument("--recreate", action="store_true", help="replace a database with tables")
    parser.add_argument("--keep-database", action="store_true")
    parser.add_argument("--vendors", type=int, default=1000)
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--incidents", type=int, default=1_000_000)
    parser.add_argument("--measurements", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=48)
    parser.add_argument("--import-rows", type=int, default=100_000)
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds per page")
    parser.add_argument("--repeat", type=int, default=9, help="measured rounds per page")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument(
        "--snapshot", type=Path, help="SQLite: save a copy of the generated database here"
    )
    parser.add_argument(
        "--from-snapshot", type=Path, help="SQLite: start from a --snapshot copy, skip generation"
    )
    parser.add_argument(
        "--generate-only", action="store_true", help="generate into --database-url and stop"
    )
    parser.add_argument(
        "--existing",
        action="store_true",
        help="--database-url already holds a generated portfolio (e.g. a copy made with "
        "createdb -T of a --generate-only one): skip generation",
    )
    args = parser.parse_args(argv)
    if (args.existing or args.generate_only) and not args.database_url:
        parser.error("--existing and --generate-only need --database-url")
    if args.generate_only:
        args.keep_database = True
    if args.services < args.vendors:
        parser.error("--services must be at least --vendors")
    return args


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="kpis-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from vendor_portal import create_app
    from vendor_portal.extensions import db
    from vendor_portal.kpis.models import Incident, KpiBreach

    logging.getLogger("vendor_portal.mail").setLevel(logging.ERROR)  # unsent breach emails

    print(
        f"KPI benchmark: {args.services:,} services of {args.vendors:,} vendors, "
        f"{args.incidents:,} incidents, {args.measurements:,} measurements over {args.months} "
        f"months; import of {args.import_rows:,} rows (Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, load average {load_average()})",
        flush=True,
    )
    with workspace(args.keep_database and args.database_url is None) as workdir:
        if args.existing:
            import sqlalchemy as sa

            from vendor_portal.config import normalise_database_url

            url = normalise_database_url(args.database_url)
            kind = sa.engine.make_url(url).get_backend_name()
            database = Database(url, kind, created=False)
        else:
            database = prepare_database(args.database_url, workdir, args.recreate)
        try:
            settings = {
                "DATABASE_URL": database.url,
                "SECRET_KEY": SECRET_KEY,
                "EVIDENCE_DIR": str(workdir / "evidence"),
                "WTF_CSRF_ENABLED": False,  # the test client posts forms without the token
            }
            app = create_app(settings)
            now = datetime.now(UTC)
            with app.app_context():
                try:
                    upgrade(revision="heads")
                except SystemExit as exc:
                    raise BenchmarkError(f"migrating failed (exit {exc.code})") from exc
                began = time.perf_counter()
                if args.from_snapshot or args.existing:
                    if args.from_snapshot:
                        db.engine.dispose()
                        shutil.copyfile(args.from_snapshot, database.sqlite_path)
                    with db.engine.begin() as connection:
                        shape = shape_from_database(connection, args, now)
                else:
                    with db.engine.begin() as connection:
                        shape = generate(connection, args, now)
                    shape = seed_rest(app, database, args, shape, now, began)
                counted = db.session.scalar(sa.select(sa.func.count(Incident.id)))
                db.session.remove()
                if args.snapshot and not args.from_snapshot:
                    db.engine.dispose()
                    shutil.copyfile(database.sqlite_path, args.snapshot)
                if args.generate_only:
                    return 0

            content = import_csv(shape, args.import_rows, args.seed)
            client = app.test_client()
            sign_in(client)
            load_before = load_average()
            uploaded, imported, message = run_import(client, content)
            print(f"  import: {message}", flush=True)
            with app.app_context():
                after = db.session.scalar(sa.select(sa.func.count(Incident.id)))
                breaches = db.session.scalar(sa.select(sa.func.count(KpiBreach.id)))
                db.session.remove()
            expected_new = args.import_rows - min(len(shape.incident_keys), args.import_rows // 10)
            if after - counted != expected_new:
                raise BenchmarkError(
                    f"{after - counted} incidents added, expected {expected_new} (duplicates?)"
                )
            # Pages: a vendor with five services (or the most there are) for the scorecard.
            per_vendor: dict[int, int] = {}
            for vendor_id in shape.vendor_of.values():
                per_vendor[vendor_id] = per_vendor.get(vendor_id, 0) + 1
            vendor_id = min(per_vendor, key=lambda v: (abs(per_vendor[v] - 5), v))
            pages = [
                ("trivial route", "/healthz"),
                ("portfolio", "/kpis/"),
                ("scorecard", f"/kpis/vendors/{vendor_id}"),
            ]
            cold: dict[str, float] = {}
            for name, path in pages:
                cold[name] = timed_get(client, path)[0]
            for _ in range(args.warmup):
                for _, path in pages:
                    timed_get(client, path)
            times: dict[str, list[float]] = {name: [] for name, _ in pages}
            sizes: dict[str, int] = {}
            for _ in range(args.repeat):
                for name, path in pages:
                    elapsed, response = timed_get(client, path)
                    times[name].append(elapsed)
                    sizes[name] = len(response.data)
            load_after = load_average()
        finally:
            if database.created and not args.keep_database:
                with contextlib.suppress(Exception):
                    database.remove()

    trivial = median_ms(times["trivial route"])
    print()
    print(f"database: {database.kind}; load average before/after the timed part: ", end="")
    print(f"{load_before} / {load_after}")
    print(
        f"import of {args.import_rows:,} incidents (CSV, {len(content) / 1e6:.1f} MB): upload "
        f"{uploaded:.2f} s, import incl. breach recompute {imported:.2f} s "
        f"(target < {IMPORT_TARGET_S:.0f} s): {'PASS' if imported < IMPORT_TARGET_S else 'FAIL'}"
    )
    print(f"  breaches now: {breaches:,}")
    print(f"{'page':<15} {'cold ms':>9} {'median ms':>10} {'best ms':>9} {'x trivial':>10}  bytes")
    for name, _ in pages:
        median = median_ms(times[name])
        print(
            f"{name:<15} {cold[name] * 1000:9.1f} {median:10.1f} "
            f"{min(times[name]) * 1000:9.1f} {median / trivial:10.1f}  {sizes[name]:,}"
        )
    portfolio = median_ms(times["portfolio"])
    scorecard = median_ms(times["scorecard"])
    print(
        f"portfolio median {portfolio:.0f} ms (target < {PORTFOLIO_TARGET_MS:.0f}): "
        f"{'PASS' if portfolio < PORTFOLIO_TARGET_MS else 'FAIL'}; scorecard median "
        f"{scorecard:.0f} ms (target < {SCORECARD_TARGET_MS:.0f}): "
        f"{'PASS' if scorecard < SCORECARD_TARGET_MS else 'FAIL'}"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        sys.exit(2)
