"""Benchmark: the vendor list page against a trivial route of the same server.

With 5,000 vendors seeded, this serves the app with gunicorn on loopback, signs in, loads
`GET /vendors/` and `GET /healthz` with 20 concurrent clients each for a fixed time, and
prints requests/s and p50/p95/p99 latency per route, the throughput ratio of the vendor list
to the trivial route, and PASS/FAIL against the targets:

    vendor list p95 < 100 ms, and vendor list req/s >= 1/3 of the trivial route's.

Load comes from `wrk` when it is on PATH, else from a Python thread-based generator.
Everything runs on 127.0.0.1 in a fresh temporary directory (SQLite by default, or
`--database-url`); gunicorn is always stopped at the end, even on Ctrl-C or error.

    .venv/bin/python benchmarks/vendor_list.py --help
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import math
import os
import platform
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
# Fixed, so that every gunicorn worker signs and checks session cookies with the same key.
SECRET_KEY = "benchmark-only-secret-key-never-use-in-production-5c1d7e0a9b3f"
EMAIL = "bench.manager@example.com"
PASSWORD = "Bench-vendor-list-2026"
USER_AGENT = "vendor-portal-benchmark/1"  # the same for sign-in and load: no session churn
P95_TARGET_MS = 100.0
RATIO_TARGET = 1 / 3
TRIVIAL = ("trivial route", "/healthz")
VENDOR_LIST = ("vendor list", "/vendors/")
REQUEST_TIMEOUT_S = 10.0
SERVER_START_TIMEOUT_S = 60.0
OTHERS_CPU_WARN_PCT = 10.0

WRK_SCRIPT = r"""
-- Counts non-200 responses and Set-Cookie headers per thread; done() sums them and prints
-- one line that vendor_list.py parses.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  non200 = 0
  set_cookie = 0
  statuses = {}
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
  if headers["Set-Cookie"] ~= nil or headers["set-cookie"] ~= nil then
    set_cookie = set_cookie + 1
  end
end

function done(summary, latency, requests)
  local non200_total, set_cookie_total, codes = 0, 0, {}
  for _, thread in ipairs(threads) do
    non200_total = non200_total + thread:get("non200")
    set_cookie_total = set_cookie_total + thread:get("set_cookie")
    for code, n in pairs(thread:get("statuses")) do
      codes[code] = (codes[code] or 0) + n
    end
  end
  local parts = {}
  for code, n in pairs(codes) do
    table.insert(parts, code .. ":" .. n)
  end
  local e = summary.errors
  io.write(string.format(
    "BENCH_RESULT requests=%d duration_us=%d p50_us=%.0f p95_us=%.0f p99_us=%.0f " ..
    "connect=%d read=%d write=%d timeout=%d non200=%d set_cookie=%d statuses=%s\n",
    summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    e.connect, e.read, e.write, e.timeout, non200_total, set_cookie_total,
    table.concat(parts, ",")))
