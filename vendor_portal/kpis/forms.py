from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    DateField,
    DateTimeLocalField,
    DecimalField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import CheckboxInput, ListWidget

from vendor_portal.forms import DomainCheck, blank_to_none, choices, strip_filter
from vendor_portal.kpis.domain import (
    COUNTABLE_SEVERITIES,
    DEFAULT_SEVERITIES,
    EARLIEST_DATE,
    LATEST_DATE,
    METRICS,
    Comparator,
    IncidentSeverity,
    Metric,
    PeriodKind,
    code_problem,
    statistic_problem,
)


def within_kpi_dates(form: Any, field: Any) -> None:
    if field.data and not EARLIEST_DATE <= field.data <= LATEST_DATE:
        raise ValidationError(f"Choose a date between {EARLIEST_DATE} and {LATEST_DATE}.")


STATISTICS = [
    ("worst", "Worst value in the period"),
    ("mean", "Mean"),
    ("p50", "Median (p50)"),
    ("p90", "90th percentile"),
    ("p95", "95th percentile"),
    ("p99", "99th percentile"),
]
COMPARATORS = [(c.value, f"{c.symbol} (value {c.symbol} target meets it)") for c in Comparator]


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _aware(value: datetime | None, zone: str) -> datetime | None:
    """A local wall-clock time from the form as an aware UTC instant; None when it does not
    exist or is ambiguous in that zone (daylight-saving changes)."""
    if value is None:
        return None
    tz = ZoneInfo(zone)
    first = value.replace(tzinfo=tz, fold=0)
    second = value.replace(tzinfo=tz, fold=1)
    if first.utcoffset() != second.utcoffset():
        return None  # skipped or repeated hour: ask for UTC instead
    if first.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != value:
        return None
    return first.astimezone(UTC)


