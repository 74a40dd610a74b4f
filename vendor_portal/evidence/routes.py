"""Evidence pages: list, upload (streamed, with progress), versions, review, download, expiry."""

from __future__ import annotations

from typing import Any

from flask import (
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import func, select
from werkzeug.exceptions import RequestEntityTooLarge

from vendor_portal.db import utcnow
from vendor_portal.evidence import bp, services
from vendor_portal.evidence.delivery import IntegrityProblem, send_version
from vendor_portal.evidence.domain import (
    EXPIRY_WINDOWS,
    Coverage,
    EvidenceType,
    ReviewStatus,
    validity_problems,
)
from vendor_portal.evidence.forms import ReviewForm, UploadForm
from vendor_portal.evidence.models import EvidenceItem, EvidenceVersion
from vendor_portal.evidence.tables import EVIDENCE_TABLE
from vendor_portal.extensions import csrf, db
from vendor_portal.forms import choices
from vendor_portal.home.tasks import Task, task_provider
from vendor_portal.navigation import nav_item
from vendor_portal.security import (
    Role,
    get_scoped_or_404,
    has_permission,
    is_vendor_user,
    permission_required,
    vendor_scope,
)
from vendor_portal.storage import (
    UploadRejected,
    format_size,
    storage_for,
    stream_request_uploads,
    upload_limit,
)
from vendor_portal.tables import BadTableRequest, export_response, paginate, parse_page_args
from vendor_portal.vendors.domain import Tier
from vendor_portal.vendors.models import Vendor

nav_item("Evidence", "evidence.index", "evidence.read", order=30, for_vendor_users=True)


def _filters() -> dict[str, Any]:
    args = request.args
    within = args.get("within", type=int)
    return {
        "vendor_id": None if is_vendor_user(current_user) else args.get("vendor", type=int),
        "evidence_types": [t for t in args.getlist("type") if t in set(EvidenceType)] or None,
        "statuses": [s for s in args.getlist("status") if s in set(ReviewStatus)] or None,
        "search": args.get("q", "").strip() or None,
        "latest_only": args.get("all_versions") != "1",
        "expires_within": within if within in EXPIRY_WINDOWS else None,
        "expired": args.get("expired") == "1",
        "integrity_failed": args.get("integrity") == "failed",
    }


@bp.get("/")
@permission_required("evidence.read")
def index():
    filters = _filters()
    stmt = vendor_scope(services.version_query(**filters), EvidenceVersion.vendor_id, current_user)
    try:
        stmt = EVIDENCE_TABLE.sorted(stmt, request.args.get("sort"), EvidenceVersion.id)
        export = request.args.get("export")
        if export:
            return export_response(EVIDENCE_TABLE, db.session.scalars(stmt).unique(), export)
        page, per_page = parse_page_args(
            request.args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
        )
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("evidence.index"))
    vendors = [] if is_vendor_user(current_user) else _vendor_choices()
    return render_template(
        "evidence/index.html",
        page=paginate(db.session, stmt, page, per_page),
        filters=filters,
        sort=request.args.get("sort") or EVIDENCE_TABLE.default_sort,
        types=list(EvidenceType),
        statuses=list(ReviewStatus),
        windows=EXPIRY_WINDOWS,
        vendors=vendors,
        today=utcnow().date(),
        can_upload=has_permission(current_user, "evidence.upload"),
    )


def _vendor_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(Vendor.id, Vendor.name).where(Vendor.archived_at.is_(None)).order_by(Vendor.name)
    )
    return [(vendor_id, name) for vendor_id, name in rows]


def _wants_json() -> bool:
    return request.headers.get("X-Requested-With") == "XMLHttpRequest"


def _upload_failed(form: UploadForm | None, message: str, status: int = 422, **context: Any):
    if _wants_json():
        errors = {} if form is None else {k: list(v) for k, v in form.errors.items()}
        return jsonify({"ok": False, "message": message, "errors": errors}), status
    return render_template("evidence/upload.html", form=form, error=message, **context), status


