import pytest
from hypothesis import given
from hypothesis import strategies as st

from vendor_portal.vendors.domain import (
    country_problem,
    lei_checksum_ok,
    lei_problem,
    lei_with_check_digits,
    validate_vendor_input,
)

# Real, published LEIs.
REAL_LEIS = ["529900T8BM49AURSDO55", "5493001KJTIIGC8Y1R12", "HWUPKR0MPOU8FGXBT394"]


@pytest.mark.parametrize("lei", REAL_LEIS)
def test_real_leis_pass(lei):
    assert lei_checksum_ok(lei) and lei_problem(lei) is None


def test_typing_errors_are_caught():
    assert "check digits" in lei_problem("529900T8BM49AURSDO56")
    assert "20 characters" in lei_problem("529900T8BM49AURSDO5")
    assert "capital letters" in lei_problem("529900t8bm49aursdo55")


@given(st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=18, max_size=18))
def test_generated_check_digits_always_verify(base):
    assert lei_checksum_ok(lei_with_check_digits(base))


@given(
    st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=18, max_size=18),
    st.integers(0, 19),
    st.sampled_from("0123456789"),
)
def test_any_single_digit_typo_is_detected(base, position, char):
    # MOD 97-10 catches every single-digit substitution (letters expand to two digits, so a
    # letter swapped for another letter can in rare cases pass: that is the standard's limit).
    lei = lei_with_check_digits(base)
    if not lei[position].isdigit():
        return
    changed = lei[:position] + char + lei[position + 1 :]
    assert lei_checksum_ok(changed) == (changed == lei)


def test_country_codes():
    assert country_problem("DE") is None
    assert "ISO 3166" in country_problem("XX")


def test_validate_vendor_input_cleans_and_reports_every_field():
    clean, errors = validate_vendor_input(
        {"name": " Acme ", "tier": "high", "country": "fr", "lei": "5299 00t8bm49aursdo55"}
    )
    assert errors == {}
    assert clean == {"name": "Acme", "tier": "high", "country": "FR", "lei": "529900T8BM49AURSDO55"}
    _, errors = validate_vendor_input({"tier": "x", "country": 3, "status": "gone", "extra": "y"})
    assert set(errors) == {"name", "tier", "country", "status", "extra"}
    assert errors["name"] == "This field is required."
