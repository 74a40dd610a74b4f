"""Business services from the business impact analysis: rules that need no database."""

from __future__ import annotations

import math
import re
import unicodedata
from enum import StrEnum
from typing import Any

from vendor_portal.vendors.domain import MAX_RECOVERY_HOURS

MAX_COST_PER_HOUR = 1e12
FIELD_LIMITS = {"name": 200, "owner": 200, "description": 5000}
HOUR_FIELDS = ("mtd_hours", "rto_hours", "rpo_hours")


class Criticality(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


CRITICALITY_ORDER = {c.value: i for i, c in enumerate(Criticality)}


def objectives_problem(rto: float | None, mtd: float | None) -> str | None:
    """The RTO must fit within the maximum tolerable downtime."""
    if rto is not None and mtd is not None and rto > mtd:
        return f"The RTO ({rto:g} h) is longer than the MTD ({mtd:g} h); it must fit within it."
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def validate_business_service_input(
    data: dict[str, Any], partial: bool = False, current: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """Check business service fields from any source (API JSON, forms, imports).

    Returns the clean values and the errors by field name. `current` holds the stored values,
    so that a partial update is checked against the objectives it does not change."""
    clean: dict[str, Any] = {}
    errors: dict[str, str] = {}
    if not partial:
        for key in ("name", "criticality"):
            if data.get(key) in (None, ""):
                errors[key] = "This field is required."
    for key, value in data.items():
        if key in errors:
            continue
        if key in FIELD_LIMITS:
            if value is not None and not isinstance(value, str):
                errors[key] = "Must be text."
                continue
            text = (value or "").strip()
            if len(text) > FIELD_LIMITS[key]:
                errors[key] = f"At most {FIELD_LIMITS[key]} characters."
            elif key == "name" and not text:
                errors[key] = "This field is required."
            else:
                clean[key] = text or None
        elif key == "criticality":
            if value not in [c.value for c in Criticality]:  # a list: value may be unhashable
                errors[key] = f"Must be one of {', '.join(c.value for c in Criticality)}."
            else:
                clean[key] = value
        elif key in HOUR_FIELDS:
            if value is None or value == "":
                clean[key] = None
                continue
            number = _number(value)
            if number is None:
                errors[key] = "Must be a number of hours."
            elif not 0 <= number <= MAX_RECOVERY_HOURS:
                errors[key] = f"Must be between 0 and {MAX_RECOVERY_HOURS} hours."
            else:
                clean[key] = number
        elif key == "downtime_cost_per_hour":
            if value is None or value == "":
                clean[key] = None
                continue
            number = _number(value)
            if number is None:
                errors[key] = "Must be a number."
            elif not 0 <= number <= MAX_COST_PER_HOUR:
                errors[key] = "Must be zero or more."
            else:
                clean[key] = number
        else:
            errors[key] = "Unknown field."
    merged = {**(current or {}), **clean}
    problem = objectives_problem(merged.get("rto_hours"), merged.get("mtd_hours"))
    if problem and "rto_hours" not in errors:
        errors["rto_hours"] = problem
    return clean, errors


def slug(text: str, limit: int = 60) -> str:
    """A node id from a name: lower case ASCII words joined by hyphens."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return "-".join(words)[:limit].strip("-") or "service"