class IncidentForm(FlaskForm):
    vendor_service_id = SelectField("Vendor service", validators=[DataRequired()])
    external_id = StringField(
        "External id",
        description="Your ticket or status-page reference; importing it again updates this "
        "incident.",
        validators=[Optional(), Length(max=200)],
        filters=[blank_to_none],
    )
    title = StringField(
        "Title", validators=[DataRequired(), Length(max=300)], filters=[strip_filter]
    )
    severity = SelectField(
        "Severity",
        choices=choices((s.value, s.value.capitalize()) for s in IncidentSeverity),
        default=IncidentSeverity.MAJOR.value,
        description="Planned maintenance never counts as downtime.",
    )
    timezone = SelectField("Times below are in", default="UTC")
    started_at = DateTimeLocalField("Started", validators=[DataRequired()])
    acknowledged_at = DateTimeLocalField("Acknowledged by the vendor", validators=[Optional()])
    notified_at = DateTimeLocalField("Customers notified", validators=[Optional()])
    ended_at = DateTimeLocalField(
        "Ended", validators=[Optional()], description="Leave empty while the incident is ongoing."
    )
    description = TextAreaField(
        "Description", validators=[Optional(), Length(max=10_000)], filters=[blank_to_none]
    )

    def __init__(self, *args: Any, services: list[Any], zones: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.vendor_service_id.choices = choices(
            [("", "Choose a service…")] + [(s.id, f"{s.vendor.name} — {s.name}") for s in services]
        )
        self.timezone.choices = choices((z, z) for z in zones)

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        ok = True
        started = self.instant(self.started_at)
        for name in ("started_at", "acknowledged_at", "notified_at", "ended_at"):
            field = getattr(self, name)
            if field.data is not None and self.instant(field) is None:
                field.errors.append(
                    f"This local time does not exist or happens twice in {self.timezone.data} "
                    "(a daylight-saving change); enter it in UTC."
                )
                ok = False
        for name, what in (
            ("ended_at", "end"),
            ("acknowledged_at", "be acknowledged"),
            ("notified_at", "be notified"),
        ):
            field = getattr(self, name)
            moment = self.instant(field)
            if started and moment and moment < started:
                field.errors.append(f"An incident cannot {what} before it started.")
                ok = False
        return ok

    def instant(self, field: Any) -> datetime | None:
        return _aware(field.data, self.timezone.data or "UTC")

    def values(self) -> dict[str, Any]:
        return {
            "vendor_service_id": int(self.vendor_service_id.data),
            "external_id": self.external_id.data,
            "title": self.title.data,
            "severity": self.severity.data,
            "description": self.description.data,
            "started_at": self.instant(self.started_at),
            "acknowledged_at": self.instant(self.acknowledged_at),
            "notified_at": self.instant(self.notified_at),
            "ended_at": self.instant(self.ended_at),
        }


class KpiForm(FlaskForm):
    vendor_service_id = SelectField("Vendor service", validators=[DataRequired()])
    metric = SelectField(
        "Measure",
        choices=choices((m.value, METRICS[m].label) for m in Metric),
        default=Metric.AVAILABILITY.value,
    )
    name = StringField(
        "Name",
        description="Leave empty to use the measure's name.",
        validators=[Optional(), Length(max=200)],
        filters=[blank_to_none],
    )
    code = StringField(
        "KPI code",
        description="Custom KPIs only: the code measurements are reported under "
        "(e.g. first_call_resolution).",
        validators=[Optional(), DomainCheck(code_problem)],
        filters=[blank_to_none],
    )
    unit = StringField(
        "Unit",
        description="Custom KPIs only (e.g. %, h, tickets).",
        validators=[Optional(), Length(max=16)],
        filters=[blank_to_none],
    )
    comparator = SelectField("Target is met when the value is", choices=choices(COMPARATORS))
    threshold = DecimalField(
        "Target", validators=[DataRequired(message="Enter the target value.")], places=None
    )
    period = SelectField(
        "Period", choices=choices((p.value, p.value.capitalize()) for p in PeriodKind)
    )
    statistic = SelectField(
        "Value compared per period",
        choices=choices(STATISTICS),
        description="For response times: the worst incident, or a percentile. Availability "
        "is always the whole period.",
        validators=[DomainCheck(statistic_problem)],
    )
    severities = MultiCheckboxField(
        "Incident severities that count",
        choices=choices((s.value, s.value.capitalize()) for s in COUNTABLE_SEVERITIES),
        default=sorted(DEFAULT_SEVERITIES),
        description="Incident-based KPIs only. Planned maintenance never counts.",
    )
    contract_id = SelectField(
        "Contract",
        validate_choice=False,  # checked in validate(): none (absent, or None from the KPI) is fine
        description="The contract that sets this target, if it is recorded: one of the "
        "service's vendor's contracts.",
    )
    description = TextAreaField(
        "Contract reference or notes",
        validators=[Optional(), Length(max=5000)],
        filters=[blank_to_none],
    )

    def __init__(
        self, *args: Any, services: list[Any], contracts: list[Any] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.vendor_service_id.choices = choices(
            [("", "Choose a service…")] + [(s.id, f"{s.vendor.name} — {s.name}") for s in services]
        )
        self.contract_id.choices = choices(
            [("", "No recorded contract")]
            + [
                (
                    c.id,
                    f"{c.vendor.name} — {c.title}" + (f" ({c.reference})" if c.reference else ""),
                )
                for c in contracts
            ]
        )

    def validate(self, extra_validators: Any = None) -> bool:
        ok = super().validate(extra_validators)
        metric = Metric(self.metric.data)
        info = METRICS[metric]
        if metric is Metric.CUSTOM and not self.code.data:
            self.code.errors.append("A custom KPI needs a code for its measurements.")
            ok = False
        if metric is Metric.CUSTOM and not self.name.data:
            self.name.errors.append("Name the custom KPI.")
            ok = False
        if info.from_incidents and not self.severities.data:
            self.severities.errors.append("Choose at least one severity.")
            ok = False
        offered = {str(choice.value) for choice in self.contract_id.choices if choice.value}
        if self.contract_id.data and str(self.contract_id.data) not in offered:
            self.contract_id.errors.append("Not a valid choice.")
            ok = False
        threshold = self.threshold.data
        if metric is Metric.AVAILABILITY and threshold is not None and not 0 <= threshold <= 100:
            self.threshold.errors.append("Availability is a percentage from 0 to 100.")
            ok = False
        return ok

    def values(self) -> dict[str, Any]:
        metric = Metric(self.metric.data)
        info = METRICS[metric]
        custom = metric is Metric.CUSTOM
        return {
            "vendor_service_id": int(self.vendor_service_id.data),
            "metric": metric.value,
            "code": (self.code.data or "").lower() if custom else metric.value,
            "name": self.name.data or info.label,
            "unit": (self.unit.data or "") if custom else info.unit,
            "comparator": self.comparator.data,
            "threshold": float(self.threshold.data),
            "period": self.period.data,
            "statistic": "worst" if metric is Metric.AVAILABILITY else self.statistic.data,
            "severities": sorted(self.severities.data) if info.from_incidents else [],
            "description": self.description.data,
            "contract_id": int(self.contract_id.data) if self.contract_id.data else None,
        }


class UploadForm(FlaskForm):
    kind = SelectField("What the file holds")
    file = FileField("File", validators=[FileRequired("Choose a file to upload.")])

    def __init__(self, *args: Any, kinds: dict[str, str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kind.choices = choices(kinds.items())


class MappingForm(FlaskForm):
    """Which file column holds each field, plus options for the whole file.

    Field selects are added per upload (see `for_upload`)."""

    service_id = SelectField("Vendor service for the whole file", validators=[Optional()])
    timezone = SelectField("Times without a UTC offset are in", default="UTC")
    products = StringField(
        "Only incidents affecting these products",
        description="Comma-separated product names or ids as the feed names them "
        "(e.g. Google Compute Engine); empty for all.",
        validators=[Optional(), Length(max=2000)],
    )
    disruption = SelectField(
        "Record a disruption (feed severity medium) as",
        choices=choices(
            [
                ("minor", "Minor: partial, not downtime"),
                ("major", "Major: downtime, like an outage"),
            ]
        ),
        default="minor",
        description="Status pages call a problem for some customers or features a disruption; "
        "many last days. Outages (high) are always critical.",
    )
    locations = StringField(
        "Only incidents affecting these locations",
        description="Comma-separated location ids (e.g. europe-west1); incidents naming no "
        "location count everywhere. Empty for all.",
        validators=[Optional(), Length(max=2000)],
    )

    @classmethod
    def for_upload(
        cls,
        fields: list[str],
        labels: dict[str, str],
        required: tuple[str, ...],
        columns: list[str],
        **kwargs: Any,
    ) -> MappingForm:
        class Bound(cls):  # type: ignore[misc, valid-type]
            pass

        options = [("", "— not in the file —"), *((c, c) for c in columns)]
        for name in fields:
            label = labels[name] + (" (required)" if name in required else "")
            setattr(
                Bound, f"column_{name}", SelectField(label, choices=choices(options), default="")
            )
        return Bound(**kwargs)

    def column_fields(self) -> list[Any]:
        return [f for f in self if f.name.startswith("column_")]

    def mapping(self) -> dict[str, str]:
        return {f.name.removeprefix("column_"): f.data for f in self.column_fields() if f.data}

    def validate_service_id(self, field: Any) -> None:
        if field.data and not field.data.isdigit():
            raise ValidationError("Choose a vendor service.")


def comma_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


class MeasurementForm(FlaskForm):
    kpi_id = SelectField("KPI", validators=[DataRequired()])
    period_start = DateField(
        "Period start",
        validators=[DataRequired(), within_kpi_dates],
        description="The first day of the month or quarter measured.",
    )
    value = DecimalField(
        "Value", validators=[DataRequired(message="Enter the value.")], places=None
    )
    note = StringField("Note", validators=[Optional(), Length(max=2000)], filters=[blank_to_none])

    def __init__(self, *args: Any, kpis: list[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kpi_id.choices = choices(
            [("", "Choose a measured KPI…")]
            + [
                (
                    k.id,
                    f"{k.vendor_service.vendor.name} — {k.vendor_service.name}: {k.name} "
                    f"({k.code})",
                )
                for k in kpis
            ]
        )


class CloseBreachForm(FlaskForm):
    note = TextAreaField(
        "How it was resolved",
        description="e.g. service credit claimed, root cause fixed, accepted as a one-off.",
        validators=[DataRequired(), Length(max=5000)],
        filters=[strip_filter],
    )


class PeriodForm(FlaskForm):
    """The range of months a recomputation covers."""

    start = DateField("From", validators=[DataRequired(), within_kpi_dates])
    end = DateField("To", validators=[DataRequired(), within_kpi_dates])

    def validate_end(self, field: Any) -> None:
        if self.start.data and field.data and field.data < self.start.data:
            raise ValidationError("The end comes before the start.")
        if self.start.data and field.data and (field.data - self.start.data).days > 366 * 10:
            raise ValidationError("Recompute at most ten years at a time.")


def month_input(value: str | None, fallback: date) -> date:
    """A YYYY-MM (or YYYY-MM-DD) query value as the first day of that month."""
    try:
        parts = (value or "").split("-")
        month = date(int(parts[0]), int(parts[1]), 1)
    except (ValueError, IndexError):
        return fallback
    return month if EARLIEST_DATE <= month <= LATEST_DATE else fallback


__all__ = [
    "CloseBreachForm",
    "IncidentForm",
    "KpiForm",
    "MappingForm",
    "MeasurementForm",
    "PeriodForm",
    "UploadForm",
    "comma_list",
    "month_input",
]
