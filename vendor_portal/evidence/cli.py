"""`flask --app vendor_portal evidence verify`: is every evidence file intact and accounted for?"""

from __future__ import annotations

import click

from vendor_portal.evidence import bp
from vendor_portal.evidence.integrity_services import check_store, clean_store, load_references
from vendor_portal.extensions import db
from vendor_portal.storage import storage_for


@bp.cli.command("verify")
@click.option(
    "--clean-temp", is_flag=True, help="Remove temporary files left by interrupted uploads."
)
@click.option("--clean-orphans", is_flag=True, help="Remove stored files that no row names.")
@click.option(
    "--older-than",
    "older_than_minutes",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="Only clean files at least this many minutes old (younger ones may be uploads in "
    "progress).",
)
def verify_command(clean_temp: bool, clean_orphans: bool, older_than_minutes: float) -> None:
    """Re-hash every stored file; report altered and missing files, orphans and temp files.

    Exits with status 1 when a file is altered or missing."""
    from flask import current_app

    storage = storage_for(current_app)
    with db.engine.connect() as connection:
        report = check_store(connection, storage)
    for line in report.lines():
        click.echo(line)
    if clean_temp or clean_orphans:
        if clean_orphans and report.orphans:
            # An identical upload may have named an orphan since the check: keep those.
            with db.engine.connect() as connection:
                named = {ref.key for ref in load_references(connection)}
            report.orphans = [o for o in report.orphans if o.key not in named]
        done = clean_store(
            report,
            storage,
            older_than_minutes * 60,
            temp=clean_temp,
            orphans=clean_orphans,
        )
        click.echo(
            f"Removed {done.temp_removed} temporary and {done.orphans_removed} orphaned files "
            f"older than {older_than_minutes:g} minutes."
        )
    if not report.ok:
        raise SystemExit(1)
