"""Questionnaire operations: templates, assignments, answers, review. Services flush; the
request or CLI commits. Scoring, conditions and validation are in domain.py.

For other features (the procurement gate): `latest_accepted_questionnaire(session, vendor_id)`.
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm import Session, contains_eager, selectinload

from vendor_portal import mail
from vendor_portal.db import utcnow
from vendor_portal.evidence.domain import EvidenceType
from vendor_portal.evidence.models import EvidenceVersion
from vendor_portal.questionnaires import domain
from vendor_portal.questionnaires.default_template import DEFAULT_TEMPLATE
from vendor_portal.questionnaires.domain import (
    ANSWERABLE_STATUSES,
    GENERAL,
    OPEN_STATUSES,
    AnswerError,
    AssignmentStatus,
    QuestionSpec,
    QuestionType,
    TemplateSpec,
)
from vendor_portal.questionnaires.models import (
    Answer,
    Assignment,
    AssignmentRecipient,
    AssignmentRound,
    QuestionnaireTemplate,
    ReassessmentCadence,
    ReviewComment,
    TemplateQuestion,
    TemplateSection,
    TemplateVersion,
)
from vendor_portal.vendors import services as vendor_services
from vendor_portal.vendors.domain import Tier
from vendor_portal.vendors.models import Vendor, VendorContact, VendorService

logger = logging.getLogger(__name__)
EVIDENCE_TYPES = frozenset(t.value for t in EvidenceType)


class QuestionnaireError(ValueError):
    """An operation that cannot be done; `message` says why, `field` where (if a form field)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class TemplateInvalid(QuestionnaireError):
    def __init__(self, problems: list[str]) -> None:
        super().__init__("The template cannot be published yet: " + " ".join(problems))
        self.problems = problems


class SubmitBlocked(QuestionnaireError):
    def __init__(self, problems: dict[str, str]) -> None:
        super().__init__(f"{len(problems)} question(s) still need an answer before you can submit.")
        self.problems = problems


def _user_id(user: Any) -> int | None:
    return getattr(user, "id", None)


# --- templates -----------------------------------------------------------------------------


def template_by_name(session: Session, name: str) -> QuestionnaireTemplate | None:
    return session.scalar(
        select(QuestionnaireTemplate).where(func.lower(QuestionnaireTemplate.name) == name.lower())
    )


def create_template(
    session: Session, name: str, description: str | None, user: Any
) -> TemplateVersion:
    name = name.strip()
    if template_by_name(session, name) is not None:
        raise QuestionnaireError(f"A template named {name!r} already exists.", "name")
    template = QuestionnaireTemplate(
        name=name, description=description or None, created_by_id=_user_id(user)
    )
    session.add(template)
    version = TemplateVersion(
        template=template, number=1, status="draft", source="new", created_by_id=_user_id(user)
    )
    session.add(version)
    session.flush()
    return version


def _require_draft(version: TemplateVersion) -> None:
    if not version.is_draft:
        raise QuestionnaireError(
            f"Version {version.number} is published and never changes; create a new draft "
            "version to edit it."
        )


def _question_fields(spec: QuestionSpec) -> dict[str, Any]:
    return {
        "code": spec.code,
        "text": spec.text,
        "help_text": spec.help_text or None,
        "qtype": spec.qtype.value,
        "required": spec.required,
        "weight": spec.weight,
        "critical": spec.critical,
        "choices": [{"value": c.value, "label": c.label, "score": c.score} for c in spec.choices],
        "show_if_code": spec.show_if.question if spec.show_if else None,
        "show_if_values": list(spec.show_if.values) if spec.show_if else [],
        "hours_metric": spec.hours_metric.value if spec.hours_metric else None,
        "max_value": spec.max_value,
        "evidence_type": spec.evidence_type,
    }


def _fill_version(session: Session, version: TemplateVersion, spec: TemplateSpec) -> None:
    for s_index, section_spec in enumerate(spec.sections):
        section = TemplateSection(
            version=version,
            position=s_index,
            title=section_spec.title,
            description=section_spec.description or None,
        )
        session.add(section)
        for q_index, question_spec in enumerate(section_spec.questions):
            session.add(
                TemplateQuestion(
                    version=version,
                    section=section,
                    position=q_index,
                    **_question_fields(question_spec),
                )
            )
    session.flush()


