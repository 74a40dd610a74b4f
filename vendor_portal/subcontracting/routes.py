"""Subcontracting: vendors declare their chains and announce changes; reviewers check that
continuity obligations flow down to every subcontractor."""

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.forms import ConfirmForm, choices
from vendor_portal.home.tasks import Task, task_provider
from vendor_portal.navigation import nav_item
from vendor_portal.security import (
    Role,
    get_scoped_or_404,
    has_permission,
    is_vendor_user,
    permission_required,
)
from vendor_portal.storage import (
    StoredFileCorrupt,
    StoredFileMissing,
    UploadRejected,
    storage_for,
    upload_limit,
)
from vendor_portal.subcontracting import bp, services
from vendor_portal.subcontracting.domain import (
    NoticeStatus,
    effective_notice_status,
)
from vendor_portal.subcontracting.forms import (
    DecisionForm,
    DeclarationForm,
    FlowDownItemForm,
    MergeForm,
    NoticeForm,
)
from vendor_portal.subcontracting.models import (
    FlowDownItem,
    FlowDownReview,
    SubcontractingNotice,
    SubcontractorDeclaration,
)
from vendor_portal.subcontracting.tables import DECLARATION_TABLE
from vendor_portal.tables import BadTableRequest, export_response
from vendor_portal.vendors.models import Vendor
from vendor_portal.vendors.services import active_services

nav_item(
    "Subcontracting", "subcontracting.index", "subcontractors.read", order=60, for_vendor_users=True
)


def _entry_choices(chain) -> list[tuple[int, str]]:
    return [(d.id, f"{'· ' * (d.rank - 2)}{d.subcontractor.name} (rank {d.rank})") for d in chain]


@bp.get("/")
@permission_required("subcontractors.read")
def index():
    if is_vendor_user(current_user):
        return redirect(url_for("subcontracting.chain", vendor_id=current_user.vendor_id))
    today = utcnow().date()
    notices = db.session.scalars(
        select(SubcontractingNotice)
        .where(SubcontractingNotice.status == NoticeStatus.PENDING)
        .order_by(SubcontractingNotice.deadline)
    ).all()
    shared = {
        company_id: heads
        for company_id, heads in services.dependants_by_company(db.session).items()
        if len(heads) > 1
    }
    companies = {v.id: v for v in db.session.scalars(select(Vendor).where(Vendor.id.in_(shared)))}
    return render_template(
        "subcontracting/index.html",
        coverage=services.coverage(db.session, today),
        due=services.reviews_due(db.session, today),
        notices=notices,
        now=utcnow(),
        shared=sorted(((companies[c], len(h)) for c, h in shared.items()), key=lambda x: -x[1]),
        duplicates=len(services.duplicate_groups(db.session)),
    )


@bp.get("/export")
@permission_required("subcontractors.read")
def export():
    if is_vendor_user(current_user):
        abort(403)
    stmt = (
        select(SubcontractorDeclaration)
        .where(SubcontractorDeclaration.removed_at.is_(None))
        .order_by(SubcontractorDeclaration.vendor_id, SubcontractorDeclaration.rank)
    )
    try:
        return export_response(
            DECLARATION_TABLE, db.session.scalars(stmt).unique(), request.args.get("format", "csv")
        )
    except BadTableRequest as exc:
        abort(400, str(exc))


def _declaration_form(vendor: Vendor, chain, formdata=None) -> DeclarationForm:
    return DeclarationForm(
        formdata=formdata,
        parents=_entry_choices(chain),
        services=[(s.id, s.name) for s in active_services(db.session, vendor.id)],
    )


