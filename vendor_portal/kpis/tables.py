from __future__ import annotations

from vendor_portal.kpis.domain import period_label
from vendor_portal.kpis.models import Incident, Kpi, KpiBreach, KpiMeasurement
from vendor_portal.tables import Column, Table
from vendor_portal.vendors.models import Vendor, VendorService


def _pct(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


INCIDENT_TABLE = Table(
    columns=[
        Column("id", "ID", lambda i: i.id, Incident.id),
        Column("vendor", "Vendor", lambda i: i.vendor_service.vendor.name, Vendor.name),
        Column("service", "Vendor service", lambda i: i.vendor_service.name, VendorService.name),
        Column("external_id", "External id", lambda i: i.external_id or "", Incident.external_id),
        Column("title", "Title", lambda i: i.title, Incident.title),
        Column("severity", "Severity", lambda i: i.severity, Incident.severity),
        Column("started_at", "Started (UTC)", lambda i: i.started_at, Incident.started_at),
        Column(
            "acknowledged_at",
            "Acknowledged (UTC)",
            lambda i: i.acknowledged_at,
            Incident.acknowledged_at,
        ),
        Column("notified_at", "Notified (UTC)", lambda i: i.notified_at, Incident.notified_at),
        Column("ended_at", "Ended (UTC)", lambda i: i.ended_at, Incident.ended_at),
        Column("source", "Source", lambda i: i.source, Incident.source),
    ],
    default_sort="-started_at",
    export_name="incidents",
)

KPI_TABLE = Table(
    columns=[
        Column("id", "ID", lambda k: k.id, Kpi.id),
        Column("vendor", "Vendor", lambda k: k.vendor_service.vendor.name, Vendor.name),
        Column("service", "Vendor service", lambda k: k.vendor_service.name, VendorService.name),
        Column("name", "KPI", lambda k: k.name, Kpi.name),
        Column("code", "Code", lambda k: k.code, Kpi.code),
        Column("target", "Target", lambda k: k.target_label, Kpi.threshold),
        Column("period", "Period", lambda k: k.period, Kpi.period),
        Column("statistic", "Compared", lambda k: k.statistic, Kpi.statistic),
        Column("severities", "Severities", lambda k: ", ".join(k.severities or [])),
        Column("contract", "Contract", lambda k: k.contract.title if k.contract else ""),
    ],
    default_sort="vendor",
    export_name="kpis",
)

BREACH_TABLE = Table(
    columns=[
        Column("id", "ID", lambda b: b.id, KpiBreach.id),
        Column("vendor", "Vendor", lambda b: b.vendor.name, Vendor.name),
        Column("service", "Vendor service", lambda b: b.vendor_service.name, VendorService.name),
        Column("kpi", "KPI", lambda b: b.kpi.name, Kpi.name),
        Column(
            "period",
            "Period",
            lambda b: period_label(b.period_start, b.kpi.period),
            KpiBreach.period_start,
        ),
        Column("value", "Value", lambda b: b.value_label, KpiBreach.value),
        Column("target", "Target", lambda b: b.target_label),
        Column("status", "Status", lambda b: b.status, KpiBreach.status),
        Column("opened_at", "Opened (UTC)", lambda b: b.opened_at, KpiBreach.opened_at),
        Column("finding", "Finding", lambda b: b.finding_id or ""),
    ],
    default_sort="-period",
    export_name="kpi-breaches",
)

MEASUREMENT_TABLE = Table(
    columns=[
        Column("id", "ID", lambda m: m.id, KpiMeasurement.id),
        Column("vendor", "Vendor", lambda m: m.vendor_service.vendor.name, Vendor.name),
        Column("service", "Vendor service", lambda m: m.vendor_service.name, VendorService.name),
        Column("code", "KPI code", lambda m: m.code, KpiMeasurement.code),
        Column(
            "period_start", "Period start", lambda m: m.period_start, KpiMeasurement.period_start
        ),
        Column("value", "Value", lambda m: m.value, KpiMeasurement.value),
        Column("note", "Note", lambda m: m.note or ""),
        Column("source", "Source", lambda m: m.source, KpiMeasurement.source),
    ],
    default_sort="-period_start",
    export_name="kpi-measurements",
)

# Computed tables (no SQL behind them): sorted in Python by the same keys.
PERFORMER_TABLE = Table(
    columns=[
        Column("vendor", "Vendor", lambda r: r.vendor.name),
        Column("tier", "Tier", lambda r: r.vendor.tier),
        Column("attainment", "KPI periods met (%)", lambda r: _pct(r.attainment_pct)),
        Column("evaluated", "KPI periods measured", lambda r: r.evaluated),
        Column("missed", "Missed", lambda r: r.missed),
        Column("open_breaches", "Open breaches", lambda r: r.open_breaches),
    ],
    default_sort="attainment",
    export_name="kpi-vendor-attainment",
)
PERFORMER_KEYS = {
    "vendor": lambda r: r.vendor.name.lower(),
    "tier": lambda r: ("critical", "high", "medium", "low").index(r.vendor.tier),
    "attainment": lambda r: (r.attainment_pct is None, r.attainment_pct or 0, -r.missed),
    "evaluated": lambda r: r.evaluated,
    "missed": lambda r: r.missed,
    "open_breaches": lambda r: r.open_breaches,
}

KPI_PERIOD_TABLE = Table(
    columns=[
        Column("service", "Vendor service", lambda r: r[0].vendor_service.name),
        Column("kpi", "KPI", lambda r: r[0].name),
        Column("period", "Period", lambda r: period_label(r[1].start, r[0].period)),
        Column("value", "Value", lambda r: "" if r[1].value is None else round(r[1].value, 6)),
        Column("unit", "Unit", lambda r: r[0].unit),
        Column("target", "Target", lambda r: r[0].target_label),
        Column(
            "met",
            "Met",
            lambda r: "" if r[1].met is None else ("yes" if r[1].met else "no"),
        ),
        Column("complete", "Period over", lambda r: "yes" if r[1].complete else "in progress"),
        Column("count", "Incidents or measurements", lambda r: r[1].count),
    ],
    default_sort="service",
    export_name="kpi-scorecard",
)

AVAILABILITY_TABLE = Table(
    columns=[
        Column("service", "Vendor service", lambda r: r["service"]),
        Column("month", "Month", lambda r: r["period_start"]),
        Column("availability_pct", "Availability %", lambda r: round(r["availability_pct"], 6)),
        Column(
            "downtime_minutes", "Downtime (min)", lambda r: round(r["downtime_seconds"] / 60, 3)
        ),
        Column("complete", "Month over", lambda r: "yes" if r["complete"] else "in progress"),
    ],
    default_sort="service",
    export_name="availability",
)