def version_from_spec(
    session: Session,
    spec: TemplateSpec,
    user: Any,
    source: str,
    template: QuestionnaireTemplate | None = None,
) -> TemplateVersion:
    """A new draft version holding `spec`: of `template`, or of a new template named spec.name."""
    if template is None:
        if template_by_name(session, spec.name) is not None:
            raise QuestionnaireError(
                f"A template named {spec.name!r} already exists; choose another name or import "
                "it as a new version of that template.",
                "name",
            )
        template = QuestionnaireTemplate(
            name=spec.name, description=spec.description or None, created_by_id=_user_id(user)
        )
        session.add(template)
        number = 1
    else:
        if template.draft() is not None:
            raise QuestionnaireError(
                f"{template.name} already has a draft (version {template.draft().number}); "
                "publish or discard it first.",
                "template_id",
            )
        number = max((v.number for v in template.versions), default=0) + 1
    version = TemplateVersion(
        template=template,
        number=number,
        status="draft",
        source=source[:200],
        created_by_id=_user_id(user),
    )
    session.add(version)
    session.flush()
    _fill_version(session, version, spec)
    session.refresh(version)
    return version


def new_draft(session: Session, version: TemplateVersion, user: Any) -> TemplateVersion:
    """Editing a published version: a new draft copying it (the published one stays as is)."""
    existing = version.template.draft()
    if existing is not None:
        return existing
    return version_from_spec(
        session, version.spec(), user, f"copy of v{version.number}", version.template
    )


def publish(session: Session, version: TemplateVersion, user: Any) -> TemplateVersion:
    _require_draft(version)
    problems = domain.template_problems(version.spec(), EVIDENCE_TYPES)
    if problems:
        raise TemplateInvalid(problems)
    version.status = "published"
    version.published_at = utcnow()
    version.published_by_id = _user_id(user)
    session.flush()
    return version


def discard_draft(session: Session, version: TemplateVersion) -> QuestionnaireTemplate:
    _require_draft(version)
    template = version.template
    for question in list(version.questions):
        session.delete(question)
    session.flush()
    for section in list(version.sections):
        session.delete(section)
    session.delete(version)
    session.flush()
    if not template.versions:
        session.delete(template)
        session.flush()
    return template


def install_default_template(session: Session, user: Any = None) -> tuple[TemplateVersion, bool]:
    """Our "Business continuity due diligence" template, published; (version, created)."""
    template = template_by_name(session, DEFAULT_TEMPLATE.name)
    if template is not None:
        published = template.latest_published()
        if published is not None:
            return published, False
        draft = template.draft()
        if draft is not None:
            return publish(session, draft, user), True
    version = version_from_spec(session, DEFAULT_TEMPLATE, user, "default template", template)
    return publish(session, version, user), True


def add_section(
    session: Session, version: TemplateVersion, title: str, description: str | None
) -> TemplateSection:
    _require_draft(version)
    section = TemplateSection(
        version=version,
        position=max((s.position for s in version.sections), default=-1) + 1,
        title=title.strip(),
        description=description or None,
    )
    session.add(section)
    session.flush()
    return section


def update_section(
    session: Session, section: TemplateSection, title: str, description: str | None
) -> None:
    _require_draft(section.version)
    section.title = title.strip()
    section.description = description or None
    session.flush()


def delete_section(session: Session, section: TemplateSection) -> None:
    _require_draft(section.version)
    if section.questions:
        raise QuestionnaireError(
            f"Section {section.title!r} still has {len(section.questions)} question(s); move or "
            "delete them first."
        )
    version = section.version
    session.delete(section)
    session.flush()
    _renumber(version.sections)
    session.flush()


def _renumber(items: list[Any]) -> None:
    for index, item in enumerate(sorted(items, key=lambda i: i.position)):
        item.position = index


def move(session: Session, item: TemplateSection | TemplateQuestion, offset: int) -> None:
    """Move a section or a question up (-1) or down (+1) among its siblings."""
    _require_draft(item.version)
    siblings = (
        item.version.sections if isinstance(item, TemplateSection) else item.section.questions
    )
    ordered = sorted(siblings, key=lambda i: i.position)
    index = ordered.index(item)
    target = index + offset
    if 0 <= target < len(ordered):
        ordered[index], ordered[target] = ordered[target], ordered[index]
        # two steps so that no unique position is ever taken twice
        for position, sibling in enumerate(ordered):
            sibling.position = position
    session.flush()


