"""Data builders for vendor services, KPIs, incidents and measurements."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.orm import Session

from vendor_portal.kpis.models import Incident, Kpi, KpiMeasurement
from vendor_portal.vendors.models import Vendor, VendorService

_counter = itertools.count(1)


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


class KpiBuilders:
    def __init__(self, session: Session) -> None:
        self.session = session

    def service(self, vendor: Vendor, **fields: Any) -> VendorService:
        n = next(_counter)
        values = {
            "vendor_id": vendor.id,
            "name": f"Service {n}",
            "service_type": "saas",
            "hosting_countries": [],
            "cloud_regions": [],
        }
        values.update(fields)
        service = VendorService(**values)
        self.session.add(service)
        self.session.commit()
        return service

    def kpi(self, service: VendorService, metric: str = "availability", **fields: Any) -> Kpi:
        from vendor_portal.kpis.domain import DEFAULT_SEVERITIES, METRICS, Metric

        info = METRICS[Metric(metric)]
        values = {
            "vendor_service_id": service.id,
            "metric": metric,
            "code": metric,
            "name": info.label,
            "unit": info.unit,
            "comparator": info.comparator.value,
            "threshold": info.threshold,
            "period": "month",
            "statistic": "worst",
            "severities": sorted(DEFAULT_SEVERITIES) if info.from_incidents else [],
        }
        values.update(fields)
        kpi = Kpi(**values)
        self.session.add(kpi)
        self.session.commit()
        return kpi

    def incident(
        self,
        service: VendorService,
        started_at: datetime,
        ended_at: datetime | None = None,
        **fields: Any,
    ) -> Incident:
        n = next(_counter)
        values = {
            "vendor_service_id": service.id,
            "external_id": f"INC-{n}",
            "title": f"Incident {n}",
            "severity": "major",
            "started_at": started_at,
            "ended_at": ended_at,
            "source": "manual",
        }
        values.update(fields)
        incident = Incident(**values)
        self.session.add(incident)
        self.session.commit()
        return incident

    def measurement(
        self, service: VendorService, code: str, period_start: date, value: float
    ) -> KpiMeasurement:
        measurement = KpiMeasurement(
            vendor_service_id=service.id,
            code=code,
            period_start=period_start,
            value=value,
            source="manual",
        )
        self.session.add(measurement)
        self.session.commit()
        return measurement
