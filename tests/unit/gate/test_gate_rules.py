"""Table-driven tests of every gate check and the combinations that matter."""

from dataclasses import replace
from datetime import date, timedelta

import pytest

from vendor_portal.gate.domain import (
    BusinessServiceFact,
    EvidenceFact,
    ExceptionFact,
    FindingFact,
    GateFacts,
    GatePolicy,
    QuestionnaireFact,
    SubcontractingFact,
    VendorServiceFact,
    evaluate,
)

TODAY = date(2026, 11, 25)
POLICY = GatePolicy(
    tier="critical",
    required_evidence={"bcp": 365, "dr_test_report": 365},
    questionnaire_min_score=70,
    questionnaire_max_age_days=365,
    exercise_required=True,
    exercise_max_age_days=365,
    blocking_severities=frozenset({"critical", "high"}),
    required_clauses=frozenset({"bcp_bia", "audit_access"}),
    subcontracting_review_required=True,
)
GOOD = GateFacts(
    today=TODAY,
    vendor_name="Acme Cloud",
    services=(VendorServiceFact(1, "Acme hosting", rto_hours=2, rpo_hours=0.5),),
    business_services=(BusinessServiceFact("Card payments", 4, 1, frozenset({1})),),
    evidence=(
        EvidenceFact("bcp", "accepted", date(2026, 3, 1), date(2027, 3, 1)),
        EvidenceFact("dr_test_report", "accepted", date(2026, 6, 1), None),
    ),
    questionnaires=(QuestionnaireFact("BC due diligence", date(2026, 5, 1), 82, True),),
    exercises_completed=(date(2026, 9, 15),),
    findings=(FindingFact(7, "Backup restore untested", "high", TODAY + timedelta(days=10), True),),
    subcontracting=SubcontractingFact(True, date(2026, 8, 1), True, ()),
    clauses=frozenset({"bcp_bia", "audit_access", "exit_assistance"}),
    clause_titles={"bcp_bia": "Keep a BCP and BIA", "audit_access": "Allow audit and access"},
)


def check(decision, code):
    return next(c for c in decision.checks if c.code == code)


def test_everything_in_order_passes():
    decision = evaluate(POLICY, GOOD)
    assert decision.decision == "pass"
    assert [c.code for c in decision.checks] == [
        "questionnaire",
        "evidence",
        "rto",
        "rpo",
        "exercise",
        "findings",
        "subcontracting",
        "clauses",
    ]
    assert all(c.status == "pass" for c in decision.checks)


CASES = [
    # (change to the facts, failing check, words the message must contain)
    ({"questionnaires": ()}, "questionnaire", "No accepted continuity questionnaire"),
    (
        {"questionnaires": (QuestionnaireFact("q", date(2026, 5, 1), 82, False),)},
        "questionnaire",
        "No accepted",
    ),
    (
        {"questionnaires": (QuestionnaireFact("q", date(2026, 5, 1), 55, True),)},
        "questionnaire",
        "score 55% is below the minimum of 70%",
    ),
    (
        {"questionnaires": (QuestionnaireFact("q", date(2025, 10, 1), 90, True),)},
        "questionnaire",
        "more than 365 days ago",
    ),
    (
        {
            "evidence": (
                EvidenceFact("bcp", "accepted", date(2026, 3, 1), date(2026, 11, 1)),
                GOOD.evidence[1],
            )
        },
        "evidence",
        "business continuity plan (expired)",
    ),
    (
        {"evidence": (EvidenceFact("bcp", "rejected", date(2026, 3, 1), None), GOOD.evidence[1])},
        "evidence",
        "business continuity plan (rejected)",
    ),
    (
        {"evidence": (EvidenceFact("bcp", "submitted", date(2026, 3, 1), None), GOOD.evidence[1])},
        "evidence",
        "(awaiting review)",
    ),
    (
        {
            "evidence": (
                GOOD.evidence[0],
                EvidenceFact("dr_test_report", "accepted", date(2025, 6, 1), None),
            )
        },
        "evidence",
        "DR test report (older than 365 days)",
    ),
    ({"evidence": (GOOD.evidence[0],)}, "evidence", "DR test report"),
    (
        {"services": (VendorServiceFact(1, "Acme hosting", 24, 0.5),)},
        "rto",
        "attested RTO of 24 h for Acme hosting exceeds the 4 h RTO of Card payments",
    ),
    (
        {"services": (VendorServiceFact(1, "Acme hosting", None, 0.5),)},
        "rto",
        "attested RTO for Acme hosting",
    ),
    (
        {"services": (VendorServiceFact(1, "Acme hosting", 2, 6),)},
        "rpo",
        "attested RPO of 6 h for Acme hosting exceeds the 1 h RPO of Card payments",
    ),
    ({"exercises_completed": (date(2025, 1, 10),)}, "exercise", "the last was on 2025-01-10"),
    ({"exercises_completed": ()}, "exercise", "none recorded"),
    (
        {
            "findings": (
                FindingFact(7, "Backup restore untested", "high", TODAY - timedelta(days=1), True),
            )
        },
        "findings",
        "1 overdue critical/high finding open",
    ),
    (
        {"subcontracting": SubcontractingFact(False, None, False)},
        "subcontracting",
        "has not declared its subcontractors",
    ),
    (
        {"subcontracting": SubcontractingFact(True, date(2024, 1, 1), False)},
        "subcontracting",
        "No current flow-down review",
    ),
    (
        {"subcontracting": SubcontractingFact(False, None, False, (), date(2025, 6, 1), False)},
        "subcontracting",
        "attested on 2025-06-01 that it has no subcontractors; that statement is due",
    ),
    (
        {
            "subcontracting": SubcontractingFact(
                True, date(2026, 8, 1), True, ("Notify incidents — Fibre Co",)
            )
        },
        "subcontracting",
        "Notify incidents — Fibre Co",
    ),
    (
        {"clauses": frozenset({"bcp_bia"})},
        "clauses",
        "lacks required clauses: Allow audit and access",
    ),
]


