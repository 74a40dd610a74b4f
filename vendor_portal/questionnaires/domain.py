"""Questionnaire rules that need no database: question types, answers, conditions, scoring.

A template is plain data (`TemplateSpec` of `SectionSpec` of `QuestionSpec`); answers are a
dict from question code to a plain value:

| type            | answer value                                             |
| --------------- | -------------------------------------------------------- |
| yes_no          | "yes" or "no"                                            |
| single_choice   | one choice value                                         |
| multiple_choice | a list of choice values                                  |
| text            | a string                                                 |
| number          | a float                                                  |
| date            | an ISO date string "2026-03-31"                          |
| hours           | {vendor service id (str): hours}, or {"general": hours}  |
| evidence        | a list of evidence version ids                           |

Scoring: every visible question with scored choices and a weight > 0 earns a fraction in [0, 1]
(the chosen choice's score over the best possible; for multiple choice the sum of the chosen
scores over the sum of the positive ones). A choice scored `None` ("not applicable") takes the
question out of the score. Unanswered scored questions earn 0. The total and each section's
score are 100 * sum(weight * fraction) / sum(weight).

Red flags: a critical question that is visible and answered badly, whatever the total: a
choice answer that earns 0, an hours or number answer above the question's limit, an evidence
request without evidence, or no answer at all.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any


class QuestionType(StrEnum):
    YES_NO = "yes_no"
    SINGLE_CHOICE = "single_choice"
    MULTIPLE_CHOICE = "multiple_choice"
    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    HOURS = "hours"
    EVIDENCE = "evidence"

    @property
    def label(self) -> str:
        return QUESTION_TYPE_LABELS[self]


QUESTION_TYPE_LABELS = {
    QuestionType.YES_NO: "Yes / no",
    QuestionType.SINGLE_CHOICE: "Single choice",
    QuestionType.MULTIPLE_CHOICE: "Multiple choice",
    QuestionType.TEXT: "Text",
    QuestionType.NUMBER: "Number",
    QuestionType.DATE: "Date",
    QuestionType.HOURS: "Hours (attested RTO/RPO per service)",
    QuestionType.EVIDENCE: "Evidence request",
}
CHOICE_TYPES = frozenset(
    {QuestionType.YES_NO, QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE}
)


class HoursMetric(StrEnum):
    RTO = "rto"
    RPO = "rpo"


GENERAL = "general"  # the key of an hours answer given for the vendor as a whole
MAX_HOURS = 24 * 365
TEXT_MAX = 10_000
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


class AssignmentStatus(StrEnum):
    SENT = "sent"
    IN_PROGRESS = "in_progress"
    SUBMITTED = "submitted"
    RETURNED = "returned"
    ACCEPTED = "accepted"
    CANCELLED = "cancelled"

    @property
    def label(self) -> str:
        return {
            "sent": "Not started",
            "in_progress": "In progress",
            "submitted": "Submitted, awaiting review",
            "returned": "Returned for changes",
            "accepted": "Accepted",
            "cancelled": "Cancelled",
        }[self.value]


OPEN_STATUSES = frozenset(
    {
        AssignmentStatus.SENT,
        AssignmentStatus.IN_PROGRESS,
        AssignmentStatus.SUBMITTED,
        AssignmentStatus.RETURNED,
    }
)
ANSWERABLE_STATUSES = frozenset(
    {AssignmentStatus.SENT, AssignmentStatus.IN_PROGRESS, AssignmentStatus.RETURNED}
)


@dataclass(frozen=True)
class Choice:
    value: str
    label: str
    score: float | None = None  # None: "not applicable", takes the question out of the score


@dataclass(frozen=True)
class Condition:
    """Show the question only if `question` (a code) was answered with one of `values`."""

    question: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class QuestionSpec:
    code: str
    text: str
    qtype: QuestionType
    help_text: str = ""
    required: bool = False
    weight: float = 1.0
    critical: bool = False
    choices: tuple[Choice, ...] = ()
    show_if: Condition | None = None
    hours_metric: HoursMetric | None = None
    max_value: float | None = None  # number/hours: an answer above it is bad
    evidence_type: str | None = None

    @property
    def is_choice(self) -> bool:
        return self.qtype in CHOICE_TYPES

    @property
    def scored(self) -> bool:
        return (
            self.is_choice
            and self.weight > 0
            and any(c.score is not None and c.score > 0 for c in self.choices)
        )

    def choice(self, value: str) -> Choice | None:
        return next((c for c in self.choices if c.value == value), None)


@dataclass(frozen=True)
class SectionSpec:
    title: str
    description: str = ""
    questions: tuple[QuestionSpec, ...] = ()


@dataclass(frozen=True)
class TemplateSpec:
    name: str
    description: str = ""
    sections: tuple[SectionSpec, ...] = ()

    def questions(self) -> list[QuestionSpec]:
        return [q for s in self.sections for q in s.questions]

    def by_code(self) -> dict[str, QuestionSpec]:
        return {q.code: q for q in self.questions()}


YES_NO_CHOICES = (Choice("yes", "Yes", 1.0), Choice("no", "No", 0.0))


def slug(label: str) -> str:
    """A stable choice value from its label: 'Partly (in progress)' -> 'partly_in_progress'."""
    value = re.sub(r"[^a-z0-9]+", "_", label.strip().lower()).strip("_")
    return value[:64] or "choice"


# --- templates ---------------------------------------------------------------------------


def template_problems(spec: TemplateSpec, evidence_types: Iterable[str] = ()) -> list[str]:
    """Everything that stops a template version from being published, in reading order."""
    problems: list[str] = []
    evidence_types = set(evidence_types)
    if not spec.name.strip():
        problems.append("The template needs a name.")
    if not spec.questions():
        problems.append("The template has no questions.")
    seen: dict[str, QuestionSpec] = {}
    for section in spec.sections:
        if not section.title.strip():
            problems.append("Every section needs a title.")
        for q in section.questions:
            problems.extend(f"{q.code}: {p}" for p in question_problems(q, seen, evidence_types))
            seen[q.code] = q
    return problems


def question_problems(
    q: QuestionSpec, earlier: Mapping[str, QuestionSpec], evidence_types: set[str] | None = None
) -> list[str]:
    """Problems of one question, given the questions before it (conditions look backwards)."""
    problems: list[str] = []
    if not CODE_PATTERN.match(q.code):
        problems.append(
            "codes are 1 to 64 letters, digits, dots, dashes or underscores, starting with a "
            "letter or digit."
        )
    if q.code in earlier:
        problems.append("this code is used twice; each question needs its own.")
    if not q.text.strip():
        problems.append("the question has no text.")
    if not (math.isfinite(q.weight) and q.weight >= 0):
        problems.append("the weight must be zero or more.")
    if q.is_choice:
        minimum = 2
        if len(q.choices) < minimum:
            problems.append("a choice question needs at least two choices.")
        values = [c.value for c in q.choices]
        if len(set(values)) != len(values):
            problems.append("two choices have the same value.")
        if any(c.score is not None and not math.isfinite(c.score) for c in q.choices):
            problems.append("choice scores must be numbers.")
        if q.qtype == QuestionType.YES_NO and set(values) != {"yes", "no"}:
            problems.append("a yes/no question has exactly the choices yes and no.")
    elif q.choices:
        problems.append(f"a {q.qtype.label} question has no choices.")
    if q.qtype == QuestionType.HOURS and q.hours_metric is None:
        problems.append("say whether the hours are an RTO or an RPO.")
    if q.max_value is not None and q.qtype not in (QuestionType.HOURS, QuestionType.NUMBER):
        problems.append("only number and hours questions have a limit.")
    if (
        q.qtype == QuestionType.EVIDENCE
        and evidence_types
        and q.evidence_type
        and q.evidence_type not in evidence_types
    ):
        problems.append(f"{q.evidence_type!r} is not an evidence type.")
    if q.show_if is not None:
        target = earlier.get(q.show_if.question)
        if target is None:
            problems.append(
                f"it is shown only if {q.show_if.question} has a given answer, but "
                f"{q.show_if.question} is not a question before it."
            )
        elif not target.is_choice:
            problems.append(
                f"conditions can only depend on yes/no or choice questions; "
                f"{target.code} is {target.qtype.label.lower()}."
            )
        else:
            unknown = [v for v in q.show_if.values if target.choice(v) is None]
            if not q.show_if.values:
                problems.append("the condition names no answer.")
            elif unknown:
                problems.append(
                    f"the condition names answers {target.code} does not offer: "
                    f"{', '.join(unknown)}."
                )
    return problems


# --- answers -----------------------------------------------------------------------------


def is_answered(q: QuestionSpec, value: Any) -> bool:
    if value is None:
        return False
    if q.qtype in (QuestionType.MULTIPLE_CHOICE, QuestionType.EVIDENCE):
        return bool(value)
    if q.qtype == QuestionType.HOURS:
        return isinstance(value, dict) and bool(value)
    if isinstance(value, str):
        return bool(value.strip())
    return True


def visible_codes(spec: TemplateSpec, answers: Mapping[str, Any]) -> set[str]:
    """Questions shown given these answers; a question whose condition's question is hidden is
    hidden too. Conditions point backwards, so one pass in order settles everything."""
    visible: set[str] = set()
    for q in spec.questions():
        if q.show_if is None:
            visible.add(q.code)
            continue
        if q.show_if.question not in visible:
            continue
        answer = answers.get(q.show_if.question)
        chosen = set(answer) if isinstance(answer, list) else {answer}
        if chosen & set(q.show_if.values):
            visible.add(q.code)
    return visible


@dataclass(frozen=True)
class Progress:
    answered: int
    visible: int
    missing_required: tuple[str, ...]

    @property
    def percent(self) -> int:
        return 100 if self.visible == 0 else math.floor(100 * self.answered / self.visible)

    @property
    def complete(self) -> bool:
        return not self.missing_required


def progress(spec: TemplateSpec, answers: Mapping[str, Any]) -> Progress:
    visible = visible_codes(spec, answers)
    answered = 0
    missing: list[str] = []
    for q in spec.questions():
        if q.code not in visible:
            continue
        if is_answered(q, answers.get(q.code)):
            answered += 1
        elif q.required:
            missing.append(q.code)
    return Progress(answered, len(visible), tuple(missing))


class AnswerError(ValueError):
    """An answer that does not fit its question; the message is for the person answering."""


def _float(raw: Any, what: str) -> float:
    if isinstance(raw, bool):
        raise AnswerError(f"Enter {what}.")
    try:
        value = float(str(raw).strip().replace(",", ".")) if isinstance(raw, str) else float(raw)
    except (TypeError, ValueError) as exc:
        raise AnswerError(f"Enter {what}.") from exc
    if not math.isfinite(value):
        raise AnswerError(f"Enter {what}.")
    return value


def parse_answer(q: QuestionSpec, raw: Any, service_ids: Iterable[str] = ()) -> Any:
    """A clean answer value from form or JSON input, None when left empty; AnswerError if bad.

    For choices, `raw` is a value or a list of values; for hours, a mapping of service id (or
    "general") to hours; for evidence, a list of ids."""
    qtype = q.qtype
    if qtype in (QuestionType.YES_NO, QuestionType.SINGLE_CHOICE):
        if isinstance(raw, list):
            raw = raw[0] if len(raw) == 1 else (raw or None)
        if raw in (None, ""):
            return None
        if not isinstance(raw, str) or q.choice(raw) is None:
            raise AnswerError(f"Choose one of: {', '.join(c.label for c in q.choices)}.")
        return raw
    if qtype == QuestionType.MULTIPLE_CHOICE:
        values = raw if isinstance(raw, list) else ([] if raw in (None, "") else [raw])
        bad = [v for v in values if not isinstance(v, str) or q.choice(v) is None]
        if bad:
            raise AnswerError(f"Choose among: {', '.join(c.label for c in q.choices)}.")
        order = [c.value for c in q.choices]
        return sorted(set(values), key=order.index) or None
    if qtype == QuestionType.TEXT:
        if raw is None:
            return None
        if not isinstance(raw, str):
            raise AnswerError("Enter text.")
        text = raw.strip()
        if len(text) > TEXT_MAX:
            raise AnswerError(f"At most {TEXT_MAX} characters.")
        return text or None
    if qtype == QuestionType.NUMBER:
        if raw in (None, ""):
            return None
        return _float(raw, "a number")
    if qtype == QuestionType.DATE:
        if raw in (None, ""):
            return None
        try:
            return date.fromisoformat(str(raw).strip()).isoformat()
        except ValueError as exc:
            raise AnswerError("Enter a date as YYYY-MM-DD.") from exc
    if qtype == QuestionType.HOURS:
        if raw in (None, ""):
            return None
        if not isinstance(raw, Mapping):
            raise AnswerError("Give the hours for each service.")
        allowed = set(service_ids) or {GENERAL}
        out: dict[str, float] = {}
        for key, value in raw.items():
            key = str(key)
            if key not in allowed:
                raise AnswerError("Hours were given for a service that is not yours.")
            if value in (None, ""):
                continue
            hours = _float(value, "a number of hours")
            if not 0 <= hours <= MAX_HOURS:
                raise AnswerError(f"Hours must be between 0 and {MAX_HOURS}.")
            out[key] = hours
        return out or None
    if qtype == QuestionType.EVIDENCE:
        values = raw if isinstance(raw, list) else ([] if raw in (None, "") else [raw])
        ids: list[int] = []
        for value in values:
            try:
                ids.append(int(value))
            except (TypeError, ValueError) as exc:
                raise AnswerError("Choose evidence from the list.") from exc
        return sorted(set(ids)) or None
    raise AnswerError(f"Unknown question type {qtype}.")


def incomplete_hours(q: QuestionSpec, value: Any, service_ids: Iterable[str]) -> list[str]:
    """Services still without hours in an hours answer (every service must be covered)."""
    ids = list(service_ids)
    if q.qtype != QuestionType.HOURS or not ids:
        return []
    given = value or {}
    return [sid for sid in ids if sid not in given]


# --- scores and red flags ----------------------------------------------------------------


@dataclass(frozen=True)
class RedFlag:
    code: str
    text: str
    reason: str


@dataclass(frozen=True)
class SectionScore:
    title: str
    earned: float
    possible: float

    @property
    def percent(self) -> float | None:
        return None if self.possible == 0 else round(100 * self.earned / self.possible, 1)


@dataclass(frozen=True)
class ScoreCard:
    sections: tuple[SectionScore, ...]
    red_flags: tuple[RedFlag, ...]
    earned: float = 0.0
    possible: float = 0.0

    @property
    def total(self) -> float | None:
        return None if self.possible == 0 else round(100 * self.earned / self.possible, 1)

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "sections": [
                {"title": s.title, "score": s.percent, "earned": s.earned, "possible": s.possible}
                for s in self.sections
            ],
            "red_flags": [
                {"code": f.code, "text": f.text, "reason": f.reason} for f in self.red_flags
            ],
        }


def fraction(q: QuestionSpec, value: Any) -> float | None:
    """The share of the question's points this answer earns; None when it does not count."""
    if not q.scored:
        return None
    if not is_answered(q, value):
        return 0.0
    if q.qtype == QuestionType.MULTIPLE_CHOICE:
        chosen = [q.choice(v) for v in value]
        scores = [c.score for c in chosen if c is not None]
        if chosen and all(s is None for s in scores):
            return None
        best = sum(c.score for c in q.choices if c.score is not None and c.score > 0)
        got = sum(s for s in scores if s is not None)
        return max(0.0, min(1.0, got / best))
    choice = q.choice(value)
    if choice is None or choice.score is None:
        return None
    best = max(c.score for c in q.choices if c.score is not None)
    return max(0.0, min(1.0, choice.score / best))


