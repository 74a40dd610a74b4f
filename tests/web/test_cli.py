from sqlalchemy import func, select

from vendor_portal.auth.models import ApiToken, User
from vendor_portal.vendors.models import Vendor


def test_create_user_then_token(runner, session, client):
    result = runner.invoke(
        args=[
            "create-user",
            "--email",
            "Ops@Example.com",
            "--password",
            "a long enough passphrase",
            "--role",
            "admin",
        ]
    )
    assert result.exit_code == 0, result.output
    assert "Created admin ops@example.com" in result.output
    token = runner.invoke(args=["create-token", "--email", "ops@example.com"]).output.strip()
    assert token.startswith("vp_")
    stored = session.scalar(select(ApiToken.token_hash))
    assert token not in stored
    assert (
        client.get("/api/v1/vendors", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )


def test_create_user_explains_bad_input_and_stores_nothing(runner, session):
    weak = runner.invoke(
        args=["create-user", "--email", "a@example.com", "--password", "short", "--role", "admin"]
    )
    assert weak.exit_code != 0 and "Use at least 12 characters." in weak.output
    no_vendor = runner.invoke(
        args=[
            "create-user",
            "--email",
            "v@example.com",
            "--password",
            "a long enough passphrase",
            "--role",
            "vendor_user",
        ]
    )
    assert "must belong to a vendor" in no_vendor.output
    missing = runner.invoke(
        args=[
            "create-user",
            "--email",
            "v@example.com",
            "--password",
            "a long enough passphrase",
            "--role",
            "vendor_user",
            "--vendor",
            "999",
        ]
    )
    assert "no vendor with id 999" in missing.output
    bad_role = runner.invoke(
        args=["create-user", "--email", "x@example.com", "--password", "p" * 20, "--role", "boss"]
    )
    assert bad_role.exit_code == 2
    assert session.scalar(select(func.count(User.id))) == 0


def test_create_token_for_unknown_user_fails_clearly(runner):
    result = runner.invoke(args=["create-token", "--email", "ghost@example.com"])
    assert result.exit_code != 0 and "no user with the email ghost@example.com" in result.output


def test_seed_demo_is_idempotent_and_prints_logins(runner, session):
    first = runner.invoke(args=["seed-demo"])
    assert first.exit_code == 0, first.output
    assert "40 vendors, 18 vendor services and 6 users added" in first.output
    for role in ("admin", "vendor_manager", "procurement", "auditor", "vendor_user"):
        assert role in first.output
    second = runner.invoke(args=["seed-demo"])
    assert "0 vendors, 0 vendor services and 0 users added" in second.output
    assert session.scalar(select(func.count(Vendor.id)).where(Vendor.direct)) == 40
    tiers = set(session.scalars(select(Vendor.tier).distinct()))
    assert tiers == {"critical", "high", "medium", "low"}
    assert len(set(session.scalars(select(Vendor.country)))) >= 15
    skipped = runner.invoke(args=["seed-demo", "--if-empty"])
    assert "already has users" in skipped.output


def test_seeded_demo_users_can_sign_in(runner, client):
    from vendor_portal.demo.seed import DEMO_PASSWORD

    runner.invoke(args=["seed-demo"])
    response = client.post(
        "/auth/login", data={"email": "manager@example.com", "password": DEMO_PASSWORD}
    )
    assert response.status_code == 302