def _earlier_specs(
    version: TemplateVersion, section: TemplateSection, position: int, exclude_id: int | None
) -> dict[str, QuestionSpec]:
    earlier: dict[str, QuestionSpec] = {}
    for q in version.ordered_questions():
        if q.id == exclude_id:
            continue
        if (q.section.position, q.position) < (section.position, position):
            earlier[q.code] = q.spec()
    return earlier


def save_question(
    session: Session,
    version: TemplateVersion,
    section: TemplateSection,
    spec: QuestionSpec,
    question: TemplateQuestion | None = None,
) -> TemplateQuestion:
    """Add (question None) or change a question of a draft; QuestionnaireError names the field."""
    _require_draft(version)
    if section.version_id != version.id:
        raise QuestionnaireError("That section belongs to another version.", "section_id")
    if question is None or question.section_id != section.id:
        position = max((q.position for q in section.questions if q is not question), default=-1) + 1
    else:
        position = question.position
    earlier = _earlier_specs(version, section, position, question.id if question else None)
    others = {q.code for q in version.questions if q is not question}
    problems = domain.question_problems(spec, earlier, EVIDENCE_TYPES)
    if spec.code in others and spec.code not in earlier:
        problems.append("this code is used twice; each question needs its own.")
    if problems:
        raise QuestionnaireError(" ".join(p[0].upper() + p[1:] for p in problems))
    fields = _question_fields(spec)
    if question is None:
        question = TemplateQuestion(version=version, section=section, position=position, **fields)
        session.add(question)
    else:
        for key, value in fields.items():
            setattr(question, key, value)
        question.section = section
        question.position = position
    session.flush()
    return question


def delete_question(session: Session, question: TemplateQuestion) -> None:
    _require_draft(question.version)
    dependants = [
        q.code
        for q in question.version.questions
        if q.show_if_code == question.code and q.id != question.id
    ]
    if dependants:
        raise QuestionnaireError(
            f"{', '.join(dependants)} depend(s) on {question.code}; change their condition first."
        )
    section = question.section
    session.delete(question)
    session.flush()
    _renumber(section.questions)
    session.flush()


def template_query(include_archived: bool = False) -> Select[Any]:
    stmt = select(QuestionnaireTemplate).options(selectinload(QuestionnaireTemplate.versions))
    if not include_archived:
        stmt = stmt.where(QuestionnaireTemplate.archived_at.is_(None))
    return stmt.order_by(QuestionnaireTemplate.name)


def published_versions(session: Session) -> list[TemplateVersion]:
    return list(
        session.scalars(
            select(TemplateVersion)
            .join(TemplateVersion.template)
            .options(contains_eager(TemplateVersion.template))
            .where(
                TemplateVersion.status == "published",
                QuestionnaireTemplate.archived_at.is_(None),
            )
            .order_by(QuestionnaireTemplate.name, TemplateVersion.number.desc())
        )
    )


# --- assignments ---------------------------------------------------------------------------


def open_assignment(session: Session, vendor_id: int, template_id: int) -> Assignment | None:
    return session.scalar(
        select(Assignment).where(
            Assignment.vendor_id == vendor_id,
            Assignment.template_id == template_id,
            Assignment.status.in_([s.value for s in OPEN_STATUSES]),
        )
    )


def default_recipients(vendor: Vendor) -> list[VendorContact]:
    """The continuity leads, or every contact when the vendor has none."""
    leads = [c for c in vendor.contacts if c.is_continuity_lead]
    return leads or list(vendor.contacts)


@dataclass
class SendResult:
    created: list[Assignment]
    skipped: list[tuple[Vendor, Assignment]]  # vendors that already had an open one


