from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, SelectField, StringField, TextAreaField, URLField
from wtforms.validators import URL, DataRequired, Email, Length, Optional

from vendor_portal.forms import DomainCheck, blank_to_none, choices, strip_filter
from vendor_portal.vendors.domain import (
    Tier,
    VendorStatus,
    country_choices,
    lei_problem,
    normalise_lei,
)


class VendorForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)], filters=[strip_filter])
    lei = StringField(
        "LEI",
        description="Legal Entity Identifier, 20 characters (optional).",
        validators=[Optional(), DomainCheck(lei_problem, normalise_lei)],
        filters=[normalise_lei],
    )
    country = SelectField("Country", validators=[DataRequired()])
    tier = SelectField(
        "Tier",
        choices=choices((t.value, t.value.capitalize()) for t in Tier),
        description="Criticality of the vendor to the organisation.",
    )
    status = SelectField(
        "Status", choices=choices((s.value, s.value.capitalize()) for s in VendorStatus)
    )
    website = URLField(
        "Website", validators=[Optional(), URL(), Length(max=300)], filters=[blank_to_none]
    )
    description = TextAreaField(
        "What they deliver", validators=[Optional(), Length(max=5000)], filters=[blank_to_none]
    )
    notes = TextAreaField(
        "Notes", validators=[Optional(), Length(max=5000)], filters=[blank_to_none]
    )

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.country.choices = choices([("", "Choose a country…"), *country_choices()])

    def values(self) -> dict[str, object]:
        return {
            "name": self.name.data,
            "lei": self.lei.data,
            "country": self.country.data,
            "tier": self.tier.data,
            "status": self.status.data,
            "website": self.website.data,
            "description": self.description.data,
            "notes": self.notes.data,
        }


class ContactForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)], filters=[strip_filter])
    email = EmailField(
        "Email", validators=[DataRequired(), Email(), Length(max=320)], filters=[strip_filter]
    )
    phone = StringField("Phone", validators=[Optional(), Length(max=50)], filters=[blank_to_none])
    job_title = StringField(
        "Job title", validators=[Optional(), Length(max=200)], filters=[blank_to_none]
    )
    is_continuity_lead = BooleanField("Business continuity lead")

    def values(self) -> dict[str, object]:
        return {
            "name": self.name.data,
            "email": self.email.data.lower(),
            "phone": self.phone.data,
            "job_title": self.job_title.data,
            "is_continuity_lead": self.is_continuity_lead.data,
        }
