from flask import Blueprint

bp = Blueprint("subcontracting", __name__, url_prefix="/subcontracting")

from vendor_portal.subcontracting import cli, demo, models, routes  # noqa: E402, F401
