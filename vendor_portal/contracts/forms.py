from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from vendor_portal.forms import blank_to_none, choices, optional_int, strip_filter
from vendor_portal.vendors.domain import Tier


def upper_or_none(value):
    return value.strip().upper() or None if isinstance(value, str) else value


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
    renewal_date = DateField("Renewal", validators=[Optional()])
    notice_date = DateField(
        "Notice deadline", description="Last day to give notice.", validators=[Optional()]
    )
    value = DecimalField("Value", places=2, validators=[Optional(), NumberRange(min=0)])
    currency = StringField(
        "Currency", validators=[Optional(), Length(min=3, max=3)], filters=[upper_or_none]
    )
    parent_id = SelectField(
        "Subordinate to", coerce=optional_int, description="The overarching contract, if any."
    )
    renews_id = SelectField(
        "Renews", coerce=optional_int, description="The contract this one renews, if any."
    )
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
