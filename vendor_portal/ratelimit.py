"""Rate limits on the ways in: sign-in, API token creation and failed bearer tokens.

Per account and per address, counted in the storage named by VENDOR_PORTAL_RATELIMIT_STORAGE_URL
(REDIS_URL when that is unset, else memory://). With Redis every gunicorn worker shares the
counts; in memory each worker counts alone. No other route is limited.

These limits sit in front of the database-backed sign-in lockout (auth/services.py), which stays:
they refuse floods before any password is hashed, the lockout refuses guessing of one account.
A limited request gets 429 with Retry-After: an HTML page for people, a JSON error for the API.

One Limiter per app: Flask-Limiter keeps its storage and settings on the Limiter object, and a
process may hold several apps (tests do).
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from typing import Any

from flask import Flask, Response, current_app, render_template, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_login import current_user
from limits import parse
from werkzeug.exceptions import TooManyRequests

from vendor_portal.api.errors import ApiError

logger = logging.getLogger(__name__)
EXTENSION = "vendor_portal.limiter"


class TooManyAttempts(TooManyRequests):
    """Refused by a limit checked by hand (failed API tokens), with seconds to wait."""

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


def address() -> str:
    return request.remote_addr or "unknown"


def _digest(value: str) -> str:
    """Keys in a shared store carry no email address in clear."""
    return hashlib.sha256(value.encode()).hexdigest()[:32]


def login_account() -> str:
    return "login:" + _digest((request.form.get("email") or "").strip().lower())


def signed_in_account() -> str:
    return f"user:{current_user.get_id() if current_user.is_authenticated else address()}"


def _config(key: str) -> Any:
    return lambda: current_app.config[key]


def storage_url(config: dict[str, Any]) -> str:
    return config.get("RATELIMIT_STORAGE_URL") or config.get("REDIS_URL") or "memory://"


def init_app(app: Flask) -> None:
    """Limit sign-in and token creation; call after the blueprints are registered."""
    config = app.config
    url = storage_url(config)
    limiter = Limiter(
        key_func=address,
        storage_uri=url,
        key_prefix=config["RATELIMIT_KEY_PREFIX"],
        strategy="moving-window",
        default_limits=[],
        # A storage outage must not stop people signing in: count per worker until it is back.
        in_memory_fallback_enabled=True,
        enabled=config["RATELIMIT_ENABLED"],
    )
    limiter.init_app(app)
    app.extensions[EXTENSION] = limiter
    if config["ENV"] == "production" and url.startswith("memory:") and limiter.enabled:
        logger.warning(
            "Rate limits are counted per worker (memory storage); set "
            "VENDOR_PORTAL_RATELIMIT_STORAGE_URL=redis://... to share them across workers."
        )
    per_account = {"scope": "per-account", "methods": ["POST"]}
    per_address = {"scope": "per-address", "methods": ["POST"], "key_func": address}
    views = app.view_functions
    views["auth.login"] = limiter.limit(_config("RATELIMIT_LOGIN_PER_ADDRESS"), **per_address)(
        limiter.limit(
            _config("RATELIMIT_LOGIN_PER_ACCOUNT"), key_func=login_account, **per_account
        )(views["auth.login"])
    )
    views["auth.tokens"] = limiter.limit(_config("RATELIMIT_TOKENS_PER_ADDRESS"), **per_address)(
        limiter.limit(
            _config("RATELIMIT_TOKENS_PER_ACCOUNT"), key_func=signed_in_account, **per_account
        )(views["auth.tokens"])
    )
    app.register_error_handler(RateLimitExceeded, _limited)
    app.register_error_handler(TooManyAttempts, _limited)


def _limiter() -> Limiter | None:
    limiter = current_app.extensions.get(EXTENSION)
    return limiter if limiter is not None and limiter.enabled else None


def _api_failure_key() -> tuple[str, ...]:
    return (current_app.config["RATELIMIT_KEY_PREFIX"], "api-token-failures", address())


def refuse_if_api_failures_exceeded() -> None:
    """Before looking a bearer token up: refuse an address that sent too many bad ones."""
    limiter = _limiter()
    if limiter is None:
        return
    item = parse(current_app.config["RATELIMIT_API_FAILURES_PER_ADDRESS"])
    key = _api_failure_key()
    try:
        if limiter.limiter.test(item, *key):
            return
        reset_at = limiter.limiter.get_window_stats(item, *key).reset_time
    except Exception:  # the storage is down: fail open, the token check still applies
        logger.exception("Rate-limit storage unreachable; API token failures not limited")
        return
    raise TooManyAttempts(max(1, math.ceil(reset_at - time.time())))


def record_api_failure() -> None:
    limiter = _limiter()
    if limiter is None:
        return
    item = parse(current_app.config["RATELIMIT_API_FAILURES_PER_ADDRESS"])
    try:
        limiter.limiter.hit(item, *_api_failure_key())
    except Exception:
        logger.exception("Rate-limit storage unreachable; API token failure not counted")


def _retry_after(error: Exception) -> int:
    if isinstance(error, TooManyAttempts):
        return error.retry_after
    limiter = _limiter()
    current = limiter.current_limit if limiter is not None else None
    if current is None:
        return 60
    return max(1, math.ceil(current.reset_at - time.time()))


def _limited(error: Exception) -> Response:
    retry_after = _retry_after(error)
    message = f"Too many attempts from here. Wait {retry_after} seconds, then try again."
    logger.warning("Rate limit hit on %s %s from %s", request.method, request.path, address())
    if request.path.startswith("/api/"):
        response = ApiError(429, "too_many_requests", message, retry_after=retry_after).response()
    else:
        response = current_app.make_response(
            (
                render_template(
                    "errors/error.html", status=429, title="Too many attempts", message=message
                ),
                429,
            )
        )
    response.headers["Retry-After"] = str(retry_after)
    return response
