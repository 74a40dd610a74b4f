"""Findings register pages: list, detail with history, workflow, evidence, due-date policy."""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_login import current_user
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from vendor_portal import storage
from vendor_portal.auth.models import User
from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.findings import bp, services
from vendor_portal.findings.domain import (
    EVIDENCE_MAX_BYTES,
    FindingSource,
    FindingStatus,
    Severity,
    evidence_name_problem,
    transitions_from,
)
from vendor_portal.findings.forms import (
    CommentForm,
    DuePolicyForm,
    EvidenceForm,
    FindingForm,
    PlanForm,
    RiskDecisionForm,
    RiskRequestForm,
    StatusForm,
)
from vendor_portal.findings.models import Finding, FindingEvidence, FindingUpdate
from vendor_portal.findings.tables import FINDING_TABLE
from vendor_portal.forms import choices
from vendor_portal.home.tasks import Task, change_stamp, task_provider
from vendor_portal.navigation import nav_item
from vendor_portal.security import (
    Role,
    get_scoped_or_404,
    has_permission,
    is_vendor_user,
    permission_required,
    vendor_scope,
)
from vendor_portal.stamped import StampedResults
from vendor_portal.tables import BadTableRequest, export_response, paginate, parse_page_args
from vendor_portal.vendors.models import Vendor

nav_item("Findings", "findings.index", "findings.read", order=60, for_vendor_users=True)

OWNER_ROLES = (Role.ADMIN.value, Role.VENDOR_MANAGER.value, Role.PROCUREMENT.value)


def _today():
    return utcnow().date()


def _int_arg(name: str) -> int | None:
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


def _filters() -> services.FindingFilters:
    args = request.args
    owner = args.get("owner")
    return services.FindingFilters(
        vendor_id=_int_arg("vendor"),
        vendor_name=args.get("vendor_name", "").strip() or None,
        severities=[s for s in args.getlist("severity") if s in {x.value for x in Severity}],
        statuses=[s for s in args.getlist("status") if s in {x.value for x in FindingStatus}],
        sources=[s for s in args.getlist("source") if s in {x.value for x in FindingSource}],
        owner_id=current_user.id if owner == "me" else None,
        overdue=args.get("overdue") == "1",
        open_only=args.get("open") == "1",
        risk_pending=args.get("risk") == "pending",
        search=args.get("q", "").strip() or None,
    )


def owner_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(User.id, User.name)
        .where(User.active, User.role.in_(OWNER_ROLES))
        .order_by(User.name)
    )
    return [(row.id, row.name) for row in rows]


def vendor_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(Vendor.id, Vendor.name).where(Vendor.archived_at.is_(None)).order_by(Vendor.name)
    )
    return [(row.id, row.name) for row in rows]


def register_counts() -> StampedResults:
    """The register's totals (how many findings match a filter, how many are overdue) and its
    rendered table pages, kept in this process while nothing changed: every write to a
    finding, a vendor or a user is audited, so they are reused only while the newest audit
    entry is the one they were computed at (and on the day they were computed for)."""
    return current_app.extensions.setdefault(
        "findings_register_counts", StampedResults(change_stamp)
    )


