"""Scoring, conditions, answers and template rules: plain data, no app."""

from __future__ import annotations

from datetime import date

import pytest

from vendor_portal.questionnaires.default_template import DEFAULT_TEMPLATE
from vendor_portal.questionnaires.domain import (
    YES_NO_CHOICES,
    AnswerError,
    Choice,
    Condition,
    HoursMetric,
    QuestionSpec,
    QuestionType,
    SectionSpec,
    TemplateSpec,
    add_months,
    attested_hours,
    carry_over,
    fraction,
    parse_answer,
    progress,
    question_problems,
    reassessment_due,
    score,
    template_problems,
    visible_codes,
)

YES_NO = QuestionType.YES_NO
SINGLE = QuestionType.SINGLE_CHOICE
MULTI = QuestionType.MULTIPLE_CHOICE


def yn(code: str, **kw) -> QuestionSpec:
    return QuestionSpec(code, f"Question {code}?", YES_NO, choices=YES_NO_CHOICES, **kw)


FREQ = (
    Choice("monthly", "Monthly", 1),
    Choice("yearly", "Yearly", 0.5),
    Choice("never", "Never", 0),
)
PROTECT = (
    Choice("enc", "Encrypted", 1),
    Choice("air", "Air gap", 1),
    Choice("offsite", "Off site", 2),
    Choice("none", "None of these", 0),
    Choice("na", "Not applicable", None),
)


def spec(*sections: tuple[str, list[QuestionSpec]]) -> TemplateSpec:
    return TemplateSpec("T", "", tuple(SectionSpec(t, "", tuple(qs)) for t, qs in sections))


def test_condition_shows_a_question_only_for_the_named_answers():
    t = spec(("S", [yn("A"), yn("B", show_if=Condition("A", ("yes",)))]))
    assert visible_codes(t, {}) == {"A"}
    assert visible_codes(t, {"A": "no"}) == {"A"}
    assert visible_codes(t, {"A": "yes"}) == {"A", "B"}


def test_conditions_chain_a_hidden_question_hides_its_dependants():
    t = spec(
        (
            "S",
            [
                yn("A"),
                yn("B", show_if=Condition("A", ("yes",))),
                yn("C", show_if=Condition("B", ("yes",))),
            ],
        )
    )
    # B was answered yes earlier, then A changed to no: C must hide with B.
    assert visible_codes(t, {"A": "no", "B": "yes"}) == {"A"}
    assert visible_codes(t, {"A": "yes", "B": "yes"}) == {"A", "B", "C"}


def test_condition_on_a_multiple_choice_matches_any_chosen_value():
    t = spec(
        (
            "S",
            [
                QuestionSpec("M", "Which?", MULTI, choices=PROTECT),
                yn("X", show_if=Condition("M", ("air", "offsite"))),
            ],
        )
    )
    assert "X" in visible_codes(t, {"M": ["enc", "offsite"]})
    assert "X" not in visible_codes(t, {"M": ["enc"]})


def test_scores_weight_questions_and_report_sections():
    t = spec(
        ("Plans", [yn("A", weight=3), QuestionSpec("F", "How often?", SINGLE, choices=FREQ)]),
        ("Backups", [QuestionSpec("M", "Which?", MULTI, choices=PROTECT, weight=2)]),
    )
    card = score(t, {"A": "yes", "F": "yearly", "M": ["enc", "offsite"]})
    # Plans: (3*1 + 1*0.5) / 4 = 87.5; Backups: (1+2)/(1+1+2) = 0.75
    assert [s.percent for s in card.sections] == [87.5, 75.0]
    assert card.total == pytest.approx(100 * (3 + 0.5 + 2 * 0.75) / 6, abs=0.1)


def test_unanswered_scored_questions_earn_nothing_and_hidden_ones_do_not_count():
    t = spec(("S", [yn("A"), yn("B", show_if=Condition("A", ("yes",)), weight=5), yn("C")]))
    assert score(t, {"A": "no", "C": "yes"}).total == 50.0  # B hidden: out of the score
    assert score(t, {"A": "yes", "C": "yes"}).total == pytest.approx(100 * 2 / 7, abs=0.1)


def test_not_applicable_choices_take_the_question_out_of_the_score():
    q = QuestionSpec("M", "Which?", MULTI, choices=PROTECT)
    assert fraction(q, ["na"]) is None
    t = spec(("S", [yn("A"), q]))
    assert score(t, {"A": "yes", "M": ["na"]}).total == 100.0


