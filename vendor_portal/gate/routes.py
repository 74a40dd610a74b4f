"""Procurement gate pages: the pipeline, a gate page per contract, exceptions, policies, webhooks,
and the vendor's to-do list of what it must provide."""

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import case, func, select

from vendor_portal.contracts.domain import ContractStatus
from vendor_portal.contracts.models import Contract
from vendor_portal.contracts.services import library
from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.forms import ConfirmForm, choices
from vendor_portal.gate import bp, services
from vendor_portal.gate.domain import EVIDENCE_LABELS
from vendor_portal.gate.forms import (
    ExceptionDecisionForm,
    ExceptionRequestForm,
    PolicyForm,
    WebhookForm,
)
from vendor_portal.gate.models import (
    GateEvaluation,
    GateException,
    GatePolicyRecord,
    Webhook,
    WebhookDelivery,
)
from vendor_portal.home.tasks import Task, task_provider
from vendor_portal.navigation import nav_item
from vendor_portal.security import Role, has_permission, is_vendor_user, permission_required
from vendor_portal.tables import BadTableRequest, Column, Table, export_response
from vendor_portal.vendors.domain import Tier

nav_item("My contracts", "gate.vendor_todo", "vendors.read", order=45, only_vendor_users=True)

PIPELINE_TABLE = Table(
    columns=[
        Column("id", "ID", lambda r: r["contract"].id),
        Column("title", "Contract", lambda r: r["contract"].title),
        Column("vendor", "Vendor", lambda r: r["contract"].vendor.name),
        Column("tier", "Tier", lambda r: r["contract"].vendor.tier),
        Column("status", "Status", lambda r: r["contract"].status),
        Column(
            "decision",
            "Gate",
            lambda r: r["evaluation"].decision if r["evaluation"] else "not evaluated",
        ),
        Column(
            "evaluated_at",
            "Evaluated",
            lambda r: r["evaluation"].evaluated_at if r["evaluation"] else "",
        ),
        Column("end_date", "Ends", lambda r: r["contract"].end_date or ""),
        Column("stage", "Stage", lambda r: r["stage"]),
    ],
    default_sort="id",
    export_name="procurement-pipeline",
)
STAGES = ("awaiting gate", "blocked", "passing", "expiring soon", "other")


def _latest_by_contract(contract_ids: list[int]) -> dict[int, GateEvaluation]:
    rows = db.session.scalars(
        select(GateEvaluation)
        .where(GateEvaluation.contract_id.in_(contract_ids))
        .order_by(GateEvaluation.evaluated_at)
    )
    return {e.contract_id: e for e in rows}  # the newest wins


def _stage(contract: Contract, evaluation: GateEvaluation | None, today) -> str:
    if (
        contract.status == ContractStatus.ACTIVE
        and contract.end_date
        and contract.end_date <= today + timedelta(days=90)
    ):
        return "expiring soon"
    if contract.status in (ContractStatus.DRAFT, ContractStatus.AWAITING_GATE):
        if evaluation is None:
            return "awaiting gate"
        return "blocked" if evaluation.decision == "fail" else "passing"
    return "other"


@bp.get("/")
@permission_required("contracts.read")
def index():
    today = utcnow().date()
    contracts = db.session.scalars(select(Contract).order_by(Contract.id)).all()
    latest = _latest_by_contract([c.id for c in contracts])
    rows = [
        {"contract": c, "evaluation": latest.get(c.id), "stage": _stage(c, latest.get(c.id), today)}
        for c in contracts
    ]
    stage = request.args.get("stage")
    if stage:
        rows = [r for r in rows if r["stage"] == stage]
    if request.args.get("export"):
        try:
            return export_response(PIPELINE_TABLE, rows, request.args["export"])
        except BadTableRequest as exc:
            abort(400, str(exc))
    counts = {s: 0 for s in STAGES}
    for c in contracts:
        counts[_stage(c, latest.get(c.id), today)] += 1
    return render_template("gate/index.html", rows=rows, counts=counts, stage=stage, stages=STAGES)


def _contract(contract_id: int) -> Contract:
    contract = db.session.get(Contract, contract_id)
    if contract is None:
        abort(404)
    return contract


@bp.get("/contracts/<int:contract_id>")
@permission_required("contracts.read")
def contract(contract_id: int):
    item = _contract(contract_id)
    today = utcnow().date()
    history = db.session.scalars(
        select(GateEvaluation)
        .where(GateEvaluation.contract_id == item.id)
        .order_by(GateEvaluation.evaluated_at.desc(), GateEvaluation.id.desc())
    ).all()
    exceptions = db.session.scalars(
        select(GateException)
        .where(GateException.contract_id == item.id)
        .order_by(GateException.id.desc())
    ).all()
    moves = sorted(
        services.ALLOWED_MOVES[ContractStatus(item.status)],
        key=lambda s: list(ContractStatus).index(s),
    )
    return render_template(
        "gate/contract.html",
        contract=item,
        latest=history[0] if history else None,
        history=history,
        changes=services.changes_since_previous(db.session, item.id),
        exceptions=exceptions,
        exception_state=lambda e: services.exception_state(e, today),
        moves=moves,
        request_form=ExceptionRequestForm(),
        decision_form=ExceptionDecisionForm(),
        can_write=has_permission(current_user, "contracts.write"),
        can_approve=has_permission(current_user, "exceptions.approve"),
    )


