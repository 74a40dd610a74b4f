from flask import Blueprint

bp = Blueprint("gate", __name__, url_prefix="/gate")

from vendor_portal.gate import cli, demo, models, routes  # noqa: E402, F401
