"""Evidence rules that need no database: types, review states, validity and coverage."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class EvidenceType(StrEnum):
    BCP = "bcp"
    BIA = "bia"
    DR_TEST_REPORT = "dr_test_report"
    EXERCISE_REPORT = "exercise_report"
    ISO22301_CERTIFICATE = "iso22301_certificate"
    SOC2_REPORT = "soc2_report"
    INSURANCE_CERTIFICATE = "insurance_certificate"
    OTHER = "other"

    @property
    def label(self) -> str:
        return EVIDENCE_TYPE_LABELS[self]


EVIDENCE_TYPE_LABELS = {
    EvidenceType.BCP: "Business continuity plan",
    EvidenceType.BIA: "Business impact analysis",
    EvidenceType.DR_TEST_REPORT: "DR test report",
    EvidenceType.EXERCISE_REPORT: "Exercise report",
    EvidenceType.ISO22301_CERTIFICATE: "ISO 22301 certificate",
    EvidenceType.SOC2_REPORT: "SOC 2 report",
    EvidenceType.INSURANCE_CERTIFICATE: "Insurance certificate",
    EvidenceType.OTHER: "Other",
}


def type_label(value: str) -> str:
    try:
        return EvidenceType(value).label
    except ValueError:
        return value


class ReviewStatus(StrEnum):
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class ExpiryState(StrEnum):
    NO_EXPIRY = "no_expiry"
    VALID = "valid"
    EXPIRING = "expiring"  # within EXPIRING_DAYS
    EXPIRED = "expired"


EXPIRING_DAYS = 30
EXPIRY_WINDOWS = (30, 60, 90)
MAX_VALIDITY_YEARS = 10
TITLE_MAX = 200
COMMENT_MAX = 5000


def expiry_state(
    valid_until: date | None, today: date, soon_days: int = EXPIRING_DAYS
) -> ExpiryState:
    if valid_until is None:
        return ExpiryState.NO_EXPIRY
    if valid_until < today:
        return ExpiryState.EXPIRED
    if (valid_until - today).days <= soon_days:
        return ExpiryState.EXPIRING
    return ExpiryState.VALID


def validity_problems(
    issued_on: date | None, valid_until: date | None, today: date
) -> dict[str, str]:
    """Errors by field for an upload's dates."""
    errors: dict[str, str] = {}
    if issued_on is not None and issued_on > today:
        errors["issued_on"] = (
            f"The issue date {issued_on.isoformat()} is in the future; "
            "use the date on the document."
        )
    if valid_until is not None:
        if valid_until < today:
            errors["valid_until"] = (
                f"This evidence expired on {valid_until.isoformat()}; upload a current version."
            )
        elif issued_on is not None and valid_until <= issued_on:
            errors["valid_until"] = "The valid-until date must be after the issue date."
        elif valid_until.year - today.year > MAX_VALIDITY_YEARS:
            errors["valid_until"] = f"At most {MAX_VALIDITY_YEARS} years from today."
    return errors


def review_problem(status: str, decision: str, comment: str | None) -> str | None:
    """Why a review cannot be recorded, or None."""
    if decision not in (ReviewStatus.ACCEPTED, ReviewStatus.REJECTED):
        return "Choose accept or reject."
    if status != ReviewStatus.SUBMITTED:
        return f"This version was already {status}; each version is reviewed once."
    if decision == ReviewStatus.REJECTED and not (comment or "").strip():
        return "Say why it is rejected, so the vendor knows what to fix."
    if comment and len(comment) > COMMENT_MAX:
        return f"At most {COMMENT_MAX} characters."
    return None


@dataclass(frozen=True)
class EvidenceFact:
    """The latest version of one evidence item, as coverage needs it."""

    vendor_id: int
    evidence_type: str
    status: str
    valid_until: date | None


class Coverage(StrEnum):
    """What we hold of one evidence type for one vendor, best first."""

    ACCEPTED = "accepted"
    EXPIRING = "expiring"
    SUBMITTED = "submitted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    MISSING = "missing"


_RANK = {c: i for i, c in enumerate(Coverage)}


def coverage_of(fact: EvidenceFact, today: date) -> Coverage:
    state = expiry_state(fact.valid_until, today)
    if state == ExpiryState.EXPIRED:
        return Coverage.EXPIRED
    if fact.status == ReviewStatus.ACCEPTED:
        return Coverage.EXPIRING if state == ExpiryState.EXPIRING else Coverage.ACCEPTED
    return Coverage(fact.status)


def coverage_matrix(
    vendor_ids: Iterable[int], facts: Iterable[EvidenceFact], today: date
) -> dict[int, dict[str, Coverage]]:
    """For each vendor and each evidence type, the best coverage among its items."""
    matrix = {vid: {t.value: Coverage.MISSING for t in EvidenceType} for vid in vendor_ids}
    for fact in facts:
        row = matrix.get(fact.vendor_id)
        if row is None or fact.evidence_type not in row:
            continue
        found = coverage_of(fact, today)
        if _RANK[found] < _RANK[row[fact.evidence_type]]:
            row[fact.evidence_type] = found
    return matrix