@bp.post("/contracts/<int:contract_id>/evaluate")
@permission_required("contracts.write")
def evaluate(contract_id: int):
    item = _contract(contract_id)
    if ConfirmForm().validate_on_submit():
        evaluation = services.evaluate_contract(db.session, item, current_user.id)
        db.session.commit()
        flash(f"Gate evaluated: {evaluation.decision.replace('_', ' ')}.", "info")
    return redirect(url_for("gate.contract", contract_id=item.id))


@bp.post("/contracts/<int:contract_id>/status")
@permission_required("contracts.write")
def change_status(contract_id: int):
    item = _contract(contract_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    target = request.form.get("status", "")
    if target not in {s.value for s in ContractStatus}:
        abort(400, "Unknown status.")
    try:
        services.change_status(db.session, item, target, current_user.id)
    except services.GateBlocked:
        db.session.commit()  # keep the evaluation that refused it
        flash(
            "Not allowed: the procurement gate does not pass. See the failing checks below.",
            "danger",
        )
    except services.GateError as exc:
        flash(str(exc), "warning")
    else:
        db.session.commit()
        flash(f"Contract is now {item.status.replace('_', ' ')}.", "success")
    return redirect(url_for("gate.contract", contract_id=item.id))


@bp.post("/contracts/<int:contract_id>/exceptions")
@permission_required("contracts.write")
def request_exception(contract_id: int):
    item = _contract(contract_id)
    form = ExceptionRequestForm()
    if form.validate_on_submit():
        try:
            services.request_exception(
                db.session,
                item,
                checks=form.checks.data,
                justification=form.justification.data,
                expires_on=form.expires_on.data,
                user_id=current_user.id,
            )
        except services.GateError as exc:
            flash(str(exc), "danger")
        else:
            db.session.commit()
            flash("Exception requested; an approver other than you must decide it.", "success")
    else:
        flash(
            "; ".join(f"{form[k].label.text}: {' '.join(v)}" for k, v in form.errors.items()),
            "danger",
        )
    return redirect(url_for("gate.contract", contract_id=item.id))


@bp.post("/exceptions/<int:exception_id>/decide")
@permission_required("exceptions.approve")
def decide_exception(exception_id: int):
    exception = db.session.get(GateException, exception_id) or abort(404)
    decision = request.form.get("decision")
    form = ExceptionDecisionForm()
    if decision not in ("approve", "reject") or not form.validate_on_submit():
        abort(400)
    try:
        services.decide_exception(
            db.session,
            exception,
            approve=decision == "approve",
            user_id=current_user.id,
            comment=form.comment.data,
        )
    except services.GateError as exc:
        flash(str(exc), "danger")
    else:
        db.session.commit()
        flash(f"Exception {exception.status}.", "success")
    return redirect(url_for("gate.contract", contract_id=exception.contract_id))


@bp.route("/policies", methods=["GET", "POST"])
@permission_required("contracts.read")
def policies():
    tier = request.args.get("tier", "critical")
    if tier not in {t.value for t in Tier}:
        abort(404)
    record = db.session.get(GatePolicyRecord, tier) or GatePolicyRecord(tier=tier)
    form = PolicyForm(obj=record)
    form.required_clauses.choices = choices((o.code, o.title) for o in library(db.session))
    if request.method == "GET":
        form.questionnaire_required.data = record.questionnaire_min_score is not None
    evidence_days = {t: (record.required_evidence or {}).get(t) for t in EVIDENCE_LABELS}
    if request.method == "POST":
        if not has_permission(current_user, "policies.manage"):
            abort(403)
        errors = {}
        new_days: dict[str, int] = {}
        for evidence_type in EVIDENCE_LABELS:
            raw = request.form.get(f"evidence_{evidence_type}", "").strip()
            if raw:
                if not raw.isdigit() or not 1 <= int(raw) <= 3650:
                    errors[evidence_type] = (
                        "Whole days between 1 and 3650, or empty for not required."
                    )
                else:
                    new_days[evidence_type] = int(raw)
            evidence_days[evidence_type] = raw or None
        if form.validate_on_submit() and not errors:
            record.required_evidence = new_days
            record.questionnaire_min_score = (
                float(form.questionnaire_min_score.data or 0)
                if form.questionnaire_required.data
                else None
            )
            record.questionnaire_max_age_days = form.questionnaire_max_age_days.data
            record.exercise_required = form.exercise_required.data
            record.exercise_max_age_days = form.exercise_max_age_days.data
            record.blocking_severities = form.blocking_severities.data or []
            record.required_clauses = form.required_clauses.data or []
            record.subcontracting_review_required = form.subcontracting_review_required.data
            db.session.add(record)
            db.session.commit()
            flash(f"Gate policy for {tier}-tier vendors saved.", "success")
            return redirect(url_for("gate.policies", tier=tier))
        return render_template(
            "gate/policies.html",
            form=form,
            tier=tier,
            tiers=list(Tier),
            evidence_days=evidence_days,
            evidence_errors=errors,
            labels=EVIDENCE_LABELS,
            can_manage=True,
        ), 422
    return render_template(
        "gate/policies.html",
        form=form,
        tier=tier,
        tiers=list(Tier),
        evidence_days=evidence_days,
        evidence_errors={},
        labels=EVIDENCE_LABELS,
        can_manage=has_permission(current_user, "policies.manage"),
    )


@bp.route("/webhooks", methods=["GET", "POST"])
@permission_required("policies.manage")
def webhooks():
    form = WebhookForm()
    created = None
    if form.validate_on_submit():
        try:
            created = services.create_webhook(db.session, form.url.data)
        except services.GateError as exc:
            form.url.errors.append(str(exc))
        else:
            db.session.commit()
    hooks = db.session.scalars(select(Webhook).order_by(Webhook.id)).all()
    deliveries = db.session.scalars(
        select(WebhookDelivery).order_by(WebhookDelivery.id.desc()).limit(50)
    ).all()
    return render_template(
        "gate/webhooks.html", form=form, hooks=hooks, deliveries=deliveries, created=created
    )


@bp.post("/webhooks/<int:webhook_id>/toggle")
@permission_required("policies.manage")
def toggle_webhook(webhook_id: int):
    hook = db.session.get(Webhook, webhook_id) or abort(404)
    if ConfirmForm().validate_on_submit():
        hook.active = not hook.active
        db.session.commit()
    return redirect(url_for("gate.webhooks"))


VENDOR_ACTIONABLE = (
    "questionnaire",
    "evidence",
    "rto",
    "rpo",
    "exercise",
    "findings",
    "subcontracting",
)


@bp.get("/my-contracts")
@permission_required("vendors.read")
def vendor_todo():
    if not is_vendor_user(current_user):
        return redirect(url_for("gate.index"))
    contracts = db.session.scalars(
        select(Contract)
        .where(
            Contract.vendor_id == current_user.vendor_id,
            Contract.status.in_((ContractStatus.DRAFT, ContractStatus.AWAITING_GATE)),
        )
        .order_by(Contract.id)
    ).all()
    latest = _latest_by_contract([c.id for c in contracts])
    todo = []
    for item in contracts:
        evaluation = latest.get(item.id)
        checks = [
            c
            for c in (evaluation.checks if evaluation else [])
            if c["status"] == "fail" and c["code"] in VENDOR_ACTIONABLE
        ]
        todo.append({"contract": item, "evaluation": evaluation, "checks": checks})
    return render_template("gate/vendor_todo.html", todo=todo)


@task_provider
def gate_tasks(session, user) -> list[Task]:
    tasks: list[Task] = []
    if user.role in (Role.ADMIN, Role.PROCUREMENT):
        # Counted by the database (thousands of drafts on a large portfolio): the contracts
        # waiting for the gate, and those whose latest evaluation failed.
        latest_decision = (
            select(GateEvaluation.decision)
            .where(GateEvaluation.contract_id == Contract.id)
            .order_by(GateEvaluation.evaluated_at.desc(), GateEvaluation.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        waiting, blocked = session.execute(
            select(func.count(), func.count(case((latest_decision == "fail", 1))))
            .select_from(Contract)
            .where(Contract.status.in_((ContractStatus.DRAFT, ContractStatus.AWAITING_GATE)))
        ).one()
        if waiting:
            tasks.append(
                Task(
                    "Contracts awaiting the gate",
                    f"{blocked} blocked by a failing check."
                    if blocked
                    else "Evaluate and approve them.",
                    url_for("gate.index"),
                    waiting,
                    "warning" if blocked else "primary",
                )
            )
    if user.role in (Role.ADMIN, Role.VENDOR_MANAGER):
        pending = session.scalar(
            select(db.func.count(GateException.id)).where(GateException.status == "requested")
        )
        if pending:
            tasks.append(
                Task(
                    "Decide gate exceptions",
                    "Procurement asked to sign despite failing checks.",
                    url_for("gate.index"),
                    pending,
                    "warning",
                )
            )
    if user.role == Role.VENDOR_USER and user.vendor_id:
        open_contracts = session.scalar(
            select(db.func.count(Contract.id)).where(
                Contract.vendor_id == user.vendor_id,
                Contract.status.in_((ContractStatus.DRAFT, ContractStatus.AWAITING_GATE)),
            )
        )
        if open_contracts:
            tasks.append(
                Task(
                    "What we need before signing",
                    "Your contracts waiting for our continuity checks, and what is missing.",
                    url_for("gate.vendor_todo"),
                    open_contracts,
                    "warning",
                )
            )
    return tasks
