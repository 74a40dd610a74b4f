"""The audit chain: each entry's hash covers its content and the previous entry's hash.

Editing any field of a row breaks that row's hash; deleting a row breaks the next row's link
(or, for the newest rows, the chain head); inserting a row breaks the sequence.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

GENESIS_HASH = "0" * 64


def to_jsonable(value: Any) -> Any:
    """Plain JSON value for a column value (dates as ISO 8601, decimals as strings)."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return hashlib.sha256(value).hexdigest()
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_jsonable(v) for v in value]
    return str(value)


@dataclass(frozen=True)
class ChainFields:
    seq: int
    occurred_at: str
    actor_id: int | None
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    before: Any
    after: Any

    def canonical(self, prev_hash: str) -> bytes:
        payload = {
            "seq": self.seq,
            "prev": prev_hash,
            "at": self.occurred_at,
            "actor_id": self.actor_id,
            "actor": self.actor,
            "action": self.action,
            "entity_type": self.entity_type,
            "entity_id": self.entity_id,
            "before": self.before,
            "after": self.after,
        }
        return json.dumps(
            payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()


def entry_hash(fields: ChainFields, prev_hash: str) -> str:
    return hashlib.sha256(fields.canonical(prev_hash)).hexdigest()


@dataclass(frozen=True)
class StoredEntry:
    fields: ChainFields
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainBreak:
    seq: int
    reason: str


def verify_chain(
    entries: Iterable[StoredEntry], head_seq: int, head_hash: str
) -> ChainBreak | None:
    """The first place where the stored chain disagrees with itself, or None when intact."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    for entry in entries:
        seq = entry.fields.seq
        if seq != expected_seq:
            return ChainBreak(
                expected_seq, f"entry {expected_seq} is missing (next stored is {seq})"
            )
        if entry.prev_hash != expected_prev:
            return ChainBreak(
                seq, "its link to the previous entry does not match (a row was edited or removed)"
            )
        if entry_hash(entry.fields, entry.prev_hash) != entry.hash:
            return ChainBreak(seq, "its content does not match its hash (the row was edited)")
        expected_prev = entry.hash
        expected_seq += 1
    last_seq = expected_seq - 1
    if last_seq != head_seq:
        return ChainBreak(
            last_seq + 1, f"the chain head records {head_seq} entries but {last_seq} are stored"
        )
    if expected_prev != head_hash:
        return ChainBreak(last_seq, "the newest entry does not match the chain head")
    return None
