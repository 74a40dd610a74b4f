"""Questionnaire pages: templates and their builder, question banks, sending, answering,
review, reassessment cadence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import (
    Response,
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
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from vendor_portal.db import utcnow
from vendor_portal.evidence import services as evidence_services
from vendor_portal.evidence.delivery import parse_date
from vendor_portal.evidence.domain import ReviewStatus, type_label, validity_problems
from vendor_portal.evidence.models import EvidenceItem, EvidenceVersion
from vendor_portal.extensions import csrf, db, login_manager
from vendor_portal.forms import ConfirmForm, choices
from vendor_portal.home.tasks import Task, task_provider
from vendor_portal.navigation import nav_item
from vendor_portal.questionnaires import bank, bp, domain, services
from vendor_portal.questionnaires.domain import (
    ANSWERABLE_STATUSES,
    GENERAL,
    AssignmentStatus,
    QuestionType,
)
from vendor_portal.questionnaires.forms import (
    ImportForm,
    QuestionForm,
    ReviewForm,
    SectionForm,
    SendForm,
    TemplateForm,
    cadence_form,
)
from vendor_portal.questionnaires.models import (
    Assignment,
    QuestionnaireTemplate,
    TemplateQuestion,
    TemplateSection,
    TemplateVersion,
)
from vendor_portal.questionnaires.tables import ASSIGNMENT_TABLE
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

nav_item("Questionnaires", "questionnaires.index", "questionnaires.read", order=20)
nav_item(
    "My questionnaires",
    "questionnaires.mine",
    "questionnaires.answer",
    order=20,
    only_vendor_users=True,
)


def any_permission(*permissions: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Signed in and holding at least one of the permissions (pages shared by both sides)."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if not any(has_permission(current_user, p) for p in permissions):
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def _version_or_404(version_id: int) -> TemplateVersion:
    version = db.session.get(TemplateVersion, version_id)
    if version is None:
        abort(404)
    return version


def _flash_error(exc: services.QuestionnaireError) -> None:
    flash(exc.message, "danger")


# --- assignment lists ----------------------------------------------------------------------


def _assignment_filters() -> dict[str, Any]:
    args = request.args
    return {
        "statuses": [s for s in args.getlist("status") if s in set(AssignmentStatus)] or None,
        "template_id": args.get("template", type=int),
        "search": args.get("q", "").strip() or None,
        "overdue": args.get("overdue") == "1",
        "vendor_id": args.get("vendor", type=int),
    }


def _assignment_list(template: str, filters: dict[str, Any], **context: Any):
    stmt = vendor_scope(services.assignment_query(**filters), Assignment.vendor_id, current_user)
    try:
        stmt = ASSIGNMENT_TABLE.sorted(stmt, request.args.get("sort"), Assignment.id)
        export = request.args.get("export")
        if export:
            return export_response(ASSIGNMENT_TABLE, db.session.scalars(stmt).unique(), export)
        page, per_page = parse_page_args(
            request.args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
        )
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for(request.endpoint))
    return render_template(
        template,
        page=paginate(db.session, stmt, page, per_page),
        filters=filters,
        sort=request.args.get("sort") or ASSIGNMENT_TABLE.default_sort,
        statuses=list(AssignmentStatus),
        today=utcnow().date(),
        **context,
    )


@bp.get("/")
@permission_required("questionnaires.read")
def index():
    filters = _assignment_filters()
    templates = list(db.session.scalars(services.template_query()))
    due = (
        services.due_reassessments(db.session, utcnow().date())
        if has_permission(current_user, "questionnaires.manage")
        else []
    )
    return _assignment_list(
        "questionnaires/index.html",
        filters,
        templates=templates,
        due_reassessments=due,
        can_manage=has_permission(current_user, "questionnaires.manage"),
    )


@bp.get("/mine")
@permission_required("questionnaires.answer")
def mine():
    filters = _assignment_filters()
    filters["vendor_id"] = current_user.vendor_id
    return _assignment_list("questionnaires/mine.html", filters)


@bp.post("/reassess")
@permission_required("questionnaires.manage")
def reassess():
    if ConfirmForm().validate_on_submit():
        created = services.create_due_reassessments(db.session, utcnow().date(), current_user)
        db.session.commit()
        sent, failed = _invite_all(created)
        flash(
            f"{len(created)} reassessment(s) created; {sent} invitation(s) sent"
            + (f", {failed} failed" if failed else "")
            + ".",
            "success" if not failed else "warning",
        )
    return redirect(url_for("questionnaires.index"))


def _answer_link(assignment: Assignment) -> str:
    base = current_app.config["BASE_URL"].rstrip("/")
    return base + url_for("questionnaires.answer", assignment_id=assignment.id)


def _invite_all(assignments: list[Assignment], resend: bool = False) -> tuple[int, int]:
    sent = failed = 0
    for assignment in assignments:
        s, f = services.send_invitations(
            db.session, assignment, current_app.config, _answer_link(assignment), resend
        )
        sent, failed = sent + s, failed + f
    db.session.commit()
    return sent, failed


# --- templates -----------------------------------------------------------------------------


@bp.get("/templates")
@permission_required("questionnaires.read")
def templates():
    rows = list(db.session.scalars(services.template_query()))
    counts = dict(
        db.session.execute(
            select(Assignment.template_id, func.count(Assignment.id)).group_by(
                Assignment.template_id
            )
        ).all()
    )
    return render_template(
        "questionnaires/templates.html",
        templates=rows,
        counts=counts,
        can_manage=has_permission(current_user, "questionnaires.manage"),
        default_installed=services.template_by_name(db.session, services.DEFAULT_TEMPLATE.name)
        is not None,
    )


@bp.route("/templates/new", methods=["GET", "POST"])
@permission_required("questionnaires.manage")
def new_template():
    form = TemplateForm()
    if form.validate_on_submit():
        try:
            version = services.create_template(
                db.session, form.name.data, form.description.data, current_user
            )
        except services.QuestionnaireError as exc:
            form.name.errors.append(exc.message)
        else:
            db.session.commit()
            flash("Template created. Add sections and questions, then publish it.", "success")
            return redirect(url_for("questionnaires.show_version", version_id=version.id))
    return render_template("questionnaires/template_form.html", form=form)


@bp.post("/templates/install-default")
@permission_required("questionnaires.manage")
def install_default():
    if ConfirmForm().validate_on_submit():
        version, created = services.install_default_template(db.session, current_user)
        db.session.commit()
        flash(
            f"{version.label} {'installed and published' if created else 'is already installed'}.",
            "success",
        )
        return redirect(url_for("questionnaires.show_version", version_id=version.id))
    return redirect(url_for("questionnaires.templates"))


@bp.route("/templates/import", methods=["GET", "POST"])
@permission_required("questionnaires.manage")
def import_template():
    form = ImportForm()
    existing = list(db.session.scalars(services.template_query()))
    form.template_id.choices = choices(
        [("", "A new template"), *((t.id, f"New version of {t.name}") for t in existing)]
    )
    errors: list[str] = []
    if form.validate_on_submit():
        upload = form.file.data
        data = upload.read(bank.MAX_BYTES + 1)
        template = (
            db.session.get(QuestionnaireTemplate, int(form.template_id.data))
            if form.template_id.data
            else None
        )
        stem = upload.filename.rsplit(".", 1)[0].replace("_", " ").strip() or "Imported template"
        name = template.name if template else (form.name.data or stem)
        result = bank.import_bank(upload.filename, data, name, form.description.data or "")
        errors = result.errors
        if not errors:
            try:
                version = services.version_from_spec(
                    db.session, result.spec, current_user, f"import {upload.filename}", template
                )
            except services.QuestionnaireError as exc:
                errors = [exc.message]
            else:
                db.session.commit()
                summary = bank.spec_summary(result.spec)
                flash(
                    f"Imported {summary['questions']} questions in {summary['sections']} "
                    f"sections as a draft of {version.label}. Review it, then publish.",
                    "success",
                )
                return redirect(url_for("questionnaires.show_version", version_id=version.id))
    return render_template(
        "questionnaires/import.html",
        form=form,
        import_errors=errors,
        columns=bank.COLUMNS,
    ), (422 if errors else 200)


@bp.get("/versions/<int:version_id>")
@permission_required("questionnaires.read")
def show_version(version_id: int):
    version = _version_or_404(version_id)
    spec = version.spec()
    problems = domain.template_problems(spec, services.EVIDENCE_TYPES) if version.is_draft else []
    used = db.session.scalar(
        select(func.count(Assignment.id)).where(Assignment.version_id == version.id)
    )
    return render_template(
        "questionnaires/version.html",
        version=version,
        template=version.template,
        problems=problems,
        used=used,
        section_form=SectionForm(formdata=None),
        can_manage=has_permission(current_user, "questionnaires.manage"),
        type_label=type_label,
    )


@bp.get("/versions/<int:version_id>/export")
@permission_required("questionnaires.read")
def export_version(version_id: int):
    version = _version_or_404(version_id)
    fmt = request.args.get("format", "csv")
    spec = version.spec()
    stem = "".join(ch if ch.isalnum() else "-" for ch in version.template.name.lower()).strip("-")
    filename = f"{stem}-v{version.number}.{fmt}"
    if fmt == "csv":
        body, mimetype = bank.export_csv(spec), "text/csv; charset=utf-8"
    elif fmt == "xlsx":
        body, mimetype = (
            bank.export_xlsx(spec),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    else:
        abort(400, "Export format must be csv or xlsx.")
    return Response(
        body,
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@bp.post("/versions/<int:version_id>/publish")
@permission_required("questionnaires.manage")
def publish(version_id: int):
    version = _version_or_404(version_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.publish(db.session, version, current_user)
        except services.QuestionnaireError as exc:
            _flash_error(exc)
        else:
            db.session.commit()
            flash(
                f"{version.label} published. It will never change; send it to vendors.", "success"
            )
    return redirect(url_for("questionnaires.show_version", version_id=version.id))


@bp.post("/versions/<int:version_id>/new-draft")
@permission_required("questionnaires.manage")
def new_draft(version_id: int):
    version = _version_or_404(version_id)
    if ConfirmForm().validate_on_submit():
        draft = services.new_draft(db.session, version, current_user)
        db.session.commit()
        flash(
            f"Draft version {draft.number} ready to edit; version {version.number} stays as it "
            "is for the assignments sent with it.",
            "success",
        )
        return redirect(url_for("questionnaires.show_version", version_id=draft.id))
    return redirect(url_for("questionnaires.show_version", version_id=version.id))


@bp.post("/versions/<int:version_id>/discard")
@permission_required("questionnaires.manage")
def discard(version_id: int):
    version = _version_or_404(version_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.discard_draft(db.session, version)
        except services.QuestionnaireError as exc:
            _flash_error(exc)
            return redirect(url_for("questionnaires.show_version", version_id=version.id))
        db.session.commit()
        flash("Draft discarded.", "success")
    return redirect(url_for("questionnaires.templates"))


@bp.post("/versions/<int:version_id>/sections")
@permission_required("questionnaires.manage")
def add_section(version_id: int):
    version = _version_or_404(version_id)
    form = SectionForm()
    if form.validate_on_submit():
        try:
            section = services.add_section(
                db.session, version, form.title.data, form.description.data
            )
        except services.QuestionnaireError as exc:
            _flash_error(exc)
        else:
            db.session.commit()
            return redirect(
                url_for(
                    "questionnaires.show_version", version_id=version.id, _anchor=f"s{section.id}"
                )
            )
    else:
        flash("A section needs a title.", "danger")
    return redirect(url_for("questionnaires.show_version", version_id=version.id))


def _section_or_404(section_id: int) -> TemplateSection:
    section = db.session.get(TemplateSection, section_id)
    if section is None:
        abort(404)
    return section


@bp.route("/sections/<int:section_id>/edit", methods=["GET", "POST"])
@permission_required("questionnaires.manage")
def edit_section(section_id: int):
    section = _section_or_404(section_id)
    form = SectionForm(obj=section)
    if form.validate_on_submit():
        try:
            services.update_section(db.session, section, form.title.data, form.description.data)
        except services.QuestionnaireError as exc:
            _flash_error(exc)
        else:
            db.session.commit()
            return redirect(
                url_for(
                    "questionnaires.show_version",
                    version_id=section.version_id,
                    _anchor=f"s{section.id}",
                )
            )
    return render_template("questionnaires/section_form.html", form=form, section=section)


@bp.post("/sections/<int:section_id>/delete")
@permission_required("questionnaires.manage")
def delete_section(section_id: int):
    section = _section_or_404(section_id)
    version_id = section.version_id
    if ConfirmForm().validate_on_submit():
        try:
            services.delete_section(db.session, section)
        except services.QuestionnaireError as exc:
            _flash_error(exc)
        else:
            db.session.commit()
    return redirect(url_for("questionnaires.show_version", version_id=version_id))


@bp.post("/sections/<int:section_id>/move")
@permission_required("questionnaires.manage")
def move_section(section_id: int):
    section = _section_or_404(section_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.move(db.session, section, -1 if request.args.get("to") == "up" else 1)
        except services.QuestionnaireError as exc:
            _flash_error(exc)
        else:
            db.session.commit()
    return redirect(
        url_for(
            "questionnaires.show_version", version_id=section.version_id, _anchor=f"s{section.id}"
        )
    )


def _question_form(version: TemplateVersion, question: TemplateQuestion | None) -> QuestionForm:
    form = QuestionForm()
    earlier = [
        q
        for q in version.ordered_questions()
        if q.spec().is_choice
        and (
            question is None
            or (q.section.position, q.position) < (question.section.position, question.position)
        )
    ]
    form.set_choices(version.sections, earlier)
    return form


def _save_question(version: TemplateVersion, form: QuestionForm, question: TemplateQuestion | None):
    section = db.session.get(TemplateSection, int(form.section_id.data))
    if section is None or section.version_id != version.id:
        form.section_id.errors.append("Choose a section of this version.")
        return None
    earlier = {q.code: q.spec() for q in version.questions if q is not question}
    try:
        saved = services.save_question(db.session, version, section, form.spec(earlier), question)
    except services.QuestionnaireError as exc:
        db.session.rollback()
        form.form_errors.append(exc.message)
        return None
    db.session.commit()
    return saved


@bp.route("/versions/<int:version_id>/questions/new", methods=["GET", "POST"])
@permission_required("questionnaires.manage")
def new_question(version_id: int):
    version = _version_or_404(version_id)
    if not version.is_draft:
        flash("A published version never changes; create a new draft to add questions.", "warning")
        return redirect(url_for("questionnaires.show_version", version_id=version.id))
    if not version.sections:
        flash("Add a section first.", "warning")
        return redirect(url_for("questionnaires.show_version", version_id=version.id))
    form = _question_form(version, None)
    if request.method == "GET":
        form.section_id.data = request.args.get("section") or str(version.sections[-1].id)
    if form.validate_on_submit():
        saved = _save_question(version, form, None)
        if saved is not None:
            flash(f"Question {saved.code} added.", "success")
            return redirect(
                url_for(
                    "questionnaires.show_version", version_id=version.id, _anchor=f"q{saved.id}"
                )
            )
    return render_template(
        "questionnaires/question_form.html", form=form, version=version, question=None
    ), (422 if form.errors or form.form_errors else 200)


def _question_or_404(question_id: int) -> TemplateQuestion:
    question = db.session.get(TemplateQuestion, question_id)
    if question is None:
        abort(404)
    return question


@bp.route("/questions/<int:question_id>/edit", methods=["GET", "POST"])
@permission_required("questionnaires.manage")
def edit_question(question_id: int):
    question = _question_or_404(question_id)
    version = question.version
    if not version.is_draft:
        flash("A published version never changes; create a new draft to edit it.", "warning")
        return redirect(url_for("questionnaires.show_version", version_id=version.id))
    form = _question_form(version, question)
    if request.method == "GET":
        form.load(question)
    if form.validate_on_submit():
        saved = _save_question(version, form, question)
        if saved is not None:
            flash(f"Question {saved.code} saved.", "success")
            return redirect(
                url_for(
                    "questionnaires.show_version", version_id=version.id, _anchor=f"q{saved.id}"
                )
            )
    return render_template(
        "questionnaires/question_form.html", form=form, version=version, question=question
    ), (422 if form.errors or form.form_errors else 200)


@bp.post("/questions/<int:question_id>/delete")
@permission_required("questionnaires.manage")
def delete_question(question_id: int):
    question = _question_or_404(question_id)
    version_id = question.version_id
    if ConfirmForm().validate_on_submit():
        try:
            services.delete_question(db.session, question)
        except services.QuestionnaireError as exc:
            _flash_error(exc)
        else:
            db.session.commit()
    return redirect(url_for("questionnaires.show_version", version_id=version_id))


@bp.post("/questions/<int:question_id>/move")
@permission_required("questionnaires.manage")
def move_question(question_id: int):
    question = _question_or_404(question_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.move(db.session, question, -1 if request.args.get("to") == "up" else 1)
        except services.QuestionnaireError as exc:
            _flash_error(exc)
        else:
            db.session.commit()
    return redirect(
        url_for(
            "questionnaires.show_version", version_id=question.version_id, _anchor=f"q{question.id}"
        )
    )


# --- sending -------------------------------------------------------------------------------


@bp.route("/versions/<int:version_id>/send", methods=["GET", "POST"])
@permission_required("questionnaires.manage")
def send(version_id: int):
    version = _version_or_404(version_id)
    if version.status != "published":
        flash("Publish the version before sending it.", "warning")
        return redirect(url_for("questionnaires.show_version", version_id=version.id))
    form = SendForm()
    vendors = list(
        db.session.scalars(select(Vendor).where(Vendor.archived_at.is_(None)).order_by(Vendor.name))
    )
    form.vendor_ids.choices = choices((v.id, f"{v.name} ({v.tier})") for v in vendors)
    if request.method == "GET":
        form.due_date.data = utcnow().date() + timedelta(days=30)
        tier = request.args.get("tier")
        if tier in set(Tier):
            form.vendor_ids.data = [str(v.id) for v in vendors if v.tier == tier]
    chosen: list[Vendor] = []
    if form.validate_on_submit():
        by_id = {v.id: v for v in vendors}
        chosen = [by_id[int(i)] for i in form.vendor_ids.data if int(i) in by_id]
        if form.due_date.data < utcnow().date():
            form.due_date.errors.append("The due date is in the past.")
        elif request.form.get("step") == "confirm":
            recipients = {}
            for vendor in chosen:
                wanted = set(request.form.getlist(f"contacts-{vendor.id}"))
                recipients[vendor.id] = [c for c in vendor.contacts if str(c.id) in wanted]
            try:
                result = services.send(
                    db.session,
                    version,
                    chosen,
                    form.due_date.data,
                    recipients,
                    current_user,
                    form.message.data,
                )
            except services.QuestionnaireError as exc:
                form.form_errors.append(exc.message)
            else:
                db.session.commit()
                sent, failed = _invite_all(result.created)
                flash(
                    f"Sent to {len(result.created)} vendor(s); {sent} invitation email(s) sent"
                    + (f", {failed} could not be delivered (see each assignment)" if failed else "")
                    + ".",
                    "success" if not failed else "warning",
                )
                for vendor, existing in result.skipped:
                    flash(
                        f"{vendor.name} already has this questionnaire open (assignment "
                        f"{existing.id}, due {existing.due_date}); not sent again.",
                        "warning",
                    )
                return redirect(url_for("questionnaires.index", template=version.template_id))
        else:
            return render_template(
                "questionnaires/send.html",
                form=form,
                version=version,
                step="confirm",
                chosen=chosen,
                defaults={v.id: {c.id for c in services.default_recipients(v)} for v in chosen},
                open_ones={
                    v.id: services.open_assignment(db.session, v.id, version.template_id)
                    for v in chosen
                },
            )
    return render_template(
        "questionnaires/send.html", form=form, version=version, step="choose", chosen=[]
    )


# --- one assignment ------------------------------------------------------------------------


def _assignment_or_404(assignment_id: int) -> Assignment:
    return get_scoped_or_404(Assignment, assignment_id, current_user)


@bp.get("/assignments/<int:assignment_id>")
@any_permission("questionnaires.read", "questionnaires.answer")
def show_assignment(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    if is_vendor_user(current_user):
        return redirect(url_for("questionnaires.answer", assignment_id=assignment.id))
    current = assignment.round()
    shown = current
    if not current.locked:
        submitted = [r for r in assignment.rounds if r.locked]
        shown = submitted[-1] if submitted else current
    return render_template(
        "questionnaires/review.html",
        assignment=assignment,
        shown=shown,
        view=_round_view(assignment, shown),
        review_form=ReviewForm(formdata=None),
        can_manage=has_permission(current_user, "questionnaires.manage"),
        today=utcnow().date(),
    )


@bp.get("/assignments/<int:assignment_id>/rounds/<int:number>")
@any_permission("questionnaires.read", "questionnaires.answer")
def show_round(assignment_id: int, number: int):
    assignment = _assignment_or_404(assignment_id)
    round_ = next((r for r in assignment.rounds if r.number == number), None)
    if round_ is None:
        abort(404)
    return render_template(
        "questionnaires/round.html",
        assignment=assignment,
        shown=round_,
        view=_round_view(assignment, round_),
    )


def _round_view(assignment: Assignment, round_) -> dict[str, Any]:
    """Everything a read-only page needs about one round, with no query per question."""
    spec = assignment.version.spec()
    answers = services.answers_by_code(round_)
    card = (
        round_.scorecard if round_.scorecard is not None else domain.score(spec, answers).as_json()
    )
    services_by_id = {
        str(s.id): s.name for s in services.active_services(db.session, assignment.vendor_id)
    }
    evidence = {e.id: e for a in round_.answers for e in a.evidence}
    comments: dict[int | None, list[Any]] = {}
    for comment in round_.comments:
        comments.setdefault(comment.question_id, []).append(comment)
    return {
        "spec": spec,
        "answers": answers,
        "visible": domain.visible_codes(spec, answers),
        "card": card,
        "flags": {f["code"] for f in card.get("red_flags", [])},
        "progress": domain.progress(spec, answers),
        "services": services_by_id,
        "evidence": evidence,
        "comments": comments,
        "questions": {q.code: q for q in assignment.version.questions},
        "provisional": round_.scorecard is None,
    }


def _answer_context(
    assignment: Assignment,
    errors: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    round_ = assignment.round()
    spec = assignment.version.spec()
    answers = services.answers_by_code(round_)
    shown_answers = {**answers, **(overrides or {})}
    vendor_services = services.active_services(db.session, assignment.vendor_id)
    previous_round = (
        next((r for r in assignment.rounds if r.number == round_.number - 1), None)
        if round_.number > 1
        else None
    )
    comments: dict[int | None, list[Any]] = {}
    for comment in previous_round.comments if previous_round else []:
        comments.setdefault(comment.question_id, []).append(comment)
    library = list(
        db.session.scalars(
            evidence_services.version_query(vendor_id=assignment.vendor_id, latest_only=False)
            .where(EvidenceVersion.status != ReviewStatus.REJECTED.value)
            .order_by(EvidenceItem.title, EvidenceVersion.number.desc())
        ).unique()
    )
    attached = {e.id: e for a in round_.answers for e in a.evidence}
    view = {
        "services": {str(s.id): s.name for s in vendor_services},
        "evidence": {**{e.id: e for e in library}, **attached},
    }
    offer = None
    if round_.number == 1 and not round_.answers and assignment.answerable:
        found = services.previous_answers(db.session, assignment)
        if found is not None:
            offer = {"assignment": found[0], "count": len(found[1])}
    return {
        "assignment": assignment,
        "round": round_,
        "spec": spec,
        "answers": shown_answers,
        "visible": domain.visible_codes(spec, shown_answers),
        "progress": domain.progress(spec, answers),
        "questions": {q.code: q for q in assignment.version.questions},
        "services": vendor_services,
        "library": library,
        "view": view,
        "comments": comments,
        "previous_round": previous_round,
        "errors": errors or {},
        "offer": offer,
        "editable": assignment.answerable and not round_.locked and is_vendor_user(current_user),
        "today": utcnow().date(),
        "limit": format_size(upload_limit(current_app)),
        "GENERAL": GENERAL,
        "type_label": type_label,
    }


def _raw_answers(form: MultiDict, assignment: Assignment) -> dict[str, Any]:
    """Answers as posted by the answer form, by question code (only questions on the form)."""
    keys = services.service_keys(services.active_services(db.session, assignment.vendor_id))
    raw: dict[str, Any] = {}
    for question in assignment.version.questions:
        name = f"q-{question.id}"
        if f"{name}-present" not in form:
            continue
        qtype = question.qtype
        if qtype in (QuestionType.MULTIPLE_CHOICE, QuestionType.EVIDENCE):
            raw[question.code] = form.getlist(name)
        elif qtype == QuestionType.HOURS:
            raw[question.code] = {k: form.get(f"{name}-{k}", "") for k in keys}
        else:
            raw[question.code] = form.get(name, "")
    return raw


def _store_answer_uploads(
    assignment: Assignment, uploads: Any, errors: dict[str, str]
) -> list[str]:
    """Store files chosen under evidence questions and attach them; returns what was added."""
    storage = storage_for(current_app)
    added: list[str] = []
    for question in assignment.version.questions:
        if question.qtype != QuestionType.EVIDENCE:
            continue
        file = request.files.get(f"upload-{question.id}")
        if file is None or not file.filename:
            continue
        try:
            issued_on = parse_date(request.form.get(f"upload-issued-{question.id}"))
            valid_until = parse_date(request.form.get(f"upload-valid-{question.id}"))
        except ValueError:
            errors[question.code] = "Dates must be given as YYYY-MM-DD."
            continue
        evidence_type = question.evidence_type or request.form.get(
            f"upload-type-{question.id}", "other"
        )
        details = evidence_services.UploadDetails(
            vendor=assignment.vendor,
            evidence_type=evidence_type,
            title=None,
            issued_on=issued_on,
            valid_until=valid_until,
        )
        problems = evidence_services.check_details(details) | validity_problems(
            issued_on, valid_until, utcnow().date()
        )
        if problems:
            errors[question.code] = " ".join(problems.values())
            continue
        try:
            version = evidence_services.store_upload(
                db.session,
                storage,
                uploads.pending_for(file),
                file.filename,
                details,
                current_user,
            )
            services.attach_evidence(db.session, assignment, question, version, current_user)
        except UploadRejected as exc:
            errors[question.code] = exc.message
        except evidence_services.EvidenceError as exc:
            errors[question.code] = exc.message
        else:
            added.append(f"{version.filename} attached to {question.code}")
    return added


@bp.route("/assignments/<int:assignment_id>/answer", methods=["GET", "POST"])
@any_permission("questionnaires.answer", "questionnaires.read")
def answer(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    if request.method == "GET":
        return render_template("questionnaires/answer.html", **_answer_context(assignment))
    if not is_vendor_user(current_user):
        abort(403)
    storage = storage_for(current_app)
    with stream_request_uploads(request, storage, upload_limit(current_app)) as uploads:
        try:
            request.files  # noqa: B018 (parse now: files stream into storage)
        except (UploadRejected, RequestEntityTooLarge) as exc:
            limit = format_size(upload_limit(current_app))
            message = (
                exc.message
                if isinstance(exc, UploadRejected)
                else f"The upload is larger than the limit of {limit}."
            )
            flash(f"{message} Nothing from this submission was saved; please try again.", "danger")
            return render_template("questionnaires/answer.html", **_answer_context(assignment)), 413
        if not ConfirmForm().validate_on_submit():
            flash("The form expired; reload the page and try again.", "danger")
            return redirect(url_for("questionnaires.answer", assignment_id=assignment.id))
        try:
            raw = _raw_answers(request.form, assignment)
            errors = services.save_answers(db.session, assignment, raw, current_user)
            added = _store_answer_uploads(assignment, uploads, errors)
        except services.QuestionnaireError as exc:
            db.session.rollback()
            _flash_error(exc)
            return redirect(url_for("questionnaires.answer", assignment_id=assignment.id))
        db.session.commit()
    for line in added:
        flash(line + ".", "success")
    if errors:
        flash("Some answers could not be saved; see the questions marked below.", "danger")
        overrides = {code: raw[code] for code in errors if code in raw}
        return render_template(
            "questionnaires/answer.html",
            **_answer_context(assignment, errors, overrides),
        ), 422
    if request.form.get("action") == "submit":
        try:
            services.submit(db.session, assignment, current_user)
        except services.SubmitBlocked as exc:
            db.session.rollback()
            flash(exc.message + " Your answers are saved.", "danger")
            return render_template(
                "questionnaires/answer.html", **_answer_context(assignment, exc.problems)
            ), 422
        except services.QuestionnaireError as exc:
            _flash_error(exc)
            return redirect(url_for("questionnaires.answer", assignment_id=assignment.id))
        db.session.commit()
        flash(
            "Submitted. Thank you: we will review your answers and tell you if anything needs "
            "to change.",
            "success",
        )
        return redirect(url_for("questionnaires.mine"))
    flash(f"Draft saved at {utcnow():%H:%M} UTC.", "success")
    anchor = request.form.get("anchor") or None
    return redirect(url_for("questionnaires.answer", assignment_id=assignment.id, _anchor=anchor))


# The multipart body may carry evidence files: the CSRF token is checked by ConfirmForm once the
# upload is wired to storage (see evidence.routes.upload).
csrf.exempt(answer)


@bp.post("/assignments/<int:assignment_id>/autosave")
@permission_required("questionnaires.answer")
def autosave(assignment_id: int):
    """The answer form's script saves drafts here as the vendor types (files excluded)."""
    assignment = _assignment_or_404(assignment_id)
    raw = _raw_answers(request.form, assignment)
    try:
        errors = services.save_answers(db.session, assignment, raw, current_user)
    except services.QuestionnaireError as exc:
        db.session.rollback()
        return jsonify({"ok": False, "message": exc.message}), 409
    db.session.commit()
    spec = assignment.version.spec()
    answers = services.answers_by_code(assignment.round())
    progress = domain.progress(spec, answers)
    return jsonify(
        {
            "ok": True,
            "saved_at": utcnow().isoformat(timespec="seconds"),
            "errors": errors,
            "progress": {
                "percent": progress.percent,
                "answered": progress.answered,
                "visible": progress.visible,
            },
            "visible": sorted(domain.visible_codes(spec, answers)),
        }
    )


