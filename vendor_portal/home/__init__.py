from flask import Blueprint

bp = Blueprint("home", __name__)

from vendor_portal.home import routes  # noqa: E402, F401
