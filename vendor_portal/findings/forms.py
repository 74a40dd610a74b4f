from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, DateField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from vendor_portal.findings.domain import MAX_DUE_DAYS, FindingSource, Severity
from vendor_portal.forms import blank_to_none, choices, strip_filter


def severity_choices() -> list:
    return choices((s.value, s.label) for s in Severity)


class FindingForm(FlaskForm):
    """A finding recorded by hand, or a reviewer's edit of one."""

    vendor_id = SelectField("Vendor", coerce=int, validators=[InputRequired()])
    title = StringField(
        "Title", validators=[DataRequired(), Length(max=300)], filters=[strip_filter]
    )
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=10000)], filters=[blank_to_none]
    )
    severity = SelectField("Severity", choices=severity_choices())
    source = SelectField(
        "Source", choices=choices((s.value, s.label) for s in FindingSource), default="manual"
    )
    owner_id = SelectField(
        "Owner",
        coerce=int,
        description="The person in the organisation who follows the finding up; overdue "
        "reminders go to them.",
    )
    due_date = DateField(
        "Due date",
        validators=[Optional()],
        description="Leave empty to use the policy's days for the severity.",
    )

    def __init__(self, *args, vendors=(), owners=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.vendor_id.choices = choices([(0, "Choose a vendor…"), *vendors])
        self.owner_id.choices = choices([(0, "No owner yet"), *owners])

    def validate_vendor_id(self, field) -> None:
        if not field.data:
            from wtforms.validators import ValidationError

            raise ValidationError("Choose the vendor the finding is about.")

    def values(self) -> dict[str, object]:
        values = {
            "title": self.title.data,
            "description": self.description.data,
            "severity": self.severity.data,
            "owner_id": self.owner_id.data or None,
            "due_date": self.due_date.data,
        }
        # An edit has neither: a finding keeps its vendor and source.
        if "vendor_id" in self:
            values["vendor_id"] = self.vendor_id.data
        if "source" in self:
            values["source"] = self.source.data
        return values


class PlanForm(FlaskForm):
    remediation_plan = TextAreaField(
        "Remediation plan",
        description="What you will change, who does it, and by when.",
        validators=[DataRequired(), Length(max=20000)],
        filters=[strip_filter],
    )


class CommentForm(FlaskForm):
    body = TextAreaField(
        "Progress or comment",
        validators=[DataRequired(), Length(max=10000)],
        filters=[strip_filter],
    )
    internal = BooleanField("Internal note (not shown to the vendor)")


class StatusForm(FlaskForm):
    status = SelectField("New status")
    comment = TextAreaField(
        "Comment", validators=[Optional(), Length(max=10000)], filters=[blank_to_none]
    )


class EvidenceForm(FlaskForm):
    file = FileField(
        "Evidence file",
        description="PDF, PNG, JPEG, Word (.docx), Excel (.xlsx) or text (.txt); at most 20 MB.",
        validators=[FileRequired("Choose a file to attach.")],
    )


class RiskRequestForm(FlaskForm):
    until = DateField("Accept until", validators=[InputRequired()])
    justification = TextAreaField(
        "Justification",
        description="Why the risk is acceptable until then, and what mitigates it.",
        validators=[DataRequired(), Length(max=10000)],
        filters=[strip_filter],
    )


class RiskDecisionForm(FlaskForm):
    reason = TextAreaField(
        "Reason (when refusing)", validators=[Optional(), Length(max=5000)], filters=[blank_to_none]
    )


class DuePolicyForm(FlaskForm):
    critical = IntegerField(
        "Critical", validators=[InputRequired(), NumberRange(min=1, max=MAX_DUE_DAYS)]
    )
    high = IntegerField("High", validators=[InputRequired(), NumberRange(min=1, max=MAX_DUE_DAYS)])
    medium = IntegerField(
        "Medium", validators=[InputRequired(), NumberRange(min=1, max=MAX_DUE_DAYS)]
    )
    low = IntegerField("Low", validators=[InputRequired(), NumberRange(min=1, max=MAX_DUE_DAYS)])

    def values(self) -> dict[str, int]:
        return {s.value: getattr(self, s.value).data for s in Severity}
