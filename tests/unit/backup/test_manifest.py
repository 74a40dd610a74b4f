"""The backup manifest and the archive checks, as pure functions."""

import hashlib
import io

import pytest

from vendor_portal.backup.domain import (
    HashingReader,
    Manifest,
    ManifestError,
    Member,
    SeenMember,
    archive_problems,
    evidence_key,
)

BODY = b"%PDF-1.7 evidence"
SHA = hashlib.sha256(BODY).hexdigest()
KEY = f"sha256/{SHA[:2]}/{SHA[2:4]}/{SHA}"
DB = Member("database/sqlite.db", 10, "d" * 64)
EVIDENCE = Member(f"evidence/{KEY}", len(BODY), SHA)


def manifest(**changes) -> Manifest:
    values = dict(
        created_at="2026-01-01T00:00:00+00:00",
        app_version="0.1.0",
        database="sqlite",
        alembic_revision="be681fd0a348",
        counts={"vendor": 3},
        audit_head={"seq": 5, "hash": "a" * 64},
        evidence_files=1,
        evidence_bytes=len(BODY),
        members=[DB, EVIDENCE],
    )
    values.update(changes)
    return Manifest(**values)


def seen(member: Member, **changes) -> SeenMember:
    values = dict(name=member.name, is_file=True, size=member.size, sha256=member.sha256)
    values.update(changes)
    return SeenMember(**values)


def test_round_trips_through_json():
    original = manifest()
    assert Manifest.from_json(original.to_json()) == original


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"not json", "not valid JSON"),
        (b'{"format": "zip"}', "does not describe a vendor portal backup"),
        (b'{"format": "vendor-portal-backup", "format_version": 9}', "format version 9"),
        (b'{"format": "vendor-portal-backup", "format_version": 1}', "lacks or garbles"),
    ],
)
def test_unreadable_manifests_are_refused_with_the_reason(raw, message):
    with pytest.raises(ManifestError, match=message):
        Manifest.from_json(raw)


def test_a_sound_archive_has_no_problems():
    assert archive_problems(manifest(), [seen(DB), seen(EVIDENCE)]) == []


def test_changed_missing_extra_and_odd_members_are_each_named():
    problems = archive_problems(
        manifest(),
        [
            seen(DB, sha256="e" * 64),
            SeenMember("../etc/passwd", True, 1, "f" * 64),
            SeenMember("evidence/link", False, 0, None),
        ],
    )
    assert problems == [
        f"database/sqlite.db has 10 bytes hashing to {'e' * 64}; the manifest says 10 bytes, "
        f"{'d' * 64}",
        "../etc/passwd is in the archive but not in the manifest",
        "evidence/link is in the archive but not in the manifest",
        f"{EVIDENCE.name} is in the manifest but missing from the archive",
    ]


def test_an_evidence_file_must_hash_to_its_name_even_if_the_manifest_agrees():
    forged = Member(EVIDENCE.name, 3, "b" * 64)
    problems = archive_problems(manifest(members=[DB, forged]), [seen(DB), seen(forged)])
    assert problems == [f"{EVIDENCE.name} does not hash to the hash in its name"]


def test_counts_and_snapshot_presence_are_checked():
    problems = archive_problems(manifest(members=[EVIDENCE], evidence_files=2), [seen(EVIDENCE)])
    assert "the manifest lists no database snapshot (database/sqlite.db)" in problems
    assert "the manifest counts 2 evidence files but lists 1" in problems


def test_evidence_key_accepts_only_storage_keys():
    assert evidence_key(EVIDENCE.name) == KEY
    assert evidence_key("evidence/sha256/../x") is None
    assert evidence_key(f"/evidence/{KEY}") is None


def test_hashing_reader_hashes_what_passes_through():
    reader = HashingReader(io.BytesIO(BODY))
    assert reader.read(4) + reader.read() == BODY
    assert (reader.sha256, reader.size) == (SHA, len(BODY))
