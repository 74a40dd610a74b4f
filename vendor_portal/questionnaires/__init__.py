from flask import Blueprint

# cli_group: the blueprint's commands appear as `flask questionnaires COMMAND`.
bp = Blueprint("questionnaires", __name__, url_prefix="/questionnaires", cli_group="questionnaires")

from vendor_portal.questionnaires import cli, demo, models, routes  # noqa: E402, F401
