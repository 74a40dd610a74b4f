"""Builders for questionnaires: templates, published versions and assignments, made through
the services (so every test starts from data the app itself would have written)."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from vendor_portal.db import utcnow
from vendor_portal.questionnaires import services
from vendor_portal.questionnaires.domain import (
    YES_NO_CHOICES,
    Choice,
    Condition,
    HoursMetric,
    QuestionSpec,
    QuestionType,
    SectionSpec,
    TemplateSpec,
)
from vendor_portal.questionnaires.models import Assignment, TemplateVersion
from vendor_portal.vendors.models import Vendor

_counter = itertools.count(1)


def small_spec(name: str) -> TemplateSpec:
    """Five questions: a critical yes/no, a conditional choice, RTO hours, evidence, text."""
    return TemplateSpec(
        name=name,
        description="A short continuity questionnaire.",
        sections=(
            SectionSpec(
                "Plans",
                "",
                (
                    QuestionSpec(
                        "PLAN",
                        "Do you have a continuity plan?",
                        QuestionType.YES_NO,
                        choices=YES_NO_CHOICES,
                        required=True,
                        critical=True,
                        weight=2,
                    ),
                    QuestionSpec(
                        "TEST",
                        "How often is it tested?",
                        QuestionType.SINGLE_CHOICE,
                        choices=(
                            Choice("yearly", "Yearly", 1),
                            Choice("rarely", "Rarely", 0.25),
                            Choice("never", "Never", 0),
                        ),
                        required=True,
                        show_if=Condition("PLAN", ("yes",)),
                    ),
                    QuestionSpec(
                        "DOC",
                        "Attach the plan.",
                        QuestionType.EVIDENCE,
                        evidence_type="bcp",
                        weight=0,
                    ),
                ),
            ),
            SectionSpec(
                "Recovery",
                "",
                (
                    QuestionSpec(
                        "RTO",
                        "RTO per service (hours)?",
                        QuestionType.HOURS,
                        hours_metric=HoursMetric.RTO,
                        max_value=24,
                        required=True,
                        critical=True,
                        weight=0,
                    ),
                    QuestionSpec("NOTES", "Anything else?", QuestionType.TEXT, weight=0),
                ),
            ),
        ),
    )


class QuestionnaireBuilder:
    def __init__(self, session: Session) -> None:
        self.session = session

    def default_version(self) -> TemplateVersion:
        version, _ = services.install_default_template(self.session)
        self.session.commit()
        return version

    def version(self, name: str | None = None, publish: bool = True) -> TemplateVersion:
        spec = small_spec(name or f"Questionnaire {next(_counter)}")
        version = services.version_from_spec(self.session, spec, None, "test")
        if publish:
            services.publish(self.session, version, None)
        self.session.commit()
        return version

    def assignment(
        self,
        vendor: Vendor,
        version: TemplateVersion | None = None,
        due_in: int = 30,
        contacts: list[Any] | None = None,
    ) -> Assignment:
        version = version or self.version()
        result = services.send(
            self.session,
            version,
            [vendor],
            utcnow().date() + timedelta(days=due_in),
            {vendor.id: contacts} if contacts is not None else {},
            None,
        )
        self.session.commit()
        return result.created[0]

    def answered(self, assignment: Assignment, answers: dict[str, Any], user: Any = None) -> None:
        errors = services.save_answers(self.session, assignment, answers, user)
        assert errors == {}, errors
        self.session.commit()

    def submitted(self, assignment: Assignment, answers: dict[str, Any], user: Any = None) -> None:
        self.answered(assignment, answers, user)
        services.submit(self.session, assignment, user)
        self.session.commit()

    def accepted(self, assignment: Assignment, answers: dict[str, Any], reviewer: Any) -> None:
        self.submitted(assignment, answers)
        services.accept(self.session, assignment, None, reviewer)
        self.session.commit()