def red_flag_reason(q: QuestionSpec, value: Any) -> str | None:
    if not q.critical:
        return None
    if not is_answered(q, value):
        return "not answered"
    if q.is_choice:
        f = fraction(q, value)
        if f == 0.0:
            labels = value if isinstance(value, list) else [value]
            shown = ", ".join((q.choice(v).label if q.choice(v) else v) for v in labels)
            return f"answered {shown!r}"
        return None
    if q.qtype == QuestionType.HOURS and q.max_value is not None:
        worst = max(value.values())
        if worst > q.max_value:
            return f"{worst:g} h is above the limit of {q.max_value:g} h"
    if q.qtype == QuestionType.NUMBER and q.max_value is not None and value > q.max_value:
        return f"{value:g} is above the limit of {q.max_value:g}"
    return None


def score(spec: TemplateSpec, answers: Mapping[str, Any]) -> ScoreCard:
    visible = visible_codes(spec, answers)
    sections: list[SectionScore] = []
    flags: list[RedFlag] = []
    earned_total = possible_total = 0.0
    for section in spec.sections:
        earned = possible = 0.0
        for q in section.questions:
            if q.code not in visible:
                continue
            value = answers.get(q.code)
            f = fraction(q, value)
            if f is not None:
                earned += q.weight * f
                possible += q.weight
            reason = red_flag_reason(q, value)
            if reason:
                flags.append(RedFlag(q.code, q.text, reason))
        sections.append(SectionScore(section.title, round(earned, 6), round(possible, 6)))
        earned_total += earned
        possible_total += possible
    return ScoreCard(
        tuple(sections), tuple(flags), round(earned_total, 6), round(possible_total, 6)
    )