end
"""


class BenchmarkError(RuntimeError):
    """The benchmark could not be set up or run; the message says why."""


# --- results --------------------------------------------------------------------------------


@dataclass
class Result:
    route: str
    path: str
    loader: str
    requests: int
    duration_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    errors: dict[str, int] = field(default_factory=dict)  # kind -> count, non-200s included
    statuses: dict[str, int] = field(default_factory=dict)  # non-200 status -> count
    set_cookie: int = 0  # responses that rewrote the session cookie (should be 0)
    response_bytes: int = 0
    others_cpu_pct: float | None = None  # CPU capacity other processes took during the run
    cpu_ms_per_request: float | None = None  # server + load generator CPU per answered request

    @property
    def rps(self) -> float:
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list (0.0 for an empty one)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(pct / 100 * len(sorted_values)))
    return sorted_values[rank - 1]


# --- database -------------------------------------------------------------------------------


@dataclass
class Database:
    url: str
    kind: str  # "sqlite" or "postgresql" (or another SQLAlchemy dialect name)
    created: bool  # made by this run, so removed at the end unless --keep-database
    admin_url: str | None = None  # PostgreSQL: a URL of the maintenance database
    name: str | None = None
    sqlite_path: Path | None = None

    def remove(self) -> None:
        if self.sqlite_path is not None:
            for suffix in ("", "-wal", "-shm"):
                Path(f"{self.sqlite_path}{suffix}").unlink(missing_ok=True)
        elif self.kind == "postgresql" and self.admin_url and self.name:
            _drop_postgres_database(self.admin_url, self.name)


def _has_tables(url: str) -> bool:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    try:
        return bool(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def _postgres_admin_engine(admin_url: str) -> Any:
    import sqlalchemy as sa

    return sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")


def _drop_postgres_database(admin_url: str, name: str) -> None:
    engine = _postgres_admin_engine(admin_url)
    try:
        quoted = engine.dialect.identifier_preparer.quote(name)
        with engine.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted} WITH (FORCE)")
    finally:
        engine.dispose()


def prepare_database(url: str | None, workdir: Path, recreate: bool) -> Database:
    """A database to seed: a new SQLite file, or the given URL, created when missing.

    An existing database that already has tables is used only with --recreate, which
    drops it (PostgreSQL) or deletes it (SQLite) first: the benchmark never seeds into data
    it did not make.
    """
    import sqlalchemy as sa

    from vendor_portal.config import normalise_database_url

    if url is None:
        path = workdir / "bench.sqlite3"
        return Database(f"sqlite:///{path}", "sqlite", created=True, sqlite_path=path)

    url = normalise_database_url(url)
    parsed = sa.engine.make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise BenchmarkError("an SQLite --database-url needs a file (gunicorn has workers)")
        path = Path(parsed.database).resolve()
        existed = path.exists()
        if existed and _has_tables(url):
            if not recreate:
                raise BenchmarkError(f"{path} already has tables; pass --recreate to replace it")
            Database(url, "sqlite", created=True, sqlite_path=path).remove()
            existed = False
        return Database(url, "sqlite", created=not existed, sqlite_path=path)

    if backend != "postgresql":
        raise BenchmarkError(f"unsupported database {backend!r}: use SQLite or PostgreSQL")
    name = parsed.database
    if not name:
        raise BenchmarkError("the PostgreSQL --database-url must name a database")
    admin_url = parsed.set(database="postgres").render_as_string(hide_password=False)
    engine = _postgres_admin_engine(admin_url)
    try:
        with engine.connect() as conn:
            exists = conn.execute(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).scalar()
    except sa.exc.OperationalError as exc:
        raise BenchmarkError(f"cannot reach PostgreSQL: {exc.orig}") from exc
    finally:
        engine.dispose()
    if exists and _has_tables(url):
        if not recreate:
            raise BenchmarkError(
                f"database {name!r} already has tables; pass --recreate to drop and recreate it"
            )
        _drop_postgres_database(admin_url, name)
        exists = False
    created = False
    if not exists:
        engine = _postgres_admin_engine(admin_url)
        try:
            quoted = engine.dialect.identifier_preparer.quote(name)
            with engine.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {quoted}")
        finally:
            engine.dispose()
        created = True
    return Database(url, "postgresql", created=created, admin_url=admin_url, name=name)


def app_settings(database: Database, workdir: Path) -> dict[str, str]:
    """The settings the app runs with, for create_app() and (as VENDOR_PORTAL_*) gunicorn."""
    return {
        "DATABASE_URL": database.url,
        "SECRET_KEY": SECRET_KEY,
        "EVIDENCE_DIR": str(workdir / "evidence"),
    }


# fmt: off
COUNTRIES = [
    "GB", "IE", "DE", "FR", "NL", "BE", "LU", "ES", "PT", "IT", "AT", "CH", "SE", "NO", "DK",
    "FI", "PL", "CZ", "US", "CA", "JP", "SG", "IN", "AU", "HK", "AE", "ZA", "BR", "MX", "IL",
]
NAME_HEADS = [
    "Nimbus", "Stratus", "Ledger", "Meridian", "Atlas", "Harbour", "Keystone", "North", "Clear",
    "Iron", "Silver", "Blue", "Summit", "Beacon", "Vertex", "Orbit", "Granite", "Cobalt",
    "Falcon", "Pioneer", "Quantum", "Sterling", "Anchor", "Crescent",
]
NAME_TAILS = [
    "Cloud", "Payments", "Logistics", "Telecom", "Data", "Security", "Software", "Analytics",
    "Networks", "Systems", "Consulting", "Facilities", "Print", "Energy", "Clearing", "Hosting",
    "Identity", "Couriers", "Labs", "Works",
]
NAME_FORMS = ["Ltd", "GmbH", "SA", "BV", "Inc", "AB", "plc", "SpA", "Oy", "AG", "LLC"]
# fmt: on
TIERS = (("critical", 5), ("high", 15), ("medium", 40), ("low", 40))
STATUSES = (("active", 70), ("prospective", 15), ("offboarding", 5), ("offboarded", 10))


def vendor_rows(count: int, seed: int = 20261125) -> list[dict[str, Any]]:
    """Deterministic, varied vendor rows; about 60% carry a valid LEI."""
    from vendor_portal.vendors.domain import lei_with_check_digits

    rng = random.Random(seed)
    now = datetime.now(UTC)
    tiers, tier_weights = zip(*TIERS, strict=True)
    statuses, status_weights = zip(*STATUSES, strict=True)
    rows = []
    for i in range(1, count + 1):
        created = now - timedelta(days=rng.uniform(30, 1500))
        updated = created + (now - created) * rng.random()
        rows.append(
            {
                "name": (
                    f"{rng.choice(NAME_HEADS)} {rng.choice(NAME_TAILS)} {i:04d} "
                    f"{rng.choice(NAME_FORMS)}"
                ),
                "lei": lei_with_check_digits(f"5493{i:014d}") if rng.random() < 0.6 else None,
                "country": rng.choice(COUNTRIES),
                "tier": rng.choices(tiers, tier_weights)[0],
                "status": rng.choices(statuses, status_weights)[0],
                "website": f"https://vendor{i}.example.com",
                "description": "Benchmark vendor: services under a framework agreement.",
                "notes": None,
                "created_at": created,
                "updated_at": updated,
                "archived_at": None,
            }
        )
    return rows


def migrate_and_seed(database: Database, workdir: Path, vendors: int) -> None:
    """Migrate to head, bulk-insert the vendors and create one vendor manager."""
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from vendor_portal import create_app
    from vendor_portal.audit.services import Actor, acting_as
    from vendor_portal.auth.services import create_user
    from vendor_portal.extensions import db
    from vendor_portal.vendors.models import Vendor

    app = create_app(app_settings(database, workdir))
    with app.app_context():
        try:
            upgrade(revision="heads")  # "heads": also while two branches await their merge
        except SystemExit as exc:  # Flask-Migrate logs the error and exits
            raise BenchmarkError(f"migrating the database failed (exit {exc.code})") from exc
        with acting_as(Actor(None, "benchmark:seed")):
            # Core insert: fast, and deliberately bypasses the per-object audit listener.
            db.session.execute(sa.insert(Vendor.__table__), vendor_rows(vendors))
            create_user(
                db.session,
                email=EMAIL,
                name="Benchmark Manager",
                role="vendor_manager",
                password=PASSWORD,
            )
            db.session.commit()
        stored = db.session.scalar(sa.select(sa.func.count()).select_from(Vendor))
        if stored != vendors:
            raise BenchmarkError(f"seeded {stored} vendors, expected {vendors}")
        if database.kind == "postgresql":
            # Fresh planner statistics, as autovacuum would soon have given a live database.
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        db.session.remove()
        db.engine.dispose()


# --- the server -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def start_gunicorn(args: argparse.Namespace, settings: dict[str, str], workdir: Path) -> Server:
    port = free_port()
    log_path = workdir / "gunicorn.log"
    env = dict(os.environ)
    env.update({f"VENDOR_PORTAL_{key}": value for key, value in settings.items()})
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{HOST}:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--chdir",
        str(ROOT),
        "--timeout",
        "60",
        "--graceful-timeout",
        "5",
        "--log-level",
        "warning",
    ]
    if args.worker_class == "gthread":
        command += ["--threads", str(args.threads)]
    command.append(args.wsgi_app)
    with log_path.open("wb") as log:
        # A session of its own: the terminal's Ctrl-C reaches only us, and we stop it in order.
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server(process, port, log_path)


def wait_until_ready(server: Server) -> None:
    process, port = server.process, server.port
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BenchmarkError(f"gunicorn exited with {process.returncode}:\n{server.log_tail()}")
        with contextlib.suppress(OSError, http.client.HTTPException):
            if request(port, "GET", "/healthz", timeout=2.0)[0] == 200:
                return
        time.sleep(0.2)
    raise BenchmarkError(
        f"gunicorn did not answer within {SERVER_START_TIMEOUT_S:.0f} s:\n{server.log_tail()}"
    )


def stop_gunicorn(server: Server) -> None:
    """SIGTERM to the master (it stops its workers); SIGKILL the group if it lingers."""
    process = server.process
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    # Workers left behind by a killed master share its process group.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


# --- HTTP helpers ---------------------------------------------------------------------------


def request(
    port: int,
    method: str,
    path: str,
    *,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    timeout: float = REQUEST_TIMEOUT_S,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"User-Agent": USER_AGENT, **(headers or {})})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


class _CsrfFinder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.token: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("name") == "csrf_token":
            self.token = values.get("value")


class CookieJar:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def update(self, headers: http.client.HTTPMessage) -> bool:
        """Take the response's Set-Cookie headers; True when any was present."""
        found = False
        for header in headers.get_all("Set-Cookie") or []:
            found = True
            cookie = SimpleCookie()
            cookie.load(header)
            for name, morsel in cookie.items():
                if morsel.value:
                    self.values[name] = morsel.value
                else:
                    self.values.pop(name, None)
        return found

    def header(self) -> str:
        return "; ".join(f"{name}={value}" for name, value in self.values.items())


