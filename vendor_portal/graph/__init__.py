from flask import Blueprint

# cli_group: the blueprint's commands appear as `flask graph COMMAND`.
bp = Blueprint("graph", __name__, url_prefix="/graph", cli_group="graph")

from vendor_portal.graph import cli, demo, models, routes  # noqa: E402, F401
