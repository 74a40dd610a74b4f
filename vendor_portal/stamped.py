"""Results of queries kept per process while a stamp read from the database stays the same.

A stamp is a cheap value that moves with every write to what the results were computed from
(the KPI data versions' fingerprint, the newest audit entry). It is read before the data, so an
entry can only be newer than its stamp, never older: the next request after a write sees a new
stamp and computes afresh."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from vendor_portal.tables import count_rows


class StampedResults:
    """Results keyed by what they answer, each with the stamp it was computed at."""

    SIZE = 256

    def __init__(self, stamp_of: Callable[[Session], Any]) -> None:
        self._stamp_of = stamp_of
        self._results = Kept(self.SIZE)  # key -> (stamp, result)

    def get(
        self,
        session: Session,
        key: tuple[Any, ...],
        compute: Callable[[], Any],
        stamp: Any = None,
    ) -> Any:
        """The result of compute(), reused while the stamp is as now; `stamp`, if given,
        was read before this call. Results are shared: read only."""
        if stamp is None:
            stamp = self._stamp_of(session)  # before the data: an entry can only be newer
        found = self._results.get(key)
        if found is not None and found[0] == stamp:
            return found[1]
        result = compute()
        self._results.put(key, (stamp, result))
        return result

    def total(
        self,
        session: Session,
        key: tuple[Any, ...],
        stmt: Select[Any],
        stamp: Any = None,
    ) -> int:
        """The number of rows of stmt."""
        return self.get(session, ("count", *key), lambda: count_rows(session, stmt), stamp)


class Kept:
    """The most recently used `size` values by key, safe to share between threads (gthread
    workers): every per-process cache keeps its values in one (rendered pages, stamped results,
    scorecard figures, task lists, loaded graphs, fallback registers), with the stamps or
    objects they are valid for, which the caller checks. Values are shared between requests:
    read only."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[Any, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