def sign_in(port: int, vendors: int) -> tuple[str, int]:
    """Sign in through the login form and settle the session cookie.

    Returns the Cookie header to load with and the vendor page's size in bytes. The first
    page after sign-in stores a CSRF token in the session (the sign-out form needs one), so
    the page is fetched until the server stops rewriting the cookie: otherwise every request
    of the load would mint a new token and a new cookie, which real browsers do not do.
    """
    jar = CookieJar()
    status, headers, body = request(port, "GET", "/auth/login")
    jar.update(headers)
    finder = _CsrfFinder()
    finder.feed(body.decode("utf-8", "replace"))
    if status != 200 or not finder.token:
        raise BenchmarkError(f"GET /auth/login answered {status} without a csrf_token field")
    form = urlencode({"email": EMAIL, "password": PASSWORD, "csrf_token": finder.token})
    status, headers, body = request(
        port,
        "POST",
        "/auth/login",
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Cookie": jar.header(),
        },
        body=form,
    )
    jar.update(headers)
    if status != 302:
        raise BenchmarkError(f"sign-in failed: POST /auth/login answered {status}")
    size = 0
    for _ in range(5):
        status, headers, body = request(
            port, "GET", VENDOR_LIST[1], headers={"Cookie": jar.header()}
        )
        changed = jar.update(headers)
        if status != 200:
            raise BenchmarkError(f"GET {VENDOR_LIST[1]} after sign-in answered {status}")
        text = body.decode("utf-8", "replace")
        if 'data-testid="vendor-table"' not in text or f"of {vendors}<" not in text:
            raise BenchmarkError(
                f"GET {VENDOR_LIST[1]} did not show a vendor table of {vendors} vendors"
            )
        size = len(body)
        if not changed:
            return jar.header(), size
    raise BenchmarkError("the server kept rewriting the session cookie after sign-in")


