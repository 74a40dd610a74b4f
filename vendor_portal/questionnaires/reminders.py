"""Reminders for `flask --app vendor_portal send-reminders` (run daily by cron).

- vendors, about an open questionnaire: 30, 7 and 1 day(s) before its due date, and once
  overdue (only the latest stage that applies: a questionnaire sent 5 days before its due date
  gets the 7-day reminder, not the 30-day one);
- reviewers, about submissions waiting for review (one digest, each submission once);
- vendors, about accepted evidence that expires within 30 days, within 7 days, and expired.

Each reminder is logged (ReminderLog) and never sent twice; a reminder that could not be
delivered is not logged, so the next run tries again. Services flush; the caller commits.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from vendor_portal import mail
from vendor_portal.auth.models import User
from vendor_portal.evidence.domain import ReviewStatus
from vendor_portal.evidence.models import EvidenceVersion
from vendor_portal.questionnaires.domain import ANSWERABLE_STATUSES, AssignmentStatus
from vendor_portal.questionnaires.models import Assignment, AssignmentRound, ReminderLog
from vendor_portal.security import Role
from vendor_portal.vendors.models import VendorContact

logger = logging.getLogger(__name__)

DUE_STAGES = ((30, "due_30"), (7, "due_7"), (1, "due_1"))
EXPIRY_STAGES = ((30, "expiry_30"), (7, "expiry_7"))


@dataclass
class ReminderReport:
    sent: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def describe(self) -> str:
        lines = [*self.sent, *(f"FAILED {line}" for line in self.failed)]
        lines.append(f"{len(self.sent)} reminder(s) sent, {len(self.failed)} failed.")
        return "\n".join(lines)


def due_stage(due: date, today: date) -> str | None:
    """The reminder stage that applies today, or None when the due date is far off."""
    days = (due - today).days
    if days < 0:
        return "overdue"
    for limit, kind in reversed(DUE_STAGES):
        if days <= limit:
            return kind
    return None


def expiry_stage(valid_until: date, today: date) -> str | None:
    days = (valid_until - today).days
    if days < 0:
        return "expired"
    for limit, kind in reversed(EXPIRY_STAGES):
        if days <= limit:
            return kind
    return None


def _already(session: Session, subject: str, subject_id: int, kind: str) -> bool:
    return (
        session.scalar(
            select(ReminderLog.id).where(
                ReminderLog.subject == subject,
                ReminderLog.subject_id == subject_id,
                ReminderLog.kind == kind,
            )
        )
        is not None
    )


def _vendor_addresses(session: Session, vendor_id: int, extra: list[str] = ()) -> list[str]:
    users = session.scalars(
        select(User.email).where(
            User.vendor_id == vendor_id, User.active, User.role == Role.VENDOR_USER.value
        )
    )
    leads = session.scalars(
        select(VendorContact.email).where(
            VendorContact.vendor_id == vendor_id, VendorContact.is_continuity_lead
        )
    )
    seen: dict[str, None] = {}
    for email in [*extra, *users, *leads]:
        seen.setdefault(email.lower(), None)
    return list(seen)


def _send(config: Mapping[str, Any], to: list[str], subject: str, text: str) -> str | None:
    """None when sent (or logged without SMTP), else the error."""
    try:
        mail.send(config, to, subject, text)
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("Reminder to %s failed: %s", ", ".join(to), exc)
        return str(exc)
    return None


def send_reminders(
    session: Session,
    config: Mapping[str, Any],
    today: date,
    link: Callable[[str, int], str],
) -> ReminderReport:
    """Send every reminder due today; `link(kind, id)` gives the absolute URL to point to
    ("answer" for an assignment, "review" for an assignment, "evidence" for a version)."""
    report = ReminderReport()
    _questionnaire_reminders(session, config, today, link, report)
    _review_reminders(session, config, link, report)
    _expiry_reminders(session, config, today, link, report)
    return report


def _log(session: Session, subject: str, subject_id: int, kind: str, to: list[str]) -> None:
    session.add(
        ReminderLog(subject=subject, subject_id=subject_id, kind=kind, recipients=", ".join(to))
    )
    session.flush()


def _questionnaire_reminders(session, config, today, link, report) -> None:
    assignments = session.scalars(
        select(Assignment)
        .options(selectinload(Assignment.recipients), selectinload(Assignment.vendor))
        .where(
            Assignment.status.in_([s.value for s in ANSWERABLE_STATUSES]),
            Assignment.due_date <= today + timedelta(days=DUE_STAGES[0][0]),
        )
        .order_by(Assignment.due_date, Assignment.id)
    )
    for assignment in assignments:
        kind = due_stage(assignment.due_date, today)
        if kind is None or _already(session, "assignment", assignment.id, kind):
            continue
        to = _vendor_addresses(
            session, assignment.vendor_id, [r.email for r in assignment.recipients]
        )
        if not to:
            continue
        name = assignment.version.template.name
        days = (assignment.due_date - today).days
        if kind == "overdue":
            subject = f"Overdue: {name} (was due {assignment.due_date.isoformat()})"
            when = f"was due on {assignment.due_date:%d %B %Y}, {-days} day(s) ago"
        else:
            subject = f"Reminder: {name} is due in {days} day(s)"
            when = f"is due on {assignment.due_date:%d %B %Y}"
        text = "\n".join(
            [
                "Hello,",
                "",
                f'Our questionnaire "{name}" for {assignment.vendor.name} {when}. '
                f"{assignment.progress_percent}% of it is answered so far.",
                "",
                f"Continue where you left off: {link('answer', assignment.id)}",
                "",
                "Your answers are saved as you go; submit when you are done.",
            ]
        )
        error = _send(config, to, subject, text)
        line = (
            f"{kind}: {assignment.vendor.name}, {name} (assignment {assignment.id}) "
            f"-> {', '.join(to)}"
        )
        if error:
            report.failed.append(f"{line} ({error})")
            continue
        _log(session, "assignment", assignment.id, kind, to)
        report.sent.append(line)


def _review_reminders(session, config, link, report) -> None:
    waiting = list(
        session.scalars(
            select(AssignmentRound)
            .join(AssignmentRound.assignment)
            .where(
                Assignment.status == AssignmentStatus.SUBMITTED.value,
                AssignmentRound.number == Assignment.current_round,
                AssignmentRound.submitted_at.is_not(None),
            )
            .order_by(AssignmentRound.submitted_at)
        )
    )
    fresh = [r for r in waiting if not _already(session, "round", r.id, "review")]
    if not fresh:
        return
    reviewers = list(
        session.scalars(
            select(User.email).where(User.active, User.role == Role.VENDOR_MANAGER.value)
        )
    ) or list(session.scalars(select(User.email).where(User.active, User.role == Role.ADMIN.value)))
    if not reviewers:
        return
    lines = [
        "Hello,",
        "",
        f"{len(fresh)} questionnaire(s) submitted by vendors are waiting for your review:",
        "",
    ]
    for round_ in fresh:
        a = round_.assignment
        lines.append(
            f"- {a.vendor.name}: {a.version.template.name}, submitted "
            f"{round_.submitted_at:%Y-%m-%d} (round {round_.number}) {link('review', a.id)}"
        )
    lines += ["", "Accept each one, or return it with comments on the questions to change."]
    error = _send(
        config, reviewers, f"{len(fresh)} questionnaire(s) waiting for review", "\n".join(lines)
    )
    if error:
        report.failed.append(f"review digest -> {', '.join(reviewers)} ({error})")
        return
    for round_ in fresh:
        _log(session, "round", round_.id, "review", reviewers)
    report.sent.append(f"review: {len(fresh)} submission(s) -> {', '.join(reviewers)}")


def _expiry_reminders(session, config, today, link, report) -> None:
    versions = session.scalars(
        select(EvidenceVersion)
        .options(selectinload(EvidenceVersion.item), selectinload(EvidenceVersion.vendor))
        .where(
            EvidenceVersion.is_latest,
            EvidenceVersion.status == ReviewStatus.ACCEPTED.value,
            EvidenceVersion.valid_until.is_not(None),
            EvidenceVersion.valid_until <= today + timedelta(days=EXPIRY_STAGES[0][0]),
        )
        .order_by(EvidenceVersion.valid_until, EvidenceVersion.id)
    )
    for version in versions:
        kind = expiry_stage(version.valid_until, today)
        if kind is None or _already(session, "evidence_version", version.id, kind):
            continue
        # An expired certificate is reminded once, when it has just expired; older ones were
        # already handled (or predate these reminders).
        if kind == "expired" and (today - version.valid_until).days > 30:
            continue
        to = _vendor_addresses(session, version.vendor_id)
        if not to:
            continue
        title = version.item.title
        if kind == "expired":
            subject = f"Expired: {title} (valid until {version.valid_until.isoformat()})"
            opening = f'Your {version.item.type_label.lower()} "{title}" expired on'
        else:
            subject = f"Renew before {version.valid_until.isoformat()}: {title}"
            opening = f'Your {version.item.type_label.lower()} "{title}" expires on'
        text = "\n".join(
            [
                "Hello,",
                "",
                f"{opening} {version.valid_until:%d %B %Y}.",
                "Please upload the renewed document as a new version, so that our records "
                "stay current:",
                link("evidence", version.item_id),
            ]
        )
        error = _send(config, to, subject, text)
        line = f"{kind}: {version.vendor.name}, {title} (version {version.id}) -> {', '.join(to)}"
        if error:
            report.failed.append(f"{line} ({error})")
            continue
        _log(session, "evidence_version", version.id, kind, to)
        report.sent.append(line)
