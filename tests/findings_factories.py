"""Builders for findings and exercises (kept apart from tests/factories.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from vendor_portal.audit.services import Actor, acting_as
from vendor_portal.findings import services as finding_services
from vendor_portal.findings.models import Finding
from vendor_portal.vendors.models import Vendor


def finding(session: Session, vendor: Vendor, **fields: Any) -> Finding:
    due = fields.pop("due_date", None)
    status = fields.pop("status", None)
    values = {"source": "manual", "title": "Backups untested", "severity": "high"}
    values.update(fields)
    with acting_as(Actor(None, "test")):
        created, _ = finding_services.open_finding(session, vendor_id=vendor.id, **values)
        if due is not None:
            created.due_date = due
        if status is not None:
            created.status = status
        session.commit()
    return created


def days_ago(n: int) -> date:
    return datetime.now(UTC).date() - timedelta(days=n)
