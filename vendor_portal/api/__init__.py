"""The JSON API under /api/v1: bearer tokens only (no cookies, so no CSRF), JSON errors."""

import math

from flask import Blueprint, g, request

from vendor_portal import ratelimit
from vendor_portal.api.errors import ApiError
from vendor_portal.audit.services import Actor, set_actor
from vendor_portal.auth.services import user_for_token
from vendor_portal.extensions import csrf, db

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)

PUBLIC_ENDPOINTS = {"api.openapi"}


@bp.before_request
def authenticate() -> None:
    if request.endpoint in PUBLIC_ENDPOINTS:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "unauthorized", "Send an API token as 'Authorization: Bearer TOKEN'.")
    ratelimit.refuse_if_api_failures_exceeded()  # 429 once an address sent too many bad tokens
    user = user_for_token(db.session, token.strip())
    if user is None:
        ratelimit.record_api_failure()
        raise ApiError(401, "unauthorized", "The API token is unknown, revoked or expired.")
    if db.session.dirty:
        # last_used_at, recorded at most once a minute. Otherwise there is nothing to write,
        # and committing would only cost a round trip and expire the user, read again at once.
        db.session.commit()
    g.api_user = user
    set_actor(Actor(user.id, f"{user.email} (API)", request.remote_addr))


@bp.before_request
def screen_input() -> None:
    """Refuse up front (400), the same on every database, what would otherwise fail deep down
    in a JSON body: U+0000 in a string (PostgreSQL text cannot hold it), NaN or Infinity (not
    JSON, though Python's parser takes them) and nesting too deep for the parser. (Query
    strings and ids in paths are screened app-wide, see register_request_hooks.)"""
    try:
        data = request.get_json(silent=True) if request.is_json else None
    except RecursionError:
        raise ApiError(400, "bad_json", "The request body is nested too deeply.") from None
    problem = _json_problem(data)
    if problem:
        raise ApiError(400, "bad_request", problem)


def _json_problem(data) -> str | None:
    stack = [data]  # iterative: a deeply nested body must not exhaust the recursion limit
    while stack:
        value = stack.pop()
        if isinstance(value, str) and "\x00" in value:
            return "Text may not contain NUL (U+0000) characters."
        if isinstance(value, float) and not math.isfinite(value):
            return "NaN and Infinity are not JSON numbers."
        if isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return None


@bp.after_request
def no_cookies(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers.pop("Vary", None)
    return response


from vendor_portal.api import (  # noqa: E402, F401
    contracts,
    evidence,
    exercises,
    fallbacks,
    findings,
    graph,
    kpis,
    openapi,
    questionnaires,
    subcontracting,
    vendors,
)
