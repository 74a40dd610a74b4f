from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DecimalField,
    EmailField,
    SelectField,
    StringField,
    TextAreaField,
    URLField,
)
from wtforms.validators import URL, DataRequired, Email, Length, NumberRange, Optional

from vendor_portal.forms import DomainCheck, blank_to_none, choices, strip_filter
from vendor_portal.vendors.domain import (
    MAX_RECOVERY_HOURS,
    ServiceType,
    Tier,
    VendorStatus,
    country_choices,
    country_codes,
    country_codes_problem,
    lei_problem,
    normalise_lei,
    parse_code_list,
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


class ServiceForm(FlaskForm):
    name = StringField(
        "Service name", validators=[DataRequired(), Length(max=200)], filters=[strip_filter]
    )
    service_type = SelectField("Type", choices=choices((t.value, t.label) for t in ServiceType))
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=5000)], filters=[blank_to_none]
    )
    hosting_countries = StringField(
        "Hosting countries",
        description="ISO two-letter codes, separated by commas (e.g. IE, DE).",
        validators=[Optional(), DomainCheck(country_codes_problem)],
    )
    cloud_regions = StringField(
        "Cloud regions",
        description="e.g. eu-west-1, europe-west4",
        validators=[Optional(), Length(max=1000)],
    )
    attested_rto_hours = DecimalField(
        "Attested RTO (hours)",
        description="Recovery time objective the vendor commits to.",
        validators=[Optional(), NumberRange(min=0, max=MAX_RECOVERY_HOURS)],
    )
    attested_rpo_hours = DecimalField(
        "Attested RPO (hours)",
        description="Maximum data loss the vendor commits to.",
        validators=[Optional(), NumberRange(min=0, max=MAX_RECOVERY_HOURS)],
    )

    def values(self) -> dict[str, object]:
        def hours(value):
            return None if value is None else float(value)

        return {
            "name": self.name.data,
            "service_type": self.service_type.data,
            "description": self.description.data,
            "hosting_countries": country_codes(self.hosting_countries.data or "")[0],
            "cloud_regions": sorted(set(parse_code_list(self.cloud_regions.data or ""))),
            "attested_rto_hours": hours(self.attested_rto_hours.data),
            "attested_rpo_hours": hours(self.attested_rpo_hours.data),
        }