@bp.route("/upload", methods=["GET", "POST"])
@permission_required("evidence.upload")
def upload():
    item = None
    if request.args.get("item"):
        item = get_scoped_or_404(EvidenceItem, request.args.get("item", type=int), current_user)
    storage = storage_for(current_app)
    limit = upload_limit(current_app)
    context = {"item": item, "limit": format_size(limit)}
    with stream_request_uploads(request, storage, limit) as uploads:
        try:
            request.files  # noqa: B018 (parse now: the file streams into storage)
        except (UploadRejected, RequestEntityTooLarge) as exc:
            message = (
                exc.message
                if isinstance(exc, UploadRejected)
                else f"The upload is larger than the limit of {format_size(limit)}."
            )
            form = _upload_form(item, formdata=None)
            form.file.errors = [message]
            return _upload_failed(form, message, 413, **context)
        form = _upload_form(item)
        if not form.validate_on_submit():
            if request.method == "POST":
                return _upload_failed(form, "Please correct the fields marked below.", **context)
            return render_template("evidence/upload.html", form=form, error=None, **context)
        vendor = (
            current_user.vendor
            if is_vendor_user(current_user)
            else db.session.get(Vendor, int(form.vendor_id.data))
        )
        details = services.UploadDetails(
            vendor=vendor,
            evidence_type=item.evidence_type if item else form.evidence_type.data,
            title=None if item else form.title.data,
            issued_on=form.issued_on.data,
            valid_until=form.valid_until.data,
            item=item,
        )
        errors = services.check_details(details) | validity_problems(
            details.issued_on, details.valid_until, utcnow().date()
        )
        for name, message in errors.items():
            getattr(form, name, form.file).errors.append(message)
        if errors:
            return _upload_failed(form, "Please correct the fields marked below.", **context)
        file = form.file.data
        try:
            version = services.store_upload(
                db.session,
                storage,
                uploads.pending_for(file),
                file.filename,
                details,
                current_user,
            )
        except UploadRejected as exc:
            form.file.errors.append(exc.message)
            return _upload_failed(form, exc.message, **context)
        except services.EvidenceError as exc:
            form.file.errors.append(exc.message)
            return _upload_failed(form, exc.message, 409, **context)
        db.session.commit()
    message = (
        f"{version.filename} uploaded as version {version.number} of "
        f"{version.item.title!r} ({format_size(version.size)}); it awaits review."
    )
    target = url_for("evidence.show_item", item_id=version.item_id)
    if _wants_json():
        flash(message, "success")
        return jsonify({"ok": True, "redirect": target, "version_id": version.id})
    flash(message, "success")
    return redirect(target)


# Exempt from the before-request CSRF check, which would parse the body before the upload is
# wired to storage; the form checks its CSRF token itself (validate_on_submit).
csrf.exempt(upload)


def _upload_form(item: EvidenceItem | None, **kwargs: Any) -> UploadForm:
    form = UploadForm(**kwargs)
    if is_vendor_user(current_user) or item is not None:
        del form.vendor_id
    else:
        form.vendor_id.choices = choices([("", "Choose a vendor…"), *_vendor_choices()])
        if request.method == "GET" and request.args.get("vendor"):
            form.vendor_id.data = request.args.get("vendor")
    if item is not None:
        del form.evidence_type
        del form.title
    elif request.method == "GET" and request.args.get("type") in set(EvidenceType):
        form.evidence_type.data = request.args.get("type")
    return form


@bp.get("/items/<int:item_id>")
@permission_required("evidence.read")
def show_item(item_id: int):
    item = get_scoped_or_404(EvidenceItem, item_id, current_user)
    return render_template(
        "evidence/item.html",
        item=item,
        versions=item.versions,
        review_form=ReviewForm(),
        today=utcnow().date(),
        can_review=has_permission(current_user, "evidence.review"),
        can_upload=has_permission(current_user, "evidence.upload"),
    )


@bp.get("/versions/<int:version_id>")
@permission_required("evidence.read")
def show_version(version_id: int):
    version = get_scoped_or_404(EvidenceVersion, version_id, current_user)
    return redirect(
        url_for("evidence.show_item", item_id=version.item_id, _anchor=f"v{version.id}")
    )


@bp.post("/versions/<int:version_id>/review")
@permission_required("evidence.review")
def review(version_id: int):
    version = get_scoped_or_404(EvidenceVersion, version_id, current_user)
    form = ReviewForm()
    if form.validate_on_submit():
        try:
            services.review_version(
                db.session, version, form.decision.data, form.comment.data, current_user
            )
        except services.EvidenceError as exc:
            flash(exc.message, "danger")
        else:
            db.session.commit()
            flash(f"Version {version.number} {version.status}.", "success")
    else:
        flash("The review could not be recorded; please try again.", "danger")
    return redirect(
        url_for("evidence.show_item", item_id=version.item_id, _anchor=f"v{version.id}")
    )


@bp.get("/versions/<int:version_id>/download")
@permission_required("evidence.read")
def download(version_id: int):
    version = get_scoped_or_404(EvidenceVersion, version_id, current_user)
    try:
        return send_version(version)
    except IntegrityProblem as problem:
        return render_template(
            "errors/error.html",
            status=500,
            title="This file failed its integrity check",
            message=problem.message,
        ), 500