def send(
    session: Session,
    version: TemplateVersion,
    vendors: Iterable[Vendor],
    due_date: date,
    recipients: Mapping[int, list[VendorContact]],
    user: Any,
    message: str | None = None,
    previous: Mapping[int, Assignment] | None = None,
) -> SendResult:
    """Assign a published version to vendors. A vendor with an open assignment of the same
    template is skipped (one questionnaire at a time, never duplicates)."""
    if version.status != "published":
        raise QuestionnaireError("Only a published version can be sent.")
    if due_date < utcnow().date():
        raise QuestionnaireError("The due date is in the past.", "due_date")
    result = SendResult([], [])
    for vendor in vendors:
        existing = open_assignment(session, vendor.id, version.template_id)
        if existing is not None:
            result.skipped.append((vendor, existing))
            continue
        contacts = recipients.get(vendor.id)
        if contacts is None:
            contacts = default_recipients(vendor)
        assignment = Assignment(
            vendor=vendor,
            version=version,
            template_id=version.template_id,
            due_date=due_date,
            status=AssignmentStatus.SENT.value,
            current_round=1,
            message=message or None,
            created_by_id=_user_id(user),
            previous=(previous or {}).get(vendor.id)
            or latest_closed(session, vendor.id, version.template_id),
        )
        for contact in contacts:
            if contact.vendor_id != vendor.id:
                raise QuestionnaireError(f"{contact.name} is not a contact of {vendor.name}.")
            assignment.recipients.append(
                AssignmentRecipient(contact_id=contact.id, email=contact.email, name=contact.name)
            )
        session.add(assignment)
        session.add(AssignmentRound(assignment=assignment, number=1))
        result.created.append(assignment)
    session.flush()
    return result


def latest_closed(session: Session, vendor_id: int, template_id: int) -> Assignment | None:
    """The vendor's last accepted assignment of the template: the base of a reassessment."""
    return session.scalar(
        select(Assignment)
        .where(
            Assignment.vendor_id == vendor_id,
            Assignment.template_id == template_id,
            Assignment.status == AssignmentStatus.ACCEPTED.value,
        )
        .order_by(Assignment.accepted_at.desc(), Assignment.id.desc())
        .limit(1)
    )


def invitation_text(assignment: Assignment, link: str) -> tuple[str, str]:
    subject = (
        f"Continuity questionnaire: {assignment.version.template.name} "
        f"(due {assignment.due_date.isoformat()})"
    )
    lines = [
        "Hello,",
        "",
        f"We ask {assignment.vendor.name} to answer our questionnaire "
        f'"{assignment.version.template.name}" by {assignment.due_date:%d %B %Y}.',
    ]
    if assignment.previous_id:
        lines.append(
            "This is a periodic reassessment: your previous answers can be used as the "
            "starting point."
        )
    if assignment.message:
        lines += ["", assignment.message]
    lines += [
        "",
        f"Answer it here (sign in with your vendor portal account): {link}",
        "",
        "Your answers are saved as you go, so you can answer over several sittings and attach "
        "evidence (plans, test reports, certificates) to the questions that ask for it.",
        "",
        "If you do not have an account yet, reply to this message and we will invite you.",
    ]
    return subject, "\n".join(lines)


def send_invitations(
    session: Session,
    assignment: Assignment,
    config: Mapping[str, Any],
    link: str,
    resend: bool = False,
) -> tuple[int, int]:
    """Email each recipient not invited yet (or all with `resend`); (sent, failed)."""
    sent = failed = 0
    subject, text = invitation_text(assignment, link)
    for recipient in assignment.recipients:
        if recipient.invited_at is not None and not resend:
            continue
        try:
            delivered = mail.send(config, [recipient.email], subject, text)
        except (smtplib.SMTPException, OSError) as exc:
            logger.warning("Invitation to %s failed: %s", recipient.email, exc)
            recipient.invite_error = str(exc)[:500]
            failed += 1
            continue
        recipient.invited_at = utcnow()
        recipient.invite_error = None if delivered else "SMTP is not configured; logged only"
        sent += 1
    session.flush()
    return sent, failed


def assignment_query(
    *,
    vendor_id: int | None = None,
    statuses: list[str] | None = None,
    template_id: int | None = None,
    search: str | None = None,
    overdue: bool = False,
    today: date | None = None,
) -> Select[Any]:
    today = today or utcnow().date()
    stmt = (
        select(Assignment)
        .join(Assignment.vendor)
        .join(Assignment.version)
        .join(TemplateVersion.template)
        .options(
            contains_eager(Assignment.vendor),
            contains_eager(Assignment.version).contains_eager(TemplateVersion.template),
        )
    )
    if vendor_id is not None:
        stmt = stmt.where(Assignment.vendor_id == vendor_id)
    if statuses:
        stmt = stmt.where(Assignment.status.in_(statuses))
    if template_id is not None:
        stmt = stmt.where(Assignment.template_id == template_id)
    if search:
        pattern = f"%{search.strip().lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(Vendor.name).like(pattern),
                func.lower(QuestionnaireTemplate.name).like(pattern),
            )
        )
    if overdue:
        stmt = stmt.where(
            Assignment.due_date < today,
            Assignment.status.in_([s.value for s in ANSWERABLE_STATUSES]),
        )
    return stmt


