"""Our own template: "Business continuity due diligence", shipped with the product."""

from __future__ import annotations

from vendor_portal.questionnaires.domain import (
    YES_NO_CHOICES,
    Choice,
    Condition,
    HoursMetric,
    QuestionSpec,
    QuestionType,
    SectionSpec,
    TemplateSpec,
    slug,
)

DEFAULT_TEMPLATE_NAME = "Business continuity due diligence"

Y, S, M, T, N, D, H, E = (
    QuestionType.YES_NO,
    QuestionType.SINGLE_CHOICE,
    QuestionType.MULTIPLE_CHOICE,
    QuestionType.TEXT,
    QuestionType.NUMBER,
    QuestionType.DATE,
    QuestionType.HOURS,
    QuestionType.EVIDENCE,
)


def options(*pairs: tuple[str, float | None]) -> tuple[Choice, ...]:
    return tuple(Choice(slug(label), label, score) for label, score in pairs)


def when(code: str, *labels: str) -> Condition:
    return Condition(code, tuple(slug(label) for label in labels))


def q(code: str, qtype: QuestionType, text: str, **kwargs) -> QuestionSpec:
    if qtype == QuestionType.YES_NO and "choices" not in kwargs:
        kwargs["choices"] = YES_NO_CHOICES
    if qtype not in (Y, S, M):
        kwargs.setdefault("weight", 0.0)
    return QuestionSpec(code=code, text=text, qtype=qtype, **kwargs)


RECENCY = options(
    ("Within the last 12 months", 1), ("12 to 24 months ago", 0.4), ("Longer ago, or never", 0)
)

