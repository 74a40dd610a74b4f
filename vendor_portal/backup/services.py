"""Backups: one consistent archive of the database and the evidence store, made while serving.

Consistency: the database is copied as one snapshot (SQLite's online backup API; on PostgreSQL
`pg_dump` in a transaction whose snapshot is exported, so the rows counted and the files listed
are read in the very same snapshot). Evidence files are content-addressed and never change, so
the archive takes exactly the files the snapshot's rows name: a file uploaded after the
snapshot is left out along with its row.

Restoring refuses a database that has any table, checks every member against the manifest
before it touches anything, puts the evidence files in place (each checked against its hash),
then the database, and finally re-checks the evidence store and the audit chain.
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import importlib.metadata
import io
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from vendor_portal.audit.domain import GENESIS_HASH
from vendor_portal.backup.domain import (
    DATABASE_MEMBERS,
    MANIFEST_NAME,
    HashingReader,
    Manifest,
    ManifestError,
    Member,
    SeenMember,
    archive_problems,
    evidence_key,
    evidence_member,
)
from vendor_portal.db import utcnow
from vendor_portal.evidence.integrity import Reference
from vendor_portal.evidence.integrity_services import load_references
from vendor_portal.storage import CHUNK_SIZE, FileStorage, StoredFileMissing

COPY_BUFFER = CHUNK_SIZE


class BackupError(RuntimeError):
    """The backup could not be made; nothing was left at the output path."""


class RestoreRefused(RuntimeError):
    """The restore was refused before anything was changed."""


@dataclass
class Snapshot:
    database: str
    path: Path
    references: list[Reference]
    counts: dict[str, int]
    audit_head: dict[str, Any]
    alembic_revision: str | None
    tool: str | None = None


# ---------------------------------------------------------------------------------------------
# Reading a snapshot


def describe(connection: Connection) -> tuple[list[Reference], dict[str, int], dict, str | None]:
    """What a database holds: rows naming stored files, row counts, audit head, revision."""
    tables = sorted(sa.inspect(connection).get_table_names())
    counts = {
        name: connection.execute(
            sa.select(sa.func.count()).select_from(sa.table(name))
        ).scalar_one()
        for name in tables
    }
    head = {"seq": 0, "hash": GENESIS_HASH}
    if "audit_head" in tables:
        table = sa.table("audit_head", sa.column("id"), sa.column("seq"), sa.column("hash"))
        row = connection.execute(
            sa.select(table.c.seq, table.c.hash).where(table.c.id == 1)
        ).first()
        if row is not None:
            head = {"seq": row.seq, "hash": row.hash}
    revision = None
    if "alembic_version" in tables:
        table = sa.table("alembic_version", sa.column("version_num"))
        revision = (
            ",".join(sorted(connection.execute(sa.select(table.c.version_num)).scalars())) or None
        )
    return load_references(connection), counts, head, revision


def database_kind(engine: Engine) -> str:
    name = engine.dialect.name
    if name not in DATABASE_MEMBERS:
        raise BackupError(f"Backups support SQLite and PostgreSQL, not {name}.")
    return name


def snapshot_database(engine: Engine, workdir: Path, bin_dir: str | None = None) -> Snapshot:
    if database_kind(engine) == "sqlite":
        return _snapshot_sqlite(engine, workdir)
    return _snapshot_postgres(engine, workdir, bin_dir)


def _sqlite_path(engine: Engine) -> Path:
    database = engine.url.database
    if not database or database == ":memory:":
        raise BackupError("An in-memory SQLite database cannot be backed up.")
    return Path(database)


def _snapshot_sqlite(engine: Engine, workdir: Path) -> Snapshot:
    source_path = _sqlite_path(engine)
    target = workdir / "sqlite.db"
    # The online backup API copies every page in one step under one read transaction: a
    # consistent snapshot, while WAL lets writers carry on.
    source = sqlite3.connect(source_path, timeout=30)
    try:
        copy = sqlite3.connect(target)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            copy.close()
    finally:
        source.close()
    snapshot_engine = sa.create_engine(f"sqlite:///{target}")
    try:
        with snapshot_engine.connect() as connection:
            references, counts, head, revision = describe(connection)
    finally:
        snapshot_engine.dispose()
    return Snapshot("sqlite", target, references, counts, head, revision)


# PostgreSQL client tools -----------------------------------------------------------------------


def _tool_major(path: str) -> int | None:
    try:
        out = subprocess.run(  # noqa: S603 (a PostgreSQL client binary we located)
            [path, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"\)\s+(\d+)", out)
    return int(match.group(1)) if match else None


def find_pg_tool(name: str, minimum_major: int, bin_dir: str | None = None) -> tuple[str, str]:
    """(path, version line) of the newest `pg_dump`/`pg_restore` at least `minimum_major`."""
    candidates: list[str] = []
    if bin_dir:
        candidates.append(str(Path(bin_dir) / name))
    candidates += sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    found = shutil.which(name)
    if found:
        candidates.append(found)
    versions = [(major, path) for path in candidates if (major := _tool_major(path)) is not None]
    usable = sorted((v for v in versions if v[0] >= minimum_major), reverse=True)
    if not usable:
        have = ", ".join(f"{p} ({m})" for m, p in versions) or "none"
        raise BackupError(
            f"{name} {minimum_major} or newer is needed for this PostgreSQL server; found {have}. "
            f"Install postgresql-client-{minimum_major} or set VENDOR_PORTAL_PG_BIN_DIR."
        )
    major, path = usable[0]
    line = subprocess.run(  # noqa: S603
        [path, "--version"], capture_output=True, text=True, timeout=30, check=True
    ).stdout.strip()
    return path, line


def libpq_target(engine: Engine) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment carrying it (so that
    it does not show in the process list)."""
    url = engine.url
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    uri = url.set(drivername="postgresql", password=None).render_as_string(hide_password=False)
    return uri, env


