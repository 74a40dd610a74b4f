from typing import Any

from flask import request

from vendor_portal.api import bp
from vendor_portal.api.errors import ApiError, validation_error
from vendor_portal.api.helpers import api_user, get_scoped, json_object, paginated, require
from vendor_portal.extensions import db
from vendor_portal.security import vendor_scope
from vendor_portal.tables import BadTableRequest
from vendor_portal.vendors import services
from vendor_portal.vendors.domain import validate_vendor_input
from vendor_portal.vendors.models import Vendor
from vendor_portal.vendors.tables import VENDOR_TABLE


def vendor_json(vendor: Vendor) -> dict[str, Any]:
    return {
        "id": vendor.id,
        "name": vendor.name,
        "lei": vendor.lei,
        "country": vendor.country,
        "tier": vendor.tier,
        "status": vendor.status,
        "website": vendor.website,
        "description": vendor.description,
        "archived": vendor.archived,
        "created_at": vendor.created_at.isoformat(),
        "updated_at": vendor.updated_at.isoformat(),
    }


@bp.get("/vendors")
def list_vendors():
    require("vendors.read")
    args = request.args
    stmt = services.vendor_query(
        search=args.get("q"),
        tiers=args.getlist("tier") or None,
        statuses=args.getlist("status") or None,
        country=args.get("country"),
        archived=args.get("archived") == "true",
    )
    stmt = vendor_scope(stmt, Vendor.id, api_user())
    try:
        stmt = VENDOR_TABLE.sorted(stmt, args.get("sort"), Vendor.id)
    except BadTableRequest as exc:
        raise ApiError(400, "bad_request", str(exc)) from exc
    return paginated(stmt, vendor_json)


@bp.post("/vendors")
def create_vendor():
    require("vendors.write")
    values, errors = validate_vendor_input(json_object())
    if errors:
        raise validation_error(errors)
    try:
        vendor = services.create_vendor(db.session, values)
    except services.VendorConflict as exc:
        raise ApiError(409, "conflict", str(exc), field=exc.field) from exc
    db.session.commit()
    return vendor_json(vendor), 201, {"Location": f"/api/v1/vendors/{vendor.id}"}


@bp.get("/vendors/<int:vendor_id>")
def get_vendor(vendor_id: int):
    require("vendors.read")
    return vendor_json(get_scoped(Vendor, vendor_id, vendor_attr="id"))
