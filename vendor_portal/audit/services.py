"""The one audit-log writer.

Every flush of an ORM session is inspected: each created, updated or deleted row of an
audited model becomes an entry with its before/after values. Events that change no row
(a sign-in, a failed sign-in, an export) are written with `record_event`. Who acted comes
from a context variable that the web layer and the CLI set; this module never reads the
request.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, insert, inspect, select, update
from sqlalchemy.orm import Session

from vendor_portal.audit.domain import (
    GENESIS_HASH,
    ChainBreak,
    ChainFields,
    StoredEntry,
    entry_hash,
    to_jsonable,
    verify_chain,
)
from vendor_portal.audit.models import AuditEntry, AuditHead
from vendor_portal.db import utcnow

REDACTED = "[redacted]"
HEAD_ID = 1


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    label: str
    address: str | None = None


SYSTEM = Actor(None, "system")
_actor: ContextVar[Actor] = ContextVar("audit_actor", default=SYSTEM)


def set_actor(actor: Actor) -> None:
    _actor.set(actor)


def current_actor() -> Actor:
    return _actor.get()


@contextmanager
def acting_as(actor: Actor) -> Iterator[None]:
    token = _actor.set(actor)
    try:
        yield
    finally:
        _actor.reset(token)


@dataclass(frozen=True)
class PendingEntry:
    action: str
    entity_type: str
    entity_id: str | None
    before: Any
    after: Any


def _audited(obj: object) -> bool:
    return getattr(type(obj), "__audit__", True)


def _redacted_columns(obj: object) -> frozenset[str]:
    return frozenset(getattr(type(obj), "__audit_redact__", ()))


def _ignored_columns(obj: object) -> frozenset[str]:
    return frozenset(getattr(type(obj), "__audit_ignore__", ()))


def _entity_type(obj: object) -> str:
    return type(obj).__tablename__  # type: ignore[attr-defined]


def _entity_id(obj: object) -> str | None:
    # After the INSERT but before the flush completes, new rows have their key but no identity yet.
    key = inspect(obj).mapper.primary_key_from_instance(obj)
    if any(part is None for part in key):
        return None
    return "/".join(str(part) for part in key)


def _value(obj: object, key: str, value: Any) -> Any:
    return REDACTED if key in _redacted_columns(obj) and value is not None else to_jsonable(value)


def _snapshot(obj: object) -> dict[str, Any]:
    state = inspect(obj)
    ignored = _ignored_columns(obj)
    values = {
        attr.key: _value(obj, attr.key, getattr(obj, attr.key))
        for attr in state.mapper.column_attrs
        if attr.key not in ignored
    }
    for rel in state.mapper.relationships:
        # Many-to-many links, when loaded (never lazy-load inside a flush).
        if rel.secondary is not None and rel.key in state.dict:
            values[rel.key] = sorted(_entity_id(item) or "" for item in state.dict[rel.key])
    return values


def _changes(obj: object) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    ignored = _ignored_columns(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        if attr.key in ignored:
            continue
        history = state.attrs[attr.key].history
        if not history.has_changes():
            continue
        old = history.deleted[0] if history.deleted else None
        new = history.added[0] if history.added else None
        if old == new:
            continue
        before[attr.key] = _value(obj, attr.key, old)
        after[attr.key] = _value(obj, attr.key, new)
    return before, after


def _link_changes(obj: object) -> tuple[dict[str, Any], dict[str, Any]]:
    """Changes to many-to-many collections (rows of association tables have no model)."""
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for rel in state.mapper.relationships:
        if rel.secondary is None:
            continue
        history = state.attrs[rel.key].history
        if not history.has_changes():
            continue
        kept = list(history.unchanged)
        before[rel.key] = sorted(_entity_id(i) or "" for i in kept + list(history.deleted))
        after[rel.key] = sorted(_entity_id(i) or "" for i in kept + list(history.added))
    return before, after


def _pending_from_flush(session: Session) -> list[PendingEntry]:
    pending: list[PendingEntry] = []
    for obj in session.new:
        if _audited(obj):
            pending.append(
                PendingEntry("create", _entity_type(obj), _entity_id(obj), None, _snapshot(obj))
            )
    for obj in session.dirty:
        if not _audited(obj) or not session.is_modified(obj):
            continue
        before, after = _changes(obj)
        link_before, link_after = _link_changes(obj)
        before.update(link_before)
        after.update(link_after)
        if after:
            pending.append(
                PendingEntry("update", _entity_type(obj), _entity_id(obj), before, after)
            )
    for obj in session.deleted:
        if _audited(obj):
            pending.append(
                PendingEntry("delete", _entity_type(obj), _entity_id(obj), _snapshot(obj), None)
            )
    return pending


def _append(session: Session, pending: list[PendingEntry]) -> None:
    """Append entries to the chain. The head row update takes a write lock first, so
    concurrent writers queue behind each other instead of forking the chain."""
    if not pending:
        return
    connection = session.connection()
    head = AuditHead.__table__
    connection.execute(
        update(head).where(head.c.id == HEAD_ID).values(seq=head.c.seq + len(pending))
    )
    row = connection.execute(select(head.c.seq, head.c.hash).where(head.c.id == HEAD_ID)).one()
    seq = row.seq - len(pending)
    prev_hash = row.hash
    actor = current_actor()
    occurred_at = utcnow()
    rows = []
    for item in pending:
        seq += 1
        fields = ChainFields(
            seq=seq,
            occurred_at=occurred_at.isoformat(),
            actor_id=actor.user_id,
            actor=actor.label,
            action=item.action,
            entity_type=item.entity_type,
            entity_id=item.entity_id,
            before=item.before,
            after=item.after,
        )
        digest = entry_hash(fields, prev_hash)
        rows.append(
            {
                "seq": seq,
                "occurred_at": occurred_at,
                "actor_id": actor.user_id,
                "actor": actor.label,
                "address": actor.address,
                "action": item.action,
                "entity_type": item.entity_type,
                "entity_id": item.entity_id,
                "before": item.before,
                "after": item.after,
                "prev_hash": prev_hash,
                "hash": digest,
            }
        )
        prev_hash = digest
    connection.execute(insert(AuditEntry.__table__), rows)
    connection.execute(update(head).where(head.c.id == HEAD_ID).values(hash=prev_hash))


def record_event(
    session: Session,
    action: str,
    entity_type: str,
    entity_id: Any = None,
    details: dict[str, Any] | None = None,
) -> None:
    """Write an entry for something that changed no audited row (sign-in, export, ...)."""
    _append(
        session,
        [
            PendingEntry(
                action,
                entity_type,
                None if entity_id is None else str(entity_id),
                None,
                to_jsonable(details),
            )
        ],
    )


def _after_flush(session: Session, flush_context: object) -> None:
    _append(session, _pending_from_flush(session))


def install(session_class: type[Session] | Any) -> None:
    """Listen to every flush of the given session (class or scoped session)."""
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)


def ensure_head(session: Session) -> None:
    """Create the chain head if a database was set up without it (migrations create it)."""
    if session.get(AuditHead, HEAD_ID) is None:
        session.add(AuditHead(id=HEAD_ID, seq=0, hash=GENESIS_HASH))
        session.flush()


def _stored_entries(session: Session) -> Iterator[StoredEntry]:
    stmt = select(AuditEntry).order_by(AuditEntry.seq).execution_options(yield_per=1000)
    result = session.scalars(stmt)
    try:
        for entry in result:
            yield StoredEntry(
                fields=ChainFields(
                    seq=entry.seq,
                    occurred_at=entry.occurred_at.isoformat(),
                    actor_id=entry.actor_id,
                    actor=entry.actor,
                    action=entry.action,
                    entity_type=entry.entity_type,
                    entity_id=entry.entity_id,
                    before=entry.before,
                    after=entry.after,
                ),
                prev_hash=entry.prev_hash,
                hash=entry.hash,
            )
    finally:
        result.close()  # verification may stop early; free the server-side cursor now


def verify(session: Session) -> tuple[int, ChainBreak | None]:
    """(number of entries checked, first break or None)."""
    head = session.get(AuditHead, HEAD_ID)
    head_seq, head_hash = (head.seq, head.hash) if head else (0, GENESIS_HASH)
    count = 0

    def counted() -> Iterator[StoredEntry]:
        nonlocal count
        for entry in _stored_entries(session):
            count += 1
            yield entry

    with closing(counted()) as entries:
        result = verify_chain(entries, head_seq, head_hash)
    return count, result
