"""The procurement gate: gather a contract's facts from every feature, evaluate them with the
pure rules in gate/domain.py, keep every evaluation, guard status changes, and tell webhooks."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_portal.contracts.domain import ContractStatus
from vendor_portal.contracts.models import Contract, Obligation
from vendor_portal.db import utcnow
from vendor_portal.findings.domain import OPEN_STATUSES
from vendor_portal.findings.models import Finding
from vendor_portal.gate import facts_sources
from vendor_portal.gate.domain import (
    CheckCode,
    Decision,
    ExceptionFact,
    FindingFact,
    GateDecision,
    GateFacts,
    GatePolicy,
    SubcontractingFact,
    VendorServiceFact,
    evaluate,
)
from vendor_portal.gate.models import (
    GateEvaluation,
    GateException,
    GatePolicyRecord,
    Webhook,
    WebhookDelivery,
)
from vendor_portal.subcontracting.domain import GAP_OUTCOMES
from vendor_portal.subcontracting.services import (
    active_chain,
    latest_signed_off,
    no_subcontractors_attestation,
)

GATED_STATUSES = frozenset({ContractStatus.APPROVED, ContractStatus.ACTIVE})
ALLOWED_MOVES = {
    ContractStatus.DRAFT: {ContractStatus.AWAITING_GATE, ContractStatus.TERMINATED},
    ContractStatus.AWAITING_GATE: {
        ContractStatus.DRAFT,
        ContractStatus.APPROVED,
        ContractStatus.TERMINATED,
    },
    ContractStatus.APPROVED: {ContractStatus.ACTIVE, ContractStatus.TERMINATED},
    ContractStatus.ACTIVE: {ContractStatus.EXPIRED, ContractStatus.TERMINATED},
    ContractStatus.EXPIRED: set(),
    ContractStatus.TERMINATED: set(),
}


class GateError(ValueError):
    """A gate request that cannot be carried out; the message says why."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class GateBlocked(GateError):
    """The contract may not move on: its gate does not pass."""

    def __init__(self, evaluation: GateEvaluation) -> None:
        failing = [c for c in evaluation.checks if c["status"] == "fail"]
        super().__init__(
            "The procurement gate does not pass: "
            + "; ".join(f"{c['code']}: {c['message']}" for c in failing)
        )
        self.evaluation = evaluation


# --- policies ---------------------------------------------------------------------------


def policy_for(session: Session, tier: str) -> GatePolicy:
    record = session.get(GatePolicyRecord, tier)
    if record is None:
        return GatePolicy(tier=tier)
    return GatePolicy(
        tier=tier,
        required_evidence=dict(record.required_evidence or {}),
        questionnaire_min_score=record.questionnaire_min_score,
        questionnaire_max_age_days=record.questionnaire_max_age_days,
        exercise_required=record.exercise_required,
        exercise_max_age_days=record.exercise_max_age_days,
        blocking_severities=frozenset(record.blocking_severities or []),
        required_clauses=frozenset(record.required_clauses or []),
        subcontracting_review_required=record.subcontracting_review_required,
    )


# --- facts ------------------------------------------------------------------------------


def _subcontracting_fact(session: Session, vendor_id: int, today: date) -> SubcontractingFact:
    chain = active_chain(session, vendor_id)
    if not chain:
        attestation = no_subcontractors_attestation(session, vendor_id)
        if attestation is not None:
            return SubcontractingFact(
                False, None, False, (), attestation.attested_on, attestation.current_on(today)
            )
    review = latest_signed_off(session).get(vendor_id)
    if review is None:
        return SubcontractingFact(bool(chain), None, False)
    gaps = tuple(
        f"{item.obligation.title} — {item.declaration.subcontractor.name}"
        for item in review.items
        if item.outcome in GAP_OUTCOMES
    )
    current = review.next_due_date is None or review.next_due_date >= today
    return SubcontractingFact(bool(chain), review.signed_off_at.date(), current, gaps)