def cancel(session: Session, assignment: Assignment) -> None:
    if not assignment.is_open:
        raise QuestionnaireError(f"This assignment is already {assignment.status_label.lower()}.")
    assignment.status = AssignmentStatus.CANCELLED.value
    assignment.cancelled_at = utcnow()
    session.flush()


# --- answers -------------------------------------------------------------------------------


def active_services(session: Session, vendor_id: int) -> list[VendorService]:
    return vendor_services.active_services(session, vendor_id)


def service_keys(services: list[VendorService]) -> list[str]:
    return [str(s.id) for s in services] or [GENERAL]


def answer_rows(round_: AssignmentRound) -> dict[int, Answer]:
    return {a.question_id: a for a in round_.answers}


def answers_by_code(round_: AssignmentRound) -> dict[str, Any]:
    """The round's answers as domain values keyed by question code."""
    out: dict[str, Any] = {}
    for answer in round_.answers:
        question = answer.question
        if question.qtype == QuestionType.EVIDENCE:
            value = [e.id for e in answer.evidence] or None
        else:
            value = answer.value
        if value is not None:
            out[question.code] = value
    return out


def _set_evidence(session: Session, answer: Answer, versions: list[EvidenceVersion]) -> None:
    answer.evidence = versions
    answer.value = [v.id for v in versions] or None


def _evidence_for(session: Session, vendor_id: int, ids: list[int]) -> list[EvidenceVersion]:
    if not ids:
        return []
    found = list(
        session.scalars(
            select(EvidenceVersion).where(
                EvidenceVersion.id.in_(ids), EvidenceVersion.vendor_id == vendor_id
            )
        )
    )
    if len(found) != len(set(ids)):
        raise AnswerError("Choose evidence from your own evidence library.")
    return found


def _require_answerable(assignment: Assignment) -> AssignmentRound:
    if assignment.status not in ANSWERABLE_STATUSES:
        raise QuestionnaireError(
            f"This questionnaire is {assignment.status_label.lower()}; answers can no longer "
            "be changed."
        )
    round_ = assignment.round()
    if round_.locked:
        raise QuestionnaireError("This round was submitted; answers can no longer be changed.")
    return round_


def save_answers(
    session: Session, assignment: Assignment, raw: Mapping[str, Any], user: Any
) -> dict[str, str]:
    """Save the answers given (by question code) to the open round; returns errors by code.

    Valid answers are saved even when others are not, so a draft never loses work."""
    round_ = _require_answerable(assignment)
    questions = {q.code: q for q in assignment.version.questions}
    rows = answer_rows(round_)
    services = service_keys(active_services(session, assignment.vendor_id))
    errors: dict[str, str] = {}
    now = utcnow()
    for code, value in raw.items():
        question = questions.get(code)
        if question is None:
            errors[code] = "There is no such question in this questionnaire."
            continue
        spec = question.spec()
        try:
            clean = domain.parse_answer(spec, value, services)
            evidence = (
                _evidence_for(session, assignment.vendor_id, clean or [])
                if spec.qtype == QuestionType.EVIDENCE
                else None
            )
        except AnswerError as exc:
            errors[code] = str(exc)
            continue
        answer = rows.get(question.id)
        if answer is None:
            if clean is None:
                continue
            answer = Answer(round=round_, question=question, value=None)
            session.add(answer)
            rows[question.id] = answer
        if evidence is not None:
            if [e.id for e in answer.evidence] == [e.id for e in evidence]:
                continue
            _set_evidence(session, answer, evidence)
        elif answer.value == clean:
            continue
        else:
            answer.value = clean
        answer.updated_at = now
        answer.updated_by_id = _user_id(user)
    if assignment.status == AssignmentStatus.SENT.value and round_.answers:
        assignment.status = AssignmentStatus.IN_PROGRESS.value
    session.flush()
    assignment.progress_percent = domain.progress(
        assignment.version.spec(), answers_by_code(round_)
    ).percent
    session.flush()
    return errors


