"""Load test: wrk at 20 concurrent connections over the main pages and API reads, on gunicorn.

For every route it prints requests, requests/s, p50/p95/p99 and errors (any answer but 200, and
wrk's socket errors), beside the trivial route `/healthz`. Pages are requested with a signed-in
session cookie (a vendor manager), API reads with a Bearer token of the same user.

Data (`--size`):

- `tiny`: a few seconds per route on a small portfolio; what the test suite runs;
- `small`: 500 vendors, 50,000 incidents and measurements, a 20,000-edge graph (SQLite is fine);
- `full`: 5,000 vendors, 1,000,000 incidents and measurements, a 1,000,000-edge graph; meant
  for PostgreSQL (`--database-url`).

Vendors, services, KPIs, incidents and measurements come from `benchmarks/kpis.py`'s bulk
generator (COPY on PostgreSQL, executemany on SQLite); the dependency graph is a generated
supply map (`vendor_portal.graph.domain.synthetic`, shaped as in `benchmarks/graph.py`)
bulk-inserted by `benchmarks/graph.py`'s driver-level inserter, then the app adds the nodes
built from vendor and service records and stores the SPOF and concentration analyses once, as
the first view after an import would. Generation is timed and printed.

`--keep-database` keeps a generated database; `--existing` measures one again without
generating (e.g. before and after a change).

    .venv/bin/python benchmarks/load.py --size small
    .venv/bin/python benchmarks/load.py --size full --duration 20 --keep-database \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/vendor_portal_load --recreate
    .venv/bin/python benchmarks/load.py --size full --duration 20 --existing \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/vendor_portal_load

Exit status 0 unless `--fail-on-errors` is given and some route had errors.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import graph as graph_bench  # noqa: E402 - the benchmarks folder is not a package
import kpis as kpi_bench  # noqa: E402
import vendor_list as bench  # noqa: E402

SIZES = {
    # vendors, services, incidents, measurements, graph edges
    "tiny": (60, 120, 3_000, 3_000, 2_000),
    "small": (500, 1_000, 50_000, 50_000, 20_000),
    "full": (5_000, 5_000, 1_000_000, 1_000_000, 1_000_000),
}
GRAPH_SEED = 20261125
# business services and loops of the generated supply map (as benchmarks/graph.py at 1M edges)
GRAPH_SHAPES = {"tiny": (10, 2), "small": (100, 5), "full": (5_000, 20)}
EMAIL, PASSWORD = kpi_bench.EMAIL, kpi_bench.PASSWORD


@dataclass
class Route:
    name: str
    path: str
    api: bool = False


@dataclass
class Outcome:
    route: Route
    requests: int
    duration_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: dict[str, int]
    statuses: dict[str, int]
    others_cpu_pct: float | None = None  # CPU other processes took meanwhile (Linux)
    cpu_ms_per_request: float | None = None  # gunicorn, wrk and the database per answer
    restarted: bool = False  # still busy after the run: the server was restarted


def generate(database: bench.Database, workdir: Path, size: str) -> dict[str, int]:
    """Migrate and fill the database; returns ids the routes need."""
    from flask_migrate import upgrade

    from vendor_portal import create_app
    from vendor_portal.audit.services import Actor, acting_as
    from vendor_portal.extensions import db
    from vendor_portal.graph import services as graph_services
    from vendor_portal.graph.domain.synthetic import supply_map

    vendors, services, incidents, measurements, edges = SIZES[size]
    args = kpi_bench.parse_args(
        [
            f"--vendors={vendors}",
            f"--services={services}",
            f"--incidents={incidents}",
            f"--measurements={measurements}",
            "--months=24",
        ]
    )
    logging.getLogger("vendor_portal.mail").setLevel(logging.ERROR)
    app = create_app(bench.app_settings(database, workdir))
    now = datetime.now(UTC)
    with app.app_context():
        try:
            upgrade(revision="heads")
        except SystemExit as exc:
            raise bench.BenchmarkError(f"migrating failed (exit {exc.code})") from exc
        began = time.perf_counter()
        with db.engine.begin() as connection:
            shape = kpi_bench.generate(connection, args, now)
            registers(connection, sorted(set(shape.vendor_of.values())), now)
        kpi_bench.seed_rest(app, database, args, shape, now, began)
        db.session.remove()
        db.engine.dispose()  # SQLite: the bulk insert below writes through its own connection

        began = time.perf_counter()
        graph = supply_map(graph_bench.shape_for(edges, *GRAPH_SHAPES[size], GRAPH_SEED))
        # Driver-level bulk insert (COPY / executemany, ANALYZE on PostgreSQL), as
        # benchmarks/graph.py does: the app's import takes far too long at a million edges.
        graph_bench.insert_graph(database.url, graph)
        inserted = time.perf_counter() - began
        began = time.perf_counter()
        with acting_as(Actor(None, "benchmark:load")):
            # The part built from vendor and service records, as the running app keeps it.
            graph_services.rebuild_from_records(db.session)
            graph_services.bump_version(db.session)
            db.session.commit()
            synced = time.perf_counter() - began
            # The first view of the map after an import stores the analyses once; do it here
            # rather than inside the measured load.
            began = time.perf_counter()
            graph_services.spof_document(db.session)
            graph_services.concentration_document(db.session)
            db.session.commit()
        print(
            f"  graph: {len(graph):,} nodes, {graph.edge_count:,} edges bulk-inserted in "
            f"{inserted:.1f} s; nodes of vendors and services added in {synced:.1f} s; "
            f"SPOFs and concentration stored in {time.perf_counter() - began:.1f} s",
            flush=True,
        )
        if database.kind == "postgresql":
            # What autovacuum does after a bulk load in production (it may be off on a benchmark
            # server): statistics for the planner, and the visibility map without which counts
            # cannot be answered from indexes alone.
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE)")
        ids = route_ids(db.session)
        db.session.remove()
        db.engine.dispose()
    return ids


def registers(connection, vendor_ids: list[int], now: datetime) -> None:
    """Findings (four per vendor, mixed severities and statuses, some overdue) and contracts
    (one per vendor), so that those lists have pages to show."""
    import sqlalchemy as sa

    from vendor_portal.contracts.domain import ContractStatus
    from vendor_portal.contracts.models import Contract
    from vendor_portal.findings.domain import FindingSource, FindingStatus, Severity
    from vendor_portal.findings.models import Finding

    severities, statuses, sources = list(Severity), list(FindingStatus), list(FindingSource)
    today = now.date()
    findings = []
    for n, vendor_id in enumerate(vendor_ids):
        for k in range(4):
            i = 4 * n + k
            status = statuses[i % len(statuses)]
            findings.append(
                {
                    "vendor_id": vendor_id,
                    "source": sources[i % len(sources)].value,
                    "title": f"Finding {i:06d}: recovery step not evidenced",
                    "severity": severities[i % len(severities)].value,
                    "status": status.value,
                    "due_date": today + timedelta(days=(i * 37) % 240 - 120),
                    "closed_at": now if status == FindingStatus.CLOSED else None,
                    "created_at": now,
                    "updated_at": now,
                }
            )
    connection.execute(sa.insert(Finding.__table__), findings)
    contract_statuses = [ContractStatus.ACTIVE, ContractStatus.ACTIVE, ContractStatus.DRAFT]
    connection.execute(
        sa.insert(Contract.__table__),
        [
            {
                "vendor_id": vendor_id,
                "title": f"Master services agreement {n:05d}",
                "reference": f"MSA-{n:05d}",
                "status": contract_statuses[n % len(contract_statuses)].value,
                "start_date": today - timedelta(days=365 + n % 700),
                "end_date": today + timedelta(days=30 + n % 900),
                "created_at": now,
                "updated_at": now,
            }
            for n, vendor_id in enumerate(vendor_ids)
        ],
    )


def route_ids(session) -> dict[str, int]:
    """A vendor with about five services (for its page and scorecard), a business service."""
    import sqlalchemy as sa

    from vendor_portal.graph.models import BusinessService
    from vendor_portal.vendors.models import VendorService

    counts = session.execute(
        sa.select(VendorService.vendor_id, sa.func.count()).group_by(VendorService.vendor_id)
    ).all()
    vendor_id = min(counts, key=lambda row: (abs(row[1] - 5), row[0]))[0]
    business_service = session.scalar(sa.select(sa.func.min(BusinessService.id)))
    return {"vendor": vendor_id, "business_service": business_service or 0}


def existing_ids(database: bench.Database, workdir: Path) -> dict[str, int]:
    from vendor_portal import create_app
    from vendor_portal.extensions import db

    app = create_app(bench.app_settings(database, workdir))
    with app.app_context():
        ids = route_ids(db.session)
        db.session.remove()
        db.engine.dispose()
    return ids


def prime(database: bench.Database, workdir: Path, ids: dict[str, int]) -> None:
    """Store what the first views after an import store (the SPOF analysis and what the home
    page and the measured business service page derive from it), timed: the load measures the
    steady state, not one request that fills a cache."""
    import sqlalchemy as sa

    from vendor_portal import create_app
    from vendor_portal.extensions import db
    from vendor_portal.graph import summaries
    from vendor_portal.graph.models import GraphNode

    app = create_app(bench.app_settings(database, workdir))
    with app.app_context():
        began = time.perf_counter()
        summaries.attention(db.session)  # computes and stores the SPOF analysis if missing
        key = db.session.scalar(
            sa.select(GraphNode.key).where(GraphNode.business_service_id == ids["business_service"])
        )
        if key is not None:
            summaries.service_spofs(db.session, key)
        db.session.commit()
        print(
            "  SPOF summaries of the home page and the measured business service stored in "
            f"{time.perf_counter() - began:.1f} s",
            flush=True,
        )
        db.session.remove()
        db.engine.dispose()


def routes_for(ids: dict[str, int]) -> list[Route]:
    vendor, service = ids["vendor"], ids["business_service"]
    return [
        Route("trivial route", "/healthz"),
        Route("home", "/"),
        Route("vendor list", "/vendors/"),
        Route("vendor", f"/vendors/{vendor}"),
        Route("KPI portfolio", "/kpis/"),
        Route("scorecard", f"/kpis/vendors/{vendor}"),
        Route("graph and SPOFs", "/graph/"),
        Route("business service SPOFs", f"/graph/services/{service}"),
        Route("findings", "/findings/"),
        Route("contracts", "/contracts/"),
        Route("API vendors", "/api/v1/vendors", api=True),
        Route("API scorecard", f"/api/v1/vendors/{vendor}/scorecard", api=True),
        Route("API SPOFs", "/api/v1/graph/spof", api=True),
        Route("API incidents", "/api/v1/incidents", api=True),
    ]


def first_views(port: int, routes: list[Route], cookie: str, token: str, workers: int) -> None:
    """Before any load, each route is requested by `workers` clients at once, so that every
    (sync) worker takes one: what a page stores on its first view (per graph version, say) and
    what each worker keeps in memory (the KPI portfolio's tallies) are then in place, as after
    a while in use, instead of being built by every worker at once under the warm-up. The
    slowest first view of each route is printed: the cost of a cold start."""
    from concurrent.futures import ThreadPoolExecutor

    def one(route: Route) -> tuple[int, int, float]:
        headers = {"Authorization": f"Bearer {token}"} if route.api else {"Cookie": cookie}
        began = time.perf_counter()
        status, _, body = bench.request(port, "GET", route.path, headers=headers, timeout=900)
        return status, len(body), time.perf_counter() - began

    with ThreadPoolExecutor(max_workers=workers) as pool:
        for route in routes:
            results = list(pool.map(one, [route] * workers))
            statuses = sorted({status for status, _, _ in results})
            print(
                f"  first views of {route.path} ({workers} at once): status "
                f"{'/'.join(map(str, statuses))}, {max(size for _, size, _ in results):,} bytes, "
                f"slowest {max(t for _, _, t in results):.2f} s",
                flush=True,
            )


def selected_routes(routes: list[Route], wanted: str | None) -> list[Route]:
    """The routes named by `--routes` (by path or name), after the trivial route."""
    if not wanted:
        return routes
    names = {w.strip() for w in wanted.split(",") if w.strip()}
    unknown = names - {r.path for r in routes} - {r.name for r in routes}
    if unknown:
        raise SystemExit(f"unknown routes: {', '.join(sorted(unknown))}")
    return [r for r in routes if r.path == "/healthz" or r.path in names or r.name in names]


def migrate(database: bench.Database, workdir: Path) -> None:
    from flask_migrate import upgrade

    from vendor_portal import create_app
    from vendor_portal.extensions import db

    app = create_app(bench.app_settings(database, workdir))
    with app.app_context():
        upgrade(revision="heads")
        if database.kind == "postgresql":
            # As after generating (see generate): quick when nothing changed since.
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.exec_driver_sql("VACUUM (ANALYZE)")
        db.engine.dispose()


def sign_in(port: int) -> str:
    """Sign in through the form; settle the cookie (the first page adds a CSRF token)."""
    jar = bench.CookieJar()
    status, headers, body = bench.request(port, "GET", "/auth/login")
    jar.update(headers)
    finder = bench._CsrfFinder()
    finder.feed(body.decode("utf-8", "replace"))
    form = urlencode({"email": EMAIL, "password": PASSWORD, "csrf_token": finder.token or ""})
    status, headers, _ = bench.request(
        port,
        "POST",
        "/auth/login",
        headers={"Content-Type": "application/x-www-form-urlencoded", "Cookie": jar.header()},
        body=form,
    )
    jar.update(headers)
    if status != 302:
        raise bench.BenchmarkError(f"sign-in failed: POST /auth/login answered {status}")
    for _ in range(5):
        # The vendor list, not the home page: a slow home page is measured, not a setup failure.
        status, headers, _ = bench.request(
            port, "GET", "/vendors/", headers={"Cookie": jar.header()}, timeout=60
        )
        if status != 200:
            raise bench.BenchmarkError(f"GET /vendors/ after sign-in answered {status}")
        if not jar.update(headers):
            return jar.header()
    raise bench.BenchmarkError("the server kept rewriting the session cookie")


def responsive(port: int, tries: int = 3) -> bool:
    """Whether /healthz answers within a few seconds (the workers are not backlogged)."""
    for _ in range(tries):
        try:
            if bench.request(port, "GET", "/healthz", timeout=5)[0] == 200:
                return True
        except (OSError, http.client.HTTPException):
            pass
    return False


def make_token(database: bench.Database, workdir: Path) -> str:
    from vendor_portal import create_app
    from vendor_portal.audit.services import Actor, acting_as
    from vendor_portal.auth import services as accounts
    from vendor_portal.extensions import db

    app = create_app(bench.app_settings(database, workdir))
    with app.app_context(), acting_as(Actor(None, "benchmark:load")):
        user = accounts.user_by_email(db.session, EMAIL)
        _, plain = accounts.create_token(db.session, user, "load benchmark")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return plain


def run_wrk(port: int, route: Route, headers: dict[str, str], args, lua: Path) -> Outcome:
    command = [
        "wrk",
        f"--threads={min(2, args.connections)}",
        f"--connections={args.connections}",
        f"--duration={args.duration}s",
        "--timeout=10s",
        f"--script={lua}",
    ]
    for name, value in headers.items():
        command += ["--header", f"{name}: {value}"]
    command.append(f"http://{bench.HOST}:{port}{route.path}")
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=args.duration + 60, check=False
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if done.returncode != 0 or line is None:
        raise bench.BenchmarkError(f"wrk failed on {route.path}: {done.stderr or done.stdout}")
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    statuses = dict(p.split(":") for p in fields["statuses"].split(",") if p)
    errors = {
        kind: int(fields[kind])
        for kind in ("connect", "read", "write", "timeout", "non200")
        if int(fields[kind])
    }
    if int(fields["requests"]) == 0:
        errors["none_completed"] = 1  # every request outlasted the run: as bad as an error
    return Outcome(
        route,
        int(fields["requests"]) - int(fields["non200"]),
        int(fields["duration_us"]) / 1e6,
        float(fields["p50_us"]) / 1000,
        float(fields["p95_us"]) / 1000,
        float(fields["p99_us"]) / 1000,
        errors,
        {k: int(v) for k, v in statuses.items()},
    )


def report(outcomes: list[Outcome]) -> str:
    lines = [
        f"{'route':<24} {'path':<34} {'requests':>9} {'req/s':>8} {'p50 ms':>8} "
        f"{'p95 ms':>8} {'p99 ms':>8}  errors"
    ]
    for o in outcomes:
        errors = ", ".join(f"{k}={v}" for k, v in o.errors.items()) or "0"
        if o.statuses:
            errors += " (" + ", ".join(f"{k}: {v}" for k, v in o.statuses.items()) + ")"
        lines.append(
            f"{o.route.name:<24} {o.route.path[:34]:<34} {o.requests:>9} "
            f"{o.requests / o.duration_s:>8.1f} {o.p50_ms:>8.1f} {o.p95_ms:>8.1f} "
            f"{o.p99_ms:>8.1f}  {errors}"
        )
    return "\n".join(lines)


def measure_cpu(outcome: Outcome, before, after) -> None:
    """The share of the CPUs others took during the run and our CPU time per answer."""
    if before is None or after is None or after[0] <= before[0]:
        return
    ours = after[2] - before[2]
    outcome.others_cpu_pct = max(
        0.0, 100 * ((after[1] - before[1]) - ours) / (after[0] - before[0])
    )
    answered = outcome.requests + outcome.errors.get("non200", 0)
    if answered and ours > 0:
        outcome.cpu_ms_per_request = 1000 * ours / answered


def cpu_report(outcomes: list[Outcome]) -> str:
    lines = [
        "CPU while each route was loaded: others' share of the machine (above 10 %: figures "
        "unreliable), and gunicorn + wrk + PostgreSQL CPU per answer",
        f"{'route':<24} {'others %':>9} {'CPU ms/req':>11}  note",
    ]
    for o in outcomes:
        others = "n/a" if o.others_cpu_pct is None else f"{o.others_cpu_pct:.0f}"
        per = "n/a" if o.cpu_ms_per_request is None else f"{o.cpu_ms_per_request:.1f}"
        note = "server still busy afterwards: restarted" if o.restarted else ""
        lines.append(f"{o.route.name:<24} {others:>9} {per:>11}  {note}")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--database-url", help="default: a new SQLite file")
    parser.add_argument("--recreate", action="store_true")
    parser.add_argument("--duration", type=int, default=10, help="seconds per route")
    parser.add_argument("--warmup", type=int, default=3, help="unmeasured seconds per route")
    parser.add_argument("--connections", type=int, default=20)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", choices=("sync", "gthread"), default="sync")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--wsgi-app", default="wsgi:app")
    parser.add_argument("--fail-on-errors", action="store_true")
    parser.add_argument(
        "--keep-database", action="store_true", help="keep the generated database for --existing"
    )
    parser.add_argument(
        "--existing",
        action="store_true",
        help="--database-url holds data a --keep-database run of the same --size generated: "
        "skip generation",
    )
    parser.add_argument(
        "--generate-only",
        action="store_true",
        help="generate (or, with --existing, migrate and prime) the data, then stop",
    )
    parser.add_argument(
        "--routes",
        help="comma-separated route paths or names to measure (default: all); /healthz is "
        "always measured first, as the baseline",
    )
    args = parser.parse_args(argv)
    if args.existing and not args.database_url:
        parser.error("--existing needs --database-url")
    return args


def existing_database(url: str) -> bench.Database:
    import sqlalchemy as sa

    from vendor_portal.config import normalise_database_url

    url = normalise_database_url(url)
    kind = sa.engine.make_url(url).get_backend_name()
    parsed = sa.engine.make_url(url)
    return bench.Database(url, kind, created=False, name=parsed.database)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if shutil.which("wrk") is None:
        print("wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 2
    vendors, _, incidents, measurements, edges = SIZES[args.size]
    print(
        f"Load test ({args.size}): {vendors:,} vendors, {incidents:,} incidents, "
        f"{measurements:,} measurements, a graph of about {edges:,} edges; "
        f"{args.connections} connections, {args.duration} s per route, gunicorn "
        f"{args.workers} {args.worker_class} workers, {os.cpu_count()} CPUs, load average "
        f"{kpi_bench.load_average()}",
        flush=True,
    )
    workdir = Path(tempfile.mkdtemp(prefix="load-bench-"))
    server = None
    database = None
    try:
        if args.existing:
            database = existing_database(args.database_url)
            print(f"  database: {database.kind}, generated earlier", flush=True)
            migrate(database, workdir)  # the code measured may have migrations the data lacks
            ids = existing_ids(database, workdir)
        else:
            database = bench.prepare_database(args.database_url, workdir, args.recreate)
            print(f"  database: {database.kind}", flush=True)
            began = time.perf_counter()
            ids = generate(database, workdir, args.size)
            print(f"  data generated in {time.perf_counter() - began:.0f} s", flush=True)
        prime(database, workdir, ids)
        if args.generate_only:
            return 0
        token = make_token(database, workdir)
        server = bench.start_gunicorn(args, bench.app_settings(database, workdir), workdir)
        bench.wait_until_ready(server)
        cookie = sign_in(server.port)
        lua = workdir / "result.lua"
        lua.write_text(bench.WRK_SCRIPT)
        outcomes = []
        chosen = selected_routes(routes_for(ids), args.routes)
        first_views(server.port, chosen, cookie, token, args.workers)
        for route in chosen:
            headers = {"User-Agent": bench.USER_AGENT}
            if route.api:
                headers["Authorization"] = f"Bearer {token}"
            else:
                headers["Cookie"] = cookie
            if args.warmup:
                warm = argparse.Namespace(**{**vars(args), "duration": args.warmup})
                run_wrk(server.port, route, headers, warm, lua)
            meter = bench.CpuMeter(server.process.pid, database.name)
            before = meter.snapshot()
            outcome = run_wrk(server.port, route, headers, args, lua)
            measure_cpu(outcome, before, meter.snapshot())
            outcomes.append(outcome)
            print(f"  measured {route.path}", flush=True)
            if not responsive(server.port):
                outcome.restarted = True
                # Requests wrk gave up on still queue at the workers and would be charged to
                # the next route: start afresh (the cookie and token stay valid).
                print(f"  the server is still busy after {route.path}: restarting it", flush=True)
                bench.stop_gunicorn(server)
                server = None
                server = bench.start_gunicorn(args, bench.app_settings(database, workdir), workdir)
                bench.wait_until_ready(server)
                first_views(server.port, chosen[len(outcomes) :], cookie, token, args.workers)
        print(report(outcomes))
        print(cpu_report(outcomes))
        failed = [o.route.path for o in outcomes if o.errors]
        print(f"ERRORS on {', '.join(failed)}" if failed else "No errors on any route.")
        return 1 if failed and args.fail_on_errors else 0
    finally:
        if server is not None:
            bench.stop_gunicorn(server)
        if database is not None and database.created and not args.keep_database:
            database.remove()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