def attested_hours(spec: TemplateSpec, answers: Mapping[str, Any]) -> dict[str, dict[str, float]]:
    """{service id: {"rto": h, "rpo": h}} from visible hours answers; the largest (most
    conservative) value wins when two questions attest the same metric."""
    visible = visible_codes(spec, answers)
    out: dict[str, dict[str, float]] = {}
    for q in spec.questions():
        if q.qtype != QuestionType.HOURS or q.code not in visible or q.hours_metric is None:
            continue
        for service_id, hours in (answers.get(q.code) or {}).items():
            if service_id == GENERAL:
                continue
            metrics = out.setdefault(service_id, {})
            key = q.hours_metric.value
            metrics[key] = max(hours, metrics.get(key, hours))
    return out


def carry_over(
    old: TemplateSpec, old_answers: Mapping[str, Any], new: TemplateSpec
) -> dict[str, Any]:
    """Answers from a previous round that still fit the new version, matched by code."""
    old_by_code = old.by_code()
    out: dict[str, Any] = {}
    for q in new.questions():
        before = old_by_code.get(q.code)
        value = old_answers.get(q.code)
        if before is None or before.qtype != q.qtype or not is_answered(q, value):
            continue
        try:
            if q.qtype == QuestionType.HOURS:
                clean = parse_answer(q, value, value.keys())
            else:
                clean = parse_answer(q, value)
        except AnswerError:
            continue
        if clean is not None:
            out[q.code] = clean
    return out


# --- reassessment ------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise ValueError(day)  # pragma: no cover


def reassessment_due(last_accepted: date, months: int) -> date:
    return add_months(last_accepted, months)


@dataclass(frozen=True)
class CadenceRule:
    tier: str
    months: int | None
    due_days: int = 30


DEFAULT_CADENCE = {"critical": 12, "high": 12, "medium": 24, "low": None}