# --- load generators ------------------------------------------------------------------------


def run_wrk(
    port: int, route: tuple[str, str], cookie: str, connections: int, duration: int, lua: Path
) -> Result:
    command = [
        "wrk",
        "--threads",
        str(min(2, connections)),
        "--connections",
        str(connections),
        "--duration",
        f"{duration}s",
        "--timeout",
        f"{REQUEST_TIMEOUT_S:.0f}s",
        "--script",
        str(lua),
        "--header",
        f"Cookie: {cookie}",
        "--header",
        f"User-Agent: {USER_AGENT}",
        f"http://{HOST}:{port}{route[1]}",
    ]
    line = None
    for attempt in (1, 2):
        completed = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=duration + 30,
            check=False,
            stdin=subprocess.DEVNULL,
        )
        line = next(
            (ln for ln in completed.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None
        )
        if completed.returncode == 0 and line is not None:
            break
        problem = (
            f"wrk exited with {completed.returncode}: "
            f"{(completed.stderr.strip() or completed.stdout.strip() or 'no output')[-2000:]}"
        )
        if attempt == 2:
            raise BenchmarkError(problem)
        # wrk gives up at once when its first test connection fails: retry once.
        print(f"  {problem}; retrying once", flush=True)
        time.sleep(1)
    assert line is not None
    fields = dict(part.split("=", 1) for part in line.split()[1:])
    statuses = {
        code: int(n) for code, n in (p.split(":") for p in fields["statuses"].split(",") if p)
    }
    errors = {
        kind: int(fields[kind])
        for kind in ("connect", "read", "write", "timeout", "non200")
        if int(fields[kind])
    }
    requests = int(fields["requests"])
    return Result(
        route=route[0],
        path=route[1],
        loader="wrk",
        # wrk's request count includes non-200 answers; only 200s count as throughput.
        requests=requests - int(fields["non200"]),
        duration_s=int(fields["duration_us"]) / 1e6,
        p50_ms=float(fields["p50_us"]) / 1000,
        p95_ms=float(fields["p95_us"]) / 1000,
        p99_ms=float(fields["p99_us"]) / 1000,
        errors=errors,
        statuses=statuses,
        set_cookie=int(fields["set_cookie"]),
    )


def run_python(
    port: int, route: tuple[str, str], cookie: str, connections: int, duration: int
) -> Result:
    """`connections` threads, each with its own keep-alive connection, for `duration` s."""
    headers = {"Cookie": cookie, "User-Agent": USER_AGENT}
    latencies: list[list[float]] = [[] for _ in range(connections)]
    statuses: list[Counter[str]] = [Counter() for _ in range(connections)]
    failures: list[Counter[str]] = [Counter() for _ in range(connections)]
    set_cookie = [0] * connections
    last_end = [0.0] * connections
    start_gate = threading.Event()
    start = 0.0
    deadline = 0.0

    def worker(index: int) -> None:
        conn = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT_S)
        start_gate.wait(timeout=10)
        try:
            while (began := time.perf_counter()) < deadline:
                try:
                    conn.request("GET", route[1], headers=headers)
                    response = conn.getresponse()
                    response.read()
                    if response.will_close:
                        conn.close()  # sync workers close each connection; reopen next time
                except TimeoutError:
                    failures[index]["timeout"] += 1
                    conn.close()
                    continue
                except (OSError, http.client.HTTPException) as exc:
                    failures[index][type(exc).__name__] += 1
                    conn.close()
                    time.sleep(0.01)
                    continue
                ended = time.perf_counter()
                last_end[index] = ended
                if response.status == 200:
                    latencies[index].append(ended - began)
                else:
                    statuses[index][str(response.status)] += 1
                if response.headers.get("Set-Cookie"):
                    set_cookie[index] += 1
        finally:
            conn.close()

    threads = [
        threading.Thread(target=worker, args=(i,), daemon=True, name=f"load-{i}")
        for i in range(connections)
    ]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    deadline = start + duration
    start_gate.set()
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.perf_counter()) + REQUEST_TIMEOUT_S + 5)
    if any(thread.is_alive() for thread in threads):
        raise BenchmarkError("load threads did not finish in time")
    elapsed = max([*last_end, deadline]) - start
    merged = sorted(x for per_thread in latencies for x in per_thread)
    all_statuses = sum(statuses, Counter())
    errors = dict(sum(failures, Counter()))
    if all_statuses:
        errors["non200"] = sum(all_statuses.values())
    return Result(
        route=route[0],
        path=route[1],
        loader="python",
        requests=len(merged),
        duration_s=elapsed,
        p50_ms=percentile(merged, 50) * 1000,
        p95_ms=percentile(merged, 95) * 1000,
        p99_ms=percentile(merged, 99) * 1000,
        errors=errors,
        statuses=dict(all_statuses),
        set_cookie=sum(set_cookie),
    )


