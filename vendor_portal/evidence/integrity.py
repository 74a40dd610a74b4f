"""Checking the file store against the rows that name its files (pure: no Flask, no database).

Files are addressed by their SHA-256, so a stored file is intact when its bytes hash to the
hash in its key and to the hash every referring row recorded. The check finds:

- mismatches: a file whose bytes no longer hash as they should (altered or truncated on disk);
- missing files: a row naming a key the store does not have;
- orphans: a stored file no row names (an upload whose row was never committed, e.g. a crash
  between the rename and the commit); harmless, and removable once old enough;
- temporary files: uploads in progress or interrupted (a crash mid-stream).

Mismatches and missing files mean evidence is lost; orphans and temporary files only waste space.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Reference:
    """A row that names a stored file."""

    table: str
    row_id: int
    key: str
    sha256: str

    def describe(self) -> str:
        return f"{self.table} {self.row_id}"


@dataclass(frozen=True)
class ObjectState:
    """A stored file and what its bytes hash to now."""

    key: str
    size: int
    modified: float
    actual_sha256: str

    @property
    def key_sha256(self) -> str:
        return self.key.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class TempState:
    name: str
    size: int
    modified: float


@dataclass(frozen=True)
class Mismatch:
    key: str
    actual_sha256: str
    expected: tuple[str, ...]  # the key's hash and every differing row's hash
    rows: tuple[str, ...]


@dataclass(frozen=True)
class Orphan:
    key: str
    size: int
    age_seconds: float


@dataclass(frozen=True)
class Leftover:
    name: str
    size: int
    age_seconds: float


@dataclass
class StoreReport:
    files_checked: int = 0
    bytes_checked: int = 0
    references: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    missing: list[Reference] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    temp_files: list[Leftover] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No evidence lost or altered (orphans and temporary files do not make it fail)."""
        return not self.mismatches and not self.missing

    @property
    def clean(self) -> bool:
        return self.ok and not self.orphans and not self.temp_files

    def lines(self) -> list[str]:
        out = [
            f"Checked {self.files_checked} stored files ({format_bytes(self.bytes_checked)}) "
            f"against {self.references} rows that name them."
        ]
        for item in self.mismatches:
            out.append(
                f"MISMATCH {item.key}: the bytes hash to {item.actual_sha256}, expected "
                f"{' / '.join(item.expected)} (named by {', '.join(item.rows) or 'no row'})"
            )
        for ref in self.missing:
            out.append(f"MISSING {ref.key}: named by {ref.describe()} but not in the store")
        for orphan in self.orphans:
            out.append(
                f"ORPHAN {orphan.key} ({format_bytes(orphan.size)}, "
                f"{format_age(orphan.age_seconds)} old): no row names it"
            )
        for temp in self.temp_files:
            out.append(
                f"TEMP {temp.name} ({format_bytes(temp.size)}, {format_age(temp.age_seconds)} "
                "old): an upload in progress or interrupted"
            )
        if self.clean:
            out.append("Evidence store intact: every file hashes as recorded, none missing.")
        elif self.ok:
            out.append(
                f"No evidence lost or altered; {len(self.orphans)} orphaned and "
                f"{len(self.temp_files)} temporary files take space "
                "(--clean-orphans / --clean-temp remove those old enough)."
            )
        else:
            out.append(
                f"Evidence store damaged: {len(self.mismatches)} files altered, "
                f"{len(self.missing)} missing."
            )
        return out


def assess(
    references: Iterable[Reference],
    objects: Iterable[ObjectState],
    temp_files: Iterable[TempState],
    now: float,
) -> StoreReport:
    """Compare what rows name with what the store holds."""
    by_key: dict[str, list[Reference]] = {}
    report = StoreReport()
    for ref in references:
        by_key.setdefault(ref.key, []).append(ref)
        report.references += 1
    seen: set[str] = set()
    for obj in objects:
        seen.add(obj.key)
        report.files_checked += 1
        report.bytes_checked += obj.size
        rows = by_key.get(obj.key, [])
        wrong_rows = [r for r in rows if r.sha256 != obj.actual_sha256]
        if obj.actual_sha256 != obj.key_sha256 or wrong_rows:
            expected = sorted({obj.key_sha256, *(r.sha256 for r in wrong_rows)})
            report.mismatches.append(
                Mismatch(
                    obj.key,
                    obj.actual_sha256,
                    tuple(expected),
                    tuple(r.describe() for r in rows),
                )
            )
        if not rows:
            report.orphans.append(Orphan(obj.key, obj.size, max(0.0, now - obj.modified)))
    for key in sorted(by_key.keys() - seen):
        report.missing.extend(by_key[key])
    report.temp_files = [
        Leftover(t.name, t.size, max(0.0, now - t.modified))
        for t in sorted(temp_files, key=lambda t: t.modified)
    ]
    return report


def format_bytes(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} bytes"


def format_age(seconds: float) -> str:
    if seconds < 120:
        return f"{int(seconds)} s"
    if seconds < 7200:
        return f"{int(seconds // 60)} min"
    if seconds < 172800:
        return f"{int(seconds // 3600)} h"
    return f"{int(seconds // 86400)} days"
