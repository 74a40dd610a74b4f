from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.questionnaires.domain import (
    AssignmentStatus,
    Choice,
    Condition,
    HoursMetric,
    QuestionSpec,
    QuestionType,
    SectionSpec,
    TemplateSpec,
)

if TYPE_CHECKING:
    from vendor_portal.auth.models import User
    from vendor_portal.evidence.models import EvidenceVersion
    from vendor_portal.vendors.models import Vendor, VendorContact


class QuestionnaireTemplate(db.Model):
    """A questionnaire and its versions; assignments are sent from a published version."""

    __tablename__ = "questionnaire_template"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    archived_at: Mapped[datetime | None]

    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template", order_by="TemplateVersion.number"
    )

    def latest_published(self) -> TemplateVersion | None:
        published = [v for v in self.versions if v.status == "published"]
        return published[-1] if published else None

    def draft(self) -> TemplateVersion | None:
        return next((v for v in self.versions if v.status == "draft"), None)


class TemplateVersion(db.Model):
    """One version of a template. A published version never changes."""

    __tablename__ = "template_version"
    __table_args__ = (UniqueConstraint("template_id", "number", name="uq_template_version_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_template.id"), index=True)
    number: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), default="draft")  # draft | published
    source: Mapped[str | None] = mapped_column(String(200))  # "import cisa.csv", "copy of v1"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    published_at: Mapped[datetime | None]
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    template: Mapped[QuestionnaireTemplate] = relationship(back_populates="versions")
    sections: Mapped[list[TemplateSection]] = relationship(
        back_populates="version", order_by="TemplateSection.position", cascade="all, delete-orphan"
    )
    questions: Mapped[list[TemplateQuestion]] = relationship(
        back_populates="version",
        order_by="TemplateQuestion.position",
        cascade="all, delete-orphan",
        overlaps="section,questions",
    )

    @property
    def is_draft(self) -> bool:
        return self.status == "draft"

    @property
    def label(self) -> str:
        return f"{self.template.name} v{self.number}"

    def spec(self) -> TemplateSpec:
        """The version as plain data for the domain rules."""
        by_section: dict[int, list[QuestionSpec]] = {s.id: [] for s in self.sections}
        for question in sorted(self.questions, key=lambda q: (q.section.position, q.position)):
            by_section[question.section_id].append(question.spec())
        return TemplateSpec(
            name=self.template.name,
            description=self.template.description or "",
            sections=tuple(
                SectionSpec(s.title, s.description or "", tuple(by_section[s.id]))
                for s in self.sections
            ),
        )

    def ordered_questions(self) -> list[TemplateQuestion]:
        return sorted(self.questions, key=lambda q: (q.section.position, q.position))


class TemplateSection(db.Model):
    __tablename__ = "template_section"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("template_version.id"), index=True)
    position: Mapped[int]
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)

    version: Mapped[TemplateVersion] = relationship(back_populates="sections")
    questions: Mapped[list[TemplateQuestion]] = relationship(
        back_populates="section", order_by="TemplateQuestion.position", overlaps="questions,version"
    )


