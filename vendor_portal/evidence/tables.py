from vendor_portal.evidence.models import EvidenceItem, EvidenceVersion
from vendor_portal.tables import Column, Table
from vendor_portal.vendors.models import Vendor

EVIDENCE_TABLE = Table(
    columns=[
        Column("id", "Version ID", lambda v: v.id, EvidenceVersion.id),
        Column("vendor", "Vendor", lambda v: v.vendor.name, Vendor.name),
        Column("type", "Type", lambda v: v.item.type_label, EvidenceItem.evidence_type),
        Column("title", "Title", lambda v: v.item.title, EvidenceItem.title),
        Column("version", "Version", lambda v: v.number, EvidenceVersion.number),
        Column("status", "Status", lambda v: v.status, EvidenceVersion.status),
        Column("issued_on", "Issued", lambda v: v.issued_on, EvidenceVersion.issued_on),
        Column("valid_until", "Valid until", lambda v: v.valid_until, EvidenceVersion.valid_until),
        Column("uploaded_at", "Uploaded", lambda v: v.uploaded_at, EvidenceVersion.uploaded_at),
        Column("filename", "File", lambda v: v.filename, EvidenceVersion.filename),
        Column("size", "Bytes", lambda v: v.size, EvidenceVersion.size),
        Column("sha256", "SHA-256", lambda v: v.sha256),
    ],
    default_sort="-uploaded_at",
    export_name="evidence",
)
