from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    IntegerField,
    SelectMultipleField,
    TextAreaField,
    URLField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from vendor_portal.forms import blank_to_none, choices
from vendor_portal.gate.domain import CheckCode

SEVERITIES = ("critical", "high", "medium", "low")


class ExceptionRequestForm(FlaskForm):
    checks = SelectMultipleField(
        "Failing checks to except",
        choices=choices((c.value, c.value) for c in CheckCode),
        validators=[DataRequired()],
    )
    justification = TextAreaField(
        "Justification",
        description="Why signing is acceptable despite the gap, and what compensates for it.",
        validators=[DataRequired(), Length(max=5000)],
    )
    expires_on = DateField("Expires on", validators=[DataRequired()])


class ExceptionDecisionForm(FlaskForm):
    comment = TextAreaField(
        "Comment", validators=[Optional(), Length(max=5000)], filters=[blank_to_none]
    )


class PolicyForm(FlaskForm):
    questionnaire_required = BooleanField("Require an accepted continuity questionnaire")
    questionnaire_min_score = DecimalField(
        "Minimum score (%)", validators=[Optional(), NumberRange(0, 100)]
    )
    questionnaire_max_age_days = IntegerField(
        "Questionnaire maximum age (days)", validators=[NumberRange(1, 3650)]
    )
    exercise_required = BooleanField("Require a joint exercise")
    exercise_max_age_days = IntegerField(
        "Exercise maximum age (days)", validators=[NumberRange(1, 3650)]
    )
    blocking_severities = SelectMultipleField(
        "Overdue findings that block",
        choices=choices((s, s) for s in SEVERITIES),
        validators=[Optional()],
    )
    required_clauses = SelectMultipleField("Required clauses", validators=[Optional()])
    subcontracting_review_required = BooleanField(
        "Require a current subcontracting flow-down review"
    )


class WebhookForm(FlaskForm):
    url = URLField("Endpoint URL", validators=[DataRequired(), Length(max=500)])
