"""Contract and obligation rules that need no database."""

from __future__ import annotations

from enum import StrEnum


class ContractStatus(StrEnum):
    DRAFT = "draft"
    AWAITING_GATE = "awaiting_gate"
    APPROVED = "approved"
    ACTIVE = "active"
    EXPIRED = "expired"
    TERMINATED = "terminated"