def _render_chain(vendor: Vendor, form: DeclarationForm | None = None, status: int = 200):
    chain = services.active_chain(db.session, vendor.id)
    notices = db.session.scalars(
        select(SubcontractingNotice)
        .where(SubcontractingNotice.vendor_id == vendor.id)
        .order_by(SubcontractingNotice.submitted_at.desc())
    ).all()
    reviews = []
    if not is_vendor_user(current_user):
        reviews = db.session.scalars(
            select(FlowDownReview)
            .where(FlowDownReview.vendor_id == vendor.id)
            .order_by(FlowDownReview.id.desc())
        ).all()
    can_declare = has_permission(current_user, "subcontractors.declare")
    attestation = None if chain else services.no_subcontractors_attestation(db.session, vendor.id)
    return (
        render_template(
            "subcontracting/chain.html",
            vendor=vendor,
            attestation=attestation,
            attestation_current=attestation is not None and attestation.current_on(utcnow().date()),
            rows=services.chain_tree(chain),
            form=form or (_declaration_form(vendor, chain) if can_declare else None),
            notices=notices,
            reviews=reviews,
            now=utcnow(),
            effective_status=effective_notice_status,
            can_declare=can_declare,
            can_review=has_permission(current_user, "obligations.review"),
        ),
        status,
    )


@bp.route("/vendors/<int:vendor_id>", methods=["GET", "POST"])
@permission_required("subcontractors.read")
def chain(vendor_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    if request.method == "GET":
        return _render_chain(vendor)
    if not has_permission(current_user, "subcontractors.declare"):
        abort(403)
    form = _declaration_form(vendor, services.active_chain(db.session, vendor.id), request.form)
    if form.validate_on_submit():
        try:
            declaration = services.declare(
                db.session, vendor, declared_by_id=current_user.id, **form.values()
            )
        except services.SubcontractingError as exc:
            getattr(form, exc.field or "name", form.name).errors.append(str(exc))
        else:
            db.session.commit()
            flash(
                f"{declaration.subcontractor.name} declared at rank {declaration.rank}.", "success"
            )
            return redirect(url_for("subcontracting.chain", vendor_id=vendor.id))
    return _render_chain(vendor, form, 422)


@bp.post("/vendors/<int:vendor_id>/none")
@permission_required("subcontractors.declare")
def attest_none(vendor_id: int):
    """The vendor states (again) that it relies on no subcontractors."""
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    if ConfirmForm().validate_on_submit():
        try:
            services.attest_no_subcontractors(db.session, vendor, current_user.id)
        except services.SubcontractingError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"Recorded: {vendor.name} relies on no subcontractors.", "success")
    return redirect(url_for("subcontracting.chain", vendor_id=vendor.id))


@bp.post("/declarations/<int:declaration_id>/remove")
@permission_required("subcontractors.declare")
def remove(declaration_id: int):
    declaration = get_scoped_or_404(SubcontractorDeclaration, declaration_id, current_user)
    if ConfirmForm().validate_on_submit() and declaration.removed_at is None:
        count = services.remove_declaration(db.session, declaration)
        db.session.commit()
        flash(
            f"{declaration.subcontractor.name} removed"
            + (f" with the {count - 1} declared below it." if count > 1 else "."),
            "success",
        )
    return redirect(url_for("subcontracting.chain", vendor_id=declaration.vendor_id))


