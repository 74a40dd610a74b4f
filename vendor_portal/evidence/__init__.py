from flask import Blueprint

bp = Blueprint("evidence", __name__, url_prefix="/evidence")

from vendor_portal.evidence import routes  # noqa: E402, F401
