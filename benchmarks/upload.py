"""Benchmark: a 1 GB evidence upload through the real HTTP stack.

Serves the app with gunicorn on loopback (one sync worker, a fresh SQLite database and
evidence directory in a temporary folder), uploads a 1 GB PDF to `POST /api/v1/evidence` as
multipart/form-data, and measures:

- the server's peak memory growth during the upload (resident set size of the gunicorn worker,
  sampled every 20 ms, minus its size before the upload): target under 64 MB;
- the upload's throughput against a baseline run in the same process on the same disk:
  copying the same file into the evidence directory's file system and fsyncing it (what the
  upload must at least do): target at least half the baseline.

It prints both figures, the ratio, and PASS/FAIL, and checks the stored file's SHA-256.

    .venv/bin/python benchmarks/upload.py [--size-mb 1024] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
SECRET_KEY = "benchmark-only-secret-key-never-use-in-production-7f3a9c1e5d"
MEMORY_TARGET_MB = 64.0
RATIO_TARGET = 0.5
CHUNK = 1024 * 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def environment(folder: Path, size: int) -> dict[str, str]:
    return {
        **os.environ,
        "VENDOR_PORTAL_ENV": "development",
        "VENDOR_PORTAL_SECRET_KEY": SECRET_KEY,
        "VENDOR_PORTAL_DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
        "VENDOR_PORTAL_EVIDENCE_DIR": str(folder / "evidence"),
        "VENDOR_PORTAL_EVIDENCE_MAX_BYTES": str(size + CHUNK),
    }


def prepare(folder: Path, env: dict[str, str]) -> str:
    """Migrate, create a vendor user and return its API token (in a child process, so the
    benchmark process stays small and the app reads the same environment as gunicorn)."""
    script = """
import sys
from flask_migrate import upgrade
from vendor_portal import create_app
from vendor_portal.auth import services as accounts
from vendor_portal.extensions import db
from vendor_portal.vendors.models import Vendor
app = create_app()
with app.app_context():
    upgrade(revision="heads")
    vendor = Vendor(name="Bench Cloud", country="IE", tier="critical", status="active")
    db.session.add(vendor)
    db.session.flush()
    user = accounts.create_user(
        db.session, email="bench@example.com", name="Bench", role="vendor_user",
        password="Quartz-lantern-upload-2026", vendor_id=vendor.id,
    )
    _, token = accounts.create_token(db.session, user, "bench")
    db.session.commit()
    print(token)
