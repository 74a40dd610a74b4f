"""Sign-in rules that need no database: throttling windows and password strength."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

MIN_PASSWORD_LENGTH = 12


@dataclass(frozen=True)
class ThrottlePolicy:
    max_failures: int = 5  # per account and address
    max_address_failures: int = 20  # per address, across accounts (password spraying)
    lock_minutes: int = 15

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.lock_minutes)


def locked_until(
    failures: list[datetime], limit: int, window: timedelta, now: datetime
) -> datetime | None:
    """When the lock ends, if `limit` failures fall within the window before now."""
    recent = sorted(f for f in failures if now - f < window)
    if len(recent) < limit:
        return None
    # The lock lasts until the limit-th most recent failure leaves the window.
    return recent[-limit] + window


def minutes_left(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def password_problems(password: str, email: str = "") -> list[str]:
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"Use at least {MIN_PASSWORD_LENGTH} characters.")
    if password.strip() != password:
        problems.append("Do not start or end the password with spaces.")
    if len(set(password)) < 5:
        problems.append("Use more varied characters.")
    local = email.split("@")[0].lower()
    if local and len(local) >= 4 and local in password.lower():
        problems.append("Do not include your email address in the password.")
    return problems
