from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import DateField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from vendor_portal.forms import DomainCheck, blank_to_none, choices, optional_int, strip_filter
from vendor_portal.subcontracting.domain import FlowDown, NoticeKind
from vendor_portal.vendors.domain import (
    country_choices,
    country_codes,
    country_codes_problem,
    lei_problem,
    normalise_lei,
)


class DeclarationForm(FlaskForm):
    name = StringField(
        "Company name", validators=[DataRequired(), Length(max=200)], filters=[strip_filter]
    )
    country = SelectField("Country", validators=[DataRequired()])
    lei = StringField(
        "LEI",
        description="Legal Entity Identifier if known; it identifies the company across vendors.",
        validators=[Optional(), DomainCheck(lei_problem, normalise_lei)],
        filters=[normalise_lei],
    )
    parent_id = SelectField("Works for", coerce=optional_int)
    service_ids = SelectMultipleField(
        "For our services",
        coerce=int,
        description="Which of your services it supports (for direct subcontractors).",
        validators=[Optional()],
    )
    function = TextAreaField(
        "What they do", validators=[Optional(), Length(max=2000)], filters=[blank_to_none]
    )
    data_storage_countries = StringField(
        "Data stored in",
        description="Country codes, e.g. IE, DE.",
        validators=[Optional(), DomainCheck(country_codes_problem)],
    )
    data_processing_countries = StringField(
        "Data processed in",
        description="Country codes.",
        validators=[Optional(), DomainCheck(country_codes_problem)],
    )

    def __init__(self, *args, parents=(), services=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = choices([("", "Choose a country…"), *country_choices()])
        self.parent_id.choices = choices([("", "Us directly (rank 2)"), *parents])
        self.service_ids.choices = choices(services)

    def values(self) -> dict:
        return {
            "name": self.name.data,
            "country": self.country.data,
            "lei": self.lei.data,
            "parent_id": self.parent_id.data,
            "service_ids": self.service_ids.data or [],
            "function": self.function.data,
            "data_storage_countries": country_codes(self.data_storage_countries.data or "")[0],
            "data_processing_countries": country_codes(self.data_processing_countries.data or "")[
                0
            ],
        }


class NoticeForm(FlaskForm):
    kind = SelectField(
        "Change",
        choices=choices(
            [
                (NoticeKind.NEW.value, "A new subcontractor"),
                (NoticeKind.CHANGE.value, "A change to a declared subcontractor"),
                (NoticeKind.REMOVAL.value, "Ending a subcontractor"),
            ]
        ),
    )
    subcontractor_name = StringField(
        "Subcontractor", validators=[DataRequired(), Length(max=200)], filters=[strip_filter]
    )
    subcontractor_country = SelectField("Country", validators=[Optional()])
    declaration_id = SelectField("Declared subcontractor concerned", coerce=optional_int)
    parent_id = SelectField("Would work for", coerce=optional_int)
    planned_date = DateField("Planned from", validators=[Optional()])
    function = TextAreaField(
        "What they would do", validators=[Optional(), Length(max=2000)], filters=[blank_to_none]
    )
    description = TextAreaField(
        "Details and continuity impact",
        validators=[Optional(), Length(max=5000)],
        filters=[blank_to_none],
    )

    def __init__(self, *args, entries=(), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.subcontractor_country.choices = choices([("", "—"), *country_choices()])
        self.declaration_id.choices = choices([("", "— (a new subcontractor)"), *entries])
        self.parent_id.choices = choices([("", "Us directly"), *entries])


class DecisionForm(FlaskForm):
    comment = TextAreaField(
        "Comment to the vendor", validators=[Optional(), Length(max=5000)], filters=[blank_to_none]
    )


class FlowDownItemForm(FlaskForm):
    outcome = SelectField(
        "Flowed down",
        choices=choices(
            [
                (FlowDown.YES.value, "Yes"),
                (FlowDown.PARTLY.value, "Partly"),
                (FlowDown.NO.value, "No"),
                (FlowDown.UNKNOWN.value, "Unknown"),
            ]
        ),
    )
    comment = TextAreaField(
        "Comment", validators=[Optional(), Length(max=5000)], filters=[blank_to_none]
    )
    evidence = FileField("Evidence (clause or document)")


class MergeForm(FlaskForm):
    keep_id = SelectField("Keep", coerce=int)
    duplicate_id = SelectField("Merge into it and archive", coerce=int)