def test_zero_weight_and_choices_without_scores_are_not_scored():
    t = spec(
        (
            "S",
            [
                yn("A", weight=0),
                QuestionSpec("B", "?", YES_NO, choices=(Choice("yes", "Yes"), Choice("no", "No"))),
                QuestionSpec("T", "Text", QuestionType.TEXT),
            ],
        )
    )
    card = score(t, {"A": "no", "B": "no", "T": "x"})
    assert card.total is None and card.sections[0].percent is None


def test_red_flags_for_critical_questions_whatever_the_total():
    t = spec(
        (
            "S",
            [
                yn("BAK", critical=True),
                yn("OK1", weight=50),
                QuestionSpec(
                    "RTO",
                    "RTO?",
                    QuestionType.HOURS,
                    hours_metric=HoursMetric.RTO,
                    max_value=24,
                    critical=True,
                    weight=0,
                ),
                QuestionSpec("EV", "Plan?", QuestionType.EVIDENCE, critical=True, weight=0),
                QuestionSpec(
                    "N", "Hours to notify?", QuestionType.NUMBER, max_value=4, critical=True
                ),
                yn("GATED", critical=True, show_if=Condition("OK1", ("no",))),
            ],
        )
    )
    card = score(t, {"BAK": "no", "OK1": "yes", "RTO": {"1": 4, "2": 48}, "N": 8})
    assert card.total == pytest.approx(100 * 50 / 51, abs=0.1)  # high score...
    flags = {f.code: f.reason for f in card.red_flags}  # ...and still red flags
    assert flags == {
        "BAK": "answered 'No'",
        "RTO": "48 h is above the limit of 24 h",
        "EV": "not answered",
        "N": "8 is above the limit of 4",
    }  # GATED is hidden: no flag


def test_progress_counts_visible_answers_and_lists_missing_required():
    t = spec(
        (
            "S",
            [
                yn("A", required=True),
                yn("B", required=True, show_if=Condition("A", ("yes",))),
                QuestionSpec("T", "Text", QuestionType.TEXT),
            ],
        )
    )
    p = progress(t, {})
    assert (p.answered, p.visible, p.missing_required, p.percent) == (0, 2, ("A",), 0)
    p = progress(t, {"A": "yes", "T": "  "})
    assert (p.answered, p.visible, p.missing_required) == (1, 3, ("B",))
    p = progress(t, {"A": "yes", "B": "no", "T": "done"})
    assert p.complete and p.percent == 100


@pytest.mark.parametrize(
    ("question", "raw", "expected"),
    [
        (yn("A"), "yes", "yes"),
        (yn("A"), "", None),
        (yn("A"), ["no"], "no"),
        (
            QuestionSpec("M", "?", MULTI, choices=PROTECT),
            ["offsite", "enc", "enc"],
            ["enc", "offsite"],
        ),
        (QuestionSpec("M", "?", MULTI, choices=PROTECT), [], None),
        (QuestionSpec("T", "?", QuestionType.TEXT), "  answer \n", "answer"),
        (QuestionSpec("N", "?", QuestionType.NUMBER), "3,5", 3.5),
        (QuestionSpec("D", "?", QuestionType.DATE), "2026-03-31", "2026-03-31"),
        (QuestionSpec("E", "?", QuestionType.EVIDENCE), ["3", "1", "3"], [1, 3]),
        (
            QuestionSpec("H", "?", QuestionType.HOURS, hours_metric=HoursMetric.RTO),
            {"1": "4", "2": ""},
            {"1": 4.0},
        ),
    ],
)
def test_parse_answer_cleans_values(question, raw, expected):
    assert parse_answer(question, raw, ["1", "2"]) == expected


@pytest.mark.parametrize(
    ("question", "raw", "message"),
    [
        (yn("A"), "maybe", "Choose one of: Yes, No."),
        (QuestionSpec("M", "?", MULTI, choices=PROTECT), ["x"], "Choose among"),
        (QuestionSpec("N", "?", QuestionType.NUMBER), "lots", "Enter a number."),
        (QuestionSpec("N", "?", QuestionType.NUMBER), "nan", "Enter a number."),
        (QuestionSpec("D", "?", QuestionType.DATE), "31/03/2026", "YYYY-MM-DD"),
        (QuestionSpec("H", "?", QuestionType.HOURS), {"9": "4"}, "not yours"),
        (QuestionSpec("H", "?", QuestionType.HOURS), {"1": "-1"}, "between 0 and"),
        (QuestionSpec("T", "?", QuestionType.TEXT), "x" * 10_001, "At most"),
    ],
)
def test_parse_answer_explains_bad_input(question, raw, message):
    with pytest.raises(AnswerError, match=message):
        parse_answer(question, raw, ["1", "2"])


