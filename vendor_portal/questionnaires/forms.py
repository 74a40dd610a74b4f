from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from vendor_portal.evidence.domain import EvidenceType
from vendor_portal.forms import blank_to_none, choices, strip_filter
from vendor_portal.questionnaires.bank import format_choices, parse_choices
from vendor_portal.questionnaires.domain import (
    MAX_HOURS,
    YES_NO_CHOICES,
    Choice,
    Condition,
    HoursMetric,
    QuestionSpec,
    QuestionType,
    slug,
)


class TemplateForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)], filters=[strip_filter])
    description = TextAreaField(
        "Description",
        description="What the questionnaire covers; vendors see it at the top.",
        validators=[Optional(), Length(max=5000)],
        filters=[blank_to_none],
    )


class SectionForm(FlaskForm):
    title = StringField(
        "Section title", validators=[DataRequired(), Length(max=300)], filters=[strip_filter]
    )
    description = TextAreaField(
        "Introduction", validators=[Optional(), Length(max=5000)], filters=[blank_to_none]
    )


class QuestionForm(FlaskForm):
    section_id = SelectField("Section")
    code = StringField(
        "Code",
        description="Short and unique in the template, e.g. BCP-7. Answers carry over between "
        "versions by code.",
        validators=[DataRequired(), Length(max=64)],
        filters=[strip_filter],
    )
    text = TextAreaField(
        "Question", validators=[DataRequired(), Length(max=5000)], filters=[strip_filter]
    )
    help_text = TextAreaField(
        "Help text",
        description="Shown under the question.",
        validators=[Optional(), Length(max=5000)],
        filters=[blank_to_none],
    )
    qtype = SelectField("Type", choices=choices((t.value, t.label) for t in QuestionType))
    required = BooleanField("Required")
    critical = BooleanField(
        "Critical",
        description="A bad answer is a red flag whatever the total score: a choice scoring 0, "
        "a number or hours above the limit, no evidence, or no answer.",
    )
    weight = DecimalField(
        "Weight",
        default=1,
        description="How much the question counts in the score (0 = not scored).",
        validators=[Optional(), NumberRange(min=0, max=1000)],
    )
    choices_text = TextAreaField(
        "Choices",
        description="Choice questions: one per line as 'Label = score', e.g. 'Yes = 1'. "
        "'N/A = na' is not scored. Yes/no questions may leave this empty (Yes = 1, No = 0).",
        validators=[Optional(), Length(max=5000)],
    )
    show_if_code = SelectField(
        "Show only if", description="An earlier yes/no or choice question.", validators=[Optional()]
    )
    show_if_values = StringField(
        "…is answered",
        description="One or more of its answers, separated by ';', e.g. 'Yes'.",
        validators=[Optional(), Length(max=1000)],
    )
    hours_metric = SelectField(
        "Hours measure",
        choices=choices([("", "—"), ("rto", "RTO (recovery time)"), ("rpo", "RPO (data loss)")]),
        description="Hours questions: answered per vendor service; accepted answers become the "
        "service's attested RTO or RPO.",
        validators=[Optional()],
    )
    max_value = DecimalField(
        "Limit",
        description="Number and hours questions: an answer above this is a bad answer.",
        validators=[Optional(), NumberRange(min=0, max=MAX_HOURS)],
    )
    evidence_type = SelectField(
        "Evidence asked for",
        choices=choices([("", "Any type"), *((t.value, t.label) for t in EvidenceType)]),
        validators=[Optional()],
    )

    def set_choices(self, sections: list[Any], earlier: list[Any]) -> None:
        self.section_id.choices = choices((s.id, s.title) for s in sections)
        self.show_if_code.choices = choices(
            [("", "Always shown"), *((q.code, f"{q.code}: {q.text[:70]}") for q in earlier)]
        )

    def load(self, question: Any) -> None:
        spec = question.spec()
        self.section_id.data = str(question.section_id)
        self.code.data = spec.code
        self.text.data = spec.text
        self.help_text.data = spec.help_text
        self.qtype.data = spec.qtype.value
        self.required.data = spec.required
        self.critical.data = spec.critical
        self.weight.data = spec.weight
        default = spec.qtype == QuestionType.YES_NO and spec.choices == YES_NO_CHOICES
        self.choices_text.data = (
            "" if default else format_choices(spec.choices).replace(" | ", "\n")
        )
        if spec.show_if:
            self.show_if_code.data = spec.show_if.question
            self.show_if_values.data = "; ".join(spec.show_if.values)
        self.hours_metric.data = spec.hours_metric.value if spec.hours_metric else ""
        self.max_value.data = spec.max_value
        self.evidence_type.data = spec.evidence_type or ""

    def validate_choices_text(self, field: Any) -> None:
        _, problems = parse_choices((field.data or "").replace("\n", "|"))
        if problems:
            raise ValidationError(" ".join(p[0].upper() + p[1:] for p in problems))

    def spec(self, earlier: dict[str, QuestionSpec]) -> QuestionSpec:
        qtype = QuestionType(self.qtype.data)
        parsed, _ = parse_choices((self.choices_text.data or "").replace("\n", "|"))
        if qtype == QuestionType.YES_NO:
            given = {c.value: c.score for c in parsed}
            parsed = [Choice(c.value, c.label, given.get(c.value, c.score)) for c in YES_NO_CHOICES]
        elif qtype not in (QuestionType.SINGLE_CHOICE, QuestionType.MULTIPLE_CHOICE):
            parsed = []
        condition = None
        if self.show_if_code.data:
            target = earlier.get(self.show_if_code.data)
            values = []
            for raw in [
                v.strip() for v in (self.show_if_values.data or "").split(";") if v.strip()
            ]:
                match = None
                if target is not None:
                    match = next(
                        (
                            c
                            for c in target.choices
                            if c.value == raw or c.label.lower() == raw.lower()
                        ),
                        None,
                    )
                values.append(match.value if match else slug(raw))
            condition = Condition(self.show_if_code.data, tuple(values))
        weight = float(self.weight.data) if self.weight.data is not None else 1.0
        return QuestionSpec(
            code=self.code.data,
            text=self.text.data,
            qtype=qtype,
            help_text=self.help_text.data or "",
            required=self.required.data,
            weight=weight,
            critical=self.critical.data,
            choices=tuple(parsed),
            show_if=condition,
            hours_metric=HoursMetric(self.hours_metric.data) if self.hours_metric.data else None,
            max_value=float(self.max_value.data) if self.max_value.data is not None else None,
            evidence_type=(self.evidence_type.data or None)
            if qtype == QuestionType.EVIDENCE
            else None,
        )


