from datetime import date

import pytest

from vendor_portal.findings.domain import (
    days_overdue,
    evidence_name_problem,
    risk_acceptance_expired,
    risk_approval_problem,
    risk_request_problem,
    transition_problem,
    transitions_from,
)

TODAY = date(2026, 6, 1)


def test_vendor_moves_work_forward_but_cannot_close():
    def vendor(current, target, comment=None):
        return transition_problem(
            current, target, can_verify=False, can_remediate=True, comment=comment
        )

    assert vendor("open", "in_remediation") is None
    assert vendor("in_remediation", "ready_for_verification") is None
    assert "Only the organisation's reviewers" in vendor("ready_for_verification", "closed")
    assert "cannot go from closed to in remediation" in vendor("closed", "in_remediation")
    targets = [t.target for t in transitions_from("open", False, True)]
    assert targets == ["in_remediation", "ready_for_verification"]


@pytest.mark.parametrize(
    ("current", "target", "comment", "problem"),
    [
        ("ready_for_verification", "closed", None, None),
        ("open", "closed", None, "needs a comment"),
        ("open", "closed", "Raised in error", None),
        ("ready_for_verification", "in_remediation", " ", "needs a comment"),
        ("closed", "open", "Came back", None),
        ("open", "risk_accepted", None, "another person approves"),
        ("open", "open", None, "already open"),
        ("open", "bogus", None, "Unknown status 'bogus'"),
    ],
)
def test_reviewer_transitions(current, target, comment, problem):
    found = transition_problem(
        current, target, can_verify=True, can_remediate=True, comment=comment
    )
    assert (found is None) if problem is None else (problem in found)


def test_risk_acceptance_rules():
    assert risk_request_problem("open", None, "why", TODAY) == (
        "A risk acceptance needs an expiry date."
    )
    assert "future" in risk_request_problem("open", TODAY, "why", TODAY)
    assert "at most 730 days" in risk_request_problem("open", date(2029, 1, 1), "why", TODAY)
    assert "justification" in risk_request_problem("open", date(2026, 9, 1), " ", TODAY)
    assert "Only an open finding" in risk_request_problem("closed", date(2026, 9, 1), "x", TODAY)
    assert risk_request_problem("in_remediation", date(2026, 9, 1), "x", TODAY) is None
    assert "someone other" in risk_approval_problem(4, 4, "open")
    assert risk_approval_problem(4, 5, "open") is None
    assert "No risk acceptance" in risk_approval_problem(None, 5, "open")


def test_expiry_and_overdue_days():
    assert risk_acceptance_expired("risk_accepted", date(2026, 5, 31), TODAY)
    assert not risk_acceptance_expired("risk_accepted", TODAY, TODAY)
    assert not risk_acceptance_expired("open", date(2026, 1, 1), TODAY)
    assert days_overdue("in_remediation", date(2026, 5, 29), TODAY) == 3
    assert days_overdue("closed", date(2026, 5, 29), TODAY) == 0


def test_only_the_agreed_evidence_types_are_accepted():
    assert evidence_name_problem("plan.PDF") is None
    assert evidence_name_problem("scan.jpeg") is None
    for name in ("deck.pptx", "data.csv", "archive.zip", "noext", ".pdf"):
        assert evidence_name_problem(name), name
