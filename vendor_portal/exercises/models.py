from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import Boolean, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from vendor_portal.db import utcnow
from vendor_portal.exercises.domain import (
    ExerciseType,
    Outcome,
    TimelineKind,
    VendorResponse,
    Window,
    local_time,
)
from vendor_portal.extensions import db

if TYPE_CHECKING:
    from vendor_portal.auth.models import User
    from vendor_portal.vendors.models import Vendor, VendorContact, VendorService


class Scenario(db.Model):
    """A scenario of the library: shipped ones carry a `code`, others are added by managers."""

    __tablename__ = "exercise_scenario"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str | None] = mapped_column(String(50), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    injects: Mapped[str | None] = mapped_column(Text)  # suggested injects, one per line
    archived_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Exercise(db.Model):
    """A joint continuity exercise with one or more vendors.

    Times are stored in UTC with the IANA zone it was planned in; `uid` and `sequence` are
    the iCalendar identity and revision of the event sent to everyone."""

    __tablename__ = "exercise"
    __table_args__ = (Index("ix_exercise_starts_at_ends_at", "starts_at", "ends_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    uid: Mapped[str] = mapped_column(String(100), unique=True)
    sequence: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(String(200))
    exercise_type: Mapped[str] = mapped_column(String(20))
    scenario_id: Mapped[int | None] = mapped_column(ForeignKey("exercise_scenario.id"))
    # The scenario as played in this exercise (a copy: later library edits do not change it).
    scenario_text: Mapped[str | None] = mapped_column(Text)
    objectives: Mapped[str] = mapped_column(Text)
    location: Mapped[str | None] = mapped_column(String(300))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    timezone: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default="scheduled", index=True)
    organizer_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    outcome: Mapped[str | None] = mapped_column(String(16))
    lessons_learned: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))

    scenario: Mapped[Scenario | None] = relationship()
    organizer: Mapped[User | None] = relationship(foreign_keys=[organizer_id])
    completed_by: Mapped[User | None] = relationship(foreign_keys=[completed_by_id])
    vendors: Mapped[list[ExerciseVendor]] = relationship(
        back_populates="exercise", cascade="all, delete-orphan", order_by="ExerciseVendor.id"
    )
    contacts: Mapped[list[ExerciseContact]] = relationship(
        back_populates="exercise", cascade="all, delete-orphan", order_by="ExerciseContact.id"
    )
    participants: Mapped[list[ExerciseParticipant]] = relationship(
        back_populates="exercise", cascade="all, delete-orphan", order_by="ExerciseParticipant.id"
    )
    timeline: Mapped[list[TimelineEntry]] = relationship(
        back_populates="exercise",
        cascade="all, delete-orphan",
        order_by=lambda: (TimelineEntry.occurred_at, TimelineEntry.id),
    )
    results: Mapped[list[ServiceResult]] = relationship(
        back_populates="exercise", cascade="all, delete-orphan", order_by="ServiceResult.id"
    )

    @property
    def window(self) -> Window:
        return Window(self.starts_at, self.ends_at)

    @property
    def local_start(self) -> datetime:
        return local_time(self.starts_at, self.timezone)

    @property
    def local_end(self) -> datetime:
        return local_time(self.ends_at, self.timezone)

    @property
    def type_label(self) -> str:
        return ExerciseType(self.exercise_type).label

    @property
    def outcome_label(self) -> str:
        return Outcome(self.outcome).label if self.outcome else ""

    @property
    def vendor_ids(self) -> list[int]:
        return [v.vendor_id for v in self.vendors]

    def vendor_link(self, vendor_id: int) -> ExerciseVendor | None:
        return next((v for v in self.vendors if v.vendor_id == vendor_id), None)