def _server_major(connection: Connection) -> int:
    return int(connection.execute(sa.text("SHOW server_version_num")).scalar_one()) // 10000


def _snapshot_postgres(engine: Engine, workdir: Path, bin_dir: str | None) -> Snapshot:
    target = workdir / "postgresql.dump"
    uri, env = libpq_target(engine)
    with engine.connect() as plain:
        connection = plain.execution_options(isolation_level="REPEATABLE READ")
        with connection.begin():
            connection.execute(sa.text("SET TRANSACTION READ ONLY"))
            snapshot_id = connection.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            references, counts, head, revision = describe(connection)
            pg_dump, version = find_pg_tool("pg_dump", _server_major(connection), bin_dir)
            # pg_dump reads the exported snapshot: the same rows this transaction counted.
            result = subprocess.run(  # noqa: S603
                [
                    pg_dump,
                    "--format=custom",
                    f"--snapshot={snapshot_id}",
                    "--no-owner",
                    "--no-privileges",
                    f"--file={target}",
                    f"--dbname={uri}",
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            if result.returncode != 0:
                raise BackupError(f"pg_dump failed: {result.stderr.strip()}")
    return Snapshot("postgresql", target, references, counts, head, revision, tool=version)


# ---------------------------------------------------------------------------------------------
# Writing the archive


def app_version() -> str:
    try:
        return importlib.metadata.version("vendor_portal")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _add_stream(tar: tarfile.TarFile, name: str, source: BinaryIO, size: int) -> Member:
    info = tarfile.TarInfo(name)
    info.size = size
    info.mtime = int(time.time())
    info.mode = 0o600
    reader = HashingReader(source)
    tar.addfile(info, reader)  # copies exactly `size` bytes, in COPY_BUFFER reads
    return Member(name, reader.size, reader.sha256)


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: Manifest
    manifest_sha256: str


def create_backup(
    engine: Engine,
    storage: FileStorage,
    output: Path,
    *,
    bin_dir: str | None = None,
) -> BackupResult:
    """Write the archive to `output` (via a temporary name, renamed once complete)."""
    output = output.resolve()
    if output.exists():
        raise BackupError(f"{output} already exists; choose another name.")
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    with tempfile.TemporaryDirectory(prefix=".backup-", dir=output.parent) as work:
        snapshot = snapshot_database(engine, Path(work), bin_dir)
        keys = sorted({ref.key for ref in snapshot.references})
        sizes = {obj.key: obj.size for obj in storage.iter_objects()}
        missing = [k for k in keys if k not in sizes]
        if missing:
            raise BackupError(
                f"{len(missing)} evidence files named in the database are not in the store "
                f"(first: {missing[0]}); run `flask evidence verify` and fix the store first."
            )
        try:
            manifest = _write_archive(partial, snapshot, storage, keys, sizes)
            with partial.open("rb") as handle:
                os.fsync(handle.fileno())
            os.replace(partial, output)
        finally:
            partial.unlink(missing_ok=True)
    return BackupResult(output, manifest, hashlib.sha256(manifest.to_json()).hexdigest())


def _write_archive(
    path: Path, snapshot: Snapshot, storage: FileStorage, keys: list[str], sizes: dict[str, int]
) -> Manifest:
    members: list[Member] = []
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT, copybufsize=COPY_BUFFER) as tar:
        with snapshot.path.open("rb") as handle:
            members.append(
                _add_stream(
                    tar, DATABASE_MEMBERS[snapshot.database], handle, snapshot.path.stat().st_size
                )
            )
        evidence_bytes = 0
        for key in keys:
            try:
                handle = storage.open_raw(key)
            except StoredFileMissing as exc:
                raise BackupError(f"{key} vanished from the store during the backup.") from exc
            with contextlib.closing(handle):
                member = _add_stream(tar, evidence_member(key), handle, sizes[key])
            if member.sha256 != key.rsplit("/", 1)[-1]:
                raise BackupError(
                    f"{key} hashes to {member.sha256}: the stored file is altered; run "
                    "`flask evidence verify`."
                )
            members.append(member)
            evidence_bytes += member.size
        manifest = Manifest(
            created_at=utcnow().isoformat(),
            app_version=app_version(),
            database=snapshot.database,
            alembic_revision=snapshot.alembic_revision,
            counts=snapshot.counts,
            audit_head=snapshot.audit_head,
            evidence_files=len(keys),
            evidence_bytes=evidence_bytes,
            members=members,
            tool=snapshot.tool,
        )
        raw = manifest.to_json()
        info = tarfile.TarInfo(MANIFEST_NAME)
        info.size = len(raw)
        info.mtime = int(time.time())
        info.mode = 0o600
        tar.addfile(info, io.BytesIO(raw))
    return manifest


# ---------------------------------------------------------------------------------------------
# Checking an archive


@dataclass
class ArchiveCheck:
    manifest: Manifest | None
    problems: list[str]

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.problems


def _drain(stream: BinaryIO) -> HashingReader:
    reader = HashingReader(stream)
    while reader.read(COPY_BUFFER):
        pass
    return reader


def verify_archive(path: Path) -> ArchiveCheck:
    """Hash every member and compare with the manifest; nothing is extracted."""
    try:
        tar = tarfile.open(path, "r:", copybufsize=COPY_BUFFER)  # noqa: SIM115 (closed below)
    except (OSError, tarfile.TarError) as exc:
        return ArchiveCheck(None, [f"{path} cannot be read as a backup archive: {exc}"])
    with tar:
        try:
            members = tar.getmembers()
            manifests = [m for m in members if m.name == MANIFEST_NAME]
            if len(manifests) != 1:
                return ArchiveCheck(
                    None, [f"the archive has {len(manifests)} {MANIFEST_NAME} members, not 1"]
                )
            raw = tar.extractfile(manifests[0])
            manifest = Manifest.from_json(raw.read() if raw else b"")
            seen = []
            for member in members:
                if member.name == MANIFEST_NAME:
                    continue
                if not member.isfile():
                    seen.append(SeenMember(member.name, False, 0, None))
                    continue
                stream = tar.extractfile(member)
                assert stream is not None  # a regular file always has a stream
                reader = _drain(stream)
                seen.append(SeenMember(member.name, True, reader.size, reader.sha256))
        except ManifestError as exc:
            return ArchiveCheck(None, [str(exc)])
        except (OSError, tarfile.TarError, EOFError) as exc:
            return ArchiveCheck(None, [f"the archive is damaged: {exc}"])
    return ArchiveCheck(manifest, archive_problems(manifest, seen))


# ---------------------------------------------------------------------------------------------
# Restoring


def database_is_empty(engine: Engine) -> tuple[bool, list[str]]:
    """(empty, some table names): empty means no table at all, not even a migrated schema."""
    if engine.dialect.name == "sqlite":
        path = _sqlite_path(engine)
        if not path.exists() or path.stat().st_size == 0:
            return True, []
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            names = list(
                connection.execute(
                    sa.text(
                        "SELECT table_schema || '.' || table_name FROM information_schema.tables "
                        "WHERE table_schema NOT IN ('pg_catalog', 'information_schema') "
                        "ORDER BY 1 LIMIT 5"
                    )
                ).scalars()
            )
        else:
            names = sorted(sa.inspect(connection).get_table_names())[:5]
    return not names, names


@dataclass
class RestoreResult:
    manifest: Manifest
    evidence_files: int


def restore_archive(
    engine: Engine,
    storage: FileStorage,
    path: Path,
    *,
    bin_dir: str | None = None,
    progress: Callable[[str], None] = lambda _: None,
) -> RestoreResult:
    """Restore into an empty database (and its store). Refuses before changing anything when
    the archive fails its manifest, the database kind differs or the database has tables."""
    kind = database_kind(engine)
    empty, names = database_is_empty(engine)
    if not empty:
        raise RestoreRefused(
            f"The target database is not empty (it has tables: {', '.join(names)}). Restore "
            "into a new, empty database (createdb, without `db upgrade`)."
        )
    check = verify_archive(path)
    if not check.ok:
        shown = "; ".join(check.problems[:5])
        more = f" (and {len(check.problems) - 5} more)" if len(check.problems) > 5 else ""
        raise RestoreRefused(f"{path} fails verification, nothing was restored: {shown}{more}.")
    manifest = check.manifest
    assert manifest is not None
    progress(f"Archive verified: {len(manifest.members)} members match the manifest.")
    if manifest.database != kind:
        raise RestoreRefused(
            f"The archive holds a {manifest.database} snapshot; the target database is {kind}. "
            "Restore into the same kind of database."
        )
    pg_restore = None
    if kind == "postgresql":
        dumped_major = _dump_major(manifest.tool)
        pg_restore, _ = find_pg_tool("pg_restore", dumped_major, bin_dir)
    engine.dispose()
    parent = _work_parent(engine)
    with tempfile.TemporaryDirectory(prefix=".restore-", dir=parent) as work:
        snapshot_file = Path(work) / Path(manifest.database_member).name
        restored = 0
        with tarfile.open(path, "r:", copybufsize=COPY_BUFFER) as tar:
            for member in _members_in_order(tar):
                stream = tar.extractfile(member)
                if stream is None:
                    continue
                key = evidence_key(member.name)
                if key is not None:
                    storage.import_object(stream, key.rsplit("/", 1)[-1])
                    restored += 1
                elif member.name == manifest.database_member:
                    with snapshot_file.open("wb") as out:
                        shutil.copyfileobj(stream, out, COPY_BUFFER)
                        out.flush()
                        os.fsync(out.fileno())
        progress(f"Evidence files in place: {restored}.")
        if kind == "sqlite":
            _restore_sqlite(engine, snapshot_file)
        else:
            _restore_postgres(engine, snapshot_file, pg_restore)
        progress(f"Database restored ({kind}, revision {manifest.alembic_revision}).")
    engine.dispose()
    return RestoreResult(manifest, restored)


def _members_in_order(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    for member in tar:
        if member.isfile() and member.name != MANIFEST_NAME:
            yield member


def _work_parent(engine: Engine) -> str | None:
    if engine.dialect.name == "sqlite":
        parent = _sqlite_path(engine).resolve().parent
        parent.mkdir(parents=True, exist_ok=True)
        return str(parent)
    return None


def _dump_major(tool: str | None) -> int:
    match = re.search(r"\)\s+(\d+)", tool or "")
    return int(match.group(1)) if match else 0


def _restore_sqlite(engine: Engine, snapshot_file: Path) -> None:
    target = _sqlite_path(engine).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("-wal", "-shm"):  # of the empty file the app may have opened
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(snapshot_file, target)  # same directory: atomic


def _restore_postgres(engine: Engine, dump: Path, pg_restore: str | None) -> None:
    assert pg_restore is not None
    uri, env = libpq_target(engine)
    result = subprocess.run(  # noqa: S603
        [
            pg_restore,
            "--exit-on-error",
            "--single-transaction",
            "--no-owner",
            "--no-privileges",
            f"--dbname={uri}",
            str(dump),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BackupError(
            f"pg_restore failed (its single transaction was rolled back): {result.stderr.strip()}"
        )


def count_rows(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return describe(connection)[1]