@bp.get("/expiring")
@permission_required("evidence.read")
def expiring():
    today = utcnow().date()
    within = request.args.get("within", 30, type=int)
    if within not in EXPIRY_WINDOWS:
        within = 30
    tiers = [t for t in request.args.getlist("tier") if t in set(Tier)]
    if not tiers and request.args.get("tier") != "":
        tiers = [Tier.CRITICAL.value, Tier.HIGH.value]
    soon = vendor_scope(
        services.version_query(expires_within=within, today=today).where(
            EvidenceVersion.status != ReviewStatus.REJECTED.value
        ),
        EvidenceVersion.vendor_id,
        current_user,
    ).order_by(EvidenceVersion.valid_until, EvidenceVersion.id)
    expired = vendor_scope(
        services.version_query(expired=True, today=today),
        EvidenceVersion.vendor_id,
        current_user,
    ).order_by(EvidenceVersion.valid_until.desc(), EvidenceVersion.id)
    if request.args.get("export"):
        try:
            return export_response(
                EVIDENCE_TABLE, db.session.scalars(soon).unique(), request.args["export"]
            )
        except BadTableRequest as exc:
            abort(400, str(exc))
    vendor_stmt = select(Vendor).where(Vendor.archived_at.is_(None)).order_by(Vendor.name)
    if is_vendor_user(current_user):
        vendor_stmt = vendor_stmt.where(Vendor.id == current_user.vendor_id)
    elif tiers:
        vendor_stmt = vendor_stmt.where(Vendor.tier.in_(tiers))
    vendors = list(db.session.scalars(vendor_stmt))
    return render_template(
        "evidence/expiring.html",
        within=within,
        windows=EXPIRY_WINDOWS,
        soon=list(db.session.scalars(soon).unique()),
        expired=list(db.session.scalars(expired.limit(500)).unique()),
        vendors=vendors,
        matrix=services.coverage(db.session, vendors, today),
        types=list(EvidenceType),
        tiers=list(Tier),
        chosen_tiers=tiers,
        Coverage=Coverage,
        today=today,
    )


@task_provider
def evidence_tasks(session, user) -> list[Task]:
    today = utcnow().date()
    tasks: list[Task] = []
    if user.role == Role.VENDOR_USER and user.vendor_id:
        rejected = session.scalar(
            select(func.count(EvidenceVersion.id)).where(
                EvidenceVersion.vendor_id == user.vendor_id,
                EvidenceVersion.is_latest,
                EvidenceVersion.status == ReviewStatus.REJECTED.value,
            )
        )
        if rejected:
            tasks.append(
                Task(
                    "Replace rejected evidence",
                    "Evidence we could not accept; the reviewer's reason is on each item. "
                    "Upload a new version.",
                    url_for("evidence.index", status="rejected"),
                    rejected,
                    "danger",
                )
            )
        soon = services.count_expiring(session, today, 30, user.vendor_id)
        expired = session.scalar(
            select(func.count(EvidenceVersion.id)).where(
                EvidenceVersion.vendor_id == user.vendor_id,
                EvidenceVersion.is_latest,
                EvidenceVersion.status == ReviewStatus.ACCEPTED.value,
                EvidenceVersion.valid_until < today,
            )
        )
        if soon or expired:
            tasks.append(
                Task(
                    "Renew evidence expiring soon",
                    f"{soon} expiring within 30 days, {expired} already expired: "
                    "upload the renewed document as a new version.",
                    url_for("evidence.expiring"),
                    soon + (expired or 0),
                    "warning",
                )
            )
        tasks.append(
            Task(
                "Upload continuity evidence",
                "Plans, test reports and certificates: drag and drop, any size up to "
                f"{format_size(upload_limit(current_app))}.",
                url_for("evidence.upload"),
                None,
                "primary",
            )
        )
    if has_permission(user, "evidence.review"):
        waiting = session.scalar(
            select(func.count(EvidenceVersion.id)).where(
                EvidenceVersion.status == ReviewStatus.SUBMITTED.value
            )
        )
        if waiting:
            tasks.append(
                Task(
                    "Review uploaded evidence",
                    "Versions uploaded by vendors that nobody has accepted or rejected yet.",
                    url_for("evidence.index", status="submitted", sort="uploaded_at"),
                    waiting,
                    "warning",
                )
            )
    if user.role in (Role.ADMIN, Role.VENDOR_MANAGER, Role.PROCUREMENT):
        soon = services.count_expiring(session, today, 30)
        if soon:
            tasks.append(
                Task(
                    "Evidence expiring within 30 days",
                    "Certificates and reports to renew with vendors before they lapse.",
                    url_for("evidence.expiring", within=30),
                    soon,
                    "info",
                )
            )
    if user.role == Role.ADMIN:
        failed = session.scalar(
            select(func.count(EvidenceVersion.id)).where(
                EvidenceVersion.integrity_failed_at.is_not(None)
            )
        )
        if failed:
            tasks.append(
                Task(
                    "Evidence failed its integrity check",
                    "Stored files that no longer match their SHA-256 (see the audit log). "
                    "Restore them from backup or ask the vendor to upload again.",
                    url_for("evidence.index", integrity="failed", all_versions="1"),
                    failed,
                    "danger",
                )
            )
    return tasks
