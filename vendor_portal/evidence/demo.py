"""Demo evidence: real (small) PDF files in storage, versions in several review states."""

from __future__ import annotations

import io
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_portal.auth.models import User
from vendor_portal.db import utcnow
from vendor_portal.demo.seed import SeedSummary, seed_step
from vendor_portal.evidence import services
from vendor_portal.evidence.models import EvidenceItem
from vendor_portal.storage import storage_for
from vendor_portal.vendors.models import Vendor


def minimal_pdf(title: str, lines: list[str]) -> bytes:
    """A valid one-page PDF with a few lines of text (no dependency needed)."""

    def escape(text: str) -> str:
        return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")

    stream_lines = ["BT", "/F1 16 Tf", "72 760 Td", f"({escape(title)}) Tj", "/F1 11 Tf"]
    for line in lines:
        stream_lines += ["0 -20 Td", f"({escape(line)}) Tj"]
    stream_lines.append("ET")
    content = "\n".join(stream_lines).encode("latin-1", "replace")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(content)).encode() + b" >>\nstream\n" + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(
        f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    )
    return out.getvalue()


# vendor, type, title, [(issued days ago, valid for days or None, status, comment)]
DEMO_EVIDENCE = [
    (
        "Nimbus Cloud Services",
        "bcp",
        "Nimbus group business continuity plan",
        [(400, None, "accepted", None), (20, None, "submitted", None)],
    ),
    (
        "Nimbus Cloud Services",
        "iso22301_certificate",
        "ISO 22301 certificate",
        [(1075, 1095, "accepted", None)],  # expires in 20 days
    ),
    (
        "Nimbus Cloud Services",
        "soc2_report",
        "SOC 2 Type II report",
        [(160, 205, "accepted", None)],
    ),
    (
        "Ledgerline Payments",
        "soc2_report",
        "SOC 2 Type II report",
        [
            (
                30,
                335,
                "rejected",
                "This report covers only the Amsterdam data centre; we need the Dublin site too.",
            )
        ],
    ),
    (
        "Ledgerline Payments",
        "insurance_certificate",
        "Cyber and business interruption insurance",
        [(60, 305, "accepted", None)],
    ),
    (
        "Ledgerline Payments",
        "dr_test_report",
        "2026 failover test report",
        [(45, None, "accepted", None)],
    ),
    ("Stratus Compute GmbH", "bia", "Business impact analysis", [(10, None, "submitted", None)]),
    (
        "Quantum Backup Systems",
        "bcp",
        "Continuity plan",
        [(760, 730, "accepted", None)],
    ),  # expired a month ago
]


@seed_step
def seed_evidence(session: Session, summary: SeedSummary) -> None:
    storage = storage_for(current_app)
    reviewer = session.scalar(select(User).where(User.email == "manager@example.com"))
    today = utcnow().date()
    created = 0
    for vendor_name, evidence_type, title, versions in DEMO_EVIDENCE:
        vendor = session.scalar(select(Vendor).where(Vendor.name == vendor_name))
        if vendor is None:
            continue
        if session.scalar(
            select(EvidenceItem.id).where(
                EvidenceItem.vendor_id == vendor.id, EvidenceItem.title == title
            )
        ):
            continue
        item = None
        for index, (issued_ago, valid_days, status, comment) in enumerate(versions, start=1):
            issued = today - timedelta(days=issued_ago)
            valid_until: date | None = issued + timedelta(days=valid_days) if valid_days else None
            content = minimal_pdf(
                f"{vendor_name}: {title}",
                [f"Version {index}", f"Issued {issued.isoformat()}", "Demo document."],
            )
            stored = storage.save(
                io.BytesIO(content), f"{title.lower().replace(' ', '-')}-v{index}.pdf"
            )
            version = services.record_version(
                session,
                stored,
                services.UploadDetails(vendor, evidence_type, title, issued, valid_until, item),
                None,
            )
            version.uploaded_at = utcnow() - timedelta(days=max(issued_ago - 2, 0))
            item = version.item
            if status != "submitted":
                version.status = status
                version.review_comment = comment
                version.reviewed_by_id = reviewer.id if reviewer else None
                version.reviewed_at = version.uploaded_at + timedelta(days=2)
            created += 1
        session.flush()
    if created:
        summary.extra.append(f"{created} evidence versions")
