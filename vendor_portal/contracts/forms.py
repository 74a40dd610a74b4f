from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from vendor_portal.forms import blank_to_none, choices, strip_filter
from vendor_portal.vendors.domain import Tier


class ContractForm(FlaskForm):
    vendor_id = SelectField("Vendor", coerce=int)
    title = StringField(
        "Title", validators=[DataRequired(), Length(max=300)], filters=[strip_filter]
    )
    reference = StringField(
        "Reference", validators=[Optional(), Length(max=100)], filters=[blank_to_none]
    )
    start_date = DateField("Start", validators=[Optional()])
    end_date = DateField("End", validators=[Optional()])
    status = SelectField("Status")
    vendor_service_ids = SelectMultipleField(
        "Vendor services covered", coerce=int, validators=[Optional()]
    )
    clause_ids = SelectMultipleField(
        "Continuity clauses in the contract",
        coerce=int,
        validators=[Optional()],
        description="Tick each obligation the signed text contains.",
    )


class ObligationForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(max=64)], filters=[strip_filter])
    title = StringField(
        "Title", validators=[DataRequired(), Length(max=200)], filters=[strip_filter]
    )
    description = TextAreaField(
        "Clause text", validators=[Optional(), Length(max=5000)], filters=[blank_to_none]
    )
    mandatory_tiers = SelectMultipleField(
        "Mandatory for vendor tiers",
        choices=choices((t.value, t.value.capitalize()) for t in Tier),
        validators=[Optional()],
        description="Optional for the other tiers.",
    )
