from vendor_portal.findings.models import Finding
from vendor_portal.findings.services import SEVERITY_ORDER
from vendor_portal.tables import Column, Table
from vendor_portal.vendors.models import Vendor


def _owner(finding: Finding) -> str:
    return finding.owner.name if finding.owner else ""


FINDING_TABLE = Table(
    columns=[
        Column("id", "ID", lambda f: f.id, Finding.id),
        Column("title", "Title", lambda f: f.title, Finding.title),
        Column("vendor", "Vendor", lambda f: f.vendor.name, Vendor.name),
        Column("severity", "Severity", lambda f: f.severity, SEVERITY_ORDER),
        Column("status", "Status", lambda f: f.status, Finding.status),
        Column("source", "Source", lambda f: f.source, Finding.source),
        Column("owner", "Owner", _owner),
        Column("due_date", "Due", lambda f: f.due_date, Finding.due_date),
        Column("created_at", "Opened", lambda f: f.created_at, Finding.created_at),
        Column("closed_at", "Closed", lambda f: f.closed_at),
    ],
    default_sort="due_date",
    export_name="findings",
)
