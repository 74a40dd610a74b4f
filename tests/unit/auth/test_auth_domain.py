from datetime import UTC, datetime, timedelta

from vendor_portal.auth.domain import locked_until, minutes_left, password_problems

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def test_four_failures_do_not_lock():
    failures = [NOW - timedelta(minutes=m) for m in (1, 2, 3, 4)]
    assert locked_until(failures, 5, WINDOW, NOW) is None


def test_fifth_failure_locks_until_the_oldest_counted_one_leaves_the_window():
    failures = [NOW - timedelta(minutes=m) for m in (1, 2, 3, 4, 10)]
    assert locked_until(failures, 5, WINDOW, NOW) == NOW + timedelta(minutes=5)


def test_old_failures_do_not_count():
    failures = [NOW - timedelta(minutes=m) for m in (1, 2, 3, 4, 16, 20)]
    assert locked_until(failures, 5, WINDOW, NOW) is None


def test_many_failures_lock_for_the_full_window_after_the_latest_burst():
    failures = [NOW - timedelta(seconds=s) for s in range(10)]
    until = locked_until(failures, 5, WINDOW, NOW)
    assert minutes_left(until, NOW) == 15


def test_password_rules():
    assert password_problems("correct horse battery") == []
    assert "Use at least 12 characters." in password_problems("short")
    assert "Use more varied characters." in password_problems("aaaaaaaaaaaaaaaa")
    assert password_problems("jdoe-is-my-secret-phrase", "jdoe@example.com") == [
        "Do not include your email address in the password."
    ]
    assert password_problems(" padded passphrase ")
