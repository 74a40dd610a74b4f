"""Data versions: a stamp per vendor service, replaced by every write to its KPI inputs.

Results computed from a service's incidents, measurements and KPI targets (the portfolio's
monthly attainment, see services.AttainmentCache) are reused only while the service's stamp is
the one they were computed at. Two kinds of write replace it:

- ORM flushes that create, change or delete an Incident, KpiMeasurement or Kpi (forms, the
  demo seed, other packages, tests): an after_flush listener on every Session;
- bulk statements, which bypass the ORM (imports): they call bump_data_versions themselves.

The stamp is written in the same transaction as the data, so a reader that reads the stamp
before the data can only pair an old stamp with newer data (a wasted cache entry), never the
reverse. Stamps are random, not counters: a restored or recreated database never matches
an entry computed from another one.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from itertools import chain
from typing import Any

from sqlalchemy import event, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vendor_portal.kpis.models import Incident, Kpi, KpiDataVersion, KpiMeasurement

WATCHED = (Incident, KpiMeasurement, Kpi)
CHUNK = 2000
_TABLE = KpiDataVersion.__table__


def bump_data_versions(session: Session, service_ids: Iterable[int | None]) -> None:
    """Give each service a new stamp (one upsert per chunk, rows locked in id order)."""
    ids = sorted({int(i) for i in service_ids if i is not None})
    if not ids:
        return
    connection = session.connection()
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    stamp = secrets.randbits(62)
    for offset in range(0, len(ids), CHUNK):
        stmt = dialect.insert(_TABLE).values(
            [{"vendor_service_id": i, "version": stamp} for i in ids[offset : offset + CHUNK]]
        )
        connection.execute(
            stmt.on_conflict_do_update(
                index_elements=[_TABLE.c.vendor_service_id],
                set_={"version": stmt.excluded.version},
            )
        )


def data_versions(session: Session) -> dict[int, int]:
    """Every service's current stamp (services never written to have none)."""
    return dict(session.execute(select(_TABLE.c.vendor_service_id, _TABLE.c.version)).all())


def _services_touched(session: Session) -> set[int]:
    touched: set[int] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if not isinstance(obj, WATCHED):
            continue
        if obj in session.dirty and not session.is_modified(obj):
            continue
        history = inspect(obj).attrs.vendor_service_id.history
        # Current and previous values: an incident moved to another service changes both.
        values: Any = chain(history.added, history.unchanged, history.deleted)
        touched.update(v for v in values if v is not None)
    return touched


def _after_flush(session: Session, flush_context: object) -> None:
    bump_data_versions(session, _services_touched(session))


def install() -> None:
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


install()
