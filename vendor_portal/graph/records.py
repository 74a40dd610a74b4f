"""The change marker of the records the graph is built from.

`ensure_current` keeps the record-built part of the graph in step with vendors, vendor services,
subcontractor declarations and business services. Comparing a fingerprint of all of them costs
about 0.4 s on a large portfolio, so it is done only when the marker (GraphRecordsVersion) has a
stamp other than the one the graph was last checked against. Two kinds of write replace it:

- ORM flushes that create, delete, or change a column the graph is built from of one of those
  records (forms, the API, the demo seed, other packages, tests): an after_flush listener on
  every Session;
- bulk statements, which bypass the ORM: they call `note_records_changed` themselves.

The stamp is written in the same transaction as the records. A reader reads it before the
records, so it can only pair an old stamp with newer records (one more comparison later), never
a new stamp with older records.
"""

from __future__ import annotations

import secrets
from itertools import chain
from typing import Any

from sqlalchemy import Select, event, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vendor_portal.graph.models import BusinessService, GraphRecordsVersion
from vendor_portal.subcontracting.models import SubcontractorDeclaration
from vendor_portal.vendors.models import Vendor, VendorService

MARKER_ID = 1
_TABLE = GraphRecordsVersion.__table__
# What services._records reads of each model (None: every column). Keep in step with it: a
# change to a column left out here is not seen until some other change replaces the stamp.
WATCHED: dict[type, frozenset[str] | None] = {
    Vendor: frozenset({"name", "country", "archived_at"}),
    VendorService: frozenset(
        {"name", "hosting_countries", "cloud_regions", "archived_at", "vendor_id"}
    ),
    SubcontractorDeclaration: frozenset(
        {"vendor_id", "subcontractor_id", "parent_id", "removed_at", "services"}
    ),
    BusinessService: None,
}


def note_records_changed(session: Session) -> None:
    """Replace the stamp (creating the marker when missing), in the session's transaction."""
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    stmt = dialect.insert(_TABLE).values(id=MARKER_ID, stamp=secrets.randbits(62))
    connection.execute(
        stmt.on_conflict_do_update(
            index_elements=[_TABLE.c.id], set_={"stamp": stmt.excluded.stamp}
        )
    )


def create_marker(session: Session) -> int:
    """Create the marker; IntegrityError when it exists (then leave it as another writer set
    it: replacing it could hide that writer's change)."""
    stamp = secrets.randbits(62)
    session.connection().execute(_TABLE.insert().values(id=MARKER_ID, stamp=stamp))
    return stamp


def stamp_query() -> Select[Any]:
    return select(_TABLE.c.stamp).where(_TABLE.c.id == MARKER_ID)


def current_stamp(session: Session) -> int | None:
    """The marker's stamp; None when there is no marker (then nothing can be trusted)."""
    return session.scalar(stamp_query())


def _touches_records(session: Session) -> bool:
    for obj in chain(session.new, session.deleted):
        if type(obj) in WATCHED:
            return True
    for obj in session.dirty:
        if type(obj) not in WATCHED:
            continue
        columns = WATCHED[type(obj)]
        state = inspect(obj)
        names = state.mapper.attrs.keys() if columns is None else columns
        if any(state.attrs[name].history.has_changes() for name in names):
            return True
    return False


def _after_flush(session: Session, flush_context: object) -> None:
    if _touches_records(session):
        note_records_changed(session)


def install() -> None:
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


install()
