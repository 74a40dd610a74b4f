from flask import Blueprint

bp = Blueprint("vendors", __name__, url_prefix="/vendors")

from vendor_portal.vendors import routes  # noqa: E402, F401
