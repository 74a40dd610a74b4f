"""Receiving and serving evidence files over HTTP, shared by the pages, the API and the
questionnaires (which attach evidence to answers). The storage rules live in
vendor_portal/storage.py; this module only translates between requests and it."""

from __future__ import annotations

import logging
from typing import Any

from flask import Response, current_app, send_file

from vendor_portal.evidence import services
from vendor_portal.evidence.models import EvidenceVersion
from vendor_portal.extensions import db
from vendor_portal.storage import StoredFileCorrupt, StoredFileMissing, storage_for

logger = logging.getLogger(__name__)


class IntegrityProblem(Exception):
    """The stored file is missing or no longer matches its hash; it was not served."""

    def __init__(self, version: EvidenceVersion, reason: str) -> None:
        super().__init__(reason)
        self.version = version
        self.reason = reason

    @property
    def message(self) -> str:
        return (
            f"{self.version.filename} (version {self.version.number}) failed its integrity "
            "check and was not served. Administrators have been alerted; the vendor may need "
            "to upload it again."
        )


def send_version(version: EvidenceVersion) -> Response:
    """The file as a download (never inline), after checking its SHA-256.

    On a mismatch or a missing file: flags the version, writes the audit log, commits, and
    raises IntegrityProblem."""
    storage = storage_for(current_app)
    try:
        handle = storage.open_verified(version.storage_key, version.sha256)
    except (StoredFileCorrupt, StoredFileMissing) as exc:
        reason = "missing" if isinstance(exc, StoredFileMissing) else "hash mismatch"
        logger.error(
            "Evidence version %s (%s) failed its integrity check: %s",
            version.id,
            version.storage_key,
            exc,
        )
        db.session.rollback()
        services.record_integrity_failure(db.session, version, reason)
        db.session.commit()
        raise IntegrityProblem(version, reason) from exc
    services.record_download(db.session, version)
    db.session.commit()
    response = send_file(
        handle,
        mimetype=version.mimetype,
        as_attachment=True,
        download_name=version.filename,
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.content_length = version.size
    response.headers["X-Content-Type-Options"] = "nosniff"
    # Belt and braces should a browser render it anyway: no scripts, no same-origin powers.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response.headers["Cache-Control"] = "no-store"
    return response


def parse_date(value: Any) -> Any:
    from datetime import date

    if value in (None, ""):
        return None
    return date.fromisoformat(str(value).strip())
