from flask import Blueprint

bp = Blueprint("evidence", __name__, url_prefix="/evidence")

from vendor_portal.evidence import cli, demo, models, routes  # noqa: E402, F401
