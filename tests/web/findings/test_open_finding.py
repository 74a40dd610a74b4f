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


def test_open_findings_in_bulk_keeps_order_and_opens_each_ref_once(app, build):
    from sqlalchemy import func, select

    from vendor_portal.extensions import db
    from vendor_portal.findings.models import Finding, FindingUpdate
    from vendor_portal.findings.services import FindingRequest, open_findings

    vendor = build.vendor()
    with app.app_context():
        earlier, _ = open_finding(
            db.session,
            source="kpi_breach",
            vendor_id=vendor.id,
            title="Opened before",
            severity="medium",
            source_ref="kpi_breach:7",
        )

        def request(ref: str | None, title: str) -> FindingRequest:
            return FindingRequest("kpi_breach", vendor.id, title, "high", source_ref=ref)

        results = open_findings(
            db.session,
            [
                request("kpi_breach:7", "again"),
                request("kpi_breach:8", "new"),
                request("kpi_breach:8", "same request twice"),
                request(None, "no ref: always new"),
            ],
        )
        db.session.commit()
        assert [created for _, created in results] == [False, True, False, True]
        assert results[0][0].id == earlier.id and results[0][0].title == "Opened before"
        assert results[1][0].id == results[2][0].id
        assert db.session.scalar(select(func.count()).select_from(Finding)) == 3
        # Each new finding has its "opened" note, as one opened alone does.
        assert db.session.scalar(select(func.count()).select_from(FindingUpdate)) == 3