def gather_facts(session: Session, contract: Contract, today: date) -> GateFacts:
    vendor = contract.vendor
    findings = session.scalars(select(Finding).where(Finding.vendor_id == vendor.id)).all()
    exceptions = session.scalars(
        select(GateException).where(GateException.contract_id == contract.id)
    ).all()
    library = {o.code: o.title for o in session.scalars(select(Obligation))}
    services = tuple(
        VendorServiceFact(s.id, s.name, s.attested_rto_hours, s.attested_rpo_hours)
        for s in contract.services
    )
    return GateFacts(
        today=today,
        vendor_name=vendor.name,
        services=services,
        business_services=facts_sources.business_services_supported(
            session, [s.id for s in services]
        ),
        evidence=facts_sources.evidence(session, vendor.id),
        questionnaires=facts_sources.questionnaires(session, vendor.id),
        exercises_completed=facts_sources.exercises_completed(session, vendor.id),
        findings=tuple(
            FindingFact(f.id, f.title, f.severity, f.due_date, f.status in OPEN_STATUSES)
            for f in findings
        ),
        subcontracting=_subcontracting_fact(session, vendor.id, today),
        clauses=frozenset(o.code for o in contract.clauses),
        clause_titles=library,
        exceptions=tuple(
            ExceptionFact(
                e.id,
                frozenset(e.checks),
                e.status,
                e.expires_on,
                e.requested_by_id,
                e.decided_by_id,
            )
            for e in exceptions
        ),
    )


# --- evaluation -------------------------------------------------------------------------


def _checks_json(decision: GateDecision) -> list[dict[str, Any]]:
    return [
        {
            "code": c.code,
            "status": c.status,
            "message": c.message,
            "missing": list(c.missing),
            "fixes": list(c.fixes),
        }
        for c in decision.checks
    ]


def latest_evaluation(session: Session, contract_id: int) -> GateEvaluation | None:
    return session.scalar(
        select(GateEvaluation)
        .where(GateEvaluation.contract_id == contract_id)
        .order_by(GateEvaluation.evaluated_at.desc(), GateEvaluation.id.desc())
        .limit(1)
    )


def evaluate_contract(
    session: Session, contract: Contract, user_id: int | None, reason: str = "requested"
) -> GateEvaluation:
    """Evaluate now and keep the result; a changed decision is announced to webhooks."""
    previous = latest_evaluation(session, contract.id)
    decision = evaluate(
        policy_for(session, contract.vendor.tier), gather_facts(session, contract, utcnow().date())
    )
    evaluation = GateEvaluation(
        contract_id=contract.id,
        evaluated_at=utcnow(),
        evaluated_by_id=user_id,
        reason=reason,
        decision=decision.decision,
        checks=_checks_json(decision),
        exception_ids=list(decision.exception_ids),
    )
    session.add(evaluation)
    session.flush()
    if previous is None or previous.decision != evaluation.decision:
        queue_event(
            session, "gate.decision_changed", evaluation_payload(contract, evaluation, previous)
        )
    return evaluation


def evaluation_payload(
    contract: Contract, evaluation: GateEvaluation, previous: GateEvaluation | None = None
) -> dict[str, Any]:
    return {
        "contract_id": contract.id,
        "vendor_id": contract.vendor_id,
        "decision": evaluation.decision,
        "previous_decision": previous.decision if previous else None,
        "checks": [
            {"code": c["code"], "status": c["status"], "message": c["message"]}
            for c in evaluation.checks
        ],
        "evaluated_at": evaluation.evaluated_at.isoformat(),
    }


def changes_since_previous(session: Session, contract_id: int) -> list[dict[str, str]]:
    """What changed between the last two evaluations, check by check."""
    rows = session.scalars(
        select(GateEvaluation)
        .where(GateEvaluation.contract_id == contract_id)
        .order_by(GateEvaluation.evaluated_at.desc(), GateEvaluation.id.desc())
        .limit(2)
    ).all()
    if len(rows) < 2:
        return []
    now, before = ({c["code"]: c for c in r.checks} for r in rows)
    changes = []
    if rows[0].decision != rows[1].decision:
        changes.append(
            {
                "code": "decision",
                "before": rows[1].decision.replace("_", " "),
                "after": rows[0].decision.replace("_", " "),
                "message": "The gate's overall decision changed.",
            }
        )
    for code, check in now.items():
        old = before.get(code)
        if old is None or old["status"] != check["status"] or old["message"] != check["message"]:
            changes.append(
                {
                    "code": code,
                    "before": old["status"] if old else "—",
                    "after": check["status"],
                    "message": check["message"],
                }
            )
    return changes


def change_status(
    session: Session, contract: Contract, new_status: str, user_id: int | None
) -> GateEvaluation | None:
    """Move a contract through its lifecycle; approval and activation need a passing gate."""
    target = ContractStatus(new_status)
    current = ContractStatus(contract.status)
    if target == current:
        return None
    if target not in ALLOWED_MOVES[current]:
        names = (current.value.replace("_", " "), target.value.replace("_", " "))
        raise GateError(f"A {names[0]} contract cannot become {names[1]}.", "status")
    evaluation = None
    if target in GATED_STATUSES:
        evaluation = evaluate_contract(session, contract, user_id, reason=f"status:{target.value}")
        if evaluation.decision == Decision.FAIL:
            raise GateBlocked(evaluation)
    contract.status = target.value
    session.flush()
    return evaluation