"""
    result = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=ROOT, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"preparing the database failed:\n{result.stderr[-3000:]}")
    return result.stdout.strip().splitlines()[-1]


def make_file(path: Path, size: int) -> str:
    """A PDF-headed file of `size` bytes of incompressible data; returns its SHA-256."""
    digest = hashlib.sha256()
    block = os.urandom(16 * CHUNK)
    with path.open("wb") as out:
        head = b"%PDF-1.7\n"
        out.write(head)
        digest.update(head)
        written = len(head)
        counter = 0
        while written < size:
            piece = (counter.to_bytes(8, "big") + block)[: min(len(block) + 8, size - written)]
            out.write(piece)
            digest.update(piece)
            written += len(piece)
            counter += 1
    return digest.hexdigest()


def baseline_copy(source: Path, folder: Path) -> float:
    """Seconds to copy the file into the evidence file system and fsync it."""
    target = folder / "baseline-copy.bin"
    start = time.perf_counter()
    with source.open("rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, CHUNK)
        dst.flush()
        os.fsync(dst.fileno())
    elapsed = time.perf_counter() - start
    target.unlink()
    return elapsed


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def worker_pid(master: int) -> int:
    deadline = time.time() + 30
    while time.time() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise RuntimeError("gunicorn started no worker")


@contextlib.contextmanager
def server(env: dict[str, str], port: int, wsgi: str = "wsgi:app") -> Iterator[int]:
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "--workers",
            "1",
            "--bind",
            f"{HOST}:{port}",
            "--timeout",
            "600",
            wsgi,
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            with contextlib.suppress(OSError):
                socket.create_connection((HOST, port), timeout=1).close()
                break
            if process.poll() is not None:
                raise RuntimeError(process.stderr.read().decode())
            time.sleep(0.2)
        yield process.pid
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def upload(port: int, token: str, path: Path) -> tuple[float, dict]:
    boundary = "----vendor-portal-benchmark-boundary"
    head = (
        f"--{boundary}\r\n"
        'Content-Disposition: form-data; name="evidence_type"\r\n\r\nbcp\r\n'
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{path.name}"\r\n'
        "Content-Type: application/pdf\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    length = len(head) + path.stat().st_size + len(tail)
    connection = http.client.HTTPConnection(HOST, port, timeout=600)
    start = time.perf_counter()
    connection.putrequest("POST", "/api/v1/evidence")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Content-Type", f"multipart/form-data; boundary={boundary}")
    connection.putheader("Content-Length", str(length))
    connection.endheaders()
    connection.send(head)
    with path.open("rb") as source:
        for chunk in iter(lambda: source.read(CHUNK), b""):
            connection.send(chunk)
    connection.send(tail)
    response = connection.getresponse()
    body = response.read()
    elapsed = time.perf_counter() - start
    connection.close()
    if response.status != 201:
        raise RuntimeError(f"upload answered {response.status}: {body[:500]!r}")
    return elapsed, json.loads(body)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mb", type=int, default=1024, help="file size (default 1024)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--wsgi", default="wsgi:app", help="gunicorn app (to profile a variant)")
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024
    folder = Path(tempfile.mkdtemp(prefix="vp-upload-bench-"))
    try:
        env = environment(folder, size)
        token = prepare(folder, env)
        source = folder / "big-plan.pdf"
        print(f"Writing a {args.size_mb} MB test file…", flush=True)
        expected = make_file(source, size)
        (folder / "evidence").mkdir(exist_ok=True)
        copy_s = baseline_copy(source, folder / "evidence")
        port = free_port()
        with server(env, port, args.wsgi) as master:
            worker = worker_pid(master)
            time.sleep(1.0)
            before = rss_mb(worker)
            peak = before
            stop = threading.Event()

            def sample() -> None:
                nonlocal peak
                while not stop.is_set():
                    with contextlib.suppress(OSError, ValueError):
                        peak = max(peak, rss_mb(worker))
                    time.sleep(0.02)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            upload_s, stored = upload(port, token, source)
            stop.set()
            sampler.join()
        growth = peak - before
        mb = size / (1024 * 1024)
        copy_rate, upload_rate = mb / copy_s, mb / upload_s
        ratio = upload_rate / copy_rate
        ok_hash = stored["sha256"] == expected
        ok_memory = growth < MEMORY_TARGET_MB
        ok_ratio = ratio >= RATIO_TARGET
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
        print(f"machine: {os.cpu_count()} CPUs, load average {load} (other work skews both runs)")
        print(f"file: {mb:.0f} MB, stored as version {stored['version']} ({stored['size']} bytes)")
        print(f"sha256 matches what was sent: {ok_hash}")
        print(
            f"server worker RSS: {before:.1f} MB before, {peak:.1f} MB peak, "
            f"growth {growth:.1f} MB (target < {MEMORY_TARGET_MB:.0f} MB): "
            f"{'PASS' if ok_memory else 'FAIL'}"
        )
        print(f"baseline copy + fsync on the same disk: {copy_s:.2f} s, {copy_rate:.0f} MB/s")
        print(f"upload through gunicorn: {upload_s:.2f} s, {upload_rate:.0f} MB/s")
        print(
            f"throughput ratio upload/copy: {ratio:.2f} (target >= {RATIO_TARGET}): "
            f"{'PASS' if ok_ratio else 'FAIL'}"
        )
        return 0 if ok_hash and ok_memory and ok_ratio else 1
    finally:
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