# --- report ---------------------------------------------------------------------------------


@dataclass
class Verdict:
    ratio: float
    p95_ok: bool
    ratio_ok: bool
    errors_ok: bool

    @property
    def passed(self) -> bool:
        return self.p95_ok and self.ratio_ok and self.errors_ok


def judge(trivial: Result, vendors: Result) -> Verdict:
    ratio = vendors.rps / trivial.rps if trivial.rps else 0.0
    return Verdict(
        ratio=ratio,
        p95_ok=vendors.p95_ms < P95_TARGET_MS,
        ratio_ok=ratio >= RATIO_TARGET,
        errors_ok=trivial.error_count == 0 and vendors.error_count == 0,
    )


def report(results: list[Result], verdict: Verdict, context: dict[str, Any]) -> str:
    lines = [
        "",
        "Vendor list benchmark: " + ", ".join(f"{k} {v}" for k, v in context.items()),
        "",
        f"{'route':<24} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'errors':>7} {'bytes':>8} {'CPU ms/req':>10}",
    ]
    for r in results:
        cpu = "n/a" if r.cpu_ms_per_request is None else f"{r.cpu_ms_per_request:.2f}"
        lines.append(
            f"{r.route + ' ' + r.path:<24} {r.rps:>9.1f} {r.p50_ms:>8.1f} {r.p95_ms:>8.1f} "
            f"{r.p99_ms:>8.1f} {r.error_count:>7} {r.response_bytes or '':>8} {cpu:>10}"
        )
    for r in results:
        if r.errors:
            detail = ", ".join(f"{kind} {n}" for kind, n in sorted(r.errors.items()))
            codes = ", ".join(f"HTTP {c}: {n}" for c, n in sorted(r.statuses.items()))
            lines.append(f"  errors on {r.path}: {detail}" + (f" ({codes})" if codes else ""))
        if r.set_cookie:
            lines.append(f"  warning: {r.set_cookie} responses on {r.path} rewrote the cookie")
    shares = [r.others_cpu_pct for r in results if r.others_cpu_pct is not None]
    if len(shares) == len(results):
        lines.append(
            "CPU taken by other processes while loading: "
            + ", ".join(f"{r.path} {r.others_cpu_pct:.0f}%" for r in results)
        )
        if max(shares) > OTHERS_CPU_WARN_PCT:
            lines.append(
                "  warning: the machine was shared, so req/s and latencies understate the app."
            )
    costs = [r.cpu_ms_per_request for r in results]
    if costs[0] and costs[1]:
        lines.append(
            f"CPU cost ratio trivial / vendor list: {costs[0] / costs[1]:.3f} (what the "
            "throughput ratio tends to when the CPUs are saturated by this benchmark alone)"
        )
    vendors = results[1]

    def mark(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    lines += [
        "",
        f"throughput ratio vendor list / trivial route: {verdict.ratio:.3f}"
        f"{f' (1/{1 / verdict.ratio:.1f})' if verdict.ratio else ''}  "
        f"target >= {RATIO_TARGET:.3f} (1/3)  {mark(verdict.ratio_ok)}",
        f"vendor list p95 latency: {vendors.p95_ms:.1f} ms  target < {P95_TARGET_MS:.0f} ms  "
        f"{mark(verdict.p95_ok)}",
        f"errors (non-200 or transport): {sum(r.error_count for r in results)}  target 0  "
        f"{mark(verdict.errors_ok)}",
        f"overall: {mark(verdict.passed)}",
    ]
    return "\n".join(lines)


# --- main -----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--vendors", type=int, default=5000, help="vendors to seed")
    parser.add_argument(
        "--duration", type=int, default=10, help="seconds of measured load per route"
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="seconds of unmeasured load per route first"
    )
    parser.add_argument("--connections", type=int, default=20, help="concurrent clients")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument(
        "--worker-class", choices=("sync", "gthread"), default="sync", help="gunicorn workers"
    )
    parser.add_argument("--threads", type=int, default=4, help="threads per gthread worker")
    parser.add_argument(
        "--loader",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk when on PATH (auto), or the Python thread-based one",
    )
    parser.add_argument(
        "--database-url",
        help="SQLAlchemy URL of the database to create and seed (default: a new SQLite file "
        "in a temporary directory), e.g. postgresql+psycopg://postgres@127.0.0.1:5432/"
        "vendor_portal_bench",
    )
    parser.add_argument(
        "--recreate",
        action="store_true",
        help="drop and recreate a --database-url database that already has tables",
    )
    parser.add_argument(
        "--keep-database",
        action="store_true",
        help="leave a database this run created in place (SQLite: keep the temporary dir)",
    )
    parser.add_argument(
        "--wsgi-app",
        default="wsgi:app",
        help="the WSGI app gunicorn serves; another module:variable (on PYTHONPATH) measures "
        "an experimental variant of the app without changing it",
    )
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument(
        "--strict", action="store_true", help="exit 1 when a target is missed (CI gating)"
    )
    args = parser.parse_args(argv)
    for name in ("vendors", "duration", "connections", "workers", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if args.warmup < 0:
        parser.error("--warmup must not be negative")
    if args.loader == "wrk" and shutil.which("wrk") is None:
        parser.error("--loader wrk: wrk is not on PATH")
    if args.loader == "auto":
        args.loader = "wrk" if shutil.which("wrk") else "python"
    return args


class CpuMeter:
    """How much CPU other processes took while a route was loaded (Linux /proc only).

    "Ours" is this process, its reaped children (wrk), gunicorn and its workers, and, on
    PostgreSQL, the server processes serving the benchmark database. The rest of the busy
    time of all CPUs is someone else's, and makes the figures of that run unreliable.
    """

    def __init__(self, server_pid: int, database_name: str | None) -> None:
        self.server_pid = server_pid
        self.database_name = database_name
        self.tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100

    def _ours(self) -> float:
        times = os.times()
        seconds = times.user + times.system + times.children_user + times.children_system
        ticks = 0
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/stat") as stat:
                    fields = stat.read().rpartition(")")[2].split()
                pid, ppid = int(entry.name), int(fields[1])
                mine = pid == self.server_pid or ppid == self.server_pid
                if not mine and self.database_name:
                    with open(f"/proc/{entry.name}/cmdline", "rb") as cmdline:
                        command = cmdline.read().decode(errors="replace")
                    mine = command.startswith("postgres:") and f" {self.database_name} " in command
                if mine:
                    ticks += int(fields[11]) + int(fields[12])  # utime + stime
            except (OSError, ValueError, IndexError):
                continue  # a process that ended meanwhile, or one we may not read
        return seconds + ticks / self.tick

    def snapshot(self) -> tuple[float, float, float] | None:
        """(all CPU time, busy CPU time, our CPU time) in seconds, or None off Linux."""
        try:
            with open("/proc/stat") as stat:
                values = [int(v) for v in stat.readline().split()[1:9]]
            ours = self._ours()
        except (OSError, ValueError):
            return None
        total = sum(values) / self.tick
        return total, total - (values[3] + values[4]) / self.tick, ours

    @staticmethod
    def account(
        result: Result,
        before: tuple[float, float, float] | None,
        after: tuple[float, float, float] | None,
    ) -> None:
        """Set the result's share of CPU taken by others and our CPU per request."""
        if before is None or after is None or after[0] <= before[0]:
            return
        ours = after[2] - before[2]
        others = (after[1] - before[1]) - ours
        result.others_cpu_pct = max(0.0, 100 * others / (after[0] - before[0]))
        answered = result.requests + result.errors.get("non200", 0)
        if answered:
            result.cpu_ms_per_request = 1000 * ours / answered


def cpu_idle_percent(seconds: float = 1.0) -> float | None:
    """How idle all CPUs were over a short sample (Linux /proc/stat), else None."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as stat:
            values = [int(v) for v in stat.readline().split()[1:9]]
        return sum(values), values[3] + values[4]  # total, idle + iowait

    try:
        total1, idle1 = sample()
        time.sleep(seconds)
        total2, idle2 = sample()
    except (OSError, ValueError, IndexError):
        return None
    return 100 * (idle2 - idle1) / max(1, total2 - total1)


def git_revision() -> str:
    """The commit measured, marked "+changes" when the work tree differs from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            [
                "git",
                "status",
                "--porcelain",
                "--",
                "vendor_portal",
                "templates",
                "migrations",
                "static",
                "wsgi.py",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def _raise_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds through the finally blocks that clean up


@contextlib.contextmanager
def workspace(keep: bool) -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="vendor-list-bench-"))
    try:
        yield path
    finally:
        if keep:
            print(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def load(
    args: argparse.Namespace,
    port: int,
    route: tuple[str, str],
    cookie: str,
    lua: Path,
    meter: CpuMeter,
) -> Result:
    def once(seconds: int) -> Result:
        if args.loader == "wrk":
            return run_wrk(port, route, cookie, args.connections, seconds, lua)
        return run_python(port, route, cookie, args.connections, seconds)

    if args.warmup:
        once(args.warmup)
    before = meter.snapshot()
    result = once(args.duration)
    meter.account(result, before, meter.snapshot())
    return result


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    started = datetime.now(UTC)
    cpus = os.cpu_count() or 1
    idle_before = cpu_idle_percent()
    if idle_before is not None and idle_before < 80:
        print(
            f"warning: the CPUs were only {idle_before:.0f}% idle before the run; other work "
            "on this machine will lower the figures",
            flush=True,
        )
    with workspace(args.keep_database and args.database_url is None) as workdir:
        database = prepare_database(args.database_url, workdir, args.recreate)
        server: Server | None = None
        try:
            print(f"seeding {args.vendors} vendors into {database.kind} ...", flush=True)
            t0 = time.perf_counter()
            migrate_and_seed(database, workdir, args.vendors)
            print(f"  done in {time.perf_counter() - t0:.1f} s", flush=True)
            settings = app_settings(database, workdir)
            print(
                f"starting gunicorn: {args.workers} {args.worker_class} workers"
                + (f" x {args.threads} threads" if args.worker_class == "gthread" else ""),
                flush=True,
            )
            server = start_gunicorn(args, settings, workdir)
            wait_until_ready(server)
            cookie, page_bytes = sign_in(server.port, args.vendors)
            lua = workdir / "report.lua"
            lua.write_text(WRK_SCRIPT)
            meter = CpuMeter(server.process.pid, database.name)
            results = []
            for route in (TRIVIAL, VENDOR_LIST):
                print(
                    f"loading {route[1]}: {args.connections} connections, "
                    f"{args.warmup} s warm-up + {args.duration} s ({args.loader}) ...",
                    flush=True,
                )
                results.append(load(args, server.port, route, cookie, lua, meter))
            health_bytes = len(request(server.port, "GET", TRIVIAL[1])[2])
            results[0].response_bytes = health_bytes
            results[1].response_bytes = page_bytes
            if server.process.poll() is not None:
                raise BenchmarkError(f"gunicorn died during the run:\n{server.log_tail()}")
        finally:
            if server is not None:
                stop_gunicorn(server)
            if database.created and not args.keep_database:
                with contextlib.suppress(Exception):
                    database.remove()

    verdict = judge(results[0], results[1])
    context = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "vendors": args.vendors,
        "database": database.kind,
        "gunicorn": f"{args.workers}x{args.worker_class}"
        + (f"x{args.threads}" if args.worker_class == "gthread" else ""),
        "app": args.wsgi_app,
        "loader": args.loader,
        "connections": args.connections,
        "duration": f"{args.duration}s",
        "cpus": cpus,
        "idle before": "n/a" if idle_before is None else f"{idle_before:.0f}%",
        "python": platform.python_version(),
        "revision": git_revision(),
    }
    print(report(results, verdict, context))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "context": context,
                    "results": [{**asdict(r), "rps": r.rps} for r in results],
                    "ratio": verdict.ratio,
                    "targets": {"p95_ms": P95_TARGET_MS, "ratio": RATIO_TARGET},
                    "passed": verdict.passed,
                },
                indent=2,
            )
            + "\n"
        )
    return 1 if args.strict and not verdict.passed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchmarkError as exc:
        print(f"benchmark error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted; gunicorn stopped and temporary files removed", file=sys.stderr)
        sys.exit(130)
