"""Command-line interface: `flask --app vendor_portal COMMAND`."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from vendor_portal.audit.services import Actor, set_actor, verify
from vendor_portal.auth import services as accounts
from vendor_portal.extensions import db
from vendor_portal.security import Role


def register_cli(app: Flask) -> None:
    @app.cli.command("create-user")
    @click.option("--email", required=True)
    @click.option("--password", help="Omit to be prompted (input hidden).")
    @click.option("--role", required=True, type=click.Choice([r.value for r in Role]))
    @click.option("--vendor", "vendor_id", type=int, help="Vendor id, required for vendor_user.")
    @click.option("--name", default="", help="Display name (defaults to the email).")
    def create_user(
        email: str, password: str | None, role: str, vendor_id: int | None, name: str
    ) -> None:
        """Create a user who can sign in at once."""
        from vendor_portal.vendors.models import Vendor

        set_actor(Actor(None, "cli:create-user"))
        if password is None:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        if vendor_id is not None and db.session.get(Vendor, vendor_id) is None:
            raise click.ClickException(f"There is no vendor with id {vendor_id}.")
        try:
            user = accounts.create_user(
                db.session,
                email=email,
                name=name or email,
                role=role,
                password=password,
                vendor_id=vendor_id,
            )
        except accounts.AccountError as exc:
            raise click.ClickException(str(exc)) from exc
        db.session.commit()
        click.echo(f"Created {user.role} {user.email} (id {user.id}).")

    @app.cli.command("create-token")
    @click.option("--email", required=True)
    @click.option("--name", default="CLI token")
    @click.option("--expires-in-days", type=click.IntRange(1, 3650))
    def create_token(email: str, name: str, expires_in_days: int | None) -> None:
        """Print a new API token for a user (shown once; only its hash is stored)."""
        set_actor(Actor(None, "cli:create-token"))
        user = accounts.user_by_email(db.session, email)
        if user is None:
            raise click.ClickException(f"There is no user with the email {email}.")
        if not user.active:
            raise click.ClickException(f"{email} is deactivated.")
        _, plain = accounts.create_token(db.session, user, name, expires_in_days)
        db.session.commit()
        click.echo(plain)

    @app.cli.command("seed-demo")
    @click.option(
        "--if-empty", is_flag=True, help="Do nothing when the database already has users."
    )
    def seed_demo(if_empty: bool) -> None:
        """Load realistic demo data (idempotent) and print one sign-in per role."""
        from vendor_portal.demo.seed import DEMO_PASSWORD, seed

        set_actor(Actor(None, "cli:seed-demo"))
        if if_empty and accounts.count_users(db.session) > 0:
            click.echo("Database already has users; demo data not loaded.")
            return
        summary = seed(db.session)
        db.session.commit()
        click.echo(summary.describe())
        click.echo(f"\nDemo sign-ins (password for all: {DEMO_PASSWORD}):")
        for role, email in summary.logins.items():
            click.echo(f"  {role:<15} {email}")

    audit = AppGroup("audit", help="The hash-chained audit log.")

    @audit.command("verify")
    def audit_verify() -> None:
        """Re-hash the audit chain; name the first broken entry."""
        checked, problem = verify(db.session)
        if problem is None:
            click.echo(f"Audit chain intact: {checked} entries verified.")
            return
        raise click.ClickException(f"Audit chain broken at entry {problem.seq}: {problem.reason}.")

    app.cli.add_command(audit)
