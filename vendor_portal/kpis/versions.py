"""Data versions: a stamp per vendor service, replaced by every write to what the KPI pages
show of it.

Results computed from a service's incidents, measurements and KPI targets (the portfolio's
monthly attainment, see services.AttainmentCache; scorecards, see services.ScorecardCache) are
reused only while the service's stamp is the one they were computed at; the portfolio as a
whole while the sum of all stamps is (fingerprint). Two kinds of write replace a stamp:

- ORM flushes that create, change or delete an Incident, KpiMeasurement, Kpi or KpiBreach of
  the service, the service itself (name, type, archived) or its vendor (name, tier,
  archived): an after_flush listener on every Session (forms, the demo seed, other packages,
  tests). Vendors, services and breaches are written through the ORM only;
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

from sqlalchemy import Integer, cast, event, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from vendor_portal.kpis.models import Incident, Kpi, KpiBreach, KpiDataVersion, KpiMeasurement
from vendor_portal.vendors.models import Vendor, VendorService

# Rows that name their service in vendor_service_id.
WATCHED = (Incident, KpiMeasurement, Kpi, KpiBreach)
CHUNK = 2000
_TABLE = KpiDataVersion.__table__
# Stamps are below 2**62: summed in two halves, neither sum can overflow 64 bits.
_HALF = 2**31


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


def fingerprint(session: Session) -> tuple[int, int, int]:
    """One value that changes whenever any service's stamp does: the number of stamps and
    their sum (as two exact partial sums), read in one statement."""
    version = _TABLE.c.version
    row = session.execute(
        select(
            func.count(),
            # As 32-bit integers: PostgreSQL sums them far faster than 64-bit ones.
            func.coalesce(func.sum(cast(version // _HALF, Integer)), 0),
            func.coalesce(func.sum(cast(version % _HALF, Integer)), 0),
        )
    ).one()
    return int(row[0]), int(row[1]), int(row[2])


def _services_touched(session: Session) -> set[int]:
    touched: set[int] = set()
    vendors: set[int] = set()
    for obj in chain(session.new, session.dirty, session.deleted):
        if obj in session.dirty and not session.is_modified(obj):
            continue
        if isinstance(obj, (Vendor, VendorService)):
            # A deleted one needs no stamp (and a stamp would hold a reference to it).
            if obj not in session.deleted:
                (vendors if isinstance(obj, Vendor) else touched).add(obj.id)
            continue
        if not isinstance(obj, WATCHED):
            continue
        history = inspect(obj).attrs.vendor_service_id.history
        # Current and previous values: an incident moved to another service changes both.
        values: Any = chain(history.added, history.unchanged, history.deleted)
        touched.update(v for v in values if v is not None)
    if vendors:
        # The connection, not the session: no autoflush from within a flush.
        touched.update(
            session.connection().scalars(
                select(VendorService.id).where(VendorService.vendor_id.in_(sorted(vendors)))
            )
        )
    return touched


def _after_flush(session: Session, flush_context: object) -> None:
    bump_data_versions(session, _services_touched(session))


def install() -> None:
    if not event.contains(Session, "after_flush", _after_flush):
        event.listen(Session, "after_flush", _after_flush)


install()
