from datetime import UTC, datetime, time, timedelta

from flask import current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from vendor_portal.audit import bp
from vendor_portal.audit.models import AuditEntry
from vendor_portal.audit.services import verify
from vendor_portal.extensions import db
from vendor_portal.security import permission_required
from vendor_portal.tables import (
    BadTableRequest,
    Column,
    Table,
    export_response,
    paginate,
    parse_page_args,
)

AUDIT_TABLE = Table(
    columns=[
        Column("seq", "#", lambda e: e.seq, AuditEntry.seq),
        Column("occurred_at", "When (UTC)", lambda e: e.occurred_at, AuditEntry.occurred_at),
        Column("actor", "Who", lambda e: e.actor, AuditEntry.actor),
        Column("address", "Address", lambda e: e.address or ""),
        Column("action", "Action", lambda e: e.action, AuditEntry.action),
        Column("entity_type", "Object", lambda e: e.entity_type, AuditEntry.entity_type),
        Column("entity_id", "Object id", lambda e: e.entity_id or ""),
        Column("before", "Before", lambda e: "" if e.before is None else str(e.before)),
        Column("after", "After", lambda e: "" if e.after is None else str(e.after)),
        Column("hash", "Hash", lambda e: e.hash),
    ],
    default_sort="-seq",
    export_name="audit-log",
)


def _parse_day(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), time.min, tzinfo=UTC)
    except ValueError as exc:
        raise BadTableRequest(f"{field} must be a date like 2026-01-31.") from exc


@bp.get("/")
@permission_required("audit.read")
def index():
    args = request.args
    stmt = select(AuditEntry)
    try:
        if args.get("actor"):
            stmt = stmt.where(AuditEntry.actor.ilike(f"%{args['actor'].strip()}%"))
        if args.get("action"):
            stmt = stmt.where(AuditEntry.action == args["action"])
        if args.get("entity_type"):
            stmt = stmt.where(AuditEntry.entity_type == args["entity_type"])
        if args.get("entity_id"):
            stmt = stmt.where(AuditEntry.entity_id == args["entity_id"].strip())
        start = _parse_day(args.get("from"), "From")
        end = _parse_day(args.get("to"), "To")
        if start:
            stmt = stmt.where(AuditEntry.occurred_at >= start)
        if end:
            stmt = stmt.where(AuditEntry.occurred_at < end + timedelta(days=1))
        stmt = AUDIT_TABLE.sorted(stmt, args.get("sort"), AuditEntry.id)
        if args.get("export"):
            return export_response(
                AUDIT_TABLE, db.session.scalars(stmt).yield_per(1000), args["export"]
            )
        page, per_page = parse_page_args(
            args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
        )
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("audit.index"))
    actions = db.session.scalars(
        select(AuditEntry.action).distinct().order_by(AuditEntry.action)
    ).all()
    entity_types = db.session.scalars(
        select(AuditEntry.entity_type).distinct().order_by(AuditEntry.entity_type)
    ).all()
    return render_template(
        "audit/index.html",
        page=paginate(db.session, stmt, page, per_page),
        actions=actions,
        entity_types=entity_types,
        args=args,
        sort=args.get("sort") or AUDIT_TABLE.default_sort,
    )


@bp.get("/verify")
@permission_required("audit.read")
def verify_chain():
    checked, problem = verify(db.session)
    return render_template("audit/verify.html", checked=checked, problem=problem)