DEFAULT_TEMPLATE = TemplateSpec(
    name=DEFAULT_TEMPLATE_NAME,
    description=(
        "Due diligence on a vendor's ability to keep delivering our services through a "
        "disruption: plans, impact analysis, recovery objectives per service, recovery testing, "
        "backups, exercises, crisis communication, subcontractors and insurance."
    ),
    sections=(
        SectionSpec(
            "Business continuity plan",
            "Your plan and the management system around it.",
            (
                q(
                    "BCP-1",
                    Y,
                    "Do you maintain a documented business continuity plan (BCP) covering the "
                    "services you deliver to us?",
                    required=True,
                    critical=True,
                    weight=3,
                ),
                q(
                    "BCP-2",
                    D,
                    "When was the plan last reviewed and approved by management?",
                    required=True,
                    show_if=when("BCP-1", "Yes"),
                ),
                q(
                    "BCP-3",
                    S,
                    "Which standard is your business continuity management aligned with?",
                    choices=options(
                        ("ISO 22301, certified", 1),
                        ("ISO 22301, not certified", 0.75),
                        ("Another recognised framework", 0.5),
                        ("None", 0),
                    ),
                    required=True,
                    weight=2,
                ),
                q(
                    "BCP-4",
                    E,
                    "Attach your current business continuity plan (or its summary for customers).",
                    help_text="It stays in your evidence library; you can reuse it next time.",
                    evidence_type="bcp",
                    critical=True,
                    show_if=when("BCP-1", "Yes"),
                ),
                q(
                    "BCP-5",
                    E,
                    "Attach your ISO 22301 certificate.",
                    evidence_type="iso22301_certificate",
                    show_if=when("BCP-3", "ISO 22301, certified"),
                ),
                q(
                    "BCP-6",
                    Y,
                    "Is a named executive accountable for business continuity?",
                    required=True,
                ),
            ),
        ),
        SectionSpec(
            "Business impact analysis",
            "How you decide what to recover first.",
            (
                q(
                    "BIA-1",
                    Y,
                    "Have you carried out a business impact analysis (BIA) that covers the "
                    "services you deliver to us?",
                    required=True,
                    critical=True,
                    weight=2,
                ),
                q(
                    "BIA-2",
                    S,
                    "How often is the BIA refreshed?",
                    choices=options(
                        ("At least yearly", 1),
                        ("Every two years", 0.5),
                        ("Less often, or ad hoc", 0),
                    ),
                    required=True,
                    show_if=when("BIA-1", "Yes"),
                ),
                q(
                    "BIA-3",
                    E,
                    "Attach the BIA (or the extract covering our services).",
                    evidence_type="bia",
                    show_if=when("BIA-1", "Yes"),
                ),
            ),
        ),
        SectionSpec(
            "Recovery objectives per service",
            "The objectives you commit to for each service you deliver to us. Accepted answers "
            "are recorded as your attested RTO and RPO.",
            (
                q(
                    "RTO-1",
                    H,
                    "Recovery time objective (RTO): within how many hours do you restore each "
                    "service after a disruption?",
                    hours_metric=HoursMetric.RTO,
                    max_value=24,
                    required=True,
                    critical=True,
                ),
                q(
                    "RPO-1",
                    H,
                    "Recovery point objective (RPO): at most how many hours of data could be "
                    "lost for each service?",
                    hours_metric=HoursMetric.RPO,
                    max_value=24,
                    required=True,
                    critical=True,
                ),
                q(
                    "RTO-2",
                    Y,
                    "Are these objectives written into your contract or service levels with us?",
                    required=True,
                ),
            ),
        ),
        SectionSpec(
            "Disaster recovery and restore testing",
            "",
            (
                q(
                    "DR-1",
                    S,
                    "When did you last test failing over these services to your recovery site "
                    "or region?",
                    choices=RECENCY,
                    required=True,
                    critical=True,
                    weight=3,
                ),
                q(
                    "DR-2",
                    Y,
                    "Did that test meet the RTO and RPO you gave above?",
                    required=True,
                    weight=2,
                    show_if=when("DR-1", "Within the last 12 months", "12 to 24 months ago"),
                ),
                q(
                    "DR-3",
                    E,
                    "Attach the report of that test.",
                    evidence_type="dr_test_report",
                    show_if=when("DR-1", "Within the last 12 months", "12 to 24 months ago"),
                ),
                q(
                    "DR-4",
                    S,
                    "How often do you test restoring data from backup?",
                    choices=options(
                        ("Monthly or more often", 1),
                        ("Quarterly", 0.75),
                        ("Yearly", 0.4),
                        ("Never", 0),
                    ),
                    required=True,
                    weight=2,
                ),
            ),
        ),
        SectionSpec(
            "Backups",
            "",
            (
                q(
                    "BAK-1",
                    Y,
                    "Do you keep immutable (write-once) or offline copies of the backups needed "
                    "to restore our services?",
                    help_text="Copies that ransomware or a compromised administrator cannot "
                    "alter or delete.",
                    required=True,
                    critical=True,
                    weight=3,
                ),
                q(
                    "BAK-2",
                    M,
                    "Which protections apply to those backups?",
                    choices=options(
                        ("Encrypted", 1),
                        ("Separate credentials and administration", 1),
                        ("Another site or region", 1),
                        ("Air-gapped copy", 1),
                        ("None of these", 0),
                    ),
                    show_if=when("BAK-1", "Yes"),
                ),
                q("BAK-3", N, "How many days of backups do you retain?"),
            ),
        ),
        SectionSpec(
            "Exercises",
            "",
            (
                q(
                    "EX-1",
                    S,
                    "How often do you run business continuity exercises (tabletop or live)?",
                    choices=options(
                        ("At least twice a year", 1),
                        ("Yearly", 0.75),
                        ("Less than yearly", 0.25),
                        ("Never", 0),
                    ),
                    required=True,
                    weight=2,
                ),
                q(
                    "EX-2",
                    Y,
                    "Would you take part in a joint exercise with us?",
                    required=True,
                ),
                q(
                    "EX-3",
                    E,
                    "Attach the report of your most recent exercise.",
                    evidence_type="exercise_report",
                    show_if=when("EX-1", "At least twice a year", "Yearly", "Less than yearly"),
                ),
            ),
        ),
        SectionSpec(
            "Crisis communication",
            "",
            (
                q(
                    "COM-1",
                    N,
                    "Within how many hours of a disruption affecting our services will you "
                    "notify us?",
                    max_value=4,
                    required=True,
                    critical=True,
                ),
                q(
                    "COM-2",
                    Y,
                    "Do you have a 24x7 contact and escalation path for incidents?",
                    required=True,
                    critical=True,
                    weight=2,
                ),
                q(
                    "COM-3",
                    T,
                    "How do you keep customers informed during a crisis (channels, status page, "
                    "update frequency)?",
                ),
            ),
        ),
        SectionSpec(
            "Subcontractor management",
            "The companies you rely on to deliver our services (our nth parties).",
            (
                q(
                    "SUB-1",
                    Y,
                    "Do you rely on subcontractors to deliver the services you provide to us?",
                    choices=(Choice("yes", "Yes", None), Choice("no", "No", None)),
                    required=True,
                ),
                q(
                    "SUB-2",
                    Y,
                    "Do your contracts with them include business continuity requirements "
                    "equivalent to ours?",
                    required=True,
                    critical=True,
                    weight=2,
                    show_if=when("SUB-1", "Yes"),
                ),
                q(
                    "SUB-3",
                    S,
                    "How do you assess your critical subcontractors' resilience?",
                    choices=options(
                        ("Audits or certifications, yearly", 1),
                        ("Questionnaires", 0.6),
                        ("Only at onboarding", 0.3),
                        ("Not assessed", 0),
                    ),
                    required=True,
                    show_if=when("SUB-1", "Yes"),
                ),
                q(
                    "SUB-4",
                    T,
                    "Which critical subcontractors do you use, and for which services?",
                    show_if=when("SUB-1", "Yes"),
                ),
            ),
        ),
        SectionSpec(
            "Insurance",
            "",
            (
                q(
                    "INS-1",
                    Y,
                    "Do you hold business interruption and cyber insurance covering these "
                    "services?",
                    required=True,
                ),
                q(
                    "INS-2",
                    N,
                    "What is the cover limit, in millions of euros?",
                    show_if=when("INS-1", "Yes"),
                ),
                q(
                    "INS-3",
                    E,
                    "Attach the insurance certificate.",
                    evidence_type="insurance_certificate",
                    show_if=when("INS-1", "Yes"),
                ),
            ),
        ),
    ),
)
