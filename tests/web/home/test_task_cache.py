"""The home page's task list (per user) and vendor tier counts are kept and gathered again after
any audited change, or once older than HOME_TASKS_MAX_AGE_SECONDS (changes the audit trail does
not see)."""

import re
from datetime import timedelta

from vendor_portal.db import utcnow
from vendor_portal.home import tasks as home_tasks


def _lead_count(page: str) -> int | None:
    found = re.search(r"Name a continuity lead</h3>\s*<span[^>]*>(\d+)</span>", page)
    return int(found.group(1)) if found else None


def _tiers(page: str) -> dict[str, int]:
    label = re.search(r'class="tier-bars" role="img" aria-label="([^"]*)"', page).group(1)
    return {tier: int(n) for tier, n in (part.split() for part in label.split(", "))}


def _bearer(build, user):
    return {"Authorization": f"Bearer {build.token(user)}"}


def test_an_audited_change_shows_on_the_next_view(client, auth, build):
    build.vendor(tier="critical")
    manager = auth.login_as("vendor_manager")
    first = client.get("/").text
    assert _lead_count(first) == 1 and 'data-testid="tasks-as-of"' in first
    assert _tiers(first)["critical"] == 1
    created = client.post(
        "/api/v1/vendors",
        json={"name": "Second Critical", "tier": "critical", "country": "DE"},
        headers=_bearer(build, manager),
    )
    assert created.status_code == 201, created.text
    page = client.get("/").text
    assert _lead_count(page) == 2 and _tiers(page)["critical"] == 2


def test_an_unaudited_change_shows_once_the_list_is_too_old(client, auth, build, monkeypatch):
    build.vendor(tier="critical")
    auth.login_as("vendor_manager")
    assert _lead_count(client.get("/").text) == 1
    build.vendor(tier="high")  # the test session writes no audit entry
    kept = client.get("/").text
    assert _lead_count(kept) == 1 and _tiers(kept)["high"] == 0  # kept: nothing audited changed
    later = utcnow() + timedelta(seconds=61)
    monkeypatch.setattr(home_tasks, "utcnow", lambda: later)
    page = client.get("/").text
    assert _lead_count(page) == 2 and _tiers(page)["high"] == 1
    assert f"as of {later.strftime('%H:%M:%S')} UTC" in page


def test_each_user_has_a_list_of_its_own(client, auth, build):
    vendor = build.vendor(name="Own Vendor Ltd", tier="critical")
    auth.login_as("vendor_manager")
    other = client.application.test_client()
    vendor_user = build.user(role="vendor_user", vendor=vendor)
    signed_in = other.post(
        "/auth/login", data={"email": vendor_user.email, "password": "correct horse battery"}
    )
    assert signed_in.status_code == 302
    # No change between the two views: the second must not get the first one's list.
    assert _lead_count(client.get("/").text) == 1
    page = other.get("/").text
    assert _lead_count(page) is None and "Check your company profile" in page


def test_max_age_zero_gathers_on_every_view(client, auth, build):
    client.application.config["HOME_TASKS_MAX_AGE_SECONDS"] = 0
    build.vendor(tier="critical")
    auth.login_as("vendor_manager")
    assert _lead_count(client.get("/").text) == 1
    build.vendor(tier="critical")
    assert _lead_count(client.get("/").text) == 2
