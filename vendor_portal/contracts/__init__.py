from flask import Blueprint

bp = Blueprint("contracts", __name__, url_prefix="/contracts")

from vendor_portal.contracts import models, routes  # noqa: E402, F401