@pytest.mark.parametrize(
    ("change", "code", "words"), CASES, ids=[f"{c[1]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_failure_explains_itself(change, code, words):
    decision = evaluate(POLICY, replace(GOOD, **change))
    assert decision.decision == "fail"
    assert [c.code for c in decision.failing] == [code]
    failing = check(decision, code)
    assert words in failing.message
    assert failing.missing and failing.fixes


def test_fix_names_the_date_to_beat():
    decision = evaluate(POLICY, replace(GOOD, evidence=(GOOD.evidence[0],)))
    assert (
        "Upload a DR test report issued after 2025-11-25 and have it accepted."
        in check(decision, "evidence").fixes
    )


def test_not_yet_due_and_low_severity_findings_do_not_block():
    findings = (
        FindingFact(1, "a", "medium", TODAY - timedelta(days=30), True),
        FindingFact(2, "b", "critical", TODAY - timedelta(days=30), False),
    )
    assert evaluate(POLICY, replace(GOOD, findings=findings)).decision == "pass"


def test_relaxed_policy_skips_optional_checks():
    lenient = GatePolicy(tier="low")
    bare = GateFacts(today=TODAY, vendor_name="Small Co")
    decision = evaluate(lenient, bare)
    assert decision.decision == "pass"


BAD_RTO = replace(GOOD, services=(VendorServiceFact(1, "Acme hosting", 24, 0.5),))


def _exception(**kw):
    base = {
        "id": 3,
        "checks": frozenset({"rto"}),
        "status": "approved",
        "expires_on": TODAY + timedelta(days=30),
        "requested_by": 10,
        "approved_by": 11,
    }
    base.update(kw)
    return ExceptionFact(**base)


@pytest.mark.parametrize(
    ("exception", "expected"),
    [
        (_exception(), "pass_with_exception"),
        (
            _exception(expires_on=TODAY - timedelta(days=1)),
            "fail",
        ),  # expired: stops counting by itself
        (_exception(expires_on=TODAY), "pass_with_exception"),  # valid through its expiry day
        (_exception(approved_by=10), "fail"),  # approved by the requester
        (_exception(status="requested", approved_by=None), "fail"),
        (_exception(status="rejected"), "fail"),
        (_exception(checks=frozenset({"evidence"})), "fail"),  # covers another check
    ],
)
def test_exceptions(exception, expected):
    decision = evaluate(POLICY, replace(BAD_RTO, exceptions=(exception,)))
    assert decision.decision == expected
    if expected == "pass_with_exception":
        assert decision.exception_ids == (3,)
        assert check(decision, "rto").status == "fail"  # the check still reports the gap


def test_exception_must_cover_every_failing_check():
    facts = replace(BAD_RTO, clauses=frozenset({"bcp_bia"}), exceptions=(_exception(),))
    assert evaluate(POLICY, facts).decision == "fail"
    both = replace(
        facts, exceptions=(_exception(), _exception(id=4, checks=frozenset({"clauses"})))
    )
    decision = evaluate(POLICY, both)
    assert decision.decision == "pass_with_exception" and decision.exception_ids == (3, 4)


def test_a_current_statement_of_no_subcontractors_stands_in_for_chain_and_review():
    facts = replace(
        GOOD, subcontracting=SubcontractingFact(False, None, False, (), date(2026, 2, 1), True)
    )
    decision = evaluate(POLICY, facts)
    assert decision.decision == "pass"
    assert "attested on 2026-02-01 that it has no subcontractors" in (
        check(decision, "subcontracting").message
    )