def test_question_problems_name_what_is_wrong():
    earlier = {"A": yn("A"), "T": QuestionSpec("T", "t", QuestionType.TEXT)}
    assert question_problems(yn("A"), earlier) == [
        "this code is used twice; each question needs its own."
    ]
    assert (
        "is not a question before it"
        in question_problems(yn("B", show_if=Condition("Z", ("yes",))), earlier)[0]
    )
    assert (
        "can only depend on yes/no or choice"
        in question_problems(yn("B", show_if=Condition("T", ("x",))), earlier)[0]
    )
    assert (
        "does not offer: maybe"
        in question_problems(yn("B", show_if=Condition("A", ("maybe",))), earlier)[0]
    )
    one_choice = QuestionSpec("S", "?", SINGLE, choices=(Choice("a", "A", 1),))
    assert "at least two choices" in question_problems(one_choice, {})[0]
    assert "RTO or an RPO" in question_problems(QuestionSpec("H", "?", QuestionType.HOURS), {})[0]
    assert (
        "codes are" in question_problems(QuestionSpec("bad code!", "?", QuestionType.TEXT), {})[0]
    )
    bad_type = QuestionSpec("E", "?", QuestionType.EVIDENCE, evidence_type="selfie")
    assert "not an evidence type" in question_problems(bad_type, {}, {"bcp"})[0]


def test_template_problems_cover_empty_templates_and_every_question():
    assert template_problems(TemplateSpec("", "", ())) == [
        "The template needs a name.",
        "The template has no questions.",
    ]
    t = spec(("S", [yn("A"), yn("A")]))
    assert template_problems(t) == ["A: this code is used twice; each question needs its own."]


def test_the_default_template_is_valid_and_covers_the_continuity_topics():
    assert (
        template_problems(
            DEFAULT_TEMPLATE,
            [
                "bcp",
                "bia",
                "dr_test_report",
                "exercise_report",
                "iso22301_certificate",
                "insurance_certificate",
            ],
        )
        == []
    )
    titles = " ".join(s.title.lower() for s in DEFAULT_TEMPLATE.sections)
    for topic in (
        "continuity plan",
        "impact analysis",
        "recovery objectives",
        "restore testing",
        "backups",
        "exercises",
        "crisis communication",
        "subcontractor",
        "insurance",
    ):
        assert topic in titles
    metrics = {
        q.hours_metric for q in DEFAULT_TEMPLATE.questions() if q.qtype == QuestionType.HOURS
    }
    assert metrics == {HoursMetric.RTO, HoursMetric.RPO}


def test_attested_hours_per_service_take_the_most_conservative_value():
    t = spec(
        (
            "S",
            [
                QuestionSpec("R1", "?", QuestionType.HOURS, hours_metric=HoursMetric.RTO),
                QuestionSpec("R2", "?", QuestionType.HOURS, hours_metric=HoursMetric.RTO),
                QuestionSpec("P", "?", QuestionType.HOURS, hours_metric=HoursMetric.RPO),
            ],
        )
    )
    answers = {"R1": {"7": 4.0, "general": 9.0}, "R2": {"7": 6.0}, "P": {"7": 0.5, "8": 1.0}}
    assert attested_hours(t, answers) == {"7": {"rto": 6.0, "rpo": 0.5}, "8": {"rpo": 1.0}}


def test_carry_over_keeps_answers_that_still_fit_the_new_version():
    old = spec(("S", [yn("A"), QuestionSpec("F", "?", SINGLE, choices=FREQ), yn("GONE")]))
    new = spec(
        (
            "S",
            [
                yn("A"),
                QuestionSpec("F", "?", SINGLE, choices=FREQ[:2]),  # "never" was removed
                QuestionSpec("GONE", "?", QuestionType.TEXT),  # same code, new type
                yn("NEW"),
            ],
        )
    )
    assert carry_over(old, {"A": "yes", "F": "never", "GONE": "no"}, new) == {"A": "yes"}
    assert carry_over(old, {"F": "monthly"}, new) == {"F": "monthly"}


def test_months_arithmetic_for_cadence():
    assert add_months(date(2025, 1, 31), 1) == date(2025, 2, 28)
    assert add_months(date(2024, 1, 31), 1) == date(2024, 2, 29)
    assert add_months(date(2025, 11, 15), 14) == date(2027, 1, 15)
    assert reassessment_due(date(2025, 3, 1), 12) == date(2026, 3, 1)
