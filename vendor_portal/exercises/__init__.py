from flask import Blueprint

bp = Blueprint("exercises", __name__, url_prefix="/exercises")

from vendor_portal.exercises import demo, models, routes  # noqa: E402, F401
