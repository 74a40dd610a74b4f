"""Builders for evidence: real files in the test app's storage, rows recorded by the service."""

from __future__ import annotations

import io
import itertools
from datetime import date
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from vendor_portal.db import utcnow
from vendor_portal.evidence import services
from vendor_portal.evidence.models import EvidenceItem, EvidenceVersion
from vendor_portal.storage import FilesystemStorage
from vendor_portal.vendors.models import Vendor

_counter = itertools.count(1)


def pdf_bytes(label: str = "") -> bytes:
    """A small PDF whose bytes differ by label (so each is a distinct file)."""
    body = f"%PDF-1.7\n% {label or next(_counter)}\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    return body.encode()


class EvidenceBuilder:
    def __init__(self, session: Session, app: Flask) -> None:
        self.session = session
        self.storage = FilesystemStorage(app.config["EVIDENCE_DIR"])

    def version(
        self,
        vendor: Vendor,
        evidence_type: str = "bcp",
        *,
        item: EvidenceItem | None = None,
        content: bytes | None = None,
        filename: str = "plan.pdf",
        status: str = "submitted",
        issued_on: date | None = None,
        valid_until: date | None = None,
        title: str | None = None,
        reviewer: Any = None,
        comment: str | None = None,
    ) -> EvidenceVersion:
        stored = self.storage.save(io.BytesIO(content or pdf_bytes()), filename)
        details = services.UploadDetails(
            vendor=vendor,
            evidence_type=item.evidence_type if item else evidence_type,
            title=title,
            issued_on=issued_on,
            valid_until=valid_until,
            item=item,
        )
        version = services.record_version(self.session, stored, details, None)
        if status != "submitted":
            version.status = status
            version.reviewed_at = utcnow()
            version.reviewed_by_id = getattr(reviewer, "id", None)
            version.review_comment = comment
        self.session.commit()
        return version