class ExerciseVendor(db.Model):
    """A vendor invited to an exercise, and its answer."""

    __tablename__ = "exercise_vendor"
    __table_args__ = (UniqueConstraint("exercise_id", "vendor_id", name="uq_exercise_vendor"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"))
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    response: Mapped[str] = mapped_column(String(16), default="invited")
    responded_at: Mapped[datetime | None]
    responded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    response_comment: Mapped[str | None] = mapped_column(Text)
    proposed_starts_at: Mapped[datetime | None]
    proposed_ends_at: Mapped[datetime | None]

    exercise: Mapped[Exercise] = relationship(back_populates="vendors")
    vendor: Mapped[Vendor] = relationship()
    responded_by: Mapped[User | None] = relationship()

    @property
    def response_label(self) -> str:
        return VendorResponse(self.response).label


class ExerciseContact(db.Model):
    """A vendor contact taking part (must belong to one of the invited vendors)."""

    __tablename__ = "exercise_contact"
    __table_args__ = (UniqueConstraint("exercise_id", "contact_id", name="uq_exercise_contact"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(
        ForeignKey("vendor_contact.id", ondelete="CASCADE"), index=True
    )
    attended: Mapped[bool | None] = mapped_column(Boolean)

    exercise: Mapped[Exercise] = relationship(back_populates="contacts")
    contact: Mapped[VendorContact] = relationship()


class ExerciseParticipant(db.Model):
    """An internal participant (a user of the organisation)."""

    __tablename__ = "exercise_participant"
    __table_args__ = (UniqueConstraint("exercise_id", "user_id", name="uq_exercise_participant"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    attended: Mapped[bool | None] = mapped_column(Boolean)

    exercise: Mapped[Exercise] = relationship(back_populates="participants")
    user: Mapped[User] = relationship()


class TimelineEntry(db.Model):
    """An inject, a response, a decision or an observation during the exercise."""

    __tablename__ = "exercise_timeline_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    exercise_id: Mapped[int] = mapped_column(
        ForeignKey("exercise.id", ondelete="CASCADE"), index=True
    )
    occurred_at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str | None] = mapped_column(String(200))  # who injected / responded
    vendor_id: Mapped[int | None] = mapped_column(ForeignKey("vendor.id"))
    description: Mapped[str] = mapped_column(Text)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    exercise: Mapped[Exercise] = relationship(back_populates="timeline")
    vendor: Mapped[Vendor | None] = relationship()

    @property
    def kind_label(self) -> str:
        return TimelineKind(self.kind).label


class ServiceResult(db.Model):
    """RTO achieved for a vendor service exercised, against the vendor's attested target."""

    __tablename__ = "exercise_service_result"
    __table_args__ = (
        UniqueConstraint("exercise_id", "vendor_service_id", name="uq_exercise_service_result"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    exercise_id: Mapped[int] = mapped_column(ForeignKey("exercise.id", ondelete="CASCADE"))
    vendor_service_id: Mapped[int] = mapped_column(ForeignKey("vendor_service.id"), index=True)
    target_rto_hours: Mapped[float | None]  # the attested RTO when the result was recorded
    achieved_rto_hours: Mapped[float]
    notes: Mapped[str | None] = mapped_column(Text)

    exercise: Mapped[Exercise] = relationship(back_populates="results")
    vendor_service: Mapped[VendorService] = relationship()

    @property
    def met(self) -> bool | None:
        from vendor_portal.exercises.domain import rto_met

        return rto_met(self.target_rto_hours, self.achieved_rto_hours)


class VendorBlackout(db.Model):
    """Days a vendor declared it cannot take part in exercises (change freezes, peaks)."""

    __tablename__ = "vendor_blackout"

    id: Mapped[int] = mapped_column(primary_key=True)
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    starts_on: Mapped[date]
    ends_on: Mapped[date]
    reason: Mapped[str | None] = mapped_column(String(300))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    vendor: Mapped[Vendor] = relationship()


class CalendarFeedToken(db.Model):
    """A secret for a calendar app's subscription URL. Only its SHA-256 is stored."""

    __tablename__ = "exercise_feed_token"
    __audit_redact__ = ("token_hash",)
    __audit_ignore__ = ("last_used_at",)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class CoveragePolicy(db.Model):
    """Days within which a vendor of a tier must have completed a joint exercise."""

    __tablename__ = "exercise_coverage_policy"

    tier: Mapped[str] = mapped_column(String(16), primary_key=True)
    max_age_days: Mapped[int | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
