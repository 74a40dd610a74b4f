"""The procurement gate as pure rules: facts about a contract in, an explained decision out.

Every check of DESIGN.md's table reports pass or fail, what is missing, and what would fix it.
An approved, unexpired exception (approved by someone other than its requester) that covers
every failing check turns a failure into `pass_with_exception`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum


class CheckCode(StrEnum):
    QUESTIONNAIRE = "questionnaire"
    EVIDENCE = "evidence"
    RTO = "rto"
    RPO = "rpo"
    EXERCISE = "exercise"
    FINDINGS = "findings"
    SUBCONTRACTING = "subcontracting"
    CLAUSES = "clauses"


class Decision(StrEnum):
    PASS = "pass"  # noqa: S105 (a decision, not a password)
    FAIL = "fail"
    PASS_WITH_EXCEPTION = "pass_with_exception"  # noqa: S105


EVIDENCE_LABELS = {
    "bcp": "business continuity plan",
    "bia": "business impact analysis",
    "dr_test_report": "DR test report",
    "exercise_report": "exercise report",
    "iso22301_certificate": "ISO 22301 certificate",
    "soc2_report": "SOC 2 report",
    "insurance_certificate": "insurance certificate",
    "other": "document",
}


@dataclass(frozen=True)
class GatePolicy:
    tier: str
    required_evidence: dict[str, int] = field(default_factory=dict)  # type -> max age (days)
    questionnaire_min_score: float | None = None  # percent; None: no questionnaire required
    questionnaire_max_age_days: int = 365
    exercise_required: bool = False
    exercise_max_age_days: int = 365
    blocking_severities: frozenset[str] = frozenset({"critical", "high"})
    required_clauses: frozenset[str] = frozenset()  # obligation codes
    subcontracting_review_required: bool = False


@dataclass(frozen=True)
class EvidenceFact:
    evidence_type: str
    status: str  # submitted, accepted, rejected
    issued_on: date | None
    valid_until: date | None


@dataclass(frozen=True)
class QuestionnaireFact:
    title: str
    submitted_on: date
    score: float | None  # percent
    accepted: bool


@dataclass(frozen=True)
class VendorServiceFact:
    id: int
    name: str
    rto_hours: float | None
    rpo_hours: float | None


@dataclass(frozen=True)
class BusinessServiceFact:
    name: str
    rto_hours: float | None
    rpo_hours: float | None
    vendor_service_ids: frozenset[int]  # the contract's services it depends on


@dataclass(frozen=True)
class FindingFact:
    id: int
    title: str
    severity: str
    due_date: date
    open: bool


@dataclass(frozen=True)
class SubcontractingFact:
    declared: bool
    reviewed_on: date | None  # latest signed-off flow-down review
    review_current: bool  # not past its next due date
    gaps: tuple[str, ...] = ()  # "obligation — subcontractor" not flowed down
    # the vendor's statement that it has no subcontractors (only while none is declared)
    attested_none_on: date | None = None
    attestation_current: bool = False


@dataclass(frozen=True)
class ExceptionFact:
    id: int
    checks: frozenset[str]
    status: str  # requested, approved, rejected
    expires_on: date
    requested_by: int
    approved_by: int | None


@dataclass(frozen=True)
class GateFacts:
    today: date
    vendor_name: str
    services: tuple[VendorServiceFact, ...] = ()
    business_services: tuple[BusinessServiceFact, ...] = ()
    evidence: tuple[EvidenceFact, ...] = ()
    questionnaires: tuple[QuestionnaireFact, ...] = ()
    exercises_completed: tuple[date, ...] = ()
    findings: tuple[FindingFact, ...] = ()
    subcontracting: SubcontractingFact = SubcontractingFact(False, None, False)
    clauses: frozenset[str] = frozenset()  # obligation codes the contract records
    clause_titles: dict[str, str] = field(default_factory=dict)
    exceptions: tuple[ExceptionFact, ...] = ()


@dataclass(frozen=True)
class CheckResult:
    code: str
    status: str  # pass or fail
    message: str
    missing: tuple[str, ...] = ()
    fixes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "pass"


@dataclass(frozen=True)
class GateDecision:
    decision: str
    checks: tuple[CheckResult, ...]
    exception_ids: tuple[int, ...] = ()

    @property
    def failing(self) -> tuple[CheckResult, ...]:
        return tuple(c for c in self.checks if not c.passed)


def _pass(code: CheckCode, message: str) -> CheckResult:
    return CheckResult(code.value, "pass", message)


def _fail(code: CheckCode, message: str, missing: list[str], fixes: list[str]) -> CheckResult:
    return CheckResult(code.value, "fail", message, tuple(missing), tuple(fixes))


def _hours(value: float) -> str:
    return f"{value:g} h"


def check_questionnaire(policy: GatePolicy, facts: GateFacts) -> CheckResult:
    code = CheckCode.QUESTIONNAIRE
    if policy.questionnaire_min_score is None:
        return _pass(code, "No questionnaire is required for this tier.")
    oldest = facts.today - timedelta(days=policy.questionnaire_max_age_days)
    accepted = sorted((q for q in facts.questionnaires if q.accepted), key=lambda q: q.submitted_on)
    if not accepted:
        return _fail(
            code,
            "No accepted continuity questionnaire.",
            ["an accepted continuity questionnaire"],
            [f"Send a continuity questionnaire to {facts.vendor_name} and accept its answers."],
        )
    latest = accepted[-1]
    if latest.submitted_on < oldest:
        return _fail(
            code,
            f"The latest accepted questionnaire was submitted on {latest.submitted_on}, more than "
            f"{policy.questionnaire_max_age_days} days ago.",
            [f"a questionnaire submitted after {oldest}"],
            [f"Reassess {facts.vendor_name}: a questionnaire submitted after {oldest}."],
        )
    if latest.score is None or latest.score < policy.questionnaire_min_score:
        shown = "no score" if latest.score is None else f"{latest.score:.0f}%"
        return _fail(
            code,
            f"Questionnaire score {shown} is below the minimum of "
            f"{policy.questionnaire_min_score:.0f}%.",
            [f"a score of at least {policy.questionnaire_min_score:.0f}%"],
            ["Agree remediation with the vendor and reassess, or request an exception."],
        )
    return _pass(
        code, f"Questionnaire accepted ({latest.submitted_on}, score {latest.score:.0f}%)."
    )


def check_evidence(policy: GatePolicy, facts: GateFacts) -> CheckResult:
    code = CheckCode.EVIDENCE
    missing: list[str] = []
    fixes: list[str] = []
    for evidence_type, max_age in sorted(policy.required_evidence.items()):
        label = EVIDENCE_LABELS.get(evidence_type, evidence_type)
        oldest = facts.today - timedelta(days=max_age)
        candidates = [e for e in facts.evidence if e.evidence_type == evidence_type]
        good = [
            e
            for e in candidates
            if e.status == "accepted"
            and (e.issued_on is None or e.issued_on >= oldest)
            and (e.valid_until is None or e.valid_until >= facts.today)
        ]
        if good:
            continue
        accepted = [e for e in candidates if e.status == "accepted"]
        if any(e.valid_until is not None and e.valid_until < facts.today for e in accepted):
            missing.append(f"{label} (expired)")
        elif accepted:
            missing.append(f"{label} (older than {max_age} days)")
        elif any(e.status == "rejected" for e in candidates):
            missing.append(f"{label} (rejected)")
        elif candidates:
            missing.append(f"{label} (awaiting review)")
        else:
            missing.append(label)
        article = "an" if label[:1].lower() in "aeiou" else "a"
        fixes.append(f"Upload {article} {label} issued after {oldest} and have it accepted.")
    if missing:
        return _fail(
            code, "Missing or out-of-date evidence: " + "; ".join(missing) + ".", missing, fixes
        )
    if not policy.required_evidence:
        return _pass(code, "No evidence is required for this tier.")
    return _pass(code, "All required evidence is accepted and current.")


def _objective_check(code: CheckCode, facts: GateFacts) -> CheckResult:
    word = "RTO" if code == CheckCode.RTO else "RPO"
    attr = "rto_hours" if code == CheckCode.RTO else "rpo_hours"
    services = {s.id: s for s in facts.services}
    missing: list[str] = []
    fixes: list[str] = []
    compared = 0
    for business in facts.business_services:
        required = getattr(business, attr)
        if required is None:
            continue
        for service_id in sorted(business.vendor_service_ids):
            service = services.get(service_id)
            if service is None:
                continue
            compared += 1
            attested = getattr(service, attr)
            if attested is None:
                missing.append(f"no attested {word} for {service.name}")
                fixes.append(
                    f"Ask {facts.vendor_name} to attest the {word} of {service.name} "
                    f"({_hours(required)} or better, for {business.name})."
                )
            elif attested > required:
                missing.append(
                    f"the vendor's attested {word} of {_hours(attested)} for {service.name} "
                    "exceeds "
                    f"the {_hours(required)} {word} of {business.name}"
                )
                fixes.append(
                    f"Agree a {word} of {_hours(required)} or better for {service.name}, or add a "
                    f"fallback for {business.name}."
                )
    if missing:
        text = "; ".join(missing)
        return _fail(code, text[:1].upper() + text[1:] + ".", missing, fixes)
    if not compared:
        return _pass(
            code, f"No business service with an {word} depends on this contract's services."
        )
    return _pass(code, f"Attested {word}s meet every supported business service.")


def check_rto(policy: GatePolicy, facts: GateFacts) -> CheckResult:
    return _objective_check(CheckCode.RTO, facts)


def check_rpo(policy: GatePolicy, facts: GateFacts) -> CheckResult:
    return _objective_check(CheckCode.RPO, facts)


def check_exercise(policy: GatePolicy, facts: GateFacts) -> CheckResult:
    code = CheckCode.EXERCISE
    if not policy.exercise_required:
        return _pass(code, "No joint exercise is required for this tier.")
    oldest = facts.today - timedelta(days=policy.exercise_max_age_days)
    recent = [d for d in facts.exercises_completed if d >= oldest]
    if recent:
        return _pass(code, f"Joint exercise completed on {max(recent)}.")
    last = max(facts.exercises_completed) if facts.exercises_completed else None
    return _fail(
        code,
        "No joint exercise with the vendor since "
        + f"{oldest}"
        + (f" (the last was on {last})." if last else " (none recorded)."),
        [f"a joint exercise completed after {oldest}"],
        [f"Schedule and complete a joint continuity exercise with {facts.vendor_name}."],
    )


def check_findings(policy: GatePolicy, facts: GateFacts) -> CheckResult:
    code = CheckCode.FINDINGS
    blocking = [
        f
        for f in facts.findings
        if f.open and f.severity in policy.blocking_severities and f.due_date < facts.today
    ]
    if not blocking:
        return _pass(code, "No blocking finding is overdue.")
    missing = [f"finding {f.id} “{f.title}” ({f.severity}, due {f.due_date})" for f in blocking]
    return _fail(
        code,
        f"{len(blocking)} overdue {'/'.join(sorted(policy.blocking_severities))} finding"
        + ("s" if len(blocking) != 1 else "")
        + " open.",
        missing,
        [f"Close finding {f.id} or accept its risk formally." for f in blocking],
    )


def check_subcontracting(policy: GatePolicy, facts: GateFacts) -> CheckResult:
    code = CheckCode.SUBCONTRACTING
    if not policy.subcontracting_review_required:
        return _pass(code, "No subcontracting review is required for this tier.")
    sub = facts.subcontracting
    if not sub.declared and sub.attested_none_on is not None:
        # Nothing to flow down: the vendor's statement stands in for chain and review.
        if sub.attestation_current:
            return _pass(
                code,
                f"The vendor attested on {sub.attested_none_on} that it has no subcontractors.",
            )
        return _fail(
            code,
            f"The vendor attested on {sub.attested_none_on} that it has no subcontractors; "
            "that statement is due to be confirmed again.",
            ["a current no-subcontractors attestation"],
            [
                f"Ask {facts.vendor_name} to confirm again that it has no subcontractors, "
                "or to declare them."
            ],
        )
    if not sub.declared:
        return _fail(
            code,
            "The vendor has not declared its subcontractors.",
            ["subcontractor declarations"],
            [f"Ask {facts.vendor_name} to declare its subcontractors (or confirm it has none)."],
        )
    if sub.reviewed_on is None or not sub.review_current:
        return _fail(
            code,
            "No current flow-down review of the vendor's subcontracting chain.",
            ["a signed-off flow-down review"],
            [
                "Review whether the mandatory obligations flow down to each subcontractor "
                "and sign off."
            ],
        )
    if sub.gaps:
        return _fail(
            code,
            "Mandatory obligations not flowed down: " + "; ".join(sub.gaps) + ".",
            list(sub.gaps),
            ["Have the vendor amend its subcontracts, then review again."],
        )
    return _pass(
        code, f"Subcontracting chain reviewed on {sub.reviewed_on}; obligations flowed down."
    )


def check_clauses(policy: GatePolicy, facts: GateFacts) -> CheckResult:
    code = CheckCode.CLAUSES
    absent = sorted(policy.required_clauses - facts.clauses)
    if not absent:
        return _pass(code, "The contract records every required continuity clause.")
    titles = [facts.clause_titles.get(c, c) for c in absent]
    return _fail(
        code,
        "The contract lacks required clauses: " + "; ".join(titles) + ".",
        titles,
        [f"Add the clause “{t}” to the contract." for t in titles],
    )


CHECKS = (
    check_questionnaire,
    check_evidence,
    check_rto,
    check_rpo,
    check_exercise,
    check_findings,
    check_subcontracting,
    check_clauses,
)


def usable_exceptions(facts: GateFacts) -> list[ExceptionFact]:
    """Approved, unexpired, and approved by someone other than the requester."""
    return [
        e
        for e in facts.exceptions
        if e.status == "approved"
        and e.expires_on >= facts.today
        and e.approved_by is not None
        and e.approved_by != e.requested_by
    ]


def evaluate(policy: GatePolicy, facts: GateFacts) -> GateDecision:
    checks = tuple(check(policy, facts) for check in CHECKS)
    failing = {c.code for c in checks if not c.passed}
    if not failing:
        return GateDecision(Decision.PASS.value, checks)
    exceptions = usable_exceptions(facts)
    covered = set().union(*(e.checks for e in exceptions)) if exceptions else set()
    if failing <= covered:
        used = tuple(sorted(e.id for e in exceptions if e.checks & failing))
        return GateDecision(Decision.PASS_WITH_EXCEPTION.value, checks, used)
    return GateDecision(Decision.FAIL.value, checks)