@bp.post("/assignments/<int:assignment_id>/prefill")
@permission_required("questionnaires.answer")
def prefill(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    if ConfirmForm().validate_on_submit():
        try:
            copied = services.prefill_from_previous(db.session, assignment, current_user)
        except services.QuestionnaireError as exc:
            _flash_error(exc)
        else:
            db.session.commit()
            flash(
                f"{copied} answer(s) copied from your previous assessment. Check each one "
                "before you submit.",
                "success",
            )
    return redirect(url_for("questionnaires.answer", assignment_id=assignment.id))


@bp.post("/assignments/<int:assignment_id>/review")
@permission_required("questionnaires.manage")
def review(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    form = ReviewForm()
    if not form.validate_on_submit():
        flash("The review could not be recorded; please try again.", "danger")
        return redirect(url_for("questionnaires.show_assignment", assignment_id=assignment.id))
    try:
        if form.decision.data == "accept":
            changes = services.accept(db.session, assignment, form.note.data, current_user)
            db.session.commit()
            flash(
                f"Accepted with a score of "
                f"{'—' if assignment.score is None else f'{assignment.score:g}'}."
                + (f" Attested objectives recorded: {'; '.join(changes)}." if changes else ""),
                "success",
            )
        else:
            comments = {
                q.id: request.form.get(f"comment-{q.id}", "") for q in assignment.version.questions
            }
            services.return_for_changes(
                db.session, assignment, comments, form.note.data, current_user
            )
            db.session.commit()
            flash("Returned to the vendor with your comments.", "success")
    except services.QuestionnaireError as exc:
        db.session.rollback()
        _flash_error(exc)
    return redirect(url_for("questionnaires.show_assignment", assignment_id=assignment.id))


@bp.post("/assignments/<int:assignment_id>/cancel")
@permission_required("questionnaires.manage")
def cancel(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    if ConfirmForm().validate_on_submit():
        try:
            services.cancel(db.session, assignment)
        except services.QuestionnaireError as exc:
            _flash_error(exc)
        else:
            db.session.commit()
            flash("Assignment cancelled.", "success")
    return redirect(url_for("questionnaires.show_assignment", assignment_id=assignment.id))


@bp.post("/assignments/<int:assignment_id>/invite")
@permission_required("questionnaires.manage")
def resend_invitations(assignment_id: int):
    assignment = _assignment_or_404(assignment_id)
    if ConfirmForm().validate_on_submit():
        sent, failed = _invite_all([assignment], resend=True)
        flash(
            f"{sent} invitation(s) sent" + (f", {failed} failed" if failed else "") + ".",
            "success" if not failed else "warning",
        )
    return redirect(url_for("questionnaires.show_assignment", assignment_id=assignment.id))


# --- reassessment cadence ------------------------------------------------------------------


@bp.route("/cadence", methods=["GET", "POST"])
@permission_required("policies.manage")
def cadence():
    tiers = [t.value for t in Tier]
    current = services.cadences(db.session)
    data = {}
    for tier, row in current.items():
        data[f"months_{tier}"] = row.months
        data[f"due_days_{tier}"] = row.due_days
    form = cadence_form(tiers, data=data)
    if form.validate_on_submit():
        services.save_cadences(
            db.session,
            {
                tier: (getattr(form, f"months_{tier}").data, getattr(form, f"due_days_{tier}").data)
                for tier in tiers
            },
            current_user,
        )
        db.session.commit()
        flash("Reassessment cadence saved.", "success")
        return redirect(url_for("questionnaires.cadence"))
    return render_template("questionnaires/cadence.html", form=form, tiers=tiers)


# --- home page -----------------------------------------------------------------------------


@task_provider
def questionnaire_tasks(session, user) -> list[Task]:
    today = utcnow().date()
    tasks: list[Task] = []
    if user.role == Role.VENDOR_USER and user.vendor_id:
        for assignment in services.open_for_vendor(session, user.vendor_id):
            overdue = assignment.due_date < today
            returned = assignment.status == AssignmentStatus.RETURNED.value
            if returned or overdue:
                level = "danger"
            elif (assignment.due_date - today).days <= 7:
                level = "warning"
            else:
                level = "primary"
            detail = (
                f"Due {assignment.due_date.isoformat()}"
                + (" (overdue)" if overdue else "")
                + f" · {assignment.progress_percent}% answered"
                + (" · returned with comments to address" if returned else "")
            )
            tasks.append(
                Task(
                    f"Answer: {assignment.version.template.name}",
                    detail,
                    url_for("questionnaires.answer", assignment_id=assignment.id),
                    None,
                    level,
                )
            )
    if has_permission(user, "questionnaires.manage"):
        waiting = session.scalar(
            select(func.count(Assignment.id)).where(
                Assignment.status == AssignmentStatus.SUBMITTED.value
            )
        )
        if waiting:
            tasks.append(
                Task(
                    "Review submitted questionnaires",
                    "Vendors have submitted answers: accept them or return them with comments.",
                    url_for("questionnaires.index", status="submitted", sort="submitted_at"),
                    waiting,
                    "warning",
                )
            )
        overdue = session.scalar(
            select(func.count(Assignment.id)).where(
                Assignment.due_date < today,
                Assignment.status.in_([s.value for s in ANSWERABLE_STATUSES]),
            )
        )
        if overdue:
            tasks.append(
                Task(
                    "Chase overdue questionnaires",
                    "Questionnaires past their due date and not yet submitted.",
                    url_for("questionnaires.index", overdue="1"),
                    overdue,
                    "danger",
                )
            )
        due = len(services.due_reassessments(session, today))
        if due:
            tasks.append(
                Task(
                    "Send due reassessments",
                    "Vendors whose tier's reassessment cadence has elapsed since their last "
                    "accepted questionnaire.",
                    url_for("questionnaires.index", _anchor="reassess"),
                    due,
                    "info",
                )
            )
    return tasks
