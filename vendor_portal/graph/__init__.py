from flask import Blueprint

bp = Blueprint("graph", __name__, url_prefix="/graph")

from vendor_portal.graph import routes  # noqa: E402, F401