@bp.get("/")
@permission_required("findings.read")
def index():
    filters = _filters()
    today = _today()
    own_vendor = current_user.vendor_id if is_vendor_user(current_user) else None
    try:
        stmt = vendor_scope(services.finding_query(filters, today), Finding.vendor_id, current_user)
        stmt = FINDING_TABLE.sorted(stmt, request.args.get("sort"), Finding.id)
        export = request.args.get("export")
        if export:
            return export_response(FINDING_TABLE, db.session.scalars(stmt).unique(), export)
        page, per_page = parse_page_args(
            request.args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
        )
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("findings.index"))
    counts = register_counts()
    stamp = change_stamp(db.session)  # before the data: a kept result is never older than it
    sort = request.args.get("sort") or FINDING_TABLE.default_sort

    def table() -> Markup:
        key = ("register", own_vendor, today, filters.key())
        total = counts.total(db.session, key, stmt, stamp)
        html = render_template(
            "findings/_table.html",
            page=paginate(db.session, stmt, page, per_page, total=total),
            sort=sort,
            today=today,
            # One url_for, not one per row: the link is this prefix and the finding's id.
            finding_url=url_for("findings.show", finding_id=0)[:-1],
        )
        return Markup(html)  # noqa: S704 - autoescaped template output

    # The rows, their links and the page links: kept per filter, query string and day.
    where = (own_vendor, today, filters.key(), tuple(request.args.items(multi=True)))
    shown = counts.get(db.session, ("table", *where, request.script_root), table, stamp)
    overdue_total = counts.get(
        db.session,
        ("overdue", own_vendor, today),
        lambda: services.count_overdue(db.session, today, own_vendor),
        stamp,
    )
    chosen_vendor = (
        db.session.get(Vendor, filters.vendor_id)
        if filters.vendor_id and own_vendor is None
        else None
    )
    return render_template(
        "findings/index.html",
        table=shown,
        filters=filters,
        sort=sort,
        severities=list(Severity),
        statuses=list(FindingStatus),
        sources=list(FindingSource),
        vendor_filter=own_vendor is None,
        chosen_vendor=chosen_vendor,
        every_vendor_url=url_for(
            "findings.index",
            **{k: v for k, v in request.args.lists() if k not in ("vendor", "page")},
        )
        if chosen_vendor
        else None,
        overdue_total=overdue_total,
        can_write=has_permission(current_user, "findings.write"),
    )


@bp.route("/new", methods=["GET", "POST"])
@permission_required("findings.write")
def create():
    form = FindingForm(
        vendors=vendor_choices(),
        owners=owner_choices(),
        data={"vendor_id": _int_arg("vendor") or 0, "owner_id": current_user.id}
        if request.method == "GET"
        else None,
    )
    if form.validate_on_submit():
        finding = services.create_finding(db.session, form.values())
        db.session.commit()
        flash(f"Finding #{finding.id} opened, due {finding.due_date.isoformat()}.", "success")
        return redirect(url_for("findings.show", finding_id=finding.id))
    return render_template(
        "findings/form.html",
        form=form,
        finding=None,
        due_days=services.effective_due_days(db.session),
    )


def _load(finding_id: int) -> Finding:
    return get_scoped_or_404(Finding, finding_id, current_user)


def _render_show(finding: Finding, status_code: int = 200, **forms: Any):
    can_verify = has_permission(current_user, "findings.write")
    can_remediate = has_permission(current_user, "findings.remediate")
    updates = db.session.scalars(
        select(FindingUpdate)
        .where(FindingUpdate.finding_id == finding.id)
        .options(selectinload(FindingUpdate.author))
        .order_by(FindingUpdate.created_at, FindingUpdate.id)
    ).all()
    if is_vendor_user(current_user):
        updates = [u for u in updates if not u.internal]
    moves = transitions_from(finding.status, can_verify, can_remediate)
    status_form = forms.get("status_form") or StatusForm()
    status_form.status.choices = choices((t.target.value, t.label) for t in moves)
    return render_template(
        "findings/show.html",
        finding=finding,
        updates=updates,
        today=_today(),
        moves=moves,
        can_verify=can_verify,
        can_remediate=can_remediate,
        plan_form=forms.get("plan_form")
        or PlanForm(data={"remediation_plan": finding.remediation_plan or ""}),
        comment_form=forms.get("comment_form") or CommentForm(),
        status_form=status_form,
        evidence_form=forms.get("evidence_form") or EvidenceForm(),
        risk_form=forms.get("risk_form") or RiskRequestForm(),
        decision_form=forms.get("decision_form") or RiskDecisionForm(),
        max_mb=_max_bytes() // (1024 * 1024),
    ), status_code


@bp.get("/<int:finding_id>")
@permission_required("findings.read")
def show(finding_id: int):
    return _render_show(_load(finding_id))


@bp.route("/<int:finding_id>/edit", methods=["GET", "POST"])
@permission_required("findings.write")
def edit(finding_id: int):
    finding = _load(finding_id)
    form = FindingForm(obj=finding, vendors=vendor_choices(), owners=owner_choices())
    del form.vendor_id, form.source  # a finding keeps its vendor and source
    if request.method == "GET":
        form.owner_id.data = finding.owner_id or 0
    if form.validate_on_submit():
        values = form.values()
        values["due_date"] = values["due_date"] or finding.due_date
        changed = services.update_finding(db.session, finding, values)
        db.session.commit()
        flash("Finding saved." if changed else "Nothing changed.", "success")
        return redirect(url_for("findings.show", finding_id=finding.id))
    return render_template(
        "findings/form.html",
        form=form,
        finding=finding,
        due_days=services.effective_due_days(db.session),
    )