class ImportForm(FlaskForm):
    file = FileField(
        "Question bank",
        description="CSV or Excel (.xlsx), one question per row. CISA's vendor SCRM template is "
        "recognised as it is.",
        validators=[FileRequired(message="Choose a CSV or Excel file.")],
        render_kw={"accept": ".csv,.xlsx"},
    )
    template_id = SelectField(
        "Import as",
        description="A new template, or a new draft version of an existing one.",
        validators=[Optional()],
    )
    name = StringField(
        "Name of the new template",
        description="Defaults to the file name.",
        validators=[Optional(), Length(max=200)],
        filters=[blank_to_none],
    )
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=5000)], filters=[blank_to_none]
    )


class SendForm(FlaskForm):
    vendor_ids = SelectMultipleField(
        "Vendors",
        description="Hold Ctrl (or ⌘) to choose several.",
        validators=[DataRequired(message="Choose at least one vendor.")],
    )
    due_date = DateField("Due date", validators=[DataRequired(message="Give a due date.")])
    message = TextAreaField(
        "Message to the vendors",
        description="Added to the invitation email.",
        validators=[Optional(), Length(max=2000)],
        filters=[blank_to_none],
    )


class ReviewForm(FlaskForm):
    decision = SelectField(
        "Decision",
        choices=choices([("accept", "Accept"), ("return", "Return for changes")]),
    )
    note = TextAreaField(
        "Note to the vendor",
        description="Required when returning without comments on questions.",
        validators=[Optional(), Length(max=5000)],
        filters=[blank_to_none],
    )


class CadenceForm(FlaskForm):
    """Months between reassessments and days to answer, per tier (built per tier below)."""


def cadence_form(tiers: list[str], data: dict[str, Any] | None = None) -> CadenceForm:
    class _Form(CadenceForm):
        pass

    for tier in tiers:
        setattr(
            _Form,
            f"months_{tier}",
            IntegerField(
                f"{tier.capitalize()}: reassess every (months)",
                description="Empty: no automatic reassessment.",
                validators=[Optional(), NumberRange(min=1, max=120)],
            ),
        )
        setattr(
            _Form,
            f"due_days_{tier}",
            IntegerField(
                f"{tier.capitalize()}: days to answer",
                validators=[DataRequired(), NumberRange(min=1, max=365)],
            ),
        )
    return _Form(data=data)
