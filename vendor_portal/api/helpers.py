"""Request parsing, permissions and pagination shared by every API resource."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from sqlalchemy import Select

from vendor_portal.api.errors import ApiError
from vendor_portal.db import is_id
from vendor_portal.extensions import db
from vendor_portal.security import has_permission, is_vendor_user
from vendor_portal.tables import BadTableRequest, paginate, parse_page_args


def int_arg(name: str) -> int | None:
    """An optional whole-number query parameter (an id filter); 400 when it is not one."""
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(400, "bad_request", f"{name} must be a whole number.") from None
    if not is_id(value):
        raise ApiError(400, "bad_request", f"{name} is out of range.")
    return value


def api_user() -> Any:
    return g.api_user


def require(permission: str) -> None:
    if not has_permission(api_user(), permission):
        raise ApiError(403, "forbidden", f"Your role may not do this ({permission}).")


def json_object() -> dict[str, Any]:
    if not request.is_json:
        raise ApiError(
            415, "unsupported_media_type", "Send a JSON body with Content-Type: application/json."
        )
    data = request.get_json(silent=True)
    if data is None:
        raise ApiError(400, "bad_json", "The request body is not valid JSON.")
    if not isinstance(data, dict):
        raise ApiError(400, "bad_json", "The request body must be a JSON object.")
    return data


def get_scoped(model: type, object_id: int, vendor_attr: str = "vendor_id") -> Any:
    obj = db.session.get(model, object_id) if is_id(object_id) else None
    user = api_user()
    if obj is None or (is_vendor_user(user) and getattr(obj, vendor_attr) != user.vendor_id):
        raise ApiError(
            404, "not_found", f"No {model.__tablename__.replace('_', ' ')} with id {object_id}."
        )
    return obj


def paginated(stmt: Select[Any], serialise: Any) -> dict[str, Any]:
    """The pagination convention: ?page=&per_page= in, items/page/per_page/total/pages out."""
    try:
        page, per_page = parse_page_args(
            request.args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
        )
    except BadTableRequest as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    result = paginate(db.session, stmt, page, per_page)
    return {
        "items": [serialise(item) for item in result.items],
        "page": result.page,
        "per_page": result.per_page,
        "total": result.total,
        "pages": result.pages,
    }
