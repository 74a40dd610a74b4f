"""Backups end to end: create while data is being written, verify, restore into an empty
instance, and check every hash, the audit chain and the row counts."""

from __future__ import annotations

import io
import tarfile
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from tests.conftest import base_config
from tests.evidence_factories import EvidenceBuilder, pdf_bytes
from vendor_portal.audit.services import record_event
from vendor_portal.backup.domain import MANIFEST_NAME, Manifest
from vendor_portal.backup.services import count_rows, create_backup, verify_archive
from vendor_portal.storage import FilesystemStorage


@pytest.fixture
def restore_url(database_url: str, tmp_path: Path) -> str:
    """An empty database of the same kind: a new SQLite file, or `<test db>_restore` created
    afresh on the PostgreSQL server."""
    if database_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path / 'restored' / 'restored.sqlite3'}"
    url = sa.engine.make_url(database_url)
    name = f"{url.database}_restore"
    admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def restored_app(restore_url: str, tmp_path: Path):
    from vendor_portal import create_app
    from vendor_portal.extensions import db

    app = create_app(base_config(tmp_path / "restored", restore_url))
    yield app
    with app.app_context():
        db.engine.dispose()


def _upload(client, token: str, vendor_id: int, content: bytes, name: str = "bcp.pdf"):
    response = client.post(
        "/api/v1/evidence",
        data={
            "file": (io.BytesIO(content), name),
            "evidence_type": "bcp",
            "vendor_id": str(vendor_id),
        },
        headers={"Authorization": f"Bearer {token}"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201, response.text
    return response.get_json()


def _make_data(app, build, session) -> dict:
    """Vendors, evidence uploaded through the API (audited), files from the builder, events."""
    manager = build.user(role="vendor_manager")
    token = build.token(manager)
    vendors = [build.vendor() for _ in range(3)]
    client = app.test_client()
    uploaded = [
        _upload(client, token, vendor.id, pdf_bytes(f"api-{vendor.id}-{n}"))
        for vendor in vendors
        for n in range(2)
    ]
    EvidenceBuilder(session, app).version(vendors[0], content=pdf_bytes("builder"))
    record_event(session, "test.event", "vendor", vendors[0].id, {"note": "before backup"})
    session.commit()
    return {"uploaded": uploaded, "vendors": vendors}


def _counts(app) -> dict[str, int]:
    from vendor_portal.extensions import db

    with app.app_context():
        return count_rows(db.engine)


def test_backup_and_restore_round_trip(app, build, session, restored_app, tmp_path):
    data = _make_data(app, build, session)
    before = _counts(app)
    archive = tmp_path / "backup.tar"

    created = app.test_cli_runner().invoke(args=["backup", "create", "-o", str(archive)])
    assert created.exit_code == 0, created.output
    assert "7 evidence files" in created.output
    # The backup itself is an audited event, written after the snapshot.
    assert _counts(app)["audit_entry"] == before["audit_entry"] + 1

    checked = app.test_cli_runner().invoke(args=["backup", "verify", str(archive)])
    assert checked.exit_code == 0, checked.output
    assert "members match the manifest" in checked.output

    restored = restored_app.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
    assert restored.exit_code == 0, restored.output
    assert "Restore complete" in restored.output

    after = _counts(restored_app)
    assert {k: v for k, v in after.items() if k not in ("audit_entry", "audit_head")} == {
        k: v for k, v in before.items() if k not in ("audit_entry", "audit_head")
    }
    assert after["audit_entry"] == before["audit_entry"] + 1  # the restore event

    runner = restored_app.test_cli_runner()
    audit = runner.invoke(args=["audit", "verify"])
    assert audit.exit_code == 0 and "Audit chain intact" in audit.output, audit.output
    evidence = runner.invoke(args=["evidence", "verify"])
    assert evidence.exit_code == 0 and "Evidence store intact" in evidence.output
    assert "Checked 7 stored files" in evidence.output

    # Every file is back, byte for byte, under the restored instance's own store.
    store = FilesystemStorage(restored_app.config["EVIDENCE_DIR"])
    assert store.root != FilesystemStorage(app.config["EVIDENCE_DIR"]).root
    client = restored_app.test_client()
    manager_token = build.token(build.user(role="vendor_manager"))  # source db: not restored
    assert manager_token
    from vendor_portal.evidence.models import EvidenceVersion
    from vendor_portal.extensions import db

    with restored_app.app_context():
        versions = db.session.scalars(sa.select(EvidenceVersion)).all()
        assert len(versions) == 7
        for version in versions:
            with store.open_verified(version.storage_key, version.sha256) as handle:
                assert len(handle.read()) == version.size
    assert client.get("/healthz").status_code == 200
    assert {u["sha256"] for u in data["uploaded"]} <= {v.sha256 for v in versions}


def _tamper(archive: Path, member_prefix: str) -> None:
    """Flip one byte inside the first member whose name starts with the prefix."""
    with tarfile.open(archive) as tar:
        member = next(m for m in tar.getmembers() if m.name.startswith(member_prefix))
        offset = member.offset_data + member.size // 2
    with archive.open("r+b") as handle:
        handle.seek(offset)
        byte = handle.read(1)
        handle.seek(offset)
        handle.write(bytes([byte[0] ^ 0xFF]))


@pytest.mark.parametrize("member", ["evidence/", "database/"])
def test_a_tampered_archive_is_refused_before_anything_is_restored(
    app, build, session, restored_app, tmp_path, member
):
    _make_data(app, build, session)
    archive = tmp_path / "backup.tar"
    assert (
        app.test_cli_runner().invoke(args=["backup", "create", "-o", str(archive)]).exit_code == 0
    )
    _tamper(archive, member)

    checked = app.test_cli_runner().invoke(args=["backup", "verify", str(archive)])
    assert checked.exit_code != 0
    assert f"PROBLEM {member}" in checked.output

    restored = restored_app.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
    assert restored.exit_code != 0
    assert "fails verification, nothing was restored" in restored.output
    from vendor_portal.backup.services import database_is_empty
    from vendor_portal.extensions import db

    with restored_app.app_context():
        assert database_is_empty(db.engine)[0]
    store = FilesystemStorage(restored_app.config["EVIDENCE_DIR"])
    assert list(store.iter_objects()) == []


def test_a_manifest_edited_to_match_a_changed_file_still_fails_on_the_hash_in_its_name(
    app, build, session, tmp_path
):
    _make_data(app, build, session)
    archive = tmp_path / "backup.tar"
    assert (
        app.test_cli_runner().invoke(args=["backup", "create", "-o", str(archive)]).exit_code == 0
    )
    # Rebuild the archive with one evidence file replaced and the manifest rewritten to match.
    forged = tmp_path / "forged.tar"
    with tarfile.open(archive) as source, tarfile.open(forged, "w") as target:
        manifest = Manifest.from_json(source.extractfile(MANIFEST_NAME).read())
        replaced = None
        for member in source.getmembers():
            if member.name == MANIFEST_NAME:
                continue
            body = source.extractfile(member).read()
            if replaced is None and member.name.startswith("evidence/"):
                replaced, body = member.name, body.replace(b"%%EOF", b"%%EOX")
                import hashlib

                manifest.members = [
                    m
                    if m.name != member.name
                    else type(m)(m.name, len(body), hashlib.sha256(body).hexdigest())
                    for m in manifest.members
                ]
            member.size = len(body)
            target.addfile(member, io.BytesIO(body))
        raw = manifest.to_json()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(raw)
        target.addfile(info, io.BytesIO(raw))
    check = verify_archive(forged)
    assert check.problems == [f"{replaced} does not hash to the hash in its name"]


def test_restore_refuses_a_database_that_is_not_empty(app, build, session, tmp_path):
    _make_data(app, build, session)
    archive = tmp_path / "backup.tar"
    assert (
        app.test_cli_runner().invoke(args=["backup", "create", "-o", str(archive)]).exit_code == 0
    )
    before = _counts(app)
    # Restoring onto the live instance itself: it has tables, so nothing happens.
    result = app.test_cli_runner().invoke(args=["backup", "restore", str(archive)])
    assert result.exit_code != 0
    assert "The target database is not empty" in result.output
    assert "createdb" in result.output
    assert _counts(app) == before


def test_backup_refuses_to_overwrite_and_leaves_no_partial_archive(app, build, session, tmp_path):
    _make_data(app, build, session)
    archive = tmp_path / "backup.tar"
    archive.write_bytes(b"something else")
    result = app.test_cli_runner().invoke(args=["backup", "create", "-o", str(archive)])
    assert result.exit_code != 0 and "already exists" in result.output
    assert archive.read_bytes() == b"something else"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


def test_backup_while_another_thread_writes_is_consistent(
    app, build, session, restored_app, tmp_path
):
    """Rows and files keep arriving during the backup; the archive holds exactly the files its
    snapshot names, and restores with matching counts and an intact audit chain."""
    from vendor_portal.extensions import db

    _make_data(app, build, session)
    vendor = build.vendor()
    with app.app_context():
        engine = db.engine
    stop = threading.Event()
    written = []
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with Session(engine, expire_on_commit=False) as own:
                builder = EvidenceBuilder(own, app)
                n = 0
                while not stop.is_set():
                    n += 1
                    version = builder.version(vendor, content=pdf_bytes(f"during-{n}"))
                    record_event(own, "test.during_backup", "evidence_version", version.id)
                    own.commit()
                    written.append(version.id)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(written) < 3 and thread.is_alive():
            stop.wait(0.01)
        storage = FilesystemStorage(app.config["EVIDENCE_DIR"])
        result = create_backup(engine, storage, tmp_path / "busy.tar")
        during = len(written)
        while len(written) < during + 3 and thread.is_alive():
            stop.wait(0.01)  # keep writing after the snapshot too
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not errors, errors
    manifest = result.manifest
    assert manifest.counts["evidence_version"] < 7 + len(written)  # later rows left out
    assert manifest.evidence_files == manifest.counts["evidence_version"]  # all distinct files

    restored = restored_app.test_cli_runner().invoke(args=["backup", "restore", str(result.path)])
    assert restored.exit_code == 0, restored.output
    assert "Row counts match the manifest" in restored.output
    after = _counts(restored_app)
    assert after["evidence_version"] == manifest.counts["evidence_version"]
    runner = restored_app.test_cli_runner()
    evidence = runner.invoke(args=["evidence", "verify"])
    assert evidence.exit_code == 0 and "ORPHAN" not in evidence.output, evidence.output
    audit = runner.invoke(args=["audit", "verify"])
    assert audit.exit_code == 0, audit.output