@bp.post("/<int:finding_id>/status")
@permission_required("findings.remediate")
def change_status(finding_id: int):
    finding = _load(finding_id)
    form = StatusForm()
    moves = transitions_from(
        finding.status,
        has_permission(current_user, "findings.write"),
        has_permission(current_user, "findings.remediate"),
    )
    form.status.choices = choices((t.target.value, t.label) for t in moves)
    if not moves:
        flash("No status change is possible from here.", "warning")
        return redirect(url_for("findings.show", finding_id=finding.id))
    if form.validate_on_submit():
        try:
            services.change_status(
                db.session,
                finding,
                form.status.data,
                comment=form.comment.data,
                can_verify=has_permission(current_user, "findings.write"),
                can_remediate=True,
            )
        except services.FindingRuleError as exc:
            db.session.rollback()
            form.comment.errors = [*form.comment.errors, str(exc)]
            return _render_show(finding, 422, status_form=form)
        db.session.commit()
        flash(f"Finding is now {finding.status_label.lower()}.", "success")
        return redirect(url_for("findings.show", finding_id=finding.id))
    return _render_show(finding, 422, status_form=form)


@bp.post("/<int:finding_id>/plan")
@permission_required("findings.remediate")
def save_plan(finding_id: int):
    finding = _load(finding_id)
    form = PlanForm()
    if form.validate_on_submit():
        try:
            services.save_plan(db.session, finding, form.remediation_plan.data)
        except services.FindingRuleError as exc:
            db.session.rollback()
            form.remediation_plan.errors = [*form.remediation_plan.errors, str(exc)]
            return _render_show(finding, 422, plan_form=form)
        db.session.commit()
        flash("Remediation plan saved.", "success")
        return redirect(url_for("findings.show", finding_id=finding.id))
    return _render_show(finding, 422, plan_form=form)


@bp.post("/<int:finding_id>/comments")
@permission_required("findings.remediate")
def comment(finding_id: int):
    finding = _load(finding_id)
    form = CommentForm()
    if form.validate_on_submit():
        internal = bool(form.internal.data) and not is_vendor_user(current_user)
        services.add_comment(db.session, finding, form.body.data, internal=internal)
        db.session.commit()
        flash("Update added.", "success")
        return redirect(url_for("findings.show", finding_id=finding.id) + "#history")
    return _render_show(finding, 422, comment_form=form)


def _max_bytes() -> int:
    return int(current_app.config.get("FINDING_EVIDENCE_MAX_BYTES", EVIDENCE_MAX_BYTES))


@bp.post("/<int:finding_id>/evidence")
@permission_required("findings.remediate")
def upload_evidence(finding_id: int):
    finding = _load(finding_id)
    form = EvidenceForm()
    if form.validate_on_submit():
        upload = form.file.data
        try:
            filename = storage.clean_filename(upload.filename)
            problem = evidence_name_problem(filename)
            if problem:
                raise storage.UploadRejected("forbidden_type", problem)
            if not finding.is_open:
                raise services.FindingRuleError(
                    "Evidence can be attached only while the finding is open."
                )
            stored = storage.storage_for(current_app).save(upload.stream, filename, _max_bytes())
            services.attach_evidence(db.session, finding, stored, stored.filename)
        except storage.UploadRejected as exc:
            db.session.rollback()
            form.file.errors = [*form.file.errors, exc.message]
            return _render_show(finding, 422, evidence_form=form)
        except services.FindingRuleError as exc:
            db.session.rollback()
            form.file.errors = [*form.file.errors, str(exc)]
            return _render_show(finding, 422, evidence_form=form)
        db.session.commit()
        flash(f"{stored.filename} attached.", "success")
        return redirect(url_for("findings.show", finding_id=finding.id) + "#evidence")
    return _render_show(finding, 422, evidence_form=form)


