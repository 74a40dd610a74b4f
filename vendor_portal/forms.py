"""Form helpers shared by every feature."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import Field, SelectChoice
from wtforms.validators import ValidationError


class DomainCheck:
    """Run a domain function `problem(value) -> str | None` as a WTForms validator."""

    def __init__(self, problem: Any, transform: Any = None) -> None:
        self.problem = problem
        self.transform = transform

    def __call__(self, form: Any, field: Field) -> None:
        value = field.data
        if self.transform:
            value = self.transform(value)
        if value:
            message = self.problem(value)
            if message:
                raise ValidationError(message)


def strip_filter(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


class ConfirmForm(FlaskForm):
    """An empty form: a POST button with CSRF protection."""


def choices(pairs: Any) -> list[SelectChoice]:
    """(value, label) pairs as WTForms select choices."""
    return [SelectChoice(str(value), label) for value, label in pairs]


def optional_int(value: Any) -> int | None:
    """Coerce a select's value to an id, with "" (the "none" choice) as None."""
    return int(value) if value not in (None, "", "None") else None