def attach_evidence(
    session: Session,
    assignment: Assignment,
    question: TemplateQuestion,
    version: EvidenceVersion,
    user: Any,
) -> None:
    """Add an evidence version to an evidence-request answer (keeps what is attached already)."""
    round_ = _require_answerable(assignment)
    if question.qtype != QuestionType.EVIDENCE or question.version_id != assignment.version_id:
        raise QuestionnaireError("This question does not ask for evidence.")
    if version.vendor_id != assignment.vendor_id:
        raise QuestionnaireError("That evidence belongs to another vendor.")
    current = answers_by_code(round_).get(question.code) or []
    save_answers(session, assignment, {question.code: [*current, version.id]}, user)


def submission_problems(session: Session, assignment: Assignment) -> dict[str, str]:
    round_ = assignment.round()
    spec = assignment.version.spec()
    answers = answers_by_code(round_)
    problems = {
        code: "This question needs an answer."
        for code in domain.progress(spec, answers).missing_required
    }
    services = service_keys(active_services(session, assignment.vendor_id))
    visible = domain.visible_codes(spec, answers)
    for q in spec.questions():
        if q.code in visible and q.qtype == QuestionType.HOURS and q.code in answers:
            missing = domain.incomplete_hours(q, answers[q.code], services)
            if missing:
                problems[q.code] = "Give the hours for every service listed."
    return problems


def submit(session: Session, assignment: Assignment, user: Any) -> AssignmentRound:
    round_ = _require_answerable(assignment)
    problems = submission_problems(session, assignment)
    if problems:
        raise SubmitBlocked(problems)
    card = domain.score(assignment.version.spec(), answers_by_code(round_))
    now = utcnow()
    round_.submitted_at = now
    round_.submitted_by_id = _user_id(user)
    round_.score = card.total
    round_.scorecard = card.as_json()
    assignment.status = AssignmentStatus.SUBMITTED.value
    assignment.submitted_at = now
    assignment.score = card.total
    assignment.red_flag_count = len(card.red_flags)
    assignment.progress_percent = 100
    session.flush()
    return round_


def previous_answers(
    session: Session, assignment: Assignment
) -> tuple[Assignment, dict[str, Any]] | None:
    """The previous assessment's final answers that fit this version, when there are any."""
    previous = assignment.previous
    if previous is None or not previous.rounds:
        return None
    last = previous.rounds[-1]
    carried = domain.carry_over(
        previous.version.spec(), answers_by_code(last), assignment.version.spec()
    )
    return (previous, carried) if carried else None


def prefill_from_previous(session: Session, assignment: Assignment, user: Any) -> int:
    """Start a reassessment from the previous round's answers; returns how many were copied.

    Evidence that has expired since is not carried over."""
    round_ = _require_answerable(assignment)
    found = previous_answers(session, assignment)
    if found is None:
        return 0
    previous, carried = found
    today = utcnow().date()
    evidence_codes = {
        q.code for q in assignment.version.questions if q.qtype == QuestionType.EVIDENCE
    }
    for code in evidence_codes & set(carried):
        ids = carried[code]
        still_valid = session.scalars(
            select(EvidenceVersion.id).where(
                EvidenceVersion.id.in_(ids),
                EvidenceVersion.vendor_id == assignment.vendor_id,
                or_(EvidenceVersion.valid_until.is_(None), EvidenceVersion.valid_until >= today),
            )
        ).all()
        carried[code] = list(still_valid) or None
    carried = {k: v for k, v in carried.items() if v is not None}
    existing = answers_by_code(round_)
    fresh = {k: v for k, v in carried.items() if k not in existing}
    errors = save_answers(session, assignment, fresh, user)
    round_.prefilled_from_id = previous.id
    session.flush()
    return len(fresh) - len(errors)


# --- review --------------------------------------------------------------------------------


def _require_submitted(assignment: Assignment) -> AssignmentRound:
    if assignment.status != AssignmentStatus.SUBMITTED.value:
        raise QuestionnaireError(
            f"Only a submitted questionnaire can be reviewed; this one is "
            f"{assignment.status_label.lower()}."
        )
    return assignment.round()


