from vendor_portal.tables import Column, Table

DECLARATION_TABLE = Table(
    columns=[
        Column("vendor", "Vendor", lambda d: d.vendor.name),
        Column("vendor_tier", "Vendor tier", lambda d: d.vendor.tier),
        Column("rank", "Rank", lambda d: d.rank),
        Column("subcontractor", "Subcontractor", lambda d: d.subcontractor.name),
        Column("lei", "LEI", lambda d: d.subcontractor.lei or ""),
        Column("country", "Country", lambda d: d.subcontractor.country),
        Column(
            "works_for",
            "Works for",
            lambda d: d.parent.subcontractor.name if d.parent else d.vendor.name,
        ),
        Column("services", "Our services", lambda d: ", ".join(s.name for s in d.services)),
        Column("function", "What they do", lambda d: d.function or ""),
        Column("storage", "Data stored in", lambda d: ", ".join(d.data_storage_countries or [])),
        Column(
            "processing",
            "Data processed in",
            lambda d: ", ".join(d.data_processing_countries or []),
        ),
    ],
    default_sort="vendor",
    export_name="subcontractors",
)
