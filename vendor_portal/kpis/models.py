"""KPIs of vendor services, the incidents and measurements they are computed from, breaches.

A KPI measures a vendor service; it may also name the contract whose target it is (optional:
a target may be agreed outside any recorded contract).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from vendor_portal.db import utcnow
from vendor_portal.extensions import db
from vendor_portal.kpis.domain import (
    METRICS,
    Comparator,
    KpiSpec,
    Metric,
    format_value,
)

if TYPE_CHECKING:
    from vendor_portal.auth.models import User
    from vendor_portal.contracts.models import Contract
    from vendor_portal.findings.models import Finding
    from vendor_portal.vendors.models import Vendor, VendorService


class Kpi(db.Model):
    """A contractual measure of one vendor service with its target and period."""

    __tablename__ = "kpi"
    __table_args__ = (UniqueConstraint("vendor_service_id", "code", "period", name="uq_kpi_code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # active_history: the previous service is known when it changes, to mark both as changed.
    vendor_service_id: Mapped[int] = mapped_column(
        ForeignKey("vendor_service.id"), index=True, active_history=True
    )
    # The contract that sets this target, if recorded (a contract of the service's vendor).
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"), index=True)
    metric: Mapped[str] = mapped_column(String(32))
    # The name measurements use; the metric itself for the built-in metrics.
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    unit: Mapped[str] = mapped_column(String(16), default="")
    comparator: Mapped[str] = mapped_column(String(8))
    threshold: Mapped[float]
    period: Mapped[str] = mapped_column(String(16), default="month")
    statistic: Mapped[str] = mapped_column(String(8), default="worst")
    # Incident severities that count (incident-based metrics only).
    severities: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    archived_at: Mapped[datetime | None]

    vendor_service: Mapped[VendorService] = relationship()
    # Contract.kpis (the targets a contract sets) comes from this side: contracts stay
    # unaware of KPIs.
    contract: Mapped[Contract | None] = relationship(
        backref=backref("kpis", order_by="Kpi.name", viewonly=True)
    )

    @property
    def vendor_id(self) -> int:  # for get_scoped_or_404
        return self.vendor_service.vendor_id

    @property
    def target_label(self) -> str:
        return f"{Comparator(self.comparator).symbol} {format_value(self.threshold, self.unit)}"

    @property
    def metric_label(self) -> str:
        return METRICS[Metric(self.metric)].label

    @property
    def from_incidents(self) -> bool:
        return METRICS[Metric(self.metric)].from_incidents

    def spec(self) -> KpiSpec:
        return KpiSpec(
            kpi_id=self.id,
            service_id=self.vendor_service_id,
            metric=self.metric,
            comparator=self.comparator,
            threshold=self.threshold,
            period=self.period,
            statistic=self.statistic,
            severities=frozenset(self.severities or ()),
            code=self.code,
        )


class Incident(db.Model):
    """A disruption of a vendor service; re-importing the same external_id updates it."""

    __tablename__ = "incident"
    __table_args__ = (
        UniqueConstraint("vendor_service_id", "external_id", name="uq_incident_external_id"),
        Index("ix_incident_service_started", "vendor_service_id", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # active_history: see Kpi.vendor_service_id.
    vendor_service_id: Mapped[int] = mapped_column(
        ForeignKey("vendor_service.id"), active_history=True
    )
    external_id: Mapped[str | None] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    description: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[str] = mapped_column(String(16), index=True)
    started_at: Mapped[datetime] = mapped_column(index=True)
    acknowledged_at: Mapped[datetime | None]
    notified_at: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    # manual, vendor (self-reported), file, api, status_feed, demo
    source: Mapped[str] = mapped_column(String(16), default="manual")
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    vendor_service: Mapped[VendorService] = relationship()
    reported_by: Mapped[User | None] = relationship()

    @property
    def vendor_id(self) -> int:  # for get_scoped_or_404
        return self.vendor_service.vendor_id

    @property
    def ongoing(self) -> bool:
        return self.ended_at is None

    @property
    def duration_hours(self) -> float | None:
        if self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds() / 3600


class KpiMeasurement(db.Model):
    """A value of a measured KPI for one period (on-time delivery, RTO achieved, custom)."""

    __tablename__ = "kpi_measurement"
    __table_args__ = (
        UniqueConstraint(
            "vendor_service_id", "code", "period_start", name="uq_kpi_measurement_period"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # active_history: see Kpi.vendor_service_id.
    vendor_service_id: Mapped[int] = mapped_column(
        ForeignKey("vendor_service.id"), active_history=True
    )
    code: Mapped[str] = mapped_column(String(64))
    period_start: Mapped[date]
    value: Mapped[float]
    note: Mapped[str | None] = mapped_column(String(2000))
    source: Mapped[str] = mapped_column(String(16), default="manual")
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    vendor_service: Mapped[VendorService] = relationship()


class KpiBreach(db.Model):
    """A KPI outside its target in one period: one row per KPI and period, ever."""

    __tablename__ = "kpi_breach"
    __table_args__ = (
        UniqueConstraint("kpi_id", "period_start", name="uq_kpi_breach_period"),
        Index("ix_kpi_breach_status_vendor", "status", "vendor_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kpi_id: Mapped[int] = mapped_column(ForeignKey("kpi.id"))
    # Copied from the KPI's service so that scoped lists need no join.
    vendor_id: Mapped[int] = mapped_column(ForeignKey("vendor.id"), index=True)
    vendor_service_id: Mapped[int] = mapped_column(ForeignKey("vendor_service.id"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    value: Mapped[float]
    threshold: Mapped[float]
    comparator: Mapped[str] = mapped_column(String(8))
    # open; closed by a vendor manager; withdrawn when corrected data meets the target.
    status: Mapped[str] = mapped_column(String(16), default="open")
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    notified_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id"))
    resolution_note: Mapped[str | None] = mapped_column(Text)
    finding_id: Mapped[int | None] = mapped_column(ForeignKey("finding.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    kpi: Mapped[Kpi] = relationship()
    vendor: Mapped[Vendor] = relationship()
    vendor_service: Mapped[VendorService] = relationship()
    finding: Mapped[Finding | None] = relationship()

    @property
    def value_label(self) -> str:
        return format_value(self.value, self.kpi.unit)

    @property
    def target_label(self) -> str:
        return f"{Comparator(self.comparator).symbol} {format_value(self.threshold, self.kpi.unit)}"


class KpiUpload(db.Model):
    """A file waiting between upload, column mapping, preview and import; removed on import."""

    __tablename__ = "kpi_upload"
    # The import is audited as one event naming the file's SHA-256 (services.record_import).
    __audit_ignore__ = ("content",)

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    # incidents, measurements or status_feed
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(255))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    options: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


class KpiDataVersion(db.Model):
    """A stamp per vendor service that every write to its incidents, measurements, KPIs or
    breaches, or to the service or its vendor, replaces with a new random value (versions.py).

    Computed KPI results are reused only while the stamp they were computed at is unchanged
    (services.AttainmentCache, services.ScorecardCache, services.StampedResults). Random rather
    than counted, so that a cache never mistakes a restored or recreated database for the one
    it was filled from.
    """

    __tablename__ = "kpi_data_version"
    __audit__ = False  # bookkeeping for a cache, written with Core statements

    vendor_service_id: Mapped[int] = mapped_column(
        ForeignKey("vendor_service.id"), primary_key=True, autoincrement=False
    )
    version: Mapped[int] = mapped_column(BigInteger)
