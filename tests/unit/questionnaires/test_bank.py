"""Question banks: CSV/Excel import, all-or-nothing with rows, export round trip, CISA."""

from __future__ import annotations

import csv
import io

import pytest

from vendor_portal.questionnaires import bank
from vendor_portal.questionnaires.default_template import DEFAULT_TEMPLATE
from vendor_portal.questionnaires.domain import (
    QuestionType,
    parse_answer,
    progress,
    score,
    visible_codes,
)

HEADER = list(bank.COLUMNS)


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=HEADER)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: row.get(k, "") for k in HEADER})
    return out.getvalue().encode()


GOOD = [
    {
        "section": "Plans",
        "code": "P1",
        "question": "Do you have a BCP?",
        "type": "yes_no",
        "required": "yes",
        "critical": "yes",
        "weight": "2",
    },
    {
        "section": "Plans",
        "code": "P2",
        "question": "How often tested?",
        "type": "single_choice",
        "choices": "Yearly=1 | Every two years=0.5 | Never=0",
        "show_if": "P1 = Yes",
    },
    {
        "section": "Recovery",
        "section_description": "Per service",
        "code": "R1",
        "question": "RTO per service",
        "type": "hours",
        "metric": "rto",
        "limit": "24",
    },
    {
        "section": "Recovery",
        "code": "E1",
        "question": "Attach the DR report",
        "type": "evidence",
        "evidence_type": "dr_test_report",
    },
]


def test_a_valid_bank_imports_with_sections_questions_choices_and_conditions():
    result = bank.import_bank("bank.csv", csv_bytes(GOOD), "Imported")
    assert result.errors == []
    spec = result.spec
    assert [s.title for s in spec.sections] == ["Plans", "Recovery"]
    assert spec.sections[1].description == "Per service"
    p1, p2, r1, e1 = spec.questions()
    assert (p1.qtype, p1.required, p1.critical, p1.weight) == (QuestionType.YES_NO, True, True, 2.0)
    assert [(c.value, c.score) for c in p2.choices] == [
        ("yearly", 1.0),
        ("every_two_years", 0.5),
        ("never", 0.0),
    ]
    assert p2.show_if.question == "P1" and p2.show_if.values == ("yes",)
    assert (r1.hours_metric, r1.max_value) == ("rto", 24.0)
    assert e1.evidence_type == "dr_test_report"


def test_every_bad_row_is_reported_with_its_row_and_column_and_nothing_is_built():
    rows = [
        *GOOD,
        {"section": "X", "code": "P1", "question": "Duplicate code", "type": "text"},
        {"section": "X", "code": "Q2", "question": "Odd type", "type": "essay"},
        {
            "section": "X",
            "code": "Q3",
            "question": "Bad score",
            "type": "single_choice",
            "choices": "A=high | B=0",
        },
        {
            "section": "X",
            "code": "Q4",
            "question": "Later",
            "type": "yes_no",
            "show_if": "Q9 = Yes",
        },
        {"section": "X", "code": "Q5", "question": "Weight", "type": "yes_no", "weight": "heavy"},
        {"section": "X", "code": "Q6", "question": "Flag", "type": "yes_no", "required": "maybe"},
    ]
    result = bank.import_bank("bank.csv", csv_bytes(rows), "Imported")
    assert result.spec is None
    assert result.errors == [
        "Row 6, column 'code': This code is used twice; each question needs its own.",
        "Row 7, column 'type': 'essay' is not a question type; use one of yes_no, "
        "single_choice, multiple_choice, text, number, date, hours, evidence.",
        "Row 8, column 'choices': the score of 'A' is 'high', not a number.",
        "Row 8, column 'choices': A choice question needs at least two choices.",
        "Row 9, column 'show_if': It is shown only if Q9 has a given answer, but Q9 is not a "
        "question before it.",
        "Row 10, column 'weight': 'heavy' is not a number.",
        "Row 11, column 'required': 'maybe' should be yes or no.",
    ]


def test_missing_columns_and_unreadable_files_are_explained():
    assert bank.import_bank("b.csv", b"section,question\nS,Q\n", "x").errors == [
        "Missing column(s): code, type. The first row must name the columns "
        + ", ".join(bank.COLUMNS)
        + "."
    ]
    assert "upload a .csv or .xlsx file" in bank.import_bank("b.pdf", b"%PDF", "x").errors[0]
    assert "not a readable Excel workbook" in bank.import_bank("b.xlsx", b"nope", "x").errors[0]
    assert bank.import_bank("b.csv", csv_bytes([]), "x").errors == ["The file has no rows."]


def test_sections_must_keep_their_rows_together():
    rows = [GOOD[0], GOOD[2], {**GOOD[1], "show_if": ""}]
    errors = bank.import_bank("b.csv", csv_bytes(rows), "x").errors
    assert errors == [
        "Row 4, column 'section': section 'Plans' appeared earlier; keep a section's rows together."
    ]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
def test_export_then_import_gives_back_the_same_template(fmt):
    data = bank.export_csv(DEFAULT_TEMPLATE) if fmt == "csv" else bank.export_xlsx(DEFAULT_TEMPLATE)
    result = bank.import_bank(f"t.{fmt}", data, DEFAULT_TEMPLATE.name, DEFAULT_TEMPLATE.description)
    assert result.errors == []
    assert result.spec == DEFAULT_TEMPLATE


def test_cisa_template_imports_and_is_answerable(shared_data):
    path = shared_data / "questionnaires" / "cisa_vendor_scrm_questions.csv"
    result = bank.import_bank(path.name, path.read_bytes(), "CISA vendor SCRM")
    assert result.errors == []
    assert result.source_format == "cisa"
    spec = result.spec
    questions = spec.questions()
    # 291 rows: 260 questions (90 Yes/No/Alternate/N/A choices, 170 free text), the rest are
    # section and group headings.
    assert len(questions) == 260
    assert sum(q.qtype == QuestionType.SINGLE_CHOICE for q in questions) == 90
    assert spec.sections[0].title == "1. Qualifying Questions"
    assert spec.sections[-1].title.startswith("8. Supply Chain Resilience")
    by_code = spec.by_code()
    assert [c.label for c in by_code["CISA-2.1"].choices] == ["Yes", "No", "Alternate", "N/A"]
    assert "CISA-1.1-2" in by_code  # a second question under the same reference
    follow_up = by_code["CISA-2.1.1"]
    assert follow_up.show_if.question == "CISA-2.1"
    # Answerable: follow-ups appear for Yes, answers parse, progress and score compute.
    assert "CISA-2.1.1" not in visible_codes(spec, {"CISA-2.1": "no"})
    answers = {
        "CISA-2.1": parse_answer(by_code["CISA-2.1"], "yes"),
        "CISA-2.1.1": parse_answer(follow_up, "By email within 24 hours."),
        "CISA-8.3": parse_answer(by_code["CISA-8.3"], "alternate"),
        "CISA-8.5": parse_answer(by_code["CISA-8.5"], "n_a"),
    }
    assert "CISA-2.1.1" in visible_codes(spec, answers)
    assert progress(spec, answers).answered == 4
    card = score(spec, answers)
    assert card.total is not None and 0 < card.total < 100
    resilience = next(s for s in card.sections if "Business Continuity" in s.title)
    assert resilience.percent is not None
    # And it exports and re-imports unchanged.
    again = bank.import_bank("cisa.csv", bank.export_csv(spec), spec.name)
    assert again.errors == [] and again.spec == spec
