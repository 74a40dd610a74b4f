"""What each role must do next. Features register task providers; the home page lists them.

Gathering the tasks asks a dozen features for counts: tens of milliseconds on a large portfolio,
on the page every user opens first. The list is therefore kept per user in each process and
gathered again when anything has changed (a new audit entry: every change is audited, the bulk
imports included) or when it is older than `HOME_TASKS_MAX_AGE_SECONDS` (tasks that move with
the clock alone, such as a deadline passing). The page says when the list was gathered."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from vendor_portal.audit.models import AuditEntry
from vendor_portal.db import utcnow
from vendor_portal.stamped import Kept


@dataclass(frozen=True)
class Task:
    title: str
    detail: str
    url: str
    count: int | None = None
    level: str = "primary"  # bootstrap contextual colour: danger, warning, primary, success


TaskProvider = Callable[[Session, Any], list[Task]]
_providers: list[TaskProvider] = []
_ORDER = {"danger": 0, "warning": 1, "primary": 2, "info": 3, "success": 4}


def task_provider(func: TaskProvider) -> TaskProvider:
    _providers.append(func)
    return func


def tasks_for(session: Session, user: Any) -> list[Task]:
    found = [task for provider in _providers for task in provider(session, user)]
    return sorted(found, key=lambda t: _ORDER.get(t.level, 9))


@dataclass(frozen=True)
class TaskList:
    tasks: list[Task]
    as_of: datetime


class _Cache:
    """Per process, per key (a user's task list, the vendor tier counts): the last value with
    what it was gathered for."""

    def __init__(self, size: int) -> None:
        self._kept = Kept(size)  # who -> (stamp, value)

    def get(self, who: Any, stamp: Any) -> Gathered | None:
        found = self._kept.get(who)
        return None if found is None or found[0] != stamp else found[1]

    def put(self, who: Any, stamp: Any, value: Gathered) -> None:
        self._kept.put(who, (stamp, value))


def change_stamp(session: Session) -> int:
    """Moves with every committed change (each is audited): the newest audit entry."""
    return session.scalar(select(func.max(AuditEntry.id))) or 0


def current_tasks(session: Session, user: Any, stamp: int | None = None) -> TaskList:
    """The user's tasks, gathered again after any change or once they are too old. `stamp`:
    change_stamp(session), if just read."""
    # Who the user is now (a role or vendor change is audited too, but be explicit).
    who = (user.id, user.role, user.vendor_id)
    found = kept_on_home(session, ("tasks", who), lambda: tasks_for(session, user), stamp)
    return TaskList(found.value, found.as_of)


@dataclass(frozen=True)
class Gathered:
    value: Any
    as_of: datetime


def kept_on_home(
    session: Session, key: Any, gather: Callable[[], Any], stamp: int | None = None
) -> Gathered:
    """What the home page shows under `key` (what gather() returns, with the time it was
    gathered), kept in this process as the task list is: gathered again after any change (a
    new audit entry) or once older than HOME_TASKS_MAX_AGE_SECONDS. Shared: read only.
    `stamp`: change_stamp(session), if just read."""
    max_age = current_app.config["HOME_TASKS_MAX_AGE_SECONDS"]
    now = utcnow()
    if max_age <= 0:
        return Gathered(gather(), now)
    cache: _Cache = current_app.extensions.setdefault("home_tasks", _Cache(size=2048))
    if stamp is None:
        stamp = change_stamp(session)
    found = cache.get(key, stamp)
    if found is not None and (now - found.as_of).total_seconds() < max_age:
        return found
    fresh = Gathered(gather(), now)
    cache.put(key, stamp, fresh)
    return fresh
