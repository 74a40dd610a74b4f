"""`flask --app vendor_portal questionnaires COMMAND` (for cron and administrators)."""

from __future__ import annotations

from datetime import date

import click
from flask import current_app, url_for
from flask.cli import with_appcontext

from vendor_portal.audit.services import Actor, set_actor
from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.questionnaires import bp, services


def _link(assignment_id: int) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    with current_app.test_request_context(base_url=base):
        return base + url_for("questionnaires.answer", assignment_id=assignment_id)


@bp.cli.command("reassess")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Pretend it is this day (YYYY-MM-DD); default today (UTC).",
)
@click.option("--dry-run", is_flag=True, help="List what is due without creating anything.")
def reassess(today, dry_run: bool) -> None:
    """Create the reassessments that are due by tier cadence, and invite the vendors.

    Idempotent: a vendor with an open assignment of the template is never sent another."""
    set_actor(Actor(None, "cli:questionnaires reassess"))
    day: date = today.date() if today else utcnow().date()
    if dry_run:
        due = services.due_reassessments(db.session, day)
        for assignment, when in due:
            click.echo(
                f"due {when.isoformat()}: {assignment.vendor.name} "
                f"({assignment.vendor.tier}), {assignment.template.name}"
            )
        click.echo(f"{len(due)} reassessment(s) due.")
        return
    created = services.create_due_reassessments(db.session, day)
    db.session.commit()
    sent = failed = 0
    for assignment in created:
        s, f = services.send_invitations(
            db.session, assignment, current_app.config, _link(assignment.id)
        )
        sent, failed = sent + s, failed + f
        click.echo(
            f"Created assignment {assignment.id}: {assignment.vendor.name}, "
            f"{assignment.version.label}, due {assignment.due_date.isoformat()}"
        )
    db.session.commit()
    click.echo(
        f"{len(created)} reassessment(s) created, {sent} invitation(s) sent"
        + (f", {failed} failed" if failed else "")
        + "."
    )


@bp.cli.command("install-default")
def install_default() -> None:
    """Install and publish the "Business continuity due diligence" template (idempotent)."""
    set_actor(Actor(None, "cli:questionnaires install-default"))
    version, created = services.install_default_template(db.session)
    db.session.commit()
    click.echo(f"{version.label} {'installed and published' if created else 'already installed'}.")


@click.command("send-reminders")
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Pretend it is this day (YYYY-MM-DD); default today (UTC).",
)
@with_appcontext
def send_reminders(today) -> None:
    """Email questionnaire due-date, review and evidence-expiry reminders (for cron, daily).

    Vendors: 30, 7 and 1 day(s) before a questionnaire is due and when it is overdue; accepted
    evidence expiring within 30 and 7 days, and expired. Reviewers: submissions waiting.
    The same reminder is never sent twice."""
    from vendor_portal.questionnaires.reminders import send_reminders as run

    set_actor(Actor(None, "cli:send-reminders"))
    day: date = today.date() if today else utcnow().date()
    base = current_app.config["BASE_URL"].rstrip("/")

    def link(kind: str, object_id: int) -> str:
        endpoint, arg = {
            "answer": ("questionnaires.answer", "assignment_id"),
            "review": ("questionnaires.show_assignment", "assignment_id"),
            "evidence": ("evidence.show_item", "item_id"),
        }[kind]
        with current_app.test_request_context(base_url=base):
            return base + url_for(endpoint, **{arg: object_id})

    report = run(db.session, current_app.config, day, link)
    db.session.commit()
    click.echo(report.describe())
    if report.failed:
        raise SystemExit(1)


@bp.record_once
def _register_top_level_commands(state) -> None:
    # `send-reminders` is a top-level command (`flask --app vendor_portal send-reminders`).
    state.app.cli.add_command(send_reminders)
