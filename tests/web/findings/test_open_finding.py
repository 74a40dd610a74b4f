from vendor_portal.findings.services import open_finding


def test_open_finding_is_idempotent_per_source_ref(app, build):
    from vendor_portal.extensions import db

    vendor = build.vendor()
    with app.app_context():
        first, created = open_finding(
            db.session,
            source="kpi_breach",
            vendor_id=vendor.id,
            title="Availability below 99.9%",
            severity="high",
            source_ref="kpi_breach:1",
        )
        again, created_again = open_finding(
            db.session,
            source="kpi_breach",
            vendor_id=vendor.id,
            title="changed",
            severity="low",
            source_ref="kpi_breach:1",
        )
        db.session.commit()
        assert created and not created_again
        assert again.id == first.id and again.title == "Availability below 99.9%"
        assert (first.due_date - first.created_at.date()).days == 60
