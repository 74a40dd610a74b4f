import pytest


@pytest.mark.parametrize(
    ("role", "expected"),
    [
        ("admin", "Follow up invitations"),
        ("vendor_manager", "Name a continuity lead"),
        ("procurement", "Onboard prospective vendors"),
        ("auditor", "Review recent changes"),
    ],
)
def test_each_internal_role_sees_its_next_tasks(client, auth, build, role, expected):
    build.vendor(tier="critical", status="prospective")
    build.user(role="procurement", password=None, invited_at=None)
    auth.login_as(role)
    page = client.get("/")
    assert page.status_code == 200
    assert expected in page.text


def test_vendor_user_home_points_to_its_company(client, auth, build):
    vendor = build.vendor(name="Acme Ltd")
    auth.login_as("vendor_user", vendor=vendor)
    page = client.get("/")
    assert "Check your company profile" in page.text
    assert f"/vendors/{vendor.id}" in page.text
    assert "Vendors by tier" not in page.text


def test_home_chart_counts_vendors_by_tier(client, auth, build):
    for tier in ("critical", "critical", "low"):
        build.vendor(tier=tier)
    auth.login_as("vendor_manager")
    page = client.get("/").text
    assert 'aria-label="critical 2, high 0, medium 0, low 1"' in page


def test_anonymous_home_redirects_to_login(client):
    assert client.get("/").headers["Location"] == "/auth/login"


def test_health_check(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