class TemplateQuestion(db.Model):
    __tablename__ = "template_question"
    __table_args__ = (UniqueConstraint("version_id", "code", name="uq_template_question_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("template_version.id"), index=True)
    section_id: Mapped[int] = mapped_column(ForeignKey("template_section.id"), index=True)
    position: Mapped[int]
    code: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    help_text: Mapped[str | None] = mapped_column(Text)
    qtype: Mapped[str] = mapped_column(String(32))
    required: Mapped[bool] = mapped_column(default=False)
    weight: Mapped[float] = mapped_column(default=1.0)
    critical: Mapped[bool] = mapped_column(default=False)
    # [{"value", "label", "score"}]; score null = not applicable
    choices: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    show_if_code: Mapped[str | None] = mapped_column(String(64))
    show_if_values: Mapped[list[str]] = mapped_column(JSON, default=list)
    hours_metric: Mapped[str | None] = mapped_column(String(8))
    max_value: Mapped[float | None]
    evidence_type: Mapped[str | None] = mapped_column(String(32))

    version: Mapped[TemplateVersion] = relationship(
        back_populates="questions", overlaps="questions,section"
    )
    section: Mapped[TemplateSection] = relationship(
        back_populates="questions", overlaps="questions,version"
    )

    def spec(self) -> QuestionSpec:
        return QuestionSpec(
            code=self.code,
            text=self.text,
            qtype=QuestionType(self.qtype),
            help_text=self.help_text or "",
            required=self.required,
            weight=self.weight,
            critical=self.critical,
            choices=tuple(Choice(c["value"], c["label"], c.get("score")) for c in self.choices),
            show_if=Condition(self.show_if_code, tuple(self.show_if_values or ()))
            if self.show_if_code
            else None,
            hours_metric=HoursMetric(self.hours_metric) if self.hours_metric else None,
            max_value=self.max_value,
            evidence_type=self.evidence_type,
        )

    @property
    def type_label(self) -> str:
        return QuestionType(self.qtype).label


class Assignment(db.Model):
    """A template version sent to a vendor, answered over one or more rounds."""

    __tablename__ = "questionnaire_assignment"
    __table_args__ = (Index("ix_questionnaire_assignment_status_due", "status", "due_date"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("template_version.id"), index=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_template.id"), index=True)
    due_date: Mapped[date]
    status: Mapped[str] = mapped_column(String(16), default=AssignmentStatus.SENT.value)
    current_round: Mapped[int] = mapped_column(default=1)
    progress_percent: Mapped[int] = mapped_column(default=0)
    score: Mapped[float | None]
    red_flag_count: Mapped[int] = mapped_column(default=0)
    # The assignment this one reassesses (same vendor and template, an earlier round of it).
    previous_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaire_assignment.id"))
    message: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    submitted_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    accepted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    cancelled_at: Mapped[datetime | None]

    vendor: Mapped[Vendor] = relationship()
    version: Mapped[TemplateVersion] = relationship()
    template: Mapped[QuestionnaireTemplate] = relationship()
    previous: Mapped[Assignment | None] = relationship(remote_side=[id])
    rounds: Mapped[list[AssignmentRound]] = relationship(
        back_populates="assignment",
        order_by="AssignmentRound.number",
        foreign_keys="AssignmentRound.assignment_id",
    )
    recipients: Mapped[list[AssignmentRecipient]] = relationship(
        back_populates="assignment", cascade="all, delete-orphan"
    )

    @property
    def status_label(self) -> str:
        return AssignmentStatus(self.status).label

    @property
    def is_open(self) -> bool:
        return self.status in {"sent", "in_progress", "submitted", "returned"}

    @property
    def answerable(self) -> bool:
        return self.status in {"sent", "in_progress", "returned"}

    def round(self, number: int | None = None) -> AssignmentRound:
        number = number or self.current_round
        return next(r for r in self.rounds if r.number == number)


class AssignmentRecipient(db.Model):
    """A vendor contact asked to answer, and when the invitation went out."""

    __tablename__ = "questionnaire_recipient"
    __table_args__ = (
        UniqueConstraint("assignment_id", "contact_id", name="uq_questionnaire_recipient_contact"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_assignment.id"), index=True
    )
    contact_id: Mapped[int | None] = mapped_column(
        ForeignKey("vendor_contact.id", ondelete="SET NULL")
    )
    email: Mapped[str] = mapped_column(String(320))
    name: Mapped[str] = mapped_column(String(200))
    invited_at: Mapped[datetime | None]
    invite_error: Mapped[str | None] = mapped_column(String(500))

    assignment: Mapped[Assignment] = relationship(back_populates="recipients")
    contact: Mapped[VendorContact | None] = relationship()


class AssignmentRound(db.Model):
    """One pass of answering and review. Submitted rounds are never changed again."""

    __tablename__ = "questionnaire_round"
    __table_args__ = (UniqueConstraint("assignment_id", "number", name="uq_questionnaire_round"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(
        ForeignKey("questionnaire_assignment.id"), index=True
    )
    number: Mapped[int]
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    reviewed_at: Mapped[datetime | None]
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    decision: Mapped[str | None] = mapped_column(String(16))  # accepted | returned
    review_note: Mapped[str | None] = mapped_column(Text)
    score: Mapped[float | None]
    # ScoreCard.as_json(): {"total", "sections": [...], "red_flags": [...]}
    scorecard: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    prefilled_from_id: Mapped[int | None] = mapped_column(ForeignKey("questionnaire_assignment.id"))

    assignment: Mapped[Assignment] = relationship(
        back_populates="rounds", foreign_keys=[assignment_id]
    )
    answers: Mapped[list[Answer]] = relationship(back_populates="round")
    comments: Mapped[list[ReviewComment]] = relationship(
        back_populates="round", order_by="ReviewComment.id"
    )
    submitted_by: Mapped[User | None] = relationship(foreign_keys=[submitted_by_id])
    reviewed_by: Mapped[User | None] = relationship(foreign_keys=[reviewed_by_id])

    @property
    def locked(self) -> bool:
        return self.submitted_at is not None


class Answer(db.Model):
    """A saved answer (draft until its round is submitted)."""

    __tablename__ = "questionnaire_answer"
    __table_args__ = (UniqueConstraint("round_id", "question_id", name="uq_questionnaire_answer"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_round.id"), index=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("template_question.id"), index=True)
    value: Mapped[Any] = mapped_column(JSON, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    round: Mapped[AssignmentRound] = relationship(back_populates="answers")
    question: Mapped[TemplateQuestion] = relationship()
    evidence: Mapped[list[EvidenceVersion]] = relationship(
        secondary="questionnaire_answer_evidence", order_by="EvidenceVersion.id"
    )


class AnswerEvidence(db.Model):
    __tablename__ = "questionnaire_answer_evidence"

    answer_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_answer.id"), primary_key=True)
    evidence_version_id: Mapped[int] = mapped_column(
        ForeignKey("evidence_version.id"), primary_key=True, index=True
    )


class ReviewComment(db.Model):
    """A reviewer's comment on one question of a submitted round."""

    __tablename__ = "questionnaire_comment"

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_round.id"), index=True)
    question_id: Mapped[int | None] = mapped_column(ForeignKey("template_question.id"))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    round: Mapped[AssignmentRound] = relationship(back_populates="comments")
    question: Mapped[TemplateQuestion | None] = relationship()
    author: Mapped[User | None] = relationship()


class ReassessmentCadence(db.Model):
    """How often vendors of a tier are reassessed; months null = no automatic reassessment."""

    __tablename__ = "reassessment_cadence"

    tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    months: Mapped[int | None]
    due_days: Mapped[int] = mapped_column(default=30)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))


class ReminderLog(db.Model):
    """A reminder that went out, so that `send-reminders` never sends the same one twice."""

    __tablename__ = "reminder_log"
    __table_args__ = (
        UniqueConstraint("subject", "subject_id", "kind", name="uq_reminder_log_subject_kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # "assignment", "round" (a submission waiting for review) or "evidence_version"
    subject: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int]
    kind: Mapped[str] = mapped_column(String(32))  # due_30, due_7, due_1, overdue, review, ...
    recipients: Mapped[str] = mapped_column(Text)
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
