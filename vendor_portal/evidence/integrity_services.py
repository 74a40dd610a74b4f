"""`evidence verify`: re-hash the file store and compare it with the rows that name its files.

Rows are read first, then the store is listed: a row is committed only after its file is in
place, so every file a row read here names was already stored when the listing began. A file
stored after the rows were read shows as a young orphan (an upload in progress), which is why
cleaning orphans takes an age.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from vendor_portal.evidence.integrity import ObjectState, Reference, StoreReport, TempState, assess
from vendor_portal.storage import FileStorage, StoredFileMissing

# Every column pair that names a file in the store: (table, key column, sha256 column).
STORE_REFERENCES: tuple[tuple[str, str, str], ...] = (
    ("evidence_version", "storage_key", "sha256"),
    ("finding_evidence", "storage_key", "sha256"),
    ("flow_down_item", "evidence_key", "evidence_sha256"),
)


def load_references(connection: Connection) -> list[Reference]:
    """Rows naming stored files, read on this connection (and so in its transaction)."""
    existing = set(sa.inspect(connection).get_table_names())
    references: list[Reference] = []
    for table_name, key_column, sha_column in STORE_REFERENCES:
        if table_name not in existing:
            continue
        table = sa.table(table_name, sa.column("id"), sa.column(key_column), sa.column(sha_column))
        rows = connection.execute(
            sa.select(table.c.id, table.c[key_column], table.c[sha_column])
            .where(table.c[key_column].is_not(None))
            .order_by(table.c.id)
        )
        references.extend(Reference(table_name, row[0], row[1], row[2]) for row in rows)
    return references


def _hashed_objects(storage: FileStorage) -> Iterator[ObjectState]:
    for obj in storage.iter_objects():
        try:
            actual, size = storage.hash_object(obj.key)
        except StoredFileMissing:
            continue  # deleted since it was listed
        yield ObjectState(obj.key, size, obj.modified, actual)


def check_store(connection: Connection, storage: FileStorage) -> StoreReport:
    references = load_references(connection)
    temp = [TempState(t.path.name, t.size, t.modified) for t in storage.temp_files()]
    return assess(references, _hashed_objects(storage), temp, time.time())


@dataclass(frozen=True)
class Cleanup:
    temp_removed: int
    orphans_removed: int


def clean_store(
    report: StoreReport,
    storage: FileStorage,
    older_than_seconds: float,
    *,
    temp: bool,
    orphans: bool,
) -> Cleanup:
    """Remove the temporary files and orphans the report found, when at least this old."""
    temp_removed = orphans_removed = 0
    if temp:
        for leftover in report.temp_files:
            if leftover.age_seconds >= older_than_seconds:
                (storage.incoming / leftover.name).unlink(missing_ok=True)
                temp_removed += 1
    if orphans:
        for orphan in report.orphans:
            if orphan.age_seconds >= older_than_seconds:
                storage.delete_object(orphan.key)
                orphans_removed += 1
    return Cleanup(temp_removed, orphans_removed)
