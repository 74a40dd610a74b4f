from flask import Blueprint

bp = Blueprint("kpis", __name__, url_prefix="/kpis")

from vendor_portal.kpis import demo, models, routes, versions  # noqa: E402, F401
