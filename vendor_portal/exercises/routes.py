"""Joint exercises: plan, schedule, answers, calendar, run and record, report, coverage."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from vendor_portal.audit.services import record_event
from vendor_portal.auth.models import User
from vendor_portal.db import utcnow
from vendor_portal.exercises import bp, notices, services
from vendor_portal.exercises.domain import (
    ExerciseStatus,
    ExerciseType,
    ScheduleProblem,
    VendorResponse,
    days_covered,
    month_weeks,
    parse_month,
    shift_month,
    time_zone_names,
    time_zone_problem,
    to_utc,
    window_from_local,
)
from vendor_portal.exercises.forms import (
    BlackoutForm,
    CancelForm,
    CompleteForm,
    CoveragePolicyForm,
    PlanForm,
    RaiseFindingForm,
    ResponseForm,
    ScenarioForm,
    TimelineForm,
)
from vendor_portal.exercises.models import (
    Exercise,
    Scenario,
    VendorBlackout,
)
from vendor_portal.exercises.tables import EXERCISE_TABLE
from vendor_portal.extensions import db
from vendor_portal.forms import ConfirmForm, choices
from vendor_portal.home.tasks import Task, task_provider
from vendor_portal.navigation import nav_item
from vendor_portal.security import (
    INTERNAL_ROLES,
    Role,
    has_permission,
    is_vendor_user,
    permission_required,
)
from vendor_portal.tables import BadTableRequest, export_response, paginate, parse_page_args
from vendor_portal.vendors.models import Vendor, VendorContact

nav_item("Exercises", "exercises.index", "exercises.read", order=65, for_vendor_users=True)

ICS_MIMETYPE = "text/calendar; charset=utf-8"


def _base_url() -> str:
    return current_app.config["BASE_URL"]


def _load(exercise_id: int) -> Exercise:
    exercise = db.session.get(Exercise, exercise_id)
    if exercise is None:
        abort(404)
    if not services.visible_to(exercise, current_user):
        abort(404, description="This exercise is not one your company is invited to.")
    return exercise


def _own_vendor() -> int | None:
    return current_user.vendor_id if is_vendor_user(current_user) else None


# --- list and calendar --------------------------------------------------------------------


def _filters() -> services.ExerciseFilters:
    args = request.args
    vendor = args.get("vendor", "")
    return services.ExerciseFilters(
        statuses=[s for s in args.getlist("status") if s in {x.value for x in ExerciseStatus}],
        types=[t for t in args.getlist("type") if t in {x.value for x in ExerciseType}],
        vendor_id=int(vendor) if vendor.isdigit() else None,
        when=args.get("when") if args.get("when") in ("upcoming", "past") else None,
        search=args.get("q", "").strip() or None,
    )


@bp.get("/")
@permission_required("exercises.read")
def index():
    filters = _filters()
    try:
        stmt = services.scope_exercises(services.exercise_query(filters, utcnow()), current_user)
        stmt = EXERCISE_TABLE.sorted(stmt, request.args.get("sort"), Exercise.id)
        export = request.args.get("export")
        if export:
            return export_response(EXERCISE_TABLE, db.session.scalars(stmt).unique(), export)
        page, per_page = parse_page_args(
            request.args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
        )
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("exercises.index"))
    return render_template(
        "exercises/index.html",
        page=paginate(db.session, stmt, page, per_page),
        filters=filters,
        sort=request.args.get("sort") or EXERCISE_TABLE.default_sort,
        statuses=list(ExerciseStatus),
        types=list(ExerciseType),
        vendors=[] if is_vendor_user(current_user) else _vendor_choices(),
        own_vendor=_own_vendor(),
        can_write=has_permission(current_user, "exercises.write"),
    )


@bp.get("/calendar")
@permission_required("exercises.read")
def month():
    tz_name = request.args.get("tz") or "UTC"
    if time_zone_problem(tz_name):
        flash(f"Unknown time zone {tz_name!r}; showing UTC.", "warning")
        tz_name = "UTC"
    today = utcnow().astimezone(ZoneInfo(tz_name)).date()
    year, month_no = parse_month(request.args.get("month"), today)
    weeks = month_weeks(year, month_no)
    zone = ZoneInfo(tz_name)
    first = datetime.combine(weeks[0][0], datetime.min.time(), zone).astimezone(UTC)
    last = datetime.combine(weeks[-1][-1] + timedelta(days=1), datetime.min.time(), zone)
    by_day: dict[Any, list[Exercise]] = {}
    for exercise in services.in_month(db.session, current_user, first, last.astimezone(UTC)):
        for day in days_covered(exercise.window, tz_name):
            by_day.setdefault(day, []).append(exercise)
    prev_y, prev_m = shift_month(year, month_no, -1)
    next_y, next_m = shift_month(year, month_no, 1)
    return render_template(
        "exercises/calendar.html",
        weeks=weeks,
        by_day=by_day,
        year=year,
        month=month_no,
        title=datetime(year, month_no, 1).strftime("%B %Y"),
        today=today,
        tz_name=tz_name,
        zone=zone,
        prev=f"{prev_y:04d}-{prev_m:02d}",
        next=f"{next_y:04d}-{next_m:02d}",
        zones=time_zone_names(),
    )


# --- planning -----------------------------------------------------------------------------


def _vendor_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(Vendor.id, Vendor.name).where(Vendor.archived_at.is_(None)).order_by(Vendor.name)
    )
    return [(r.id, r.name) for r in rows]


def _contact_choices() -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(VendorContact.id, VendorContact.name, VendorContact.email, Vendor.name)
        .join(Vendor, Vendor.id == VendorContact.vendor_id)
        .where(Vendor.archived_at.is_(None))
        .order_by(Vendor.name, VendorContact.name)
    )
    return [(r[0], f"{r[3]} — {r[1]} <{r[2]}>") for r in rows]


def _internal_users() -> list[tuple[int, str]]:
    rows = db.session.execute(
        select(User.id, User.name, User.role)
        .where(User.active, User.role.in_([r.value for r in INTERNAL_ROLES]))
        .order_by(User.name)
    )
    return [(r.id, f"{r.name} ({Role(r.role).label})") for r in rows]


def _plan_form(**kwargs: Any) -> PlanForm:
    services.ensure_scenario_library(db.session)
    form = PlanForm(**kwargs)
    form.set_choices(
        [(s.id, s.name) for s in services.scenarios(db.session)],
        _vendor_choices(),
        _contact_choices(),
        _internal_users(),
    )
    return form


def _plan_from(form: PlanForm) -> services.Plan:
    window = window_from_local(form.starts_local.data, form.ends_local.data, form.timezone.data)
    return services.Plan(
        title=form.title.data,
        exercise_type=form.exercise_type.data,
        objectives=form.objectives.data,
        window=window,
        timezone=form.timezone.data,
        vendor_ids=list(form.vendor_ids.data or []),
        contact_ids=list(form.contact_ids.data or []),
        participant_ids=list(form.participant_ids.data or []),
        scenario_id=form.scenario_id.data or None,
        scenario_text=form.scenario_text.data,
        location=form.location.data,
    )


def _field_error(form: Any, name: str, message: str) -> None:
    target = getattr(form, name, None)
    if target is None:
        flash(message, "danger")
        return
    target.errors = [*target.errors, message]


def _validated_plan(form: PlanForm, exclude_id: int | None = None):
    """(plan, conflicts) when the form is good, else None with errors on the fields."""
    if not form.validate_on_submit():
        return None
    try:
        plan = _plan_from(form)
        services.check_plan(db.session, plan)
    except (ScheduleProblem, services.ExerciseInputError) as exc:
        _field_error(form, exc.field, str(exc))
        return None
    return plan, services.conflicts_for(db.session, plan, exclude_id)


@bp.route("/new", methods=["GET", "POST"])
@permission_required("exercises.write")
def create():
    form = _plan_form(
        data={"timezone": "UTC", "participant_ids": [current_user.id]}
        if request.method == "GET"
        else None
    )
    conflicts = []
    checked = _validated_plan(form)
    if checked:
        plan, conflicts = checked
        if not conflicts or form.schedule_anyway.data:
            exercise = services.schedule_exercise(db.session, plan, current_user.id)
            db.session.commit()
            _notify(
                exercise,
                services.recipients(db.session, exercise),
                "REQUEST",
                "Invitation",
            )
            flash(f"Exercise “{exercise.title}” scheduled; invitations sent.", "success")
            return redirect(url_for("exercises.show", exercise_id=exercise.id))
    return _render_form(form, None, conflicts)


def _render_form(form: PlanForm, exercise: Exercise | None, conflicts: list):
    scenario_texts = {
        str(s.id): {"description": s.description, "injects": s.injects or ""}
        for s in services.scenarios(db.session)
    }
    contact_vendor = dict(
        (row.id, row.vendor_id)
        for row in db.session.execute(select(VendorContact.id, VendorContact.vendor_id))
    )
    status = 422 if (form.errors or conflicts) and request.method == "POST" else 200
    return render_template(
        "exercises/form.html",
        form=form,
        exercise=exercise,
        conflicts=conflicts,
        zones=time_zone_names(),
        scenario_texts=scenario_texts,
        contact_vendor=contact_vendor,
    ), status


@bp.route("/<int:exercise_id>/edit", methods=["GET", "POST"])
@permission_required("exercises.write")
def edit(exercise_id: int):
    exercise = _load(exercise_id)
    if exercise.status != ExerciseStatus.SCHEDULED:
        flash(f"A {exercise.status} exercise cannot be changed.", "warning")
        return redirect(url_for("exercises.show", exercise_id=exercise.id))
    data = None
    if request.method == "GET":
        data = {
            "title": exercise.title,
            "exercise_type": exercise.exercise_type,
            "scenario_id": exercise.scenario_id or 0,
            "scenario_text": exercise.scenario_text,
            "objectives": exercise.objectives,
            "vendor_ids": exercise.vendor_ids,
            "contact_ids": [c.contact_id for c in exercise.contacts],
            "participant_ids": [p.user_id for p in exercise.participants],
            "starts_local": exercise.local_start.replace(tzinfo=None),
            "ends_local": exercise.local_end.replace(tzinfo=None),
            "timezone": exercise.timezone,
            "location": exercise.location,
        }
    form = _plan_form(data=data)
    conflicts = []
    checked = _validated_plan(form, exclude_id=exercise.id)
    if checked:
        plan, conflicts = checked
        if not conflicts or form.schedule_anyway.data:
            change = services.update_exercise(db.session, exercise, plan)
            db.session.commit()
            if change.changed:
                _notify(
                    exercise,
                    services.recipients(db.session, exercise),
                    "REQUEST",
                    "Rescheduled" if change.rescheduled else "Updated",
                )
                _notify(exercise, change.removed, "CANCEL", "Removed")
                flash("Exercise updated; everyone was sent the new calendar entry.", "success")
            else:
                flash("Nothing changed.", "info")
            return redirect(url_for("exercises.show", exercise_id=exercise.id))
    return _render_form(form, exercise, conflicts)


@bp.post("/<int:exercise_id>/proposals/<int:vendor_id>/accept")
@permission_required("exercises.write")
def accept_proposal(exercise_id: int, vendor_id: int):
    exercise = _load(exercise_id)
    if ConfirmForm().validate_on_submit():
        try:
            change = services.reschedule_to_proposal(db.session, exercise, vendor_id)
        except services.ExerciseInputError as exc:
            db.session.rollback()
            flash(str(exc), "danger")
        else:
            db.session.commit()
            _notify(exercise, services.recipients(db.session, exercise), "REQUEST", "Rescheduled")
            if change.removed:
                _notify(exercise, change.removed, "CANCEL", "Removed")
            flash("Rescheduled to the proposed time; everyone was notified.", "success")
    return redirect(url_for("exercises.show", exercise_id=exercise.id))


@bp.post("/<int:exercise_id>/cancel")
@permission_required("exercises.write")
def cancel(exercise_id: int):
    exercise = _load(exercise_id)
    form = CancelForm()
    if not form.validate_on_submit():
        flash("Give a reason to cancel the exercise.", "danger")
        return redirect(url_for("exercises.show", exercise_id=exercise.id))
    try:
        services.cancel_exercise(db.session, exercise, form.reason.data)
    except services.ExerciseInputError as exc:
        db.session.rollback()
        flash(str(exc), "danger")
        return redirect(url_for("exercises.show", exercise_id=exercise.id))
    db.session.commit()
    _notify(exercise, services.recipients(db.session, exercise), "CANCEL", "Cancelled")
    flash("Exercise cancelled; everyone was sent a cancellation.", "success")
    return redirect(url_for("exercises.show", exercise_id=exercise.id))


def _notify(exercise: Exercise, people: list, method: str, headline: str) -> None:
    if not people:
        return
    messages = notices.invitations(exercise, people, _base_url(), method, headline)
    delivery = notices.deliver(current_app.config, messages)
    record_event(
        db.session,
        "exercise.notified",
        "exercise",
        exercise.id,
        {
            "method": method,
            "sequence": exercise.sequence,
            "sent": delivery.sent,
            "logged_only": delivery.logged,
            "failed": [to for to, _ in delivery.failed],
        },
    )
    db.session.commit()
    if delivery.failed:
        flash(
            "Saved, but the email to "
            + ", ".join(to for to, _ in delivery.failed)
            + " could not be sent; they can download the calendar entry from this page.",
            "warning",
        )
    elif delivery.logged:
        flash(
            "No mail server is configured: the calendar entries were written to the log only.",
            "warning",
        )


# --- one exercise -------------------------------------------------------------------------


@bp.get("/<int:exercise_id>")
@permission_required("exercises.read")
def show(exercise_id: int):
    exercise = _load(exercise_id)
    own = _own_vendor()
    link = exercise.vendor_link(own) if own else None
    conflicts = []
    if exercise.status == ExerciseStatus.SCHEDULED and own is None:
        conflicts = services.conflicts_for(
            db.session, services.plan_of(exercise), exclude_id=exercise.id
        )
    response_form = ResponseForm()
    return render_template(
        "exercises/show.html",
        exercise=exercise,
        own_vendor=own,
        link=link,
        vendors=[v for v in exercise.vendors if own is None or v.vendor_id == own],
        contacts=[c for c in exercise.contacts if own is None or c.contact.vendor_id == own],
        findings=services.exercise_findings(db.session, exercise.id, own),
        conflicts=conflicts,
        response_form=response_form,
        cancel_form=CancelForm(),
        can_write=has_permission(current_user, "exercises.write"),
        can_respond=has_permission(current_user, "exercises.respond") and link is not None,
        now=utcnow(),
    )


@bp.post("/<int:exercise_id>/respond")
@permission_required("exercises.respond")
def respond(exercise_id: int):
    exercise = _load(exercise_id)
    form = ResponseForm()
    if form.validate_on_submit():
        proposed = None
        try:
            if form.response.data == VendorResponse.PROPOSED:
                if form.proposed_starts_local.data is None:
                    raise services.ExerciseInputError(
                        "proposed_starts_local", "Give the start you propose."
                    )
                try:
                    proposed = window_from_local(
                        form.proposed_starts_local.data,
                        form.proposed_ends_local.data,
                        exercise.timezone,
                    )
                except ScheduleProblem as exc:
                    raise services.ExerciseInputError("proposed_" + exc.field, str(exc)) from exc
            services.respond(
                db.session,
                exercise,
                current_user.vendor_id,
                current_user.id,
                form.response.data,
                form.comment.data,
                proposed,
            )
        except services.ExerciseInputError as exc:
            db.session.rollback()
            _field_error(form, exc.field, str(exc))
        else:
            db.session.commit()
            notice = notices.response_notice(exercise, current_user.vendor_id, _base_url())
            if notice:
                notices.deliver(current_app.config, [notice])
            flash("Thank you: your answer was sent to the organiser.", "success")
            return redirect(url_for("exercises.show", exercise_id=exercise.id))
    link = exercise.vendor_link(current_user.vendor_id)
    return render_template(
        "exercises/show.html",
        exercise=exercise,
        own_vendor=current_user.vendor_id,
        link=link,
        vendors=[link] if link else [],
        contacts=[c for c in exercise.contacts if c.contact.vendor_id == current_user.vendor_id],
        findings=services.exercise_findings(db.session, exercise.id, current_user.vendor_id),
        conflicts=[],
        response_form=form,
        cancel_form=CancelForm(),
        can_write=False,
        can_respond=link is not None,
        now=utcnow(),
    ), 422


@bp.get("/<int:exercise_id>/invite.ics")
@permission_required("exercises.read")
def download_ics(exercise_id: int):
    exercise = _load(exercise_id)
    method = "CANCEL" if exercise.status == ExerciseStatus.CANCELLED else "REQUEST"
    body = notices.ics(exercise, _base_url(), method, _own_vendor())
    return Response(
        body,
        mimetype=ICS_MIMETYPE,
        headers={"Content-Disposition": f'attachment; filename="exercise-{exercise.id}.ics"'},
    )


# --- run and record -------------------------------------------------------------------------


def _record_context(exercise: Exercise, **forms: Any) -> dict[str, Any]:
    vendor_pairs = [(v.vendor_id, v.vendor.name) for v in exercise.vendors]
    # Prefixed: the record page holds several forms with fields of the same name.
    timeline_form = forms.get("timeline_form") or TimelineForm(
        prefix="timeline", data={"occurred_local": exercise.local_start.replace(tzinfo=None)}
    )
    timeline_form.vendor_id.choices = choices([(0, "—"), *vendor_pairs])
    finding_form = forms.get("finding_form") or RaiseFindingForm(
        prefix="finding", data={"key": uuid.uuid4().hex, "owner_id": current_user.id}
    )
    finding_form.vendor_id.choices = choices(vendor_pairs)
    finding_form.owner_id.choices = choices([(0, "No owner yet"), *_internal_users()])
    complete_form = forms.get("complete_form") or CompleteForm(
        data={"outcome": exercise.outcome or "met", "lessons_learned": exercise.lessons_learned}
    )
    results = {r.vendor_service_id: r for r in exercise.results}
    return {
        "exercise": exercise,
        "timeline_form": timeline_form,
        "finding_form": finding_form,
        "complete_form": complete_form,
        "attendance_form": ConfirmForm(),
        "services": services.services_exercised(db.session, exercise),
        "results": results,
        "result_errors": forms.get("result_errors") or {},
        "findings": services.exercise_findings(db.session, exercise.id),
    }


def _recordable_or_redirect(exercise: Exercise):
    if exercise.status == ExerciseStatus.CANCELLED:
        flash("A cancelled exercise cannot be recorded.", "warning")
        return redirect(url_for("exercises.show", exercise_id=exercise.id))
    return None


@bp.get("/<int:exercise_id>/record")
@permission_required("exercises.write")
def record(exercise_id: int):
    exercise = _load(exercise_id)
    return _recordable_or_redirect(exercise) or render_template(
        "exercises/record.html", **_record_context(exercise)
    )


def _record_error(exercise: Exercise, **forms: Any):
    return render_template("exercises/record.html", **_record_context(exercise, **forms)), 422


@bp.post("/<int:exercise_id>/timeline")
@permission_required("exercises.write")
def add_timeline(exercise_id: int):
    exercise = _load(exercise_id)
    if (redirect_response := _recordable_or_redirect(exercise)) is not None:
        return redirect_response
    form = TimelineForm(prefix="timeline")
    form.vendor_id.choices = choices([(0, "—"), *[(v.vendor_id, "") for v in exercise.vendors]])
    if form.validate_on_submit():
        try:
            occurred = to_utc(form.occurred_local.data, exercise.timezone, "occurred_local")
            services.add_timeline_entry(
                db.session,
                exercise,
                occurred,
                form.kind.data,
                form.description.data,
                form.actor.data,
                form.vendor_id.data or None,
                current_user.id,
            )
        except (ScheduleProblem, services.ExerciseInputError) as exc:
            db.session.rollback()
            _field_error(form, exc.field, str(exc))
            return _record_error(exercise, timeline_form=form)
        db.session.commit()
        flash("Timeline entry added.", "success")
        return redirect(url_for("exercises.record", exercise_id=exercise.id) + "#timeline")
    return _record_error(exercise, timeline_form=form)


@bp.post("/<int:exercise_id>/attendance")
@permission_required("exercises.write")
def attendance(exercise_id: int):
    exercise = _load(exercise_id)
    if (redirect_response := _recordable_or_redirect(exercise)) is not None:
        return redirect_response
    if ConfirmForm().validate_on_submit():
        users = {int(v) for v in request.form.getlist("user") if v.isdigit()}
        contacts = {int(v) for v in request.form.getlist("contact") if v.isdigit()}
        services.record_attendance(db.session, exercise, users, contacts)
        db.session.commit()
        flash("Attendance saved.", "success")
    return redirect(url_for("exercises.record", exercise_id=exercise.id) + "#attendance")


@bp.post("/<int:exercise_id>/results")
@permission_required("exercises.write")
def results(exercise_id: int):
    exercise = _load(exercise_id)
    if (redirect_response := _recordable_or_redirect(exercise)) is not None:
        return redirect_response
    if not ConfirmForm().validate_on_submit():
        return redirect(url_for("exercises.record", exercise_id=exercise.id))
    achieved: dict[int, float | None] = {}
    notes: dict[int, str | None] = {}
    errors: dict[int, str] = {}
    for service in services.services_exercised(db.session, exercise):
        raw = request.form.get(f"achieved_{service.id}", "").strip()
        notes[service.id] = request.form.get(f"notes_{service.id}", "").strip()[:2000] or None
        if not raw:
            achieved[service.id] = None
            continue
        try:
            achieved[service.id] = float(raw.replace(",", "."))
        except ValueError:
            errors[service.id] = f"{service.name}: {raw!r} is not a number of hours."
    if not errors:
        try:
            services.record_results(db.session, exercise, achieved, notes)
        except services.ExerciseInputError as exc:
            db.session.rollback()
            service_id = int(exc.field.rsplit("_", 1)[1])
            errors[service_id] = str(exc)
    if errors:
        return _record_error(exercise, result_errors=errors)
    db.session.commit()
    flash("RTO results saved.", "success")
    return redirect(url_for("exercises.record", exercise_id=exercise.id) + "#results")


@bp.post("/<int:exercise_id>/findings")
@permission_required("exercises.write")
def raise_finding(exercise_id: int):
    exercise = _load(exercise_id)
    if (redirect_response := _recordable_or_redirect(exercise)) is not None:
        return redirect_response
    if not has_permission(current_user, "findings.write"):
        abort(403)
    form = RaiseFindingForm(prefix="finding")
    form.vendor_id.choices = choices([(v.vendor_id, "") for v in exercise.vendors])
    form.owner_id.choices = choices([(0, ""), *_internal_users()])
    if form.validate_on_submit():
        try:
            finding, created = services.raise_finding(
                db.session,
                exercise,
                vendor_id=form.vendor_id.data,
                title=form.title.data,
                severity=form.severity.data,
                description=form.description.data,
                owner_id=form.owner_id.data or None,
                key=form.key.data or uuid.uuid4().hex,
            )
        except services.ExerciseInputError as exc:
            db.session.rollback()
            _field_error(form, exc.field, str(exc))
            return _record_error(exercise, finding_form=form)
        db.session.commit()
        flash(
            f"Finding #{finding.id} raised, due {finding.due_date.isoformat()}."
            if created
            else f"Finding #{finding.id} was already raised from this form.",
            "success",
        )
        return redirect(url_for("exercises.record", exercise_id=exercise.id) + "#findings")
    return _record_error(exercise, finding_form=form)


@bp.post("/<int:exercise_id>/complete")
@permission_required("exercises.write")
def complete(exercise_id: int):
    exercise = _load(exercise_id)
    form = CompleteForm()
    if form.validate_on_submit():
        try:
            services.complete_exercise(
                db.session, exercise, form.outcome.data, form.lessons_learned.data, current_user.id
            )
        except services.ExerciseInputError as exc:
            db.session.rollback()
            _field_error(form, exc.field, str(exc))
            return _record_error(exercise, complete_form=form)
        db.session.commit()
        flash("Exercise recorded as completed.", "success")
        return redirect(url_for("exercises.show", exercise_id=exercise.id))
    return _record_error(exercise, complete_form=form)


@bp.get("/<int:exercise_id>/report")
@permission_required("exercises.read")
def report(exercise_id: int):
    exercise = _load(exercise_id)
    own = _own_vendor()
    return render_template(
        "exercises/report.html",
        exercise=exercise,
        own_vendor=own,
        vendors=[v for v in exercise.vendors if own is None or v.vendor_id == own],
        contacts=[c for c in exercise.contacts if own is None or c.contact.vendor_id == own],
        timeline=[t for t in exercise.timeline if own is None or t.vendor_id in (None, own)],
        results=[r for r in exercise.results if own is None or r.vendor_service.vendor_id == own],
        findings=services.exercise_findings(db.session, exercise.id, own),
        generated_at=utcnow(),
    )


# --- calendar feeds -------------------------------------------------------------------------


@bp.get("/feed")
@permission_required("exercises.read")
def feed_settings():
    return render_template(
        "exercises/feed.html",
        token=services.active_feed_token(db.session, current_user),
        new_url=None,
        form=ConfirmForm(),
    )


@bp.post("/feed")
@permission_required("exercises.read")
def create_feed():
    form = ConfirmForm()
    if not form.validate_on_submit():
        return redirect(url_for("exercises.feed_settings"))
    plain = services.create_feed_token(db.session, current_user)
    db.session.commit()
    url = f"{_base_url().rstrip('/')}{url_for('exercises.feed', token=plain)}"
    return render_template(
        "exercises/feed.html",
        token=services.active_feed_token(db.session, current_user),
        new_url=url,
        form=form,
    )


@bp.post("/feed/revoke")
@permission_required("exercises.read")
def revoke_feed():
    if ConfirmForm().validate_on_submit():
        count = services.revoke_feed_tokens(db.session, current_user)
        db.session.commit()
        flash(
            "Calendar link revoked; calendar apps using it get nothing from now on."
            if count
            else "There was no active calendar link.",
            "success",
        )
    return redirect(url_for("exercises.feed_settings"))


@bp.get("/feed/<token>.ics")
def feed(token: str):
    """The secret-URL feed for calendar apps (which cannot sign in or send headers)."""
    user = services.user_for_feed_token(db.session, token)
    if user is None:
        abort(404)
    db.session.commit()
    if not has_permission(user, "exercises.read"):
        abort(404)
    body = notices.feed(
        services.feed_exercises(db.session, user, utcnow()),
        _base_url(),
        user.vendor_id if is_vendor_user(user) else None,
        f"Continuity exercises ({user.name})",
    )
    return Response(body, mimetype=ICS_MIMETYPE)


# --- scenarios, blackouts, coverage ---------------------------------------------------------


@bp.get("/scenarios")
@permission_required("exercises.write")
def scenario_library():
    services.ensure_scenario_library(db.session)
    db.session.commit()
    return render_template(
        "exercises/scenarios.html",
        scenarios=services.scenarios(db.session, include_archived=True),
        form=ConfirmForm(),
    )


@bp.route("/scenarios/new", methods=["GET", "POST"])
@bp.route("/scenarios/<int:scenario_id>/edit", methods=["GET", "POST"])
@permission_required("exercises.write")
def edit_scenario(scenario_id: int | None = None):
    scenario = db.session.get(Scenario, scenario_id) if scenario_id else None
    if scenario_id and scenario is None:
        abort(404)
    form = ScenarioForm(obj=scenario)
    if form.validate_on_submit():
        saved = services.save_scenario(
            db.session,
            scenario,
            {
                "name": form.name.data,
                "description": form.description.data,
                "injects": form.injects.data,
            },
        )
        db.session.commit()
        flash(f"Scenario “{saved.name}” saved.", "success")
        return redirect(url_for("exercises.scenario_library"))
    return render_template("exercises/scenario_form.html", form=form, scenario=scenario)


@bp.post("/scenarios/<int:scenario_id>/archive")
@permission_required("exercises.write")
def archive_scenario(scenario_id: int):
    scenario = db.get_or_404(Scenario, scenario_id)
    if ConfirmForm().validate_on_submit():
        scenario.archived_at = None if scenario.archived_at else utcnow()
        db.session.commit()
        flash(f"“{scenario.name}” {'archived' if scenario.archived_at else 'restored'}.", "success")
    return redirect(url_for("exercises.scenario_library"))


@bp.route("/blackouts", methods=["GET", "POST"])
@permission_required("exercises.read")
def blackouts():
    own = _own_vendor()
    can_manage = has_permission(current_user, "exercises.respond") or has_permission(
        current_user, "exercises.write"
    )
    form = BlackoutForm()
    form.vendor_id.choices = choices(
        [(own, current_user.vendor.name)] if own else [(0, "Choose a vendor…"), *_vendor_choices()]
    )
    if request.method == "POST":
        if not can_manage:
            abort(403)
        if own:
            form.vendor_id.data = own
        if form.validate_on_submit():
            vendor_id = own or form.vendor_id.data
            if not vendor_id:
                form.vendor_id.errors = ["Choose the vendor."]
            else:
                try:
                    services.add_blackout(
                        db.session,
                        vendor_id,
                        form.starts_on.data,
                        form.ends_on.data,
                        form.reason.data,
                        current_user.id,
                    )
                except services.ExerciseInputError as exc:
                    db.session.rollback()
                    _field_error(form, exc.field, str(exc))
                else:
                    db.session.commit()
                    flash("Blackout dates saved; exercises planned on them are flagged.", "success")
                    return redirect(url_for("exercises.blackouts"))
    stmt = (
        select(VendorBlackout)
        .where(VendorBlackout.ends_on >= utcnow().date())
        .options(selectinload(VendorBlackout.vendor))
        .order_by(VendorBlackout.starts_on)
    )
    if own:
        stmt = stmt.where(VendorBlackout.vendor_id == own)
    return render_template(
        "exercises/blackouts.html",
        form=form,
        blackouts=list(db.session.scalars(stmt)),
        own_vendor=own,
        can_manage=can_manage,
        delete_form=ConfirmForm(),
    ), (422 if form.errors else 200)


@bp.post("/blackouts/<int:blackout_id>/delete")
@permission_required("exercises.read")
def delete_blackout(blackout_id: int):
    blackout = db.session.get(VendorBlackout, blackout_id)
    own = _own_vendor()
    if blackout is None or (own and blackout.vendor_id != own):
        abort(404)
    if not (
        has_permission(current_user, "exercises.respond")
        or has_permission(current_user, "exercises.write")
    ):
        abort(403)
    if ConfirmForm().validate_on_submit():
        db.session.delete(blackout)
        db.session.commit()
        flash("Blackout period removed.", "success")
    return redirect(url_for("exercises.blackouts"))


@bp.get("/coverage")
@permission_required("exercises.read")
def coverage():
    if is_vendor_user(current_user):
        abort(403)
    today = utcnow().date()
    try:
        page, per_page = parse_page_args(
            request.args, current_app.config["PER_PAGE"], current_app.config["MAX_PER_PAGE"]
        )
    except BadTableRequest as exc:
        flash(str(exc), "warning")
        return redirect(url_for("exercises.coverage"))
    policy = services.coverage_policy(db.session)
    required, covered = services.coverage_counts(db.session, today, policy)
    result = paginate(db.session, services.required_vendors(policy), page, per_page)
    return render_template(
        "exercises/coverage.html",
        page=result,
        rows=services.coverage_rows(db.session, result.items, policy),
        required=required,
        covered=covered,
        policy=policy,
        today=today,
    )


@bp.route("/coverage/policy", methods=["GET", "POST"])
@permission_required("policies.manage")
def coverage_policy():
    current = services.coverage_policy(db.session)
    form = CoveragePolicyForm(data=current if request.method == "GET" else None)
    if form.validate_on_submit():
        services.set_coverage_policy(db.session, form.values())
        db.session.commit()
        flash("Exercise coverage policy saved.", "success")
        return redirect(url_for("exercises.coverage"))
    return render_template("exercises/coverage_policy.html", form=form)


# --- home page ----------------------------------------------------------------------------


@task_provider
def exercise_tasks(session, user) -> list[Task]:
    tasks: list[Task] = []
    now = utcnow()
    if user.role == Role.VENDOR_USER and user.vendor_id:
        waiting = services.invitations_to_answer(session, user.vendor_id, now)
        if waiting:
            tasks.append(
                Task(
                    "Answer exercise invitations",
                    "Confirm, decline or propose another time for joint exercises.",
                    url_for("exercises.index", when="upcoming"),
                    waiting,
                    "warning",
                )
            )
        return tasks
    if user.role in (Role.ADMIN, Role.VENDOR_MANAGER):
        counts = services.manager_counts(session, now)
        if counts.to_record:
            tasks.append(
                Task(
                    "Record finished exercises",
                    "Exercises that have ended: record attendance, timeline, RTO and findings.",
                    url_for("exercises.index", status="scheduled", when="past"),
                    counts.to_record,
                    "warning",
                )
            )
        if counts.proposals:
            tasks.append(
                Task(
                    "Vendors proposed another time or declined",
                    "Reschedule, or follow up with the vendor.",
                    url_for("exercises.index", status="scheduled", when="upcoming"),
                    counts.proposals,
                    "primary",
                )
            )
        uncovered = counts.required - counts.covered
        if uncovered:
            tasks.append(
                Task(
                    "Vendors without a recent joint exercise",
                    "Critical and high vendors due an exercise under the coverage policy.",
                    url_for("exercises.coverage"),
                    uncovered,
                    "info",
                )
            )
    return tasks


@bp.app_template_global("exercise_coverage")
def exercise_coverage_for(vendor: Vendor) -> dict[str, Any]:
    """For `templates/exercises/_vendor_coverage.html`, included by the vendor page."""
    coverage = services.vendor_coverage(db.session, vendor)
    return {"coverage": coverage, "covered": coverage.covered_on(utcnow().date())}