# --- exceptions -------------------------------------------------------------------------


def request_exception(
    session: Session,
    contract: Contract,
    *,
    checks: list[str],
    justification: str,
    expires_on: date,
    user_id: int,
) -> GateException:
    valid = {c.value for c in CheckCode}
    unknown = sorted(set(checks) - valid)
    if not checks or unknown:
        raise GateError(
            f"Name the failing checks to except ({', '.join(sorted(valid))}).", "checks"
        )
    if not justification.strip():
        raise GateError("A justification is required.", "justification")
    today = utcnow().date()
    if expires_on <= today:
        raise GateError("The expiry date must be in the future.", "expires_on")
    if expires_on > today + timedelta(days=366):
        raise GateError(
            "An exception lasts at most a year; request a new one when it ends.", "expires_on"
        )
    exception = GateException(
        contract_id=contract.id,
        checks=sorted(set(checks)),
        justification=justification.strip(),
        expires_on=expires_on,
        requested_by_id=user_id,
    )
    session.add(exception)
    session.flush()
    return exception


def decide_exception(
    session: Session, exception: GateException, *, approve: bool, user_id: int, comment: str | None
) -> None:
    if exception.status != "requested":
        raise GateError(f"This exception was already {exception.status}.")
    if approve and user_id == exception.requested_by_id:
        raise GateError("An exception must be approved by someone other than its requester.")
    exception.status = "approved" if approve else "rejected"
    exception.decided_by_id = user_id
    exception.decided_at = utcnow()
    exception.decision_comment = comment
    session.flush()


def exception_state(exception: GateException, today: date) -> str:
    if exception.status == "approved" and exception.expires_on < today:
        return "expired"
    return exception.status


# --- webhooks ---------------------------------------------------------------------------

BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=12),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
SIGNATURE_HEADER = "X-Vendor-Portal-Signature"


def create_webhook(session: Session, url: str) -> Webhook:
    if not url.startswith(("https://", "http://")):
        raise GateError(
            "The URL must start with https:// (or http:// for a local receiver).", "url"
        )
    webhook = Webhook(url=url, secret=secrets.token_urlsafe(32))
    session.add(webhook)
    session.flush()
    return webhook


def queue_event(session: Session, event: str, payload: dict[str, Any]) -> int:
    hooks = session.scalars(select(Webhook).where(Webhook.active)).all()
    for hook in hooks:
        session.add(WebhookDelivery(webhook_id=hook.id, event=event, payload=payload))
    session.flush()
    return len(hooks)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _post(url: str, body: bytes, headers: dict[str, str], timeout: float) -> int:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (admin-set URL)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def deliver_due(
    session: Session, now: datetime | None = None, timeout: float = 5.0
) -> dict[str, int]:
    """Send every delivery that is due; failures are retried with growing back-off."""
    now = now or utcnow()
    due = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= now)
        .order_by(WebhookDelivery.id)
    ).all()
    counts = {"delivered": 0, "retrying": 0, "failed": 0}
    for delivery in due:
        body = json.dumps(
            {"event": delivery.event, "delivery_id": delivery.id, "data": delivery.payload},
            sort_keys=True,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "vendor-portal-webhooks/1",
            "X-Vendor-Portal-Event": delivery.event,
            "X-Vendor-Portal-Delivery": str(delivery.id),
            SIGNATURE_HEADER: sign(delivery.webhook.secret, body),
        }
        delivery.attempts += 1
        try:
            status = _post(delivery.webhook.url, body, headers, timeout)
            delivery.last_status_code = status
            delivery.last_error = None if 200 <= status < 300 else f"HTTP {status}"
        except (OSError, ValueError) as exc:
            status = None
            delivery.last_status_code = None
            delivery.last_error = str(exc)[:500]
        if status is not None and 200 <= status < 300:
            delivery.status = "delivered"
            delivery.delivered_at = now
            counts["delivered"] += 1
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status = "failed"
            counts["failed"] += 1
        else:
            delivery.next_attempt_at = now + BACKOFF[delivery.attempts - 1]
            counts["retrying"] += 1
    session.flush()
    return counts
