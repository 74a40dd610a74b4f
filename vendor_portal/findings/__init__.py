from flask import Blueprint

bp = Blueprint("findings", __name__, url_prefix="/findings")

from vendor_portal.findings import cli, demo, models, routes  # noqa: E402, F401