@bp.route("/vendors/<int:vendor_id>/notices/new", methods=["GET", "POST"])
@permission_required("subcontractors.declare")
def new_notice(vendor_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    form = NoticeForm(entries=_entry_choices(services.active_chain(db.session, vendor.id)))
    days = current_app.config["SUBCONTRACTING_NOTICE_DAYS"]
    if form.validate_on_submit():
        try:
            notice = services.submit_notice(
                db.session,
                vendor,
                kind=form.kind.data,
                subcontractor_name=form.subcontractor_name.data,
                subcontractor_country=form.subcontractor_country.data or None,
                declaration_id=form.declaration_id.data,
                parent_id=form.parent_id.data,
                function=form.function.data,
                description=form.description.data,
                planned_date=form.planned_date.data,
                notice_days=days,
                submitted_by_id=current_user.id,
            )
        except services.SubcontractingError as exc:
            getattr(form, exc.field or "subcontractor_name").errors.append(str(exc))
        else:
            db.session.commit()
            flash(f"Notice sent. We will answer by {notice.deadline:%Y-%m-%d}.", "success")
            return redirect(url_for("subcontracting.chain", vendor_id=vendor.id))
    return render_template("subcontracting/notice_form.html", form=form, vendor=vendor, days=days)


@bp.route("/notices/<int:notice_id>", methods=["GET", "POST"])
@permission_required("subcontractors.read")
def notice(notice_id: int):
    item = get_scoped_or_404(SubcontractingNotice, notice_id, current_user)
    form = DecisionForm()
    if request.method == "POST":
        if not has_permission(current_user, "obligations.review"):
            abort(403)
        decision = request.form.get("decision")
        if decision not in ("approve", "object"):
            abort(400, "Choose approve or object.")
        if form.validate_on_submit():
            try:
                services.decide_notice(
                    db.session,
                    item,
                    approve=decision == "approve",
                    comment=form.comment.data,
                    user_id=current_user.id,
                )
            except services.SubcontractingError as exc:
                flash(str(exc), "warning")
            else:
                db.session.commit()
                flash(
                    f"Notice {'approved' if decision == 'approve' else 'objected to'}.", "success"
                )
            return redirect(url_for("subcontracting.notice", notice_id=item.id))
    return render_template(
        "subcontracting/notice.html",
        notice=item,
        status=effective_notice_status(item.status, item.deadline, utcnow()),
        form=form,
        can_decide=has_permission(current_user, "obligations.review"),
    )


@bp.post("/vendors/<int:vendor_id>/reviews")
@permission_required("obligations.review")
def start_review(vendor_id: int):
    vendor = get_scoped_or_404(Vendor, vendor_id, current_user, vendor_attr="id")
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        review = services.start_review(db.session, vendor, current_user.id)
    except services.SubcontractingError as exc:
        flash(str(exc), "warning")
        return redirect(url_for("subcontracting.chain", vendor_id=vendor.id))
    db.session.commit()
    return redirect(url_for("subcontracting.review", review_id=review.id))


def _load_review(review_id: int) -> FlowDownReview:
    """Reviews are internal work: vendor users see their outcome as findings, not the review."""
    if is_vendor_user(current_user):
        abort(403)
    review = db.session.get(FlowDownReview, review_id)
    if review is None:
        abort(404)
    return review


@bp.get("/reviews/<int:review_id>")
@permission_required("subcontractors.read")
def review(review_id: int):
    item = _load_review(review_id)
    gaps = sum(1 for i in item.items if i.outcome in ("no", "unknown"))
    return render_template(
        "subcontracting/review.html",
        review=item,
        gaps=gaps,
        can_review=has_permission(current_user, "obligations.review"),
    )


@bp.post("/reviews/<int:review_id>/items/<int:item_id>")
@permission_required("obligations.review")
def record_item(review_id: int, item_id: int):
    item = db.session.get(FlowDownItem, item_id)
    if item is None or item.review_id != review_id:
        abort(404)
    form = FlowDownItemForm()
    if form.validate_on_submit():
        evidence = None
        upload = form.evidence.data
        try:
            if upload and upload.filename:
                evidence = storage_for(current_app).save(
                    upload.stream, upload.filename, max_bytes=upload_limit(current_app)
                )
            services.record_item(
                db.session,
                item,
                outcome=form.outcome.data,
                comment=form.comment.data,
                evidence=evidence,
            )
        except (UploadRejected, services.SubcontractingError) as exc:
            flash(getattr(exc, "message", str(exc)), "danger")
        else:
            db.session.commit()
            flash(
                f"Recorded: {item.obligation.title} — {item.declaration.subcontractor.name}.",
                "success",
            )
    return redirect(url_for("subcontracting.review", review_id=review_id) + f"#item-{item_id}")


@bp.get("/reviews/<int:review_id>/items/<int:item_id>/evidence")
@permission_required("subcontractors.read")
def item_evidence(review_id: int, item_id: int):
    _load_review(review_id)
    item = db.session.get(FlowDownItem, item_id)
    if item is None or item.review_id != review_id or not item.evidence_key:
        abort(404)
    try:
        handle = storage_for(current_app).open_verified(item.evidence_key, item.evidence_sha256)
    except (StoredFileCorrupt, StoredFileMissing):
        current_app.logger.error(
            "Flow-down evidence %s failed its integrity check", item.evidence_key
        )
        abort(409, "This file failed its integrity check and was not served.")
    response = send_file(
        handle,
        as_attachment=True,
        download_name=item.evidence_filename or "evidence",
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.post("/reviews/<int:review_id>/sign-off")
@permission_required("obligations.review")
def sign_off(review_id: int):
    item = _load_review(review_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        findings = services.sign_off(db.session, item, current_user.id)
    except services.SubcontractingError as exc:
        flash(str(exc), "warning")
    else:
        db.session.commit()
        flash(
            "Review signed off"
            + (
                f"; {len(findings)} gap{'s' if len(findings) != 1 else ''} opened as findings."
                if findings
                else "."
            ),
            "success",
        )
    return redirect(url_for("subcontracting.review", review_id=review_id))


@bp.route("/duplicates", methods=["GET", "POST"])
@permission_required("vendors.write")
def duplicates():
    groups = services.duplicate_groups(db.session)
    form = MergeForm()
    ids = [
        (v.id, f"{v.name} ({v.country}, id {v.id}{', direct' if v.direct else ''})")
        for g in groups
        for v in g
    ]
    form.keep_id.choices = choices(ids)
    form.duplicate_id.choices = choices(ids)
    if request.method == "POST" and form.validate_on_submit():
        keep = db.session.get(Vendor, form.keep_id.data)
        duplicate = db.session.get(Vendor, form.duplicate_id.data)
        try:
            services.merge_companies(db.session, keep, duplicate)
        except services.SubcontractingError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash(f"{duplicate.name} merged into {keep.name}.", "success")
        return redirect(url_for("subcontracting.duplicates"))
    return render_template("subcontracting/duplicates.html", groups=groups, form=form)


@bp.app_template_global()
def flow_down_gaps(company_id: int | None) -> list[services.FlowDownGap]:
    """For the map and vendor pages: where continuity obligations do not reach this company."""
    if company_id is None or is_vendor_user(current_user):
        return []
    return services.gaps_for_company(db.session, company_id)


@task_provider
def subcontracting_tasks(session, user) -> list[Task]:
    tasks: list[Task] = []
    if user.role in (Role.ADMIN, Role.VENDOR_MANAGER):
        pending = services.count_pending_notices(session)
        if pending:
            tasks.append(
                Task(
                    "Answer subcontracting notices",
                    "Vendors announced subcontractor changes; "
                    "silence past the deadline is recorded.",
                    url_for("subcontracting.index"),
                    pending,
                    "warning",
                )
            )
        overdue = [r for r in services.reviews_due(session, utcnow().date()) if r.overdue]
        if overdue:
            tasks.append(
                Task(
                    "Review obligation flow-down",
                    "Critical and high-tier vendors whose subcontracting chain is not reviewed "
                    "or overdue.",
                    url_for("subcontracting.index"),
                    len(overdue),
                    "warning",
                )
            )
    if user.role == Role.VENDOR_USER and user.vendor_id is not None:
        declared = session.scalar(
            select(SubcontractorDeclaration.id)
            .where(
                SubcontractorDeclaration.vendor_id == user.vendor_id,
                SubcontractorDeclaration.removed_at.is_(None),
            )
            .limit(1)
        )
        missing = declared is None
        if missing:
            attestation = services.no_subcontractors_attestation(session, user.vendor_id)
            missing = attestation is None or not attestation.current_on(utcnow().date())
        tasks.append(
            Task(
                "Declare your subcontractors (or confirm you have none)"
                if missing
                else "Keep your subcontractors current",
                "The companies you rely on to deliver our services, and theirs "
                "(rank 3 and beyond).",
                url_for("subcontracting.chain", vendor_id=user.vendor_id),
                None,
                "warning" if missing else "primary",
            )
        )
    return tasks
