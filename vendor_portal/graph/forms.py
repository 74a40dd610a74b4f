from __future__ import annotations

from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    DecimalField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    ValidationError,
)

from vendor_portal.forms import blank_to_none, choices, strip_filter
from vendor_portal.graph.domain.business import (
    MAX_COST_PER_HOUR,
    Criticality,
    objectives_problem,
)
from vendor_portal.graph.domain.model import KIND_LABELS, NodeKind
from vendor_portal.vendors.domain import MAX_RECOVERY_HOURS, country_choices


def _hours(label: str, description: str) -> DecimalField:
    return DecimalField(
        label,
        description=description,
        validators=[Optional(), NumberRange(min=0, max=MAX_RECOVERY_HOURS)],
    )


def _float(value: Any) -> float | None:
    return None if value is None else float(value)


class BusinessServiceForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)], filters=[strip_filter])
    criticality = SelectField(
        "Criticality",
        choices=choices((c.value, c.value.capitalize()) for c in Criticality),
        description="From the business impact analysis.",
    )
    owner = StringField(
        "Owner",
        description="Who answers for this service (a role or a person).",
        validators=[Optional(), Length(max=200)],
        filters=[blank_to_none],
    )
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=5000)], filters=[blank_to_none]
    )
    mtd_hours = _hours("MTD (hours)", "Maximum tolerable downtime.")
    rto_hours = _hours(
        "RTO (hours)",
        "Recovery time objective. Fallbacks slower than this do not count in the analysis.",
    )
    rpo_hours = _hours("RPO (hours)", "Recovery point objective: the data loss tolerated.")
    downtime_cost_per_hour = DecimalField(
        "Cost of downtime per hour",
        description="In the reporting currency; summed in the concentration ranking.",
        validators=[
            Optional(),
            NumberRange(min=0, max=MAX_COST_PER_HOUR, message="Give an amount of zero or more."),
        ],
    )

    def validate_rto_hours(self, field: Any) -> None:
        problem = objectives_problem(_float(field.data), _float(self.mtd_hours.data))
        if problem:
            raise ValidationError(problem)

    def values(self) -> dict[str, Any]:
        return {
            "name": self.name.data,
            "criticality": self.criticality.data,
            "owner": self.owner.data,
            "description": self.description.data,
            "mtd_hours": _float(self.mtd_hours.data),
            "rto_hours": _float(self.rto_hours.data),
            "rpo_hours": _float(self.rpo_hours.data),
            "downtime_cost_per_hour": _float(self.downtime_cost_per_hour.data),
        }


HAND_KINDS = [k for k in NodeKind if k != NodeKind.BUSINESS_SERVICE]


def requires_choices(dependencies: int, current: str | None = None) -> list[Any]:
    pairs = [
        ("all", "All of its dependencies"),
        ("any", "Any one of them (a primary and fallbacks)"),
    ]
    pairs += [
        (str(k), f"{k} of its {dependencies} dependencies") for k in range(2, dependencies + 1)
    ]
    if current and current.isdigit() and int(current) > max(dependencies, 1):
        pairs.append((current, f"{current} (more than it has: unmet)"))
    return choices(pairs)


def _country_choices() -> list[Any]:
    return choices([("", "—"), *country_choices()])


class NodeForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=200)], filters=[strip_filter])
    kind = SelectField("Kind", choices=choices((k.value, KIND_LABELS[k]) for k in HAND_KINDS))
    key = StringField(
        "Id",
        description="The node's id in exports and imports (made from the name when empty).",
        validators=[Optional(), Length(max=200)],
        filters=[blank_to_none],
    )
    requires = SelectField("Requires", description="When this node is up.")
    country = SelectField(
        "Country",
        description="Where it is: a scenario that loses this country loses it.",
        validators=[Optional()],
        filters=[blank_to_none],
    )
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=2000)], filters=[blank_to_none]
    )

    def __init__(
        self, *args: Any, dependencies: int = 0, current: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.requires.choices = requires_choices(dependencies, current)
        self.country.choices = _country_choices()

    def values(self) -> dict[str, Any]:
        """The fields present (an edit form drops kind, and name for nodes built from records)."""
        wanted = ("name", "kind", "key", "requires", "country", "description")
        return {name: self[name].data for name in wanted if name in self}


class DependencyForm(FlaskForm):
    target = SelectField("Depends on", validators=[DataRequired()])
    switchover_hours = DecimalField(
        "Switchover (hours)",
        description="For an alternative: how long it takes to bring it into service (0 for the "
        "primary or active-active).",
        default=0,
        validators=[Optional(), NumberRange(min=0, max=MAX_RECOVERY_HOURS)],
    )

    def __init__(self, *args: Any, targets: list[tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.target.choices = choices([("", "Choose a node…"), *(targets or [])])


class SwitchoverForm(FlaskForm):
    switchover_hours = DecimalField(
        "Switchover (hours)",
        validators=[
            DataRequired(message="Give a number of hours (0 or more)."),
            NumberRange(min=0, max=MAX_RECOVERY_HOURS),
        ],
    )


IMPORT_FORMATS = [
    ("json", "Interchange JSON"),
    ("csv", "Nodes CSV and edges CSV"),
    ("willems", "Willems (2008) supply chain CSV"),
]


class ImportForm(FlaskForm):
    format = SelectField("Format", choices=choices(IMPORT_FORMATS))
    file = FileField(
        "File",
        description="The JSON file, the nodes CSV, or the Willems chain.",
        validators=[FileRequired("Choose a file to import.")],
    )
    edges_file = FileField("Edges CSV", description="Only for the CSV pair.")
    alternatives = StringField(
        "Stages supplied by any one upstream stage",
        description="Willems chains only: classifications such as Dist, Retail. Other stages "
        "need all their upstream stages.",
        validators=[Optional(), Length(max=200)],
    )
    confirm = BooleanField(
        "Replace the whole graph",
        description="Nodes and edges not in the file are removed; nodes built from records come "
        "back from the records.",
        validators=[DataRequired("Tick this to confirm that the file replaces the graph.")],
    )

    def validate_edges_file(self, field: Any) -> None:
        if self.format.data == "csv" and not (field.data and getattr(field.data, "filename", "")):
            raise ValidationError("The CSV pair needs the edges file too.")


class ScenarioForm(FlaskForm):
    """A scenario is a link: the form is read from the query string."""

    class Meta:
        csrf = False

    vendors = SelectMultipleField("Vendors", coerce=str, validators=[Optional()])
    countries = SelectMultipleField("Countries", coerce=str, validators=[Optional()])
    regions = SelectMultipleField("Cloud regions", coerce=str, validators=[Optional()])
    nodes = SelectMultipleField("Other nodes", coerce=str, validators=[Optional()])


FALLBACK_STATUSES = [
    ("", "Not recorded"),
    ("contracted", "Contracted"),
    ("in_house", "In-house arrangement"),
    ("identified", "Identified only (not contracted)"),
]


class FallbackForm(FlaskForm):
    """A provider of a capability: the edge capability -> provider, with its terms."""

    capability = SelectField("Capability", validators=[DataRequired("Choose a capability.")])
    provider = SelectField(
        "Provider",
        description="The vendor service, component or facility that delivers it; what it "
        "depends on is read from the graph.",
        validators=[DataRequired("Choose a provider.")],
    )
    switchover_hours = DecimalField(
        "Switchover (hours)",
        description="How long it takes to bring this provider into service: 0 for the primary "
        "or an active-active provider. Compared with the RTO of every business service that "
        "needs the capability.",
        default=0,
        validators=[
            InputRequired(message="Give a number of hours (0 for the primary)."),
            NumberRange(min=0, max=MAX_RECOVERY_HOURS),
        ],
    )
    status = SelectField(
        "Status",
        choices=choices(FALLBACK_STATUSES),
        validators=[Optional()],
    )
    last_tested = DateField(
        "Last tested",
        description="The last switchover test to this provider; fallbacks untested for 12 "
        "months are flagged.",
        validators=[Optional()],
    )
    capacity_pct = DecimalField(
        "Capacity (%)",
        description="The share of the normal load it can carry.",
        validators=[Optional(), NumberRange(min=0, max=100, message="Give 0 to 100.")],
    )
    notes = TextAreaField(
        "Notes", validators=[Optional(), Length(max=2000)], filters=[blank_to_none]
    )

    def __init__(
        self,
        *args: Any,
        capabilities: list[tuple[str, str]] | None = None,
        providers: list[tuple[str, str]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.capability.choices = choices([("", "Choose a capability…"), *(capabilities or [])])
        self.provider.choices = choices([("", "Choose a provider…"), *(providers or [])])

    def validate_last_tested(self, field: Any) -> None:
        if field.data and field.data > date.today():
            raise ValidationError("The last test cannot be in the future.")

    def terms(self) -> Any:
        from vendor_portal.graph.fallbacks import TermsInput

        return TermsInput(
            switchover_hours=float(self.switchover_hours.data or 0),
            status=self.status.data or None,
            last_tested=self.last_tested.data,
            capacity_pct=_float(self.capacity_pct.data),
            notes=self.notes.data,
        )


class RegionImportForm(FlaskForm):
    file = FileField(
        "Ratings CSV",
        description="Columns code, name, natural_hazard, political_instability (and optionally "
        "kind: country or region, and notes). A rating is a level (low, medium, high, very high) "
        "or a score 0-100. Countries by ISO code (2 or 3 letters), regions by name.",
        validators=[FileRequired("Choose a CSV file.")],
    )
