"""What each role must do next. Features register task providers; the home page lists them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session


@dataclass(frozen=True)
class Task:
    title: str
    detail: str
    url: str
    count: int | None = None
    level: str = "primary"  # bootstrap contextual colour: danger, warning, primary, success


TaskProvider = Callable[[Session, Any], list[Task]]
_providers: list[TaskProvider] = []


def task_provider(func: TaskProvider) -> TaskProvider:
    _providers.append(func)
    return func


def tasks_for(session: Session, user: Any) -> list[Task]:
    order = {"danger": 0, "warning": 1, "primary": 2, "info": 3, "success": 4}
    found = [task for provider in _providers for task in provider(session, user)]
    return sorted(found, key=lambda t: order.get(t.level, 9))
