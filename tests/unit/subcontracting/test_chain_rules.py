from datetime import UTC, date, datetime, timedelta

import pytest

from vendor_portal.subcontracting.domain import (
    ChainEntry,
    ChainError,
    Coverage,
    attestation_current,
    check_new_entry,
    effective_notice_status,
    next_review_due,
    normalise_company_name,
)

HEAD = 1
# head vendor 1 -> entry 10 (company 2) -> entry 11 (company 3) -> entry 12 (company 4)
CHAIN = {
    10: ChainEntry(10, 2, None),
    11: ChainEntry(11, 3, 10),
    12: ChainEntry(12, 4, 11),
}


def test_ranks_follow_the_parent():
    assert check_new_entry(CHAIN, HEAD, 5, None) == 2
    assert check_new_entry(CHAIN, HEAD, 5, 10) == 3
    assert check_new_entry(CHAIN, HEAD, 5, 12) == 5


def test_a_company_already_above_would_make_a_loop():
    with pytest.raises(ChainError, match="already above in the chain"):
        check_new_entry(CHAIN, HEAD, 2, 12)
    with pytest.raises(ChainError, match="own subcontractor"):
        check_new_entry(CHAIN, HEAD, HEAD, 12)


def test_the_same_company_may_serve_two_branches():
    assert check_new_entry(CHAIN, HEAD, 4, 10) == 3


def test_unknown_parent_is_named():
    with pytest.raises(ChainError, match="entry 99"):
        check_new_entry(CHAIN, HEAD, 5, 99)


def test_a_stored_loop_is_reported_not_followed_forever():
    looped = {1: ChainEntry(1, 7, 2), 2: ChainEntry(2, 8, 1)}
    with pytest.raises(ChainError, match="loop"):
        check_new_entry(looped, HEAD, 9, 1)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Acme Hosting Ltd.", "ACME HOSTING LIMITED"),
        ("Nimbus GmbH", "nimbus"),
        ("Blue-River S.A.", "Blue River SA"),
    ],
)
def test_company_names_match_across_legal_forms(a, b):
    assert normalise_company_name(a) == normalise_company_name(b)


def test_pending_notice_past_its_deadline_counts_as_silence():
    deadline = datetime(2026, 1, 31, tzinfo=UTC)
    assert (
        effective_notice_status("pending", deadline, deadline - timedelta(seconds=1)) == "pending"
    )
    assert effective_notice_status("pending", deadline, deadline) == "lapsed"
    assert effective_notice_status("approved", deadline, deadline + timedelta(days=9)) == "approved"


def test_review_cadence_by_tier():
    assert next_review_due("critical", date(2026, 3, 31)) == date(2027, 3, 28)
    assert next_review_due("high", date(2026, 11, 15)) == date(2028, 11, 15)
    assert next_review_due("low", date(2026, 1, 1)) is None


def test_coverage_percentages():
    c = Coverage("critical", chains=8, reviewed=6, fully_flowed_down=3)
    assert (c.reviewed_pct, c.flowed_down_pct) == (75.0, 37.5)
    assert Coverage("high", 0, 0, 0).reviewed_pct == 0.0


def test_no_subcontractors_statement_is_renewed_on_the_review_cadence():
    attested = date(2025, 11, 25)
    assert attestation_current("critical", attested, date(2026, 11, 25))
    assert not attestation_current("critical", attested, date(2026, 11, 26))
    assert attestation_current("high", attested, date(2027, 11, 25))
    assert not attestation_current("high", attested, date(2027, 11, 26))
    assert attestation_current("low", attested, date(2040, 1, 1))  # not reviewed: never due
