"""The backup archive's manifest and its checks (pure: no Flask, no database).

An archive is a tar file:

    database/sqlite.db or database/postgresql.dump   the snapshot
    evidence/sha256/ab/cd/abcd...                     every file the snapshot's rows name
    manifest.json                                     written last

The manifest lists every other member with its size and SHA-256, and says what the snapshot
holds (alembic revision, row counts, the audit chain's head). An archive is sound when its
members are exactly those listed, each with the listed size and hash, and each evidence file
hashes to the hash in its name.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, BinaryIO

FORMAT = "vendor-portal-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
DATABASE_MEMBERS = {"sqlite": "database/sqlite.db", "postgresql": "database/postgresql.dump"}
EVIDENCE_PREFIX = "evidence/"
_EVIDENCE_MEMBER = re.compile(r"evidence/(sha256/[0-9a-f]{2}/[0-9a-f]{2}/([0-9a-f]{64}))")


class ManifestError(ValueError):
    """The manifest cannot be read or does not describe a backup of this kind."""


@dataclass(frozen=True)
class Member:
    name: str
    size: int
    sha256: str


@dataclass
class Manifest:
    created_at: str
    app_version: str
    database: str  # "sqlite" or "postgresql"
    alembic_revision: str | None
    counts: dict[str, int]
    audit_head: dict[str, Any]  # {"seq": int, "hash": str}
    evidence_files: int
    evidence_bytes: int
    members: list[Member] = field(default_factory=list)
    tool: str | None = None  # pg_dump's version line, for PostgreSQL

    @property
    def database_member(self) -> str:
        return DATABASE_MEMBERS[self.database]

    def to_json(self) -> bytes:
        data = {"format": FORMAT, "format_version": FORMAT_VERSION, **asdict(self)}
        data["members"] = [asdict(m) for m in sorted(self.members, key=lambda m: m.name)]
        return (json.dumps(data, indent=2, sort_keys=True) + "\n").encode()

    @classmethod
    def from_json(cls, raw: bytes) -> Manifest:
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{MANIFEST_NAME} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ManifestError(f"{MANIFEST_NAME} does not describe a vendor portal backup.")
        if data.get("format_version") != FORMAT_VERSION:
            raise ManifestError(
                f"This backup has format version {data.get('format_version')!r}; "
                f"this version of the portal reads version {FORMAT_VERSION}."
            )
        try:
            members = [
                Member(str(m["name"]), int(m["size"]), str(m["sha256"])) for m in data["members"]
            ]
            manifest = cls(
                created_at=str(data["created_at"]),
                app_version=str(data["app_version"]),
                database=str(data["database"]),
                alembic_revision=data["alembic_revision"],
                counts={str(k): int(v) for k, v in data["counts"].items()},
                audit_head={
                    "seq": int(data["audit_head"]["seq"]),
                    "hash": str(data["audit_head"]["hash"]),
                },
                evidence_files=int(data["evidence_files"]),
                evidence_bytes=int(data["evidence_bytes"]),
                members=members,
                tool=data.get("tool"),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ManifestError(f"{MANIFEST_NAME} lacks or garbles a field: {exc!r}") from exc
        if manifest.database not in DATABASE_MEMBERS:
            raise ManifestError(f"Unknown database kind {manifest.database!r} in {MANIFEST_NAME}.")
        return manifest


def evidence_member(key: str) -> str:
    return EVIDENCE_PREFIX + key


def evidence_key(member_name: str) -> str | None:
    """The storage key of an evidence member, or None if the name is not one."""
    match = _EVIDENCE_MEMBER.fullmatch(member_name)
    return match.group(1) if match else None


class HashingReader(io.RawIOBase):
    """Reads through to `source`, hashing and counting what passes."""

    def __init__(self, source: BinaryIO) -> None:
        super().__init__()
        self.source = source
        self.digest = hashlib.sha256()
        self.size = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        data = self.source.read(size)
        self.digest.update(data)
        self.size += len(data)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    @property
    def sha256(self) -> str:
        return self.digest.hexdigest()


@dataclass(frozen=True)
class SeenMember:
    """A member as found in the archive: its type, and for files what its bytes hash to."""

    name: str
    is_file: bool
    size: int
    sha256: str | None


def archive_problems(manifest: Manifest, seen: Iterable[SeenMember]) -> list[str]:
    """Everything wrong with an archive's members, measured against its manifest."""
    problems: list[str] = []
    expected = {m.name: m for m in manifest.members}
    found: set[str] = set()
    for member in seen:
        if member.name == MANIFEST_NAME:
            continue
        if member.name in found:
            problems.append(f"{member.name} appears twice in the archive")
            continue
        found.add(member.name)
        listed = expected.get(member.name)
        if listed is None:
            problems.append(f"{member.name} is in the archive but not in the manifest")
            continue
        if not member.is_file:
            problems.append(f"{member.name} is not a regular file")
            continue
        if member.size != listed.size or member.sha256 != listed.sha256:
            problems.append(
                f"{member.name} has {member.size} bytes hashing to {member.sha256}; the "
                f"manifest says {listed.size} bytes, {listed.sha256}"
            )
        key = evidence_key(member.name)
        if key is not None and member.sha256 != key.rsplit("/", 1)[-1]:
            problems.append(f"{member.name} does not hash to the hash in its name")
    for name in sorted(expected.keys() - found):
        problems.append(f"{name} is in the manifest but missing from the archive")
    for name in expected:
        if name != manifest.database_member and evidence_key(name) is None:
            problems.append(f"the manifest lists {name!r}, which is no member a backup has")
    if manifest.database_member not in expected:
        problems.append(f"the manifest lists no database snapshot ({manifest.database_member})")
    evidence = [m for m in manifest.members if evidence_key(m.name) is not None]
    if len(evidence) != manifest.evidence_files:
        problems.append(
            f"the manifest counts {manifest.evidence_files} evidence files "
            f"but lists {len(evidence)}"
        )
    return problems
