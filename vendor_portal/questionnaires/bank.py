"""Question banks: templates to and from CSV or Excel, all-or-nothing, errors by row.

The bank format has one row per question, in order:

| column              | meaning                                                              |
| ------------------- | -------------------------------------------------------------------- |
| section             | section title (rows of one section are consecutive)                  |
| section_description | optional, on any row of the section                                  |
| code                | unique question code, e.g. BCP-1                                     |
| question            | the question text                                                    |
| type                | yes_no, single_choice, multiple_choice, text, number, date, hours,   |
|                     | evidence                                                             |
| help                | help text shown under the question                                   |
| required, critical  | yes / no (blank is no)                                               |
| weight              | a number >= 0 (blank is 1)                                           |
| choices             | "Yes=1 | Partly=0.5 | No=0 | N/A=na": label=score, na = not scored   |
| show_if             | "BCP-1 = Yes; Partly": shown only for these answers to an earlier    |
|                     | question                                                             |
| limit               | number/hours: an answer above it is bad (a red flag when critical)   |
| metric              | hours: rto or rpo                                                    |
| evidence_type       | evidence: the type asked for                                         |

CISA's vendor SCRM template (columns ref_id, parent_path, question_type, ...) is recognised and
mapped onto the same rows, see `cisa_rows`.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from vendor_portal.evidence.domain import EvidenceType
from vendor_portal.questionnaires.domain import (
    YES_NO_CHOICES,
    Choice,
    Condition,
    HoursMetric,
    QuestionSpec,
    QuestionType,
    SectionSpec,
    TemplateSpec,
    question_problems,
    slug,
)

COLUMNS = (
    "section",
    "section_description",
    "code",
    "question",
    "type",
    "help",
    "required",
    "weight",
    "critical",
    "choices",
    "show_if",
    "limit",
    "metric",
    "evidence_type",
)
REQUIRED_COLUMNS = ("section", "code", "question", "type")
TYPE_ALIASES = {
    "yes_no": QuestionType.YES_NO,
    "yesno": QuestionType.YES_NO,
    "yes/no": QuestionType.YES_NO,
    "boolean": QuestionType.YES_NO,
    "single_choice": QuestionType.SINGLE_CHOICE,
    "single": QuestionType.SINGLE_CHOICE,
    "choice": QuestionType.SINGLE_CHOICE,
    "unique_choice": QuestionType.SINGLE_CHOICE,
    "multiple_choice": QuestionType.MULTIPLE_CHOICE,
    "multiple": QuestionType.MULTIPLE_CHOICE,
    "multi": QuestionType.MULTIPLE_CHOICE,
    "text": QuestionType.TEXT,
    "number": QuestionType.NUMBER,
    "date": QuestionType.DATE,
    "hours": QuestionType.HOURS,
    "evidence": QuestionType.EVIDENCE,
    "evidence_request": QuestionType.EVIDENCE,
}
TRUE_WORDS = {"yes", "y", "true", "1", "x"}
FALSE_WORDS = {"no", "n", "false", "0", ""}
NOT_SCORED = {"na", "n/a", "-", "none"}
CISA_COLUMNS = {"ref_id", "parent_path", "question_type", "question_text", "choices"}
EVIDENCE_TYPES = {t.value for t in EvidenceType}
MAX_ROWS = 5000
MAX_BYTES = 5 * 1024 * 1024


@dataclass
class ImportedBank:
    """A bank read from a file: the template, or every error with its row."""

    spec: TemplateSpec | None
    errors: list[str] = field(default_factory=list)
    source_format: str = "bank"


# --- reading files -----------------------------------------------------------------------


def read_table(filename: str, data: bytes) -> pd.DataFrame:
    """Rows of a CSV or Excel file, every cell a string. ValueError with a message if unreadable."""
    name = filename.lower()
    if len(data) > MAX_BYTES:
        raise ValueError(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB.")
    if name.endswith((".xlsx", ".xlsm")):
        try:
            frame = pd.read_excel(io.BytesIO(data), dtype=str, engine="openpyxl")
        except Exception as exc:  # openpyxl raises many kinds for a damaged workbook
            raise ValueError(f"{filename} is not a readable Excel workbook ({exc}).") from exc
        frame = frame.fillna("")
    elif name.endswith((".csv", ".txt")):
        text = None
        for encoding in ("utf-8-sig", "cp1252"):
            try:
                text = data.decode(encoding)
                break
            except UnicodeDecodeError:
                continue
        if text is None:  # pragma: no cover (cp1252 decodes nearly anything)
            raise ValueError(f"{filename} is not text.")
        if "\x00" in text:
            raise ValueError(f"{filename} contains NUL characters: it is not a CSV text file.")
        try:
            frame = pd.read_csv(
                io.StringIO(text), dtype=str, keep_default_na=False, skip_blank_lines=False
            )
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise ValueError(f"{filename} is not a readable CSV file ({exc}).") from exc
        if not isinstance(frame.index, pd.RangeIndex):
            # pandas shifts the first column(s) into an index when rows are wider than the header
            raise ValueError(f"{filename}: the rows have more cells than the first row names.")
    else:
        raise ValueError(f"{filename}: upload a .csv or .xlsx file.")
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    repeated = sorted({c for c in frame.columns if list(frame.columns).count(c) > 1})
    if repeated:
        raise ValueError(f"{filename}: the column(s) {', '.join(repeated)} appear more than once.")
    if len(frame) > MAX_ROWS:
        raise ValueError(f"At most {MAX_ROWS} rows; this file has {len(frame)}.")
    return frame


def import_bank(filename: str, data: bytes, name: str, description: str = "") -> ImportedBank:
    try:
        frame = read_table(filename, data)
    except ValueError as exc:
        return ImportedBank(None, [str(exc)])
    if set(frame.columns) >= CISA_COLUMNS:
        rows = cisa_rows(frame)
        result = parse_rows(rows, name, description)
        result.source_format = "cisa"
        return result
    return parse_rows(records(frame), name, description)


def records(frame: pd.DataFrame) -> list[tuple[int, dict[str, str]]]:
    """(row number as a spreadsheet shows it, cells) for each data row."""
    return [
        (index + 2, {k: str(v).strip() for k, v in row.items()})
        for index, row in enumerate(frame.to_dict("records"))
    ]


# --- parsing rows ------------------------------------------------------------------------


def _flag(value: str) -> bool | None:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def _number(value: str) -> float | None:
    number = float(value.replace(",", "."))
    if not math.isfinite(number):
        raise ValueError(value)
    return number


def parse_choices(text: str) -> tuple[list[Choice], list[str]]:
    """'Yes=1 | Partly=0.5 | No=0 | N/A=na' -> choices, and problems found."""
    choices: list[Choice] = []
    problems: list[str] = []
    for part in [p.strip() for p in text.split("|")]:
        if not part:
            continue
        label, eq, score_text = part.rpartition("=")
        if not eq:
            label, score_text = part, ""
        label, score_text = label.strip(), score_text.strip()
        score: float | None = None
        if score_text and score_text.lower() not in NOT_SCORED:
            try:
                score = _number(score_text)
            except ValueError:
                problems.append(f"the score of {label!r} is {score_text!r}, not a number.")
                continue
        if not label:
            problems.append(f"{part!r} has no label.")
            continue
        choices.append(Choice(slug(label), label, score))
    return choices, problems


def format_choices(choices: Iterable[Choice]) -> str:
    parts = []
    for c in choices:
        parts.append(c.label if c.score is None else f"{c.label}={c.score:g}")
    return " | ".join(parts)


def _resolve_condition(
    text: str, earlier: dict[str, QuestionSpec]
) -> tuple[Condition | None, str | None]:
    code, eq, values_text = text.partition("=")
    code = code.strip()
    if not eq or not code:
        return None, f"write it as 'CODE = answer; other answer' (got {text!r})."
    target = earlier.get(code)
    values: list[str] = []
    for raw in [v.strip() for v in values_text.split(";") if v.strip()]:
        match = None
        if target is not None:
            match = next(
                (c for c in target.choices if c.value == raw or c.label.lower() == raw.lower()),
                None,
            )
        values.append(match.value if match else slug(raw))
    return Condition(code, tuple(values)), None


def parse_rows(
    rows: list[tuple[int, dict[str, str]]], name: str, description: str = ""
) -> ImportedBank:
    """Validate every row, then build the template; any error means no template."""
    errors: list[str] = []
    if not rows:
        return ImportedBank(None, ["The file has no rows."])
    columns = set(rows[0][1])
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        return ImportedBank(
            None,
            [
                f"Missing column(s): {', '.join(missing)}. The first row must name the columns "
                f"{', '.join(COLUMNS)}."
            ],
        )
    sections: list[tuple[str, str, list[QuestionSpec]]] = []
    earlier: dict[str, QuestionSpec] = {}
    for number, cells in rows:
        if not any(cells.values()):
            continue  # a blank spacer row

        def problem(column: str, message: str, number: int = number) -> None:
            errors.append(f"Row {number}, column '{column}': {message}")

        title = cells.get("section", "")
        if not title:
            problem("section", "every question needs a section title.")
        type_text = cells.get("type", "").strip().lower()
        qtype = TYPE_ALIASES.get(type_text)
        if qtype is None:
            problem(
                "type",
                f"{cells.get('type', '')!r} is not a question type; use one of "
                f"{', '.join(t.value for t in QuestionType)}.",
            )
            continue
        required = _flag(cells.get("required", ""))
        critical = _flag(cells.get("critical", ""))
        for column, value in (("required", required), ("critical", critical)):
            if value is None:
                problem(column, f"{cells.get(column)!r} should be yes or no.")
        weight = 1.0
        if cells.get("weight", ""):
            try:
                weight = _number(cells["weight"])
            except ValueError:
                problem("weight", f"{cells['weight']!r} is not a number.")
        limit = None
        if cells.get("limit", ""):
            try:
                limit = _number(cells["limit"])
            except ValueError:
                problem("limit", f"{cells['limit']!r} is not a number.")
        metric = None
        if cells.get("metric", ""):
            try:
                metric = HoursMetric(cells["metric"].lower())
            except ValueError:
                problem("metric", f"{cells['metric']!r} should be rto or rpo.")
        choices: list[Choice] = []
        if qtype == QuestionType.YES_NO and not cells.get("choices"):
            choices = list(YES_NO_CHOICES)
        elif cells.get("choices"):
            choices, choice_problems = parse_choices(cells["choices"])
            for message in choice_problems:
                problem("choices", message)
            if qtype == QuestionType.YES_NO:
                by_value = {c.value: c for c in choices}
                choices = [
                    Choice(
                        d.value,
                        d.label,
                        by_value[d.value].score if d.value in by_value else d.score,
                    )
                    for d in YES_NO_CHOICES
                ]
        condition = None
        if cells.get("show_if", ""):
            condition, message = _resolve_condition(cells["show_if"], earlier)
            if message:
                problem("show_if", message)
        question = QuestionSpec(
            code=cells.get("code", ""),
            text=cells.get("question", ""),
            qtype=qtype,
            help_text=cells.get("help", ""),
            required=bool(required),
            weight=weight,
            critical=bool(critical),
            choices=tuple(choices),
            show_if=condition,
            hours_metric=metric,
            max_value=limit,
            evidence_type=cells.get("evidence_type", "") or None,
        )
        for message in question_problems(question, earlier, EVIDENCE_TYPES):
            column = _column_for(message)
            problem(column, message[0].upper() + message[1:])
        earlier[question.code] = question
        if not sections or sections[-1][0] != title:
            if any(s[0] == title for s in sections):
                problem(
                    "section",
                    f"section {title!r} appeared earlier; keep a section's rows together.",
                )
            sections.append((title, cells.get("section_description", ""), []))
        elif cells.get("section_description") and not sections[-1][1]:
            sections[-1] = (title, cells["section_description"], sections[-1][2])
        sections[-1][2].append(question)
    if not earlier and not errors:
        errors.append("The file has no questions.")
    if errors:
        return ImportedBank(None, errors)
    spec = TemplateSpec(
        name=name,
        description=description,
        sections=tuple(SectionSpec(t, d, tuple(qs)) for t, d, qs in sections),
    )
    return ImportedBank(spec, [])


def _column_for(message: str) -> str:
    text = message.lower()
    for word, column in (
        ("code", "code"),
        ("condition", "show_if"),
        ("shown only", "show_if"),
        ("choice", "choices"),
        ("weight", "weight"),
        ("rto", "metric"),
        ("limit", "limit"),
        ("evidence type", "evidence_type"),
        ("text", "question"),
    ):
        if word in text:
            return column
    return "type"


# --- export ------------------------------------------------------------------------------


def export_rows(spec: TemplateSpec) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = []
    for section in spec.sections:
        for index, q in enumerate(section.questions):
            condition = ""
            if q.show_if is not None:
                condition = f"{q.show_if.question} = {'; '.join(q.show_if.values)}"
            default_yes_no = q.qtype == QuestionType.YES_NO and q.choices == YES_NO_CHOICES
            rows.append(
                {
                    "section": section.title,
                    "section_description": section.description if index == 0 else "",
                    "code": q.code,
                    "question": q.text,
                    "type": q.qtype.value,
                    "help": q.help_text,
                    "required": "yes" if q.required else "no",
                    "weight": f"{q.weight:g}",
                    "critical": "yes" if q.critical else "no",
                    "choices": "" if default_yes_no else format_choices(q.choices),
                    "show_if": condition,
                    "limit": "" if q.max_value is None else f"{q.max_value:g}",
                    "metric": q.hours_metric.value if q.hours_metric else "",
                    "evidence_type": q.evidence_type or "",
                }
            )
    return rows


def export_frame(spec: TemplateSpec) -> pd.DataFrame:
    return pd.DataFrame(export_rows(spec), columns=list(COLUMNS))


def export_csv(spec: TemplateSpec) -> bytes:
    return export_frame(spec).to_csv(index=False).encode("utf-8")


def export_xlsx(spec: TemplateSpec) -> bytes:
    out = io.BytesIO()
    export_frame(spec).to_excel(out, index=False, sheet_name="questions", engine="openpyxl")
    return out.getvalue()


# --- CISA ----------------------------------------------------------------------------------

CISA_SCORES = {"yes": "1", "alternate": "0.5", "no": "0", "n/a": "na"}
CISA_FOLLOW_UP_ANSWERS = "Yes; Alternate"


def cisa_rows(frame: pd.DataFrame) -> list[tuple[int, dict[str, str]]]:
    """CISA's SCRM template as bank rows.

    - sections: the depth-1 nodes ("Supply Chain Integrity"), joined with their named depth-2
      groups ("Information Security — Asset Management");
    - questions: every row with a question_type; code CISA-<ref_id> (plus -2 for a second
      question under the same ref); unique_choice becomes single choice scored
      Yes 1, Alternate 0.5, No 0, N/A not scored; text stays text;
    - follow-ups (a question under a choice question's ref) are shown when the nearest choice
      question above them is answered Yes or Alternate, as the template's wording ("If so...")
      intends.
    """
    rows: list[tuple[int, dict[str, str]]] = []
    top_titles: dict[str, str] = {}
    group: dict[str, str] = {}
    descriptions: dict[str, str] = {}
    choice_refs: set[str] = set()
    code_of_ref: dict[str, str] = {}
    for index, record in enumerate(frame.to_dict("records")):
        number = index + 2
        cells = {k: str(v).strip() for k, v in record.items()}
        ref = cells.get("ref_id", "")
        depth = cells.get("depth", "")
        path = [p.strip() for p in cells.get("parent_path", "").split(">") if p.strip()]
        name = cells.get("node_name", "")
        top = path[0] if path else ref
        if depth == "1" and name:
            top_titles[ref] = f"{ref}. {name}"
            group[ref] = ""
            descriptions[ref] = cells.get("node_description", "")
            continue
        if not cells.get("question_type"):
            if name and name.upper() != "OR" and len(path) == 1:
                group[top] = name
            continue
        title = top_titles.get(top, top)
        if group.get(top):
            title = f"{title} — {group[top]}"
        qid = cells.get("question_id", "") or "1"
        code = f"CISA-{ref}" + ("" if qid == "1" else f"-{qid}")
        qtype = cells["question_type"]
        choices = ""
        if qtype == "unique_choice":
            labels = [c.strip() for c in cells.get("choices", "").split("|") if c.strip()]
            choices = " | ".join(
                f"{label}={CISA_SCORES.get(label.lower(), 'na')}" for label in labels
            )
            choice_refs.add(ref)
        show_if = ""
        ancestors = [p for p in path if p in code_of_ref and p in choice_refs]
        if ancestors:
            show_if = f"{code_of_ref[ancestors[-1]]} = {CISA_FOLLOW_UP_ANSWERS}"
        if qid == "1":
            code_of_ref[ref] = code
        group_label = cells.get("implementation_groups", "")
        rows.append(
            (
                number,
                {
                    "section": title,
                    "section_description": descriptions.get(top, ""),
                    "code": code,
                    "question": cells.get("question_text", ""),
                    "type": "single_choice" if qtype == "unique_choice" else qtype,
                    "help": f"CISA reference {ref}"
                    + (f", implementation group {group_label}" if group_label else ""),
                    "required": "no",
                    "weight": "1" if qtype == "unique_choice" else "0",
                    "critical": "no",
                    "choices": choices,
                    "show_if": show_if,
                    "limit": "",
                    "metric": "",
                    "evidence_type": "",
                },
            )
        )
    return rows


def spec_summary(spec: TemplateSpec) -> dict[str, Any]:
    questions = spec.questions()
    return {
        "sections": len(spec.sections),
        "questions": len(questions),
        "by_type": {t.value: sum(1 for q in questions if q.qtype == t) for t in QuestionType},
    }
