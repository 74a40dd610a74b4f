from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import DateTimeLocalField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from vendor_portal.exercises.domain import ExerciseType, Outcome, TimelineKind
from vendor_portal.findings.domain import Severity
from vendor_portal.forms import blank_to_none, choices, strip_filter

LOCAL = "%Y-%m-%dT%H:%M"


class PlanForm(FlaskForm):
    title = StringField(
        "Title", validators=[DataRequired(), Length(max=200)], filters=[strip_filter]
    )
    exercise_type = SelectField(
        "Type", choices=choices((t.value, t.label) for t in ExerciseType), default="tabletop"
    )
    scenario_id = SelectField("Scenario", coerce=int)
    scenario_text = TextAreaField(
        "Scenario as played",
        description="Leave empty to use the library's text; edit it to fit this exercise.",
        validators=[Optional(), Length(max=20000)],
        filters=[blank_to_none],
    )
    objectives = TextAreaField(
        "Objectives",
        description="What the exercise must show, e.g. 'restore payments hosting within 4 hours'.",
        validators=[DataRequired(), Length(max=10000)],
        filters=[strip_filter],
    )
    vendor_ids = SelectMultipleField("Vendors", coerce=int, render_kw={"size": 8})
    contact_ids = SelectMultipleField(
        "Vendor contacts",
        coerce=int,
        description="People of the invited vendors who take part (they get the invitation).",
        render_kw={"size": 8},
    )
    participant_ids = SelectMultipleField(
        "Internal participants", coerce=int, render_kw={"size": 8}
    )
    starts_local = DateTimeLocalField("Starts", format=LOCAL, validators=[InputRequired()])
    ends_local = DateTimeLocalField("Ends", format=LOCAL, validators=[InputRequired()])
    timezone = StringField(
        "Time zone",
        description="IANA name, e.g. Europe/London. Start and end are wall-clock times there.",
        render_kw={"list": "time-zones"},
        validators=[DataRequired(), Length(max=64)],
        filters=[strip_filter],
    )
    location = StringField(
        "Location or bridge",
        validators=[Optional(), Length(max=300)],
        filters=[blank_to_none],
    )
    schedule_anyway = BooleanField("Schedule despite the conflicts listed above")

    def set_choices(self, scenarios, vendors, contacts, users) -> None:
        self.scenario_id.choices = choices([(0, "No library scenario"), *scenarios])
        self.vendor_ids.choices = choices(vendors)
        self.contact_ids.choices = choices(contacts)
        self.participant_ids.choices = choices(users)


class ResponseForm(FlaskForm):
    response = SelectField(
        "Your answer",
        choices=choices(
            [
                ("confirmed", "We confirm"),
                ("declined", "We decline"),
                ("proposed", "We propose another time"),
            ]
        ),
    )
    comment = TextAreaField(
        "Comment", validators=[Optional(), Length(max=5000)], filters=[blank_to_none]
    )
    proposed_starts_local = DateTimeLocalField(
        "Proposed start", format=LOCAL, validators=[Optional()]
    )
    proposed_ends_local = DateTimeLocalField("Proposed end", format=LOCAL, validators=[Optional()])


class CancelForm(FlaskForm):
    reason = TextAreaField(
        "Reason", validators=[DataRequired(), Length(max=2000)], filters=[strip_filter]
    )


class TimelineForm(FlaskForm):
    occurred_local = DateTimeLocalField("When", format=LOCAL, validators=[InputRequired()])
    kind = SelectField("What", choices=choices((k.value, k.label) for k in TimelineKind))
    actor = StringField("Who", validators=[Optional(), Length(max=200)], filters=[blank_to_none])
    vendor_id = SelectField("Vendor", coerce=int)
    description = TextAreaField(
        "Description", validators=[DataRequired(), Length(max=5000)], filters=[strip_filter]
    )


class CompleteForm(FlaskForm):
    outcome = SelectField("Outcome", choices=choices((o.value, o.label) for o in Outcome))
    lessons_learned = TextAreaField(
        "Lessons learned", validators=[DataRequired(), Length(max=20000)], filters=[strip_filter]
    )


class RaiseFindingForm(FlaskForm):
    vendor_id = SelectField("Vendor", coerce=int)
    title = StringField(
        "Finding", validators=[DataRequired(), Length(max=300)], filters=[strip_filter]
    )
    severity = SelectField("Severity", choices=choices((s.value, s.label) for s in Severity))
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=10000)], filters=[blank_to_none]
    )
    owner_id = SelectField("Owner", coerce=int)
    key = HiddenField()


class ScenarioForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)], filters=[strip_filter])
    description = TextAreaField(
        "Narrative", validators=[DataRequired(), Length(max=20000)], filters=[strip_filter]
    )
    injects = TextAreaField(
        "Suggested injects",
        description="One per line, e.g. 'T+30m vendor status page still green'.",
        validators=[Optional(), Length(max=20000)],
        filters=[blank_to_none],
    )


class BlackoutForm(FlaskForm):
    vendor_id = SelectField("Vendor", coerce=int)
    starts_on = DateField("First day", validators=[InputRequired()])
    ends_on = DateField("Last day", validators=[InputRequired()])
    reason = StringField(
        "Reason", validators=[Optional(), Length(max=300)], filters=[blank_to_none]
    )


class CoveragePolicyForm(FlaskForm):
    critical = IntegerField("Critical", validators=[Optional(), NumberRange(min=1, max=3650)])
    high = IntegerField("High", validators=[Optional(), NumberRange(min=1, max=3650)])
    medium = IntegerField("Medium", validators=[Optional(), NumberRange(min=1, max=3650)])
    low = IntegerField("Low", validators=[Optional(), NumberRange(min=1, max=3650)])

    def values(self) -> dict[str, int | None]:
        return {t: getattr(self, t).data for t in ("critical", "high", "medium", "low")}
