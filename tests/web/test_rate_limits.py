"""Rate limits on sign-in, API token creation and failed bearer tokens (vendor_portal/ratelimit.py).

The default test configuration may switch the limits off; these tests switch them on, with
small limits, in apps of their own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select

from tests.conftest import STRICT, base_config, reset_postgres
from tests.factories import DEFAULT_PASSWORD
from vendor_portal.auth.models import ApiToken

REDIS_URL = os.environ.get("VENDOR_PORTAL_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
GENEROUS = "1000 per minute"


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Iterator[Callable[..., Flask]]:
    """Apps on the test's database with rate limiting on and the given limits."""
    from vendor_portal import create_app
    from vendor_portal.extensions import db

    apps: list[Flask] = []

    def make(**limits: object) -> Flask:
        config = base_config(tmp_path, database_url)
        config.update(
            RATELIMIT_ENABLED=True,
            RATELIMIT_STORAGE_URL="memory://",
            RATELIMIT_KEY_PREFIX=f"test-{uuid.uuid4().hex}",
            RATELIMIT_LOGIN_PER_ACCOUNT=GENEROUS,
            RATELIMIT_LOGIN_PER_ADDRESS=GENEROUS,
            RATELIMIT_TOKENS_PER_ACCOUNT=GENEROUS,
            RATELIMIT_TOKENS_PER_ADDRESS=GENEROUS,
            RATELIMIT_API_FAILURES_PER_ADDRESS=GENEROUS,
        )
        config.update(limits)
        app = create_app(config)
        if database_url.startswith("postgresql") and not apps:
            with app.app_context():
                reset_postgres(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()


def wrong_password(client, email: str, address: str = "127.0.0.1"):
    return client.post(
        "/auth/login",
        data={"email": email, "password": "not the password"},
        environ_base={"REMOTE_ADDR": address},
    )


def assert_limited_page(response, window: int = 60) -> None:
    assert response.status_code == 429
    assert "Too many attempts" in response.text
    # seconds until the oldest counted attempt leaves the window (rounded up)
    assert 0 < int(response.headers["Retry-After"]) <= window + 1


def test_sign_in_is_limited_per_account(make_app, build):
    app = make_app(RATELIMIT_LOGIN_PER_ACCOUNT="3 per minute")
    client = app.test_client()
    target, other = build.user(), build.user()
    for n in range(3):
        # from different addresses: only the account is counted here
        assert wrong_password(client, target.email, f"10.0.0.{n}").status_code == 401
    assert_limited_page(wrong_password(client, target.email, "10.0.0.9"))
    # the right password is refused too while the limit lasts: no guessing past it
    limited = client.post("/auth/login", data={"email": target.email, "password": DEFAULT_PASSWORD})
    assert limited.status_code == 429
    # another account is not affected
    ok = client.post("/auth/login", data={"email": other.email, "password": DEFAULT_PASSWORD})
    assert ok.status_code == 302


def test_sign_in_is_limited_per_address(make_app, build):
    app = make_app(RATELIMIT_LOGIN_PER_ADDRESS="3 per minute")
    client = app.test_client()
    users = [build.user() for _ in range(5)]
    for user in users[:3]:
        assert wrong_password(client, user.email, "10.1.1.1").status_code == 401
    assert_limited_page(wrong_password(client, users[3].email, "10.1.1.1"))
    assert wrong_password(client, users[4].email, "10.1.1.2").status_code == 401


def test_showing_the_sign_in_page_is_not_counted(make_app):
    app = make_app(RATELIMIT_LOGIN_PER_ADDRESS="2 per minute")
    client = app.test_client()
    for _ in range(10):
        assert client.get("/auth/login").status_code == 200


def test_token_creation_is_limited_per_account(make_app, build, session):
    app = make_app(RATELIMIT_TOKENS_PER_ACCOUNT="2 per hour")
    client = app.test_client()
    user = build.user()
    client.post("/auth/login", data={"email": user.email, "password": DEFAULT_PASSWORD})
    for n in range(2):
        assert client.post("/auth/tokens", data={"name": f"t{n}"}).status_code == 200
    assert_limited_page(client.post("/auth/tokens", data={"name": "one too many"}), 3600)
    assert session.scalar(select(func.count()).where(ApiToken.user_id == user.id)) == 2
    assert client.get("/auth/tokens").status_code == 200  # the list still shows


def test_failed_api_tokens_are_limited_per_address(make_app, build):
    app = make_app(RATELIMIT_API_FAILURES_PER_ADDRESS="3 per minute")
    client = app.test_client()
    good = build.token(build.user(role="vendor_manager"))
    here, elsewhere = {"REMOTE_ADDR": "10.2.2.2"}, {"REMOTE_ADDR": "10.2.2.3"}
    bad = {"Authorization": "Bearer vp_guessed-token"}
    for _ in range(3):
        assert client.get("/api/v1/vendors", headers=bad, environ_base=here).status_code == 401
    limited = client.get("/api/v1/vendors", headers=bad, environ_base=here)
    assert limited.status_code == 429
    assert limited.json["error"]["code"] == "too_many_requests"
    assert 0 < int(limited.headers["Retry-After"]) <= 61
    # while limited, this address is refused before any token is looked up
    valid = {"Authorization": f"Bearer {good}"}
    assert client.get("/api/v1/vendors", headers=valid, environ_base=here).status_code == 429
    assert client.get("/api/v1/vendors", headers=valid, environ_base=elsewhere).status_code == 200


def test_successful_api_calls_are_not_limited(make_app, build):
    app = make_app(RATELIMIT_API_FAILURES_PER_ADDRESS="2 per minute")
    client = app.test_client()
    valid = {"Authorization": f"Bearer {build.token(build.user())}"}
    for _ in range(10):
        assert client.get("/api/v1/vendors", headers=valid).status_code == 200


def test_no_limit_on_other_routes(make_app, auth_free_routes=("/healthz", "/auth/login")):
    app = make_app(
        RATELIMIT_LOGIN_PER_ADDRESS="1 per minute", RATELIMIT_TOKENS_PER_ADDRESS="1 per minute"
    )
    client = app.test_client()
    for _ in range(5):
        for path in auth_free_routes:
            assert client.get(path).status_code == 200
        assert client.post("/auth/logout").status_code == 302


def test_limits_can_be_switched_off(make_app, build):
    app = make_app(RATELIMIT_ENABLED=False, RATELIMIT_LOGIN_PER_ACCOUNT="1 per minute")
    client = app.test_client()
    user = build.user()
    for _ in range(4):
        assert wrong_password(client, user.email).status_code == 401


def _redis_or_skip() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.exceptions.RedisError as exc:
        reason = f"Redis at {REDIS_URL} is not reachable: {exc}"
        if STRICT:
            pytest.fail(f"{reason} (VENDOR_PORTAL_REQUIRE_FULL_SUITE=1 forbids skipping)")
        pytest.skip(reason)


@pytest.mark.parametrize(
    ("storage", "shared"), [(REDIS_URL, True), ("memory://", False)], ids=["redis", "memory"]
)
def test_two_workers_share_the_count_through_redis(make_app, build, storage, shared):
    """Two app instances stand for two gunicorn workers: with Redis they count together."""
    if storage.startswith("redis"):
        _redis_or_skip()
    prefix = f"test-{uuid.uuid4().hex}"  # a fresh key space: no count left by another test
    settings = {
        "RATELIMIT_STORAGE_URL": storage,
        "RATELIMIT_KEY_PREFIX": prefix,
        "RATELIMIT_LOGIN_PER_ACCOUNT": "4 per minute",
        "RATELIMIT_API_FAILURES_PER_ADDRESS": "4 per minute",
    }
    first, second = make_app(**settings).test_client(), make_app(**settings).test_client()
    user = build.user()
    for client in (first, second):
        assert wrong_password(client, user.email).status_code == 401
        assert wrong_password(client, user.email).status_code == 401
    # four attempts in all, two on each worker
    expected = 429 if shared else 401
    assert wrong_password(first, user.email).status_code == expected
    assert wrong_password(second, user.email).status_code == expected
    bad = {"Authorization": "Bearer vp_guessed-token"}
    for client in (first, second):
        for _ in range(2):
            assert client.get("/api/v1/vendors", headers=bad).status_code == 401
    assert second.get("/api/v1/vendors", headers=bad).status_code == expected
