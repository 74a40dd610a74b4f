"""`flask --app vendor_portal backup create | verify ARCHIVE | restore ARCHIVE`."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app

from vendor_portal.audit.services import Actor, record_event, set_actor
from vendor_portal.audit.services import verify as verify_audit_chain
from vendor_portal.backup import bp
from vendor_portal.backup.services import (
    BackupError,
    RestoreRefused,
    count_rows,
    create_backup,
    restore_archive,
    verify_archive,
)
from vendor_portal.db import utcnow
from vendor_portal.evidence.integrity_services import check_store
from vendor_portal.extensions import db
from vendor_portal.storage import storage_for


def _bin_dir() -> str | None:
    return current_app.config.get("PG_BIN_DIR") or None


@bp.cli.command("create")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Archive to write (default: instance/backups/vendor-portal-<UTC time>.tar).",
)
def create_command(output: Path | None) -> None:
    """Write one consistent archive of the database and the evidence store (safe while the
    portal is serving)."""
    set_actor(Actor(None, "cli:backup"))
    if output is None:
        stamp = utcnow().strftime("%Y%m%dT%H%M%SZ")
        output = Path(current_app.instance_path) / "backups" / f"vendor-portal-{stamp}.tar"
    try:
        result = create_backup(db.engine, storage_for(current_app), output, bin_dir=_bin_dir())
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    manifest = result.manifest
    record_event(
        db.session,
        "backup.create",
        "backup",
        None,
        {
            "archive": result.path.name,
            "manifest_sha256": result.manifest_sha256,
            "database": manifest.database,
            "alembic_revision": manifest.alembic_revision,
            "audit_head_seq": manifest.audit_head["seq"],
            "evidence_files": manifest.evidence_files,
        },
    )
    db.session.commit()
    click.echo(f"Backup written: {result.path} ({result.path.stat().st_size} bytes)")
    click.echo(
        f"  {manifest.database} snapshot at revision {manifest.alembic_revision}, "
        f"{sum(manifest.counts.values())} rows in {len(manifest.counts)} tables, audit chain "
        f"head {manifest.audit_head['seq']}, {manifest.evidence_files} evidence files "
        f"({manifest.evidence_bytes} bytes)"
    )
    click.echo(f"  manifest sha256 {result.manifest_sha256} (keep it to check the archive later)")


@bp.cli.command("verify")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def verify_command(archive: Path) -> None:
    """Check an archive against its manifest without restoring it."""
    check = verify_archive(archive)
    if not check.ok:
        for problem in check.problems:
            click.echo(f"PROBLEM {problem}")
        raise click.ClickException(
            f"{archive} fails verification ({len(check.problems)} problems)."
        )
    manifest = check.manifest
    assert manifest is not None
    click.echo(
        f"{archive}: {len(manifest.members)} members match the manifest "
        f"({manifest.database} snapshot of {manifest.created_at}, revision "
        f"{manifest.alembic_revision}, {manifest.evidence_files} evidence files, audit head "
        f"{manifest.audit_head['seq']})."
    )


@bp.cli.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore_command(archive: Path) -> None:
    """Restore an archive into an empty database, then check evidence and the audit chain."""
    set_actor(Actor(None, "cli:backup restore"))
    storage = storage_for(current_app)
    try:
        result = restore_archive(
            db.engine, storage, archive, bin_dir=_bin_dir(), progress=click.echo
        )
    except (RestoreRefused, BackupError) as exc:
        raise click.ClickException(str(exc)) from exc
    db.session.remove()
    manifest = result.manifest
    failures = []
    counts = count_rows(db.engine)
    differing = sorted(name for name, count in manifest.counts.items() if counts.get(name) != count)
    if differing:
        failures.append(f"row counts differ from the manifest in {', '.join(differing)}")
    else:
        click.echo(f"Row counts match the manifest in all {len(manifest.counts)} tables.")
    with db.engine.connect() as connection:
        report = check_store(connection, storage)
    for line in report.lines():
        click.echo(f"  evidence: {line}")
    if not report.ok:
        failures.append("the evidence store check failed")
    record_event(
        db.session,
        "backup.restore",
        "backup",
        None,
        {
            "archive": archive.name,
            "created_at": manifest.created_at,
            "audit_head_seq": manifest.audit_head["seq"],
        },
    )
    db.session.commit()
    checked, problem = verify_audit_chain(db.session)
    if problem is None:
        click.echo(f"Audit chain intact: {checked} entries verified.")
    else:
        failures.append(f"audit chain broken at entry {problem.seq}: {problem.reason}")
    if failures:
        raise click.ClickException("Restored, but " + "; ".join(failures) + ".")
    click.echo(f"Restore complete from {archive.name}.")
