"""Backups and restores: `flask --app vendor_portal backup create | verify | restore`."""

from flask import Blueprint

bp = Blueprint("backup", __name__, cli_group="backup")

from vendor_portal.backup import cli  # noqa: E402, F401
