from flask import Blueprint

bp = Blueprint("questionnaires", __name__, url_prefix="/questionnaires")

from vendor_portal.questionnaires import routes  # noqa: E402, F401
