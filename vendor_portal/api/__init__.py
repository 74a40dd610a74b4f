"""The JSON API under /api/v1: bearer tokens only (no cookies, so no CSRF), JSON errors."""

from flask import Blueprint, g, request

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
    user = user_for_token(db.session, token.strip())
    if user is None:
        raise ApiError(401, "unauthorized", "The API token is unknown, revoked or expired.")
    db.session.commit()  # last_used_at
    g.api_user = user
    set_actor(Actor(user.id, f"{user.email} (API)", request.remote_addr))


@bp.after_request
def no_cookies(response):
    response.headers["Cache-Control"] = "no-store"
    response.headers.pop("Vary", None)
    return response


from vendor_portal.api import (  # noqa: E402, F401
    contracts,
    evidence,
    exercises,
    findings,
    graph,
    kpis,
    openapi,
    questionnaires,
    subcontracting,
    vendors,
)
