"""Crash safety: SIGKILL the server during concurrent uploads and imports, restart it, and show
that nothing partial survived: no half file in the store, no row without its complete file, no
import half applied, and an intact audit chain.

The server is gunicorn in a process group of its own, on the test's database (SQLite, and
PostgreSQL when configured) and evidence directory. The kill is timed, not left to chance:
it comes once every "mid-stream" upload has half its file on the server's disk, while a few
uploads are sending their last bytes and the imports are being processed.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, select

from tests.conftest import ROOT
from tests.kpis_factories import KpiBuilders
from vendor_portal.storage import TEMP_PREFIX, FilesystemStorage

FILE_BYTES = 5 * 1024 * 1024
COMPLETE, MID_STREAM, FINISHING, IMPORTS = 5, 12, 3, 5  # 20 uploads, 5 imports at once
INCIDENTS_PER_IMPORT = 400
BOUNDARY = "crash-test-boundary-7f3a"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Server:
    def __init__(self, database_url: str, evidence_dir: str, log: Path) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "VENDOR_PORTAL_DATABASE_URL": database_url,
            "VENDOR_PORTAL_EVIDENCE_DIR": evidence_dir,
            "VENDOR_PORTAL_SECRET_KEY": "crash-test-secret-key-0123456789-abcdefghij",
            "PYTHONPATH": str(ROOT),
        }
        self.log = log
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "--workers",
                    "2",
                    "--worker-class",
                    "gthread",
                    "--threads",
                    "16",
                    "--timeout",
                    "120",
                    "--bind",
                    f"127.0.0.1:{self.port}",
                    "wsgi:app",
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=log,
                start_new_session=True,  # its own process group, killed as a whole
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited: {self.log.read_text()[-2000:]}")
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            try:
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    return
            except OSError:
                pass
            finally:
                conn.close()
            time.sleep(0.2)
        pytest.fail("gunicorn did not answer /healthz within 60 s")

    def kill(self) -> None:
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


def pdf_of(label: str) -> bytes:
    head = f"%PDF-1.7\n% crash test {label}\n".encode()
    return head + os.urandom(FILE_BYTES - len(head) - 6) + b"\n%%EOF"


def multipart(vendor_id: int, content: bytes, label: str) -> tuple[bytes, bytes]:
    """The body around the file: (preamble, epilogue)."""
    fields = {"vendor_id": str(vendor_id), "evidence_type": "bcp", "title": f"Plan {label}"}
    parts = [
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
        for k, v in fields.items()
    ]
    parts.append(
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="plan-{label}.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    )
    return "".join(parts).encode(), f"\r\n--{BOUNDARY}--\r\n".encode()


@dataclass
class Upload:
    label: str
    content: bytes
    sha256: str = ""
    status: int | None = None
    error: str | None = None
    halfway: threading.Event = field(default_factory=threading.Event)
    sent_all: threading.Event = field(default_factory=threading.Event)


def run_upload(port: int, token: str, vendor_id: int, upload: Upload, hold: threading.Event | None):
    """Send the upload; with `hold`, send half the file and wait for it before the rest."""
    preamble, epilogue = multipart(vendor_id, upload.content, upload.label)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.putrequest("POST", "/api/v1/evidence")
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", f"multipart/form-data; boundary={BOUNDARY}")
        conn.putheader("Content-Length", str(len(preamble) + len(upload.content) + len(epilogue)))
        conn.endheaders()
        conn.send(preamble)
        half = len(upload.content) // 2
        conn.send(upload.content[:half])
        upload.halfway.set()
        if hold is not None:
            hold.wait(60)
        conn.send(upload.content[half:-1])
        conn.send(upload.content[-1:] + epilogue)
        upload.sent_all.set()
        response = conn.getresponse()
        upload.status = response.status
        response.read()
    except OSError as exc:  # the server died under it
        upload.error = repr(exc)
    finally:
        conn.close()


@dataclass
class Import:
    number: int
    status: int | None = None
    error: str | None = None


def run_import(port: int, token: str, service_id: int, job: Import) -> None:
    body = json.dumps(
        [
            {
                "vendor_service": service_id,
                "external_id": f"IMP{job.number}-{i}",
                "title": f"Outage {i} of import {job.number}",
                "severity": "minor",
                "started_at": f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:00:00Z",
                "ended_at": f"2024-01-{1 + i % 28:02d}T{i % 24:02d}:30:00Z",
            }
            for i in range(INCIDENTS_PER_IMPORT)
        ]
    ).encode()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request(
            "POST",
            "/api/v1/incidents",
            body=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        job.status = response.status
        response.read()
    except OSError as exc:
        job.error = repr(exc)
    finally:
        conn.close()


def wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    pytest.fail(f"timed out waiting for {what}")


def test_sigkill_during_uploads_and_imports_leaves_nothing_partial(
    app, build, session, database_url, tmp_path
):
    from vendor_portal.audit.services import verify as verify_audit
    from vendor_portal.evidence.models import EvidenceVersion
    from vendor_portal.extensions import db
    from vendor_portal.kpis.models import Incident

    manager = build.user(role="vendor_manager")
    token = build.token(manager)
    vendor = build.vendor()
    service = KpiBuilders(session).service(vendor)
    evidence_dir = app.config["EVIDENCE_DIR"]
    store = FilesystemStorage(evidence_dir)
    server = Server(database_url, evidence_dir, tmp_path / "gunicorn.log")
    server.start()
    try:
        complete = [Upload(f"complete-{n}", pdf_of(f"complete-{n}")) for n in range(COMPLETE)]
        mid = [Upload(f"mid-{n}", pdf_of(f"mid-{n}")) for n in range(MID_STREAM)]
        finishing = [Upload(f"finish-{n}", pdf_of(f"finish-{n}")) for n in range(FINISHING)]
        for upload in complete + mid + finishing:
            upload.sha256 = hashlib.sha256(upload.content).hexdigest()
        never = threading.Event()  # mid-stream uploads never get to send their second half
        release = threading.Event()  # finishing uploads send the rest just before the kill
        threads = [
            threading.Thread(target=run_upload, args=(server.port, token, vendor.id, u, None))
            for u in complete
        ]
        threads += [
            threading.Thread(target=run_upload, args=(server.port, token, vendor.id, u, never))
            for u in mid
        ]
        threads += [
            threading.Thread(target=run_upload, args=(server.port, token, vendor.id, u, release))
            for u in finishing
        ]
        imports = [Import(n) for n in range(IMPORTS)]
        import_threads = [
            threading.Thread(target=run_import, args=(server.port, token, service.id, job))
            for job in imports
        ]
        for thread in threads:
            thread.start()

        def mid_stream_on_disk() -> bool:
            on_disk = [p for p in store.incoming.glob(TEMP_PREFIX + "*") if p.stat().st_size > 0]
            return len(on_disk) >= MID_STREAM + FINISHING

        wait_for(lambda: all(u.status for u in complete), 120, "the complete uploads")
        wait_for(lambda: all(u.halfway.is_set() for u in mid + finishing), 60, "half-sent uploads")
        wait_for(mid_stream_on_disk, 60, "half-received uploads on the server's disk")
        for thread in import_threads:
            thread.start()
        release.set()
        wait_for(lambda: all(u.sent_all.is_set() for u in finishing), 30, "finishing uploads")
        time.sleep(0.15)  # the imports and the finishing uploads are being processed now
        server.kill()
        never.set()  # the server is gone: their second halves now fail to send
        for thread in threads + import_threads:
            thread.join(timeout=60)
    finally:
        server.stop()
        release.set()
        never.set()

    print(  # the outcome of the race, for whoever reads the test log
        "finishing uploads:",
        [u.status or u.error for u in finishing],
        "imports:",
        [j.status or j.error for j in imports],
    )
    assert all(u.status == 201 for u in complete), [(u.label, u.status) for u in complete]
    assert all(u.status is None for u in mid), "a mid-stream upload was answered"

    # Restart: the portal serves again on the same database and store.
    server.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        conn.request("GET", "/api/v1/evidence", headers={"Authorization": f"Bearer {token}"})
        assert conn.getresponse().status == 200
        conn.close()
    finally:
        server.stop()

    runner = app.test_cli_runner()
    first = runner.invoke(args=["evidence", "verify"])
    assert first.exit_code == 0, first.output  # no altered and no missing file
    assert "MISMATCH" not in first.output and "MISSING" not in first.output
    # The interrupted uploads are flagged as temporary files (none is in the store).
    assert first.output.count(f"TEMP {TEMP_PREFIX}") >= MID_STREAM, first.output

    stored = {obj.sha256: obj for obj in store.iter_objects()}
    with app.app_context():
        versions = db.session.scalars(select(EvidenceVersion)).all()
        # Every row has its complete file, with the recorded hash and size.
        for version in versions:
            with store.open_verified(version.storage_key, version.sha256) as handle:
                assert len(handle.read()) == version.size == FILE_BYTES
        recorded = {v.sha256 for v in versions}
        assert {u.sha256 for u in complete} <= recorded
        assert not {u.sha256 for u in mid} & (recorded | set(stored))  # no half file anywhere
        # A file without a row can only be a finishing upload killed between its file's
        # rename and its row's commit; verify reports it and can remove it.
        assert set(stored) - recorded <= {u.sha256 for u in finishing}

        # Imports are all or nothing.
        for job in imports:
            count = db.session.scalar(
                select(func.count(Incident.id)).where(
                    Incident.external_id.like(f"IMP{job.number}-%")
                )
            )
            assert count in (0, INCIDENTS_PER_IMPORT), (job, count)
            if job.status == 200:
                assert count == INCIDENTS_PER_IMPORT, job

        checked, problem = verify_audit(db.session)
        assert problem is None, problem
        assert checked > 0
    audit = runner.invoke(args=["audit", "verify"])
    assert audit.exit_code == 0 and "Audit chain intact" in audit.output

    cleaned = runner.invoke(
        args=["evidence", "verify", "--clean-temp", "--clean-orphans", "--older-than", "0"]
    )
    assert cleaned.exit_code == 0, cleaned.output
    final = runner.invoke(args=["evidence", "verify"])
    assert final.exit_code == 0
    assert "Evidence store intact" in final.output, final.output
    assert list(store.incoming.glob(TEMP_PREFIX + "*")) == []
