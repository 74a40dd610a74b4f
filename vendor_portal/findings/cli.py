"""`flask --app vendor_portal findings …`: escalation of overdue findings."""

from __future__ import annotations

from datetime import date

import click
from flask import current_app

from vendor_portal import mail
from vendor_portal.audit.services import Actor, set_actor
from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.findings import bp, services
from vendor_portal.findings.models import Finding


@bp.cli.command("escalate")
@click.option(
    "--date",
    "on",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The day to escalate for (default: today, UTC).",
)
def escalate(on) -> None:
    """Email the owner of each overdue finding (at most once per finding per day).

    Accepted risks past their expiry are reopened first. Safe to run as often as you like,
    e.g. hourly from cron: what was sent is recorded and not sent again the same day.
    """
    set_actor(Actor(None, "cli:findings-escalate"))
    today: date = on.date() if on else utcnow().date()
    config = current_app.config
    base = config["BASE_URL"].rstrip("/")

    def send(finding: Finding, late: int) -> bool:
        subject, text = services.escalation_text(finding, late, f"{base}/findings/{finding.id}")
        return mail.send(config, [finding.owner.email], subject, text)

    report = services.escalate_overdue(db.session, today, send)
    db.session.commit()
    for finding_id in report.reopened:
        click.echo(f"finding {finding_id}: risk acceptance expired, reopened")
    for finding_id, recipient in report.sent:
        click.echo(f"finding {finding_id}: reminder sent to {recipient}")
    for finding_id in report.already_sent_today:
        click.echo(f"finding {finding_id}: already reminded on {today.isoformat()}")
    for finding_id in report.without_owner:
        click.echo(f"finding {finding_id}: overdue but has no active owner; assign one")
    for finding_id, error in report.failed:
        click.echo(f"finding {finding_id}: sending failed ({error}); will retry next run", err=True)
    click.echo(
        f"{len(report.sent)} sent, {len(report.already_sent_today)} already sent today, "
        f"{len(report.without_owner)} without owner, {len(report.failed)} failed."
    )
    if report.failed:
        raise SystemExit(1)
