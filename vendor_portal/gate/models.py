from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vendor_portal.db import utcnow
from vendor_portal.extensions import db

if TYPE_CHECKING:
    from vendor_portal.auth.models import User
    from vendor_portal.contracts.models import Contract


class GatePolicyRecord(db.Model):
    """What the gate requires of a vendor tier; edited by admins."""

    __tablename__ = "gate_policy"

    tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    required_evidence: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)  # type -> days
    questionnaire_min_score: Mapped[float | None]
    questionnaire_max_age_days: Mapped[int] = mapped_column(default=365)
    exercise_required: Mapped[bool] = mapped_column(default=False)
    exercise_max_age_days: Mapped[int] = mapped_column(default=365)
    blocking_severities: Mapped[list[str]] = mapped_column(JSON, default=list)
    required_clauses: Mapped[list[str]] = mapped_column(JSON, default=list)  # obligation codes
    subcontracting_review_required: Mapped[bool] = mapped_column(default=False)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class GateEvaluation(db.Model):
    """Every evaluation is kept: who asked, when, the decision and each check."""

    __tablename__ = "gate_evaluation"
    __table_args__ = (Index("ix_gate_evaluation_contract", "contract_id", "evaluated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"))
    evaluated_at: Mapped[datetime] = mapped_column(default=utcnow)
    evaluated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reason: Mapped[str] = mapped_column(String(64), default="requested")
    decision: Mapped[str] = mapped_column(String(32))
    checks: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    exception_ids: Mapped[list[int]] = mapped_column(JSON, default=list)

    evaluated_by: Mapped[User | None] = relationship()


class GateException(db.Model):
    """An approved, unexpired exception lets named failing checks pass the gate."""

    __tablename__ = "gate_exception"

    id: Mapped[int] = mapped_column(primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contract.id"), index=True)
    checks: Mapped[list[str]] = mapped_column(JSON)
    justification: Mapped[str] = mapped_column(Text)
    expires_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default="requested")
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("user.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decided_at: Mapped[datetime | None]
    decision_comment: Mapped[str | None] = mapped_column(Text)

    contract: Mapped[Contract] = relationship()
    requested_by: Mapped[User] = relationship(foreign_keys=[requested_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])


class Webhook(db.Model):
    """An endpoint told about gate decision changes, signed with its own secret."""

    __tablename__ = "webhook"
    __audit_redact__ = ("secret",)

    id: Mapped[int] = mapped_column(primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebhookDelivery(db.Model):
    """One event for one endpoint, with every attempt's outcome."""

    __tablename__ = "webhook_delivery"
    __audit__ = False  # delivery bookkeeping, not a change people make
    __table_args__ = (Index("ix_webhook_delivery_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id"))
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, delivered, failed
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None]

    webhook: Mapped[Webhook] = relationship()