def return_for_changes(
    session: Session,
    assignment: Assignment,
    comments: Mapping[int, str],
    note: str | None,
    user: Any,
) -> AssignmentRound:
    """Send the questionnaire back with comments per question; opens the next round with the
    same answers for the vendor to change. The reviewed round is kept as it was."""
    round_ = _require_submitted(assignment)
    comments = {qid: body.strip() for qid, body in comments.items() if body and body.strip()}
    if not comments and not (note or "").strip():
        raise QuestionnaireError(
            "Say what needs to change: comment on the questions concerned or add a note.",
            "note",
        )
    question_ids = {q.id for q in assignment.version.questions}
    for question_id, body in comments.items():
        if question_id not in question_ids:
            raise QuestionnaireError("A comment refers to a question of another questionnaire.")
        session.add(
            ReviewComment(
                round=round_, question_id=question_id, body=body, author_id=_user_id(user)
            )
        )
    now = utcnow()
    round_.reviewed_at = now
    round_.reviewed_by_id = _user_id(user)
    round_.decision = "returned"
    round_.review_note = (note or "").strip() or None
    following = AssignmentRound(assignment=assignment, number=round_.number + 1, opened_at=now)
    session.add(following)
    session.flush()
    with session.no_autoflush:
        for answer in round_.answers:
            session.add(
                Answer(
                    round=following,
                    question_id=answer.question_id,
                    value=answer.value,
                    updated_at=answer.updated_at,
                    updated_by_id=answer.updated_by_id,
                    evidence=list(answer.evidence),
                )
            )
    assignment.current_round = following.number
    assignment.status = AssignmentStatus.RETURNED.value
    session.flush()
    return following


def accept(session: Session, assignment: Assignment, note: str | None, user: Any) -> list[str]:
    """Accept the submitted round; record its attested RTO/RPO on the vendor's services.

    Returns a line per service whose attested values changed."""
    round_ = _require_submitted(assignment)
    now = utcnow()
    round_.reviewed_at = now
    round_.reviewed_by_id = _user_id(user)
    round_.decision = "accepted"
    round_.review_note = (note or "").strip() or None
    assignment.status = AssignmentStatus.ACCEPTED.value
    assignment.accepted_at = now
    assignment.accepted_by_id = _user_id(user)
    changes = apply_attested_hours(session, assignment)
    session.flush()
    return changes


def apply_attested_hours(session: Session, assignment: Assignment) -> list[str]:
    attested = domain.attested_hours(assignment.version.spec(), answers_by_code(assignment.round()))
    services = {str(s.id): s for s in active_services(session, assignment.vendor_id)}
    changes: list[str] = []
    for service_id, metrics in attested.items():
        service = services.get(service_id)
        if service is None:
            continue  # archived since, or not this vendor's
        values = {f"attested_{metric}_hours": hours for metric, hours in metrics.items()}
        vendor_services.update_service(
            session, service, values, source=f"questionnaire {assignment.id}"
        )
        shown = ", ".join(f"{m.upper()} {h:g} h" for m, h in sorted(metrics.items()))
        changes.append(f"{service.name}: {shown}")
    return changes


# --- reassessment --------------------------------------------------------------------------


def cadences(session: Session) -> dict[str, ReassessmentCadence]:
    """One row per tier (the defaults until an admin saves them)."""
    rows = {c.tier: c for c in session.scalars(select(ReassessmentCadence))}
    for tier in Tier:
        if tier.value not in rows:
            rows[tier.value] = ReassessmentCadence(
                tier=tier.value, months=domain.DEFAULT_CADENCE.get(tier.value), due_days=30
            )
    return {t.value: rows[t.value] for t in Tier}


def save_cadences(
    session: Session, values: Mapping[str, tuple[int | None, int]], user: Any
) -> None:
    existing = {c.tier: c for c in session.scalars(select(ReassessmentCadence))}
    for tier, (months, due_days) in values.items():
        Tier(tier)
        row = existing.get(tier)
        if row is None:
            row = ReassessmentCadence(tier=tier)
            session.add(row)
        row.months = months
        row.due_days = due_days
        row.updated_by_id = _user_id(user)
        row.updated_at = utcnow()
    session.flush()


