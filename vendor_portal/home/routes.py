from flask import current_app, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import func, null, select

from vendor_portal.audit.models import AuditEntry
from vendor_portal.auth.models import User
from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.home import bp
from vendor_portal.home.tasks import (
    Task,
    change_stamp,
    current_tasks,
    kept_on_home,
    task_provider,
)
from vendor_portal.security import Role, has_permission
from vendor_portal.vendors.models import Vendor, VendorContact
from vendor_portal.vendors.services import tier_counts


@bp.get("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    # Read once, before what is gathered (nothing is kept when the maximum age is 0).
    keeping = current_app.config["HOME_TASKS_MAX_AGE_SECONDS"] > 0
    stamp = change_stamp(db.session) if keeping else None
    tasks = current_tasks(db.session, current_user, stamp)
    tiers = None
    if has_permission(current_user, "vendors.list"):
        # Counted over the whole register: kept as the task list is (vendors are audited).
        gather = lambda: tier_counts(db.session)  # noqa: E731
        tiers = kept_on_home(db.session, "vendor tiers", gather, stamp).value
    return render_template("home/index.html", tasks=tasks.tasks, as_of=tasks.as_of, tiers=tiers)


@bp.get("/healthz")
def health():
    """Liveness and database check for load balancers; no session, no template."""
    db.session.execute(select(1))
    return {"status": "ok"}


@task_provider
def vendor_register_tasks(session, user) -> list[Task]:
    tasks: list[Task] = []
    # Both counts in one round trip (the first only for the roles that name leads).
    leads = user.role in (Role.ADMIN, Role.VENDOR_MANAGER)
    if user.role in (Role.ADMIN, Role.VENDOR_MANAGER, Role.PROCUREMENT):
        without_lead, prospective = session.execute(
            select(
                select(func.count(Vendor.id))
                .where(
                    Vendor.archived_at.is_(None),
                    Vendor.tier.in_(("critical", "high")),
                    ~select(VendorContact.id)
                    .where(VendorContact.vendor_id == Vendor.id, VendorContact.is_continuity_lead)
                    .exists(),
                )
                .scalar_subquery()
                if leads
                else null(),
                select(func.count(Vendor.id))
                .where(Vendor.archived_at.is_(None), Vendor.status == "prospective")
                .scalar_subquery(),
            )
        ).one()
        if without_lead:
            tasks.append(
                Task(
                    "Name a continuity lead",
                    "Critical and high-tier vendors without a business continuity contact.",
                    url_for("vendors.index", tier=["critical", "high"], sort="tier"),
                    without_lead,
                    "warning",
                )
            )
        if prospective:
            tasks.append(
                Task(
                    "Onboard prospective vendors",
                    "Vendors planned but not yet active: due diligence comes before any contract.",
                    url_for("vendors.index", status="prospective"),
                    prospective,
                )
            )
    if user.role == Role.VENDOR_USER and user.vendor is not None:
        has_lead = session.scalar(
            select(func.count(VendorContact.id)).where(
                VendorContact.vendor_id == user.vendor_id, VendorContact.is_continuity_lead
            )
        )
        tasks.append(
            Task(
                "Check your company profile",
                "Your company details and contacts as we hold them."
                + (
                    ""
                    if has_lead
                    else " We have no business continuity lead for you yet: "
                    "tell your account manager."
                ),
                url_for("vendors.show", vendor_id=user.vendor_id),
                None,
                "primary" if has_lead else "warning",
            )
        )
    return tasks


@task_provider
def account_tasks(session, user) -> list[Task]:
    if user.role != Role.ADMIN:
        return []
    pending = session.scalar(
        select(func.count(User.id)).where(User.password_hash.is_(None), User.active)
    )
    if not pending:
        return []
    return [
        Task(
            "Follow up invitations",
            "Users who have not set a password yet.",
            url_for("admin.users", sort="-last_login_at"),
            pending,
            "info",
        )
    ]


@task_provider
def audit_tasks(session, user) -> list[Task]:
    if user.role not in (Role.ADMIN, Role.AUDITOR):
        return []
    from datetime import timedelta

    since = utcnow() - timedelta(days=7)
    recent = session.scalar(
        select(func.count(AuditEntry.id)).where(AuditEntry.occurred_at >= since)
    )
    return [
        Task(
            "Review recent changes",
            "Entries written to the audit log in the last 7 days. "
            "Verify the hash chain from the audit page.",
            url_for("audit.index", **{"from": since.date().isoformat()}),
            recent,
            "info",
        )
    ]
