"""Subcontracting chains, notices and flow-down reviews: rules that need no database."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum


class FlowDown(StrEnum):
    YES = "yes"
    PARTLY = "partly"
    NO = "no"
    UNKNOWN = "unknown"


class NoticeKind(StrEnum):
    NEW = "new"
    CHANGE = "change"
    REMOVAL = "removal"


class NoticeStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    OBJECTED = "objected"
    LAPSED = "lapsed"  # no decision before the deadline: recorded as silence


class ReviewStatus(StrEnum):
    IN_PROGRESS = "in_progress"
    SIGNED_OFF = "signed_off"


GAP_OUTCOMES = frozenset({FlowDown.NO, FlowDown.UNKNOWN})
REVIEWED_TIERS = ("critical", "high")
# Months between flow-down reviews by head-vendor tier.
REVIEW_CADENCE_MONTHS = {"critical": 12, "high": 24}
_LEGAL_FORMS = frozenset(
    [
        "ltd",
        "limited",
        "plc",
        "inc",
        "incorporated",
        "llc",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "sarl",
        "bv",
        "nv",
        "spa",
        "srl",
        "ab",
        "as",
        "oy",
        "kk",
        "co",
        "corp",
        "corporation",
        "company",
    ]
)


def normalise_company_name(name: str) -> str:
    """A matching key: lower case, punctuation and legal-form words (Ltd, GmbH, S.A.) removed."""
    words = re.sub(r"[^\w\s]", " ", name.lower().replace(".", "")).split()
    return " ".join(w for w in words if w not in _LEGAL_FORMS) or " ".join(words)


@dataclass(frozen=True)
class ChainEntry:
    id: int
    company_id: int
    parent_id: int | None


class ChainError(ValueError):
    """A declaration that would make the chain inconsistent; the message says how."""


def check_new_entry(
    entries: Mapping[int, ChainEntry], head_company_id: int, company_id: int, parent_id: int | None
) -> int:
    """Validate adding `company_id` under `parent_id` (None: directly under the head vendor).

    Returns the new entry's rank (the head vendor is rank 1). Refuses an unknown parent, the
    head vendor as its own subcontractor, and any cycle (a company already above in the chain).
    """
    if company_id == head_company_id:
        raise ChainError("A vendor cannot be its own subcontractor.")
    rank = 2
    if parent_id is not None:
        if parent_id not in entries:
            raise ChainError(
                f"The provider above (entry {parent_id}) is not in this vendor's chain."
            )
        seen: set[int] = set()
        node: int | None = parent_id
        while node is not None:
            if node in seen:
                raise ChainError(f"The declared chain already contains a loop at entry {node}.")
            seen.add(node)
            entry = entries[node]
            if entry.company_id == company_id:
                raise ChainError(
                    "This company is already above in the chain: declaring it here would make "
                    "a loop."
                )
            rank += 1
            node = entry.parent_id
    return rank


def notice_deadline(submitted_at: datetime, notice_days: int) -> datetime:
    return submitted_at + timedelta(days=notice_days)


def effective_notice_status(status: str, deadline: datetime, now: datetime) -> str:
    """A pending notice past its deadline counts as lapsed (silence), even before it is recorded."""
    if status == NoticeStatus.PENDING and now >= deadline:
        return NoticeStatus.LAPSED.value
    return status


def attestation_current(tier: str, attested_on: date, today: date) -> bool:
    """A "no subcontractors" statement is confirmed again on the flow-down review's cadence
    (it stands in for that review); tiers without reviews never need it renewed."""
    due = next_review_due(tier, attested_on)
    return due is None or due >= today


def next_review_due(tier: str, signed_off: date) -> date | None:
    months = REVIEW_CADENCE_MONTHS.get(tier)
    if months is None:
        return None
    year = signed_off.year + (signed_off.month - 1 + months) // 12
    month = (signed_off.month - 1 + months) % 12 + 1
    day = min(signed_off.day, 28)
    return date(year, month, day)


@dataclass(frozen=True)
class Coverage:
    tier: str
    chains: int  # subcontractors (entries) of vendors of this tier
    reviewed: int  # entries covered by a signed-off review that is not overdue
    fully_flowed_down: int  # reviewed entries with every mandatory obligation "yes"

    @property
    def reviewed_pct(self) -> float:
        return 100.0 * self.reviewed / self.chains if self.chains else 0.0

    @property
    def flowed_down_pct(self) -> float:
        return 100.0 * self.fully_flowed_down / self.chains if self.chains else 0.0
