"""One authorization mechanism for the whole app: roles, permissions, vendor scope, headers.

Routes load an object, then check access, as two separate steps. A vendor user asking for
another vendor's object gets 404 from `get_scoped_or_404`, never the object and never a 403
that would confirm it exists.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import TYPE_CHECKING, Any, TypeVar

from flask import Flask, Response, abort, g, request
from flask_login import current_user
from sqlalchemy import Select

from vendor_portal.extensions import db, login_manager

if TYPE_CHECKING:
    from vendor_portal.auth.models import User


class Role(StrEnum):
    ADMIN = "admin"
    VENDOR_MANAGER = "vendor_manager"
    PROCUREMENT = "procurement"
    AUDITOR = "auditor"
    VENDOR_USER = "vendor_user"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


ROLE_LABELS = {
    Role.ADMIN: "Administrator",
    Role.VENDOR_MANAGER: "Vendor manager",
    Role.PROCUREMENT: "Procurement",
    Role.AUDITOR: "Auditor",
    Role.VENDOR_USER: "Vendor user",
}

INTERNAL_ROLES = frozenset({Role.ADMIN, Role.VENDOR_MANAGER, Role.PROCUREMENT, Role.AUDITOR})

MANAGERS = frozenset({Role.ADMIN, Role.VENDOR_MANAGER})
ADMINS = frozenset({Role.ADMIN})
EVERYONE = INTERNAL_ROLES | {Role.VENDOR_USER}
MANAGERS_AND_VENDORS = MANAGERS | {Role.VENDOR_USER}

# Permission -> roles holding it. Where vendor users hold one, the routes restrict every query
# to the user's own vendor through vendor_scope() / get_scoped_or_404(): "own" below.
PERMISSIONS: dict[str, frozenset[Role]] = {
    "vendors.list": INTERNAL_ROLES,
    "vendors.read": EVERYONE,  # own
    "vendors.write": MANAGERS,
    "users.manage": ADMINS,
    "policies.manage": ADMINS,  # gate policies, due-date and reassessment cadences
    "audit.read": frozenset({Role.ADMIN, Role.AUDITOR}),
    # questionnaires and evidence
    "questionnaires.read": INTERNAL_ROLES,
    "questionnaires.manage": MANAGERS,  # templates, assignments, reviews
    "questionnaires.answer": frozenset({Role.VENDOR_USER}),  # own
    "evidence.read": EVERYONE,  # own
    "evidence.upload": MANAGERS_AND_VENDORS,  # own
    "evidence.review": MANAGERS,
    # KPIs and incidents
    "kpis.read": EVERYONE,  # own scorecard
    "kpis.write": MANAGERS,
    "incidents.report": MANAGERS_AND_VENDORS,  # own
    # dependency graph, business services, fallbacks
    "graph.read": INTERNAL_ROLES,
    "graph.write": MANAGERS,
    # findings and exercises
    "findings.read": EVERYONE,  # own
    "findings.write": MANAGERS,
    "findings.remediate": MANAGERS_AND_VENDORS,  # own
    "exercises.read": EVERYONE,  # own
    "exercises.write": MANAGERS,
    "exercises.respond": frozenset({Role.VENDOR_USER}),  # own
    # subcontracting and obligations
    "subcontractors.read": EVERYONE,  # own
    "subcontractors.declare": MANAGERS_AND_VENDORS,  # own
    "obligations.review": MANAGERS,
    # contracts and the procurement gate
    "contracts.read": INTERNAL_ROLES,
    "contracts.write": frozenset({Role.ADMIN, Role.PROCUREMENT}),
    "exceptions.approve": MANAGERS,
}


def has_permission(user: Any, permission: str) -> bool:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    return Role(user.role) in PERMISSIONS[permission]


def is_vendor_user(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False)) and user.role == Role.VENDOR_USER


def permission_required(permission: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Sign-in required for people (redirect), then the permission (403)."""
    if permission not in PERMISSIONS:
        raise KeyError(f"unknown permission {permission!r}")

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()  # flashes "please sign in", keeps `next`
            if not has_permission(current_user, permission):
                abort(403)
            return view(*args, **kwargs)

        wrapped.permission = permission  # type: ignore[attr-defined]
        return wrapped

    return decorator


M = TypeVar("M")


def vendor_scope(stmt: Select[Any], vendor_column: Any, user: Any) -> Select[Any]:
    """Restrict a query for vendor-owned rows to the user's own vendor when it is a vendor user."""
    if is_vendor_user(user):
        return stmt.where(vendor_column == user.vendor_id)
    return stmt


def get_scoped_or_404(
    model: type[M], object_id: Any, user: Any, vendor_attr: str = "vendor_id"
) -> M:
    """Load one vendor-owned object, answering 404 when it is absent or outside the user's scope."""
    obj = db.session.get(model, object_id)
    if obj is None:
        abort(404)
    if is_vendor_user(user) and getattr(obj, vendor_attr) != user.vendor_id:
        abort(404)
    return obj


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        # plotly.js injects a <style> element (empty, or with its own rules, which we also serve
        # as static/vendor/plotly/plotly.css); these two hashes admit exactly those, no other.
        "style-src 'self' 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=' "
        "'sha256-ji27qzEtxXZW+7dun6UwjHXJ18e6WAin1VvNtkzIE/o='",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


def _security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if g.get("private_response", True) and request.endpoint != "static":
        headers.setdefault("Cache-Control", "no-store")
    if request.is_secure or current_app_is_production():
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    return response


def current_app_is_production() -> bool:
    from flask import current_app

    return current_app.config["ENV"] == "production"


def register_security(app: Flask) -> None:
    app.after_request(_security_headers)


def current_user_obj() -> User | None:
    """The signed-in user as a model instance (or None), for services that need one."""
    return current_user._get_current_object() if current_user.is_authenticated else None  # type: ignore[attr-defined]
