from datetime import date

from vendor_portal.findings.domain import due_date_for, is_overdue


def test_due_dates_follow_severity_unless_a_policy_overrides():
    opened = date(2026, 1, 1)
    assert due_date_for("critical", opened) == date(2026, 1, 31)
    assert due_date_for("low", opened) == date(2026, 6, 30)
    assert due_date_for("critical", opened, {"critical": 7}) == date(2026, 1, 8)


def test_only_open_findings_past_their_date_are_overdue():
    today = date(2026, 3, 1)
    assert is_overdue("open", date(2026, 2, 28), today)
    assert not is_overdue("open", date(2026, 3, 1), today)
    assert not is_overdue("closed", date(2026, 1, 1), today)
    assert is_overdue("ready_for_verification", date(2026, 1, 1), today)
