"""`flask --app vendor_portal subcontracting ...`"""

import click

from vendor_portal.audit.services import Actor, set_actor
from vendor_portal.extensions import db
from vendor_portal.subcontracting import bp
from vendor_portal.subcontracting.services import record_lapsed_notices


@bp.cli.command("record-lapsed")
def record_lapsed() -> None:
    """Record silence on change notices whose notice period ended without a decision."""
    set_actor(Actor(None, "cli:subcontracting record-lapsed"))
    count = record_lapsed_notices(db.session)
    db.session.commit()
    click.echo(
        f"{count} notice{'s' if count != 1 else ''} recorded as lapsed (no decision in time)."
    )