def due_reassessments(session: Session, today: date) -> list[tuple[Assignment, date]]:
    """Accepted assignments whose tier's cadence has elapsed and that have no successor open
    (or accepted since): (the assignment to reassess, when it fell due)."""
    rules = cadences(session)
    accepted = session.scalars(
        select(Assignment)
        .join(Assignment.vendor)
        .options(contains_eager(Assignment.vendor))
        .where(
            Assignment.status == AssignmentStatus.ACCEPTED.value,
            Vendor.archived_at.is_(None),
            Vendor.status.in_(("active", "prospective")),
        )
        .order_by(Assignment.accepted_at.desc(), Assignment.id.desc())
    )
    latest: dict[tuple[int, int], Assignment] = {}
    for assignment in accepted:
        latest.setdefault((assignment.vendor_id, assignment.template_id), assignment)
    still_open = {
        (vendor_id, template_id)
        for vendor_id, template_id in session.execute(
            select(Assignment.vendor_id, Assignment.template_id).where(
                Assignment.status.in_([s.value for s in OPEN_STATUSES])
            )
        )
    }
    due: list[tuple[Assignment, date]] = []
    for key, assignment in latest.items():
        rule = rules[assignment.vendor.tier]
        if not rule.months or key in still_open:
            continue
        when = domain.reassessment_due(assignment.accepted_at.date(), rule.months)
        if when <= today:
            due.append((assignment, when))
    return due


def create_due_reassessments(session: Session, today: date, user: Any = None) -> list[Assignment]:
    """Create the reassessments that are due; running it again creates nothing new."""
    rules = cadences(session)
    created: list[Assignment] = []
    for assignment, _when in due_reassessments(session, today):
        template = assignment.template
        version = template.latest_published()
        if version is None or template.archived_at is not None:
            continue
        contacts = [r.contact for r in assignment.recipients if r.contact is not None]
        result = send(
            session,
            version,
            [assignment.vendor],
            today + timedelta(days=rules[assignment.vendor.tier].due_days or 30),
            {assignment.vendor_id: contacts or default_recipients(assignment.vendor)},
            user,
            message="Periodic reassessment for your tier.",
            previous={assignment.vendor_id: assignment},
        )
        created.extend(result.created)
    return created


# --- for the procurement gate and the home page --------------------------------------------


@dataclass(frozen=True)
class AcceptedQuestionnaire:
    assignment_id: int
    vendor_id: int
    template_id: int
    template_name: str
    version_number: int
    submitted_at: datetime
    accepted_at: datetime
    score: float | None  # 0-100, None when the template has no scored questions
    red_flags: tuple[dict[str, str], ...]  # {"code", "text", "reason"}


def latest_accepted_questionnaire(
    session: Session, vendor_id: int, template_id: int | None = None
) -> AcceptedQuestionnaire | None:
    """The vendor's most recently accepted questionnaire (of one template, or of any).

    `submitted_at` is when the accepted round was submitted (the age the gate measures),
    `score` the total of that round (0-100) and `red_flags` its critical answers."""
    stmt = (
        select(Assignment)
        .options(selectinload(Assignment.rounds), selectinload(Assignment.template))
        .where(
            Assignment.vendor_id == vendor_id,
            Assignment.status == AssignmentStatus.ACCEPTED.value,
        )
        .order_by(Assignment.accepted_at.desc(), Assignment.id.desc())
        .limit(1)
    )
    if template_id is not None:
        stmt = stmt.where(Assignment.template_id == template_id)
    assignment = session.scalar(stmt)
    if assignment is None:
        return None
    round_ = assignment.round()
    return AcceptedQuestionnaire(
        assignment_id=assignment.id,
        vendor_id=assignment.vendor_id,
        template_id=assignment.template_id,
        template_name=assignment.template.name,
        version_number=assignment.version.number,
        submitted_at=round_.submitted_at or assignment.submitted_at,
        accepted_at=assignment.accepted_at,
        score=round_.score,
        red_flags=tuple((round_.scorecard or {}).get("red_flags", [])),
    )


def open_for_vendor(session: Session, vendor_id: int) -> list[Assignment]:
    return list(
        session.scalars(
            assignment_query(
                vendor_id=vendor_id, statuses=[s.value for s in ANSWERABLE_STATUSES]
            ).order_by(Assignment.due_date, Assignment.id)
        )
    )
