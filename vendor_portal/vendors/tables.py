from vendor_portal.tables import Column, Table
from vendor_portal.vendors.models import Vendor

VENDOR_TABLE = Table(
    columns=[
        Column("id", "ID", lambda v: v.id, Vendor.id),
        Column("name", "Name", lambda v: v.name, Vendor.name),
        Column("tier", "Tier", lambda v: v.tier, Vendor.tier),
        Column("status", "Status", lambda v: v.status, Vendor.status),
        Column("country", "Country", lambda v: v.country, Vendor.country),
        Column("lei", "LEI", lambda v: v.lei or "", Vendor.lei),
        Column("updated_at", "Updated", lambda v: v.updated_at, Vendor.updated_at),
    ],
    default_sort="name",
    export_name="vendors",
)