@bp.get("/<int:finding_id>/evidence/<int:evidence_id>")
@permission_required("findings.read")
def download_evidence(finding_id: int, evidence_id: int):
    finding = _load(finding_id)
    evidence = db.session.get(FindingEvidence, evidence_id)
    if evidence is None or evidence.finding_id != finding.id:
        abort(404)
    try:
        handle = storage.storage_for(current_app).open_verified(
            evidence.storage_key, evidence.sha256
        )
    except storage.StoredFileMissing:
        abort(404, description="The file is missing from storage; ask an administrator.")
    except storage.StoredFileCorrupt:
        abort(409, description="The stored file no longer matches its hash; it is not served.")
    response = send_file(
        handle,
        mimetype=evidence.media_type,
        as_attachment=True,
        download_name=evidence.filename,
        etag=evidence.sha256,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.post("/<int:finding_id>/risk")
@permission_required("findings.write")
def request_risk(finding_id: int):
    finding = _load(finding_id)
    form = RiskRequestForm()
    if form.validate_on_submit():
        try:
            services.request_risk_acceptance(
                db.session, finding, form.until.data, form.justification.data
            )
        except services.FindingRuleError as exc:
            db.session.rollback()
            target = form.until if exc.field == "until" else form.justification
            target.errors = [*target.errors, str(exc)]
            return _render_show(finding, 422, risk_form=form)
        db.session.commit()
        flash("Risk acceptance requested; another reviewer must approve it.", "success")
        return redirect(url_for("findings.show", finding_id=finding.id))
    return _render_show(finding, 422, risk_form=form)


@bp.post("/<int:finding_id>/risk/approve")
@permission_required("findings.write")
def approve_risk(finding_id: int):
    finding = _load(finding_id)
    if RiskDecisionForm().validate_on_submit():
        try:
            services.approve_risk_acceptance(db.session, finding, current_user.id)
        except services.FindingRuleError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash("Risk accepted.", "success")
    return redirect(url_for("findings.show", finding_id=finding.id))


@bp.post("/<int:finding_id>/risk/reject")
@permission_required("findings.write")
def reject_risk(finding_id: int):
    finding = _load(finding_id)
    form = RiskDecisionForm()
    if form.validate_on_submit():
        try:
            services.reject_risk_acceptance(db.session, finding, form.reason.data)
        except services.FindingRuleError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash("Risk acceptance refused.", "success")
    return redirect(url_for("findings.show", finding_id=finding.id))


@bp.route("/policy", methods=["GET", "POST"])
@permission_required("policies.manage")
def policy():
    current = services.effective_due_days(db.session)
    form = DuePolicyForm(data=current if request.method == "GET" else None)
    if form.validate_on_submit():
        services.set_due_days_policy(db.session, form.values())
        db.session.commit()
        flash("Due-date policy saved; it applies to findings opened from now on.", "success")
        return redirect(url_for("findings.policy"))
    return render_template("findings/policy.html", form=form, current=current)


@task_provider
def finding_tasks(session, user) -> list[Task]:
    tasks: list[Task] = []
    today = _today()
    if user.role == Role.VENDOR_USER and user.vendor_id:
        actionable = services.vendor_actionable(session, user.vendor_id)
        if actionable:
            tasks.append(
                Task(
                    "Remediate your findings",
                    "Findings about your company that wait for a remediation plan or progress.",
                    url_for("findings.index", status=["open", "in_remediation"]),
                    actionable,
                    "warning",
                )
            )
        return tasks
    counts = None
    if user.role in (Role.ADMIN, Role.VENDOR_MANAGER):
        counts = services.reviewer_counts(session, today, user.id)
    if user.role in (Role.ADMIN, Role.VENDOR_MANAGER, Role.AUDITOR, Role.PROCUREMENT):
        overdue = counts.overdue if counts else services.count_overdue(session, today)
        if overdue:
            tasks.append(
                Task(
                    "Overdue findings",
                    "Open findings past their due date: chase the vendor or accept the risk.",
                    url_for("findings.index", overdue="1", sort="due_date"),
                    overdue,
                    "danger",
                )
            )
    if counts is not None:
        if counts.awaiting_verification:
            tasks.append(
                Task(
                    "Verify remediated findings",
                    "Vendors say these are fixed: check the evidence and close them.",
                    url_for("findings.index", status="ready_for_verification"),
                    counts.awaiting_verification,
                    "primary",
                )
            )
        if counts.risk_requests:
            tasks.append(
                Task(
                    "Approve or refuse risk acceptances",
                    "Requests by colleagues that need a second person's decision.",
                    url_for("findings.index", risk="pending"),
                    counts.risk_requests,
                    "warning",
                )
            )
    return tasks
