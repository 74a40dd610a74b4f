"""Evidence rules without an app: expiry, dates, reviews, coverage."""

from datetime import date, timedelta

from vendor_portal.evidence.domain import (
    Coverage,
    EvidenceFact,
    ExpiryState,
    coverage_matrix,
    expiry_state,
    review_problem,
    validity_problems,
)

TODAY = date(2026, 6, 1)


def test_expiry_states():
    assert expiry_state(None, TODAY) == ExpiryState.NO_EXPIRY
    assert expiry_state(TODAY - timedelta(days=1), TODAY) == ExpiryState.EXPIRED
    assert expiry_state(TODAY, TODAY) == ExpiryState.EXPIRING
    assert expiry_state(TODAY + timedelta(days=30), TODAY) == ExpiryState.EXPIRING
    assert expiry_state(TODAY + timedelta(days=31), TODAY) == ExpiryState.VALID


def test_validity_problems_name_the_field():
    assert validity_problems(None, None, TODAY) == {}
    assert validity_problems(date(2026, 1, 1), date(2027, 1, 1), TODAY) == {}
    assert "in the future" in validity_problems(date(2026, 7, 1), None, TODAY)["issued_on"]
    assert (
        "expired on 2026-05-31" in validity_problems(None, date(2026, 5, 31), TODAY)["valid_until"]
    )
    assert "after the issue date" in validity_problems(TODAY, TODAY, TODAY)["valid_until"]
    assert "At most 10 years" in validity_problems(None, date(2040, 1, 1), TODAY)["valid_until"]


def test_review_rules():
    assert review_problem("submitted", "accepted", None) is None
    assert review_problem("submitted", "rejected", " ") == (
        "Say why it is rejected, so the vendor knows what to fix."
    )
    assert review_problem("accepted", "rejected", "x").startswith(
        "This version was already accepted"
    )
    assert review_problem("submitted", "maybe", None) == "Choose accept or reject."


def test_coverage_takes_the_best_state_per_vendor_and_type():
    facts = [
        EvidenceFact(1, "bcp", "rejected", None),
        EvidenceFact(1, "bcp", "accepted", TODAY + timedelta(days=10)),
        EvidenceFact(1, "bia", "accepted", TODAY - timedelta(days=1)),
        EvidenceFact(1, "soc2_report", "submitted", None),
        EvidenceFact(2, "bcp", "accepted", None),
        EvidenceFact(3, "bcp", "accepted", None),  # not asked for: ignored
    ]
    matrix = coverage_matrix([1, 2], facts, TODAY)
    assert matrix[1]["bcp"] == Coverage.EXPIRING
    assert matrix[1]["bia"] == Coverage.EXPIRED
    assert matrix[1]["soc2_report"] == Coverage.SUBMITTED
    assert matrix[1]["insurance_certificate"] == Coverage.MISSING
    assert matrix[2]["bcp"] == Coverage.ACCEPTED
    assert set(matrix) == {1, 2}
