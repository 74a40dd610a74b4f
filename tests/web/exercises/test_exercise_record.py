"""Running and recording an exercise, findings from it, the report, library, blackouts, tasks."""

from datetime import timedelta

from sqlalchemy import func, select

from tests.exercises_factories import exercise
from vendor_portal.exercises.models import (
    Exercise,
    Scenario,
    ServiceResult,
    TimelineEntry,
    VendorBlackout,
)
from vendor_portal.findings.models import Finding
from vendor_portal.kpis.models import KpiMeasurement
from vendor_portal.vendors.models import VendorService


def service(session, vendor, name, rto):
    item = VendorService(
        vendor=vendor, name=name, hosting_countries=[], cloud_regions=[], attested_rto_hours=rto
    )
    session.add(item)
    session.commit()
    return item


def test_recording_an_exercise_end_to_end(client, auth, build, session):
    acme = build.vendor(name="Acme")
    ann = build.contact(acme, name="Ann")
    hosting = service(session, acme, "Hosting", 4)
    database = service(session, acme, "Database", 2)
    manager = auth.login_as("vendor_manager")
    drill = exercise(
        session,
        [acme],
        organizer=manager,
        participant_ids=[manager.id],
        contact_ids=[ann.id],
        timezone="Europe/Paris",
    )
    start_local = drill.local_start
    assert client.get(f"/exercises/{drill.id}/record").status_code == 200

    entry = client.post(
        f"/exercises/{drill.id}/timeline",
        data={
            "timeline-occurred_local": (start_local + timedelta(minutes=30)).strftime(
                "%Y-%m-%dT%H:%M"
            ),
            "timeline-kind": "inject",
            "timeline-actor": "Facilitator",
            "timeline-vendor_id": "0",
            "timeline-description": "Region API errors",
        },
    )
    assert entry.status_code == 302
    far = client.post(
        f"/exercises/{drill.id}/timeline",
        data={
            "timeline-occurred_local": "2001-01-01T10:00",
            "timeline-kind": "inject",
            "timeline-vendor_id": "0",
            "timeline-description": "x",
        },
    )
    assert far.status_code == 422 and "outside the exercise" in far.text
    stored = session.scalar(select(TimelineEntry))
    assert stored.occurred_at == drill.starts_at + timedelta(minutes=30)

    client.post(f"/exercises/{drill.id}/attendance", data={"user": [str(manager.id)]})
    bad = client.post(
        f"/exercises/{drill.id}/results",
        data={f"achieved_{hosting.id}": "soon", f"achieved_{database.id}": "-1"},
    )
    assert (
        bad.status_code == 422 and "Hosting: &#39;soon&#39; is not a number of hours." in bad.text
    )
    assert session.scalar(select(func.count(ServiceResult.id))) == 0
    negative = client.post(f"/exercises/{drill.id}/results", data={f"achieved_{database.id}": "-1"})
    assert "Database: Hours must be between 0 and 8760." in negative.text
    client.post(
        f"/exercises/{drill.id}/results",
        data={
            f"achieved_{hosting.id}": "6.5",
            f"notes_{hosting.id}": "Images off-site",
            f"achieved_{database.id}": "1,5",
        },
    )
    results = {r.vendor_service_id: r for r in session.scalars(select(ServiceResult))}
    assert (results[hosting.id].achieved_rto_hours, results[hosting.id].target_rto_hours) == (
        6.5,
        4,
    )
    assert results[hosting.id].met is False and results[database.id].met is True
    measurements = {
        m.vendor_service_id: m
        for m in session.scalars(
            select(KpiMeasurement).where(KpiMeasurement.code == "rto_achieved")
        )
    }
    assert measurements[hosting.id].value == 6.5 and measurements[database.id].value == 1.5
    assert measurements[hosting.id].period_start == drill.starts_at.date().replace(day=1)
    assert measurements[hosting.id].source == "exercise"

    form = {
        "finding-vendor_id": acme.id,
        "finding-title": "Hosting RTO missed by 2.5 h",
        "finding-severity": "high",
        "finding-owner_id": manager.id,
        "finding-key": "abc123",
    }
    raised = client.post(f"/exercises/{drill.id}/findings", data=form)
    assert raised.status_code == 302
    again = client.post(f"/exercises/{drill.id}/findings", data=form, follow_redirects=True)
    assert "was already raised from this form" in again.text
    finding = session.scalar(select(Finding))
    assert session.scalar(select(func.count(Finding.id))) == 1
    assert (finding.source, finding.source_ref) == ("exercise", f"exercise:{drill.id}:abc123")
    assert finding.owner_id == manager.id

    missing = client.post(
        f"/exercises/{drill.id}/complete", data={"outcome": "partially_met", "lessons_learned": ""}
    )
    assert missing.status_code == 422 and "This field is required" in missing.text
    client.post(
        f"/exercises/{drill.id}/complete",
        data={"outcome": "partially_met", "lessons_learned": "Keep images in-region."},
    )
    session.expire_all()
    done = session.get(Exercise, drill.id)
    assert (
        done.status == "completed"
        and done.outcome == "partially_met"
        and done.completed_by_id == manager.id
    )
    assert session.get(type(done.participants[0]), done.participants[0].id).attended is True
    assert done.contacts[0].attended is False

    report = client.get(f"/exercises/{drill.id}/report")
    assert report.status_code == 200
    for text in (
        "Region API errors",
        "Keep images in-region.",
        "Hosting RTO missed by 2.5 h",
        "6.5 h",
        "Missed",
        "css/exercises.css",
    ):
        assert text in report.text, text
    finding_page = client.get(f"/findings/{finding.id}").text
    assert f"/exercises/{drill.id}" in finding_page
    # the report's print style lives in a static file (CSP: no inline styles)
    css = client.get("/static/css/exercises.css")
    assert "@media print" in css.text
    css.close()


def test_vendor_cannot_record_and_sees_only_its_findings_from_the_exercise(
    client, auth, build, session
):
    acme, beta = build.vendor(name="Acme"), build.vendor(name="Beta")
    manager = build.user(role="vendor_manager")
    drill = exercise(session, [acme, beta], organizer=manager)
    from vendor_portal.exercises import services

    with session.begin_nested():
        pass
    for vendor, title in ((acme, "Acme gap"), (beta, "Beta gap")):
        services.raise_finding(
            session,
            session.get(Exercise, drill.id),
            vendor_id=vendor.id,
            title=title,
            severity="low",
            description=None,
            owner_id=None,
            key=title,
        )
    session.commit()
    auth.login_as("vendor_user", vendor=acme)
    page = client.get(f"/exercises/{drill.id}").text
    assert "Acme gap" in page and "Beta gap" not in page
    for path in ("record", "timeline", "attendance", "results", "findings", "complete"):
        method = client.get if path == "record" else client.post
        assert method(f"/exercises/{drill.id}/{path}").status_code == 403, path


def test_scenario_library_is_shipped_and_editable(client, auth, build, session):
    acme = build.vendor()
    auth.login_as("vendor_manager")
    library = client.get("/exercises/scenarios")
    for name in (
        "Vendor outage",
        "Loss of a cloud region",
        "Ransomware at the vendor",
        "Subcontractor failure",
        "Loss of a key site",
    ):
        assert name in library.text
    region = session.scalar(select(Scenario).where(Scenario.code == "cloud-region-loss"))
    client.post(
        f"/exercises/scenarios/{region.id}/edit",
        data={
            "name": "Loss of eu-west-1",
            "description": "Our main region is gone.",
            "injects": "T+0 alarms",
        },
    )
    client.post(
        "/exercises/scenarios/new",
        data={"name": "Payroll provider insolvency", "description": "Payroll SaaS stops."},
    )
    client.get("/exercises/scenarios")  # does not bring the shipped text back
    session.expire_all()
    assert session.get(Scenario, region.id).name == "Loss of eu-west-1"
    assert session.scalar(select(func.count(Scenario.id))) == 6
    client.post(f"/exercises/scenarios/{region.id}/archive")
    form = client.get("/exercises/new").text
    assert ">Payroll provider insolvency</option>" in form
    assert ">Loss of eu-west-1</option>" not in form
    data = {
        "title": "Drill",
        "exercise_type": "tabletop",
        "objectives": "o",
        "vendor_ids": [str(acme.id)],
        "starts_local": "2031-01-10T09:00",
        "ends_local": "2031-01-10T10:00",
        "timezone": "UTC",
        "scenario_id": str(
            session.scalar(
                select(Scenario.id).where(Scenario.name == "Payroll provider insolvency")
            )
        ),
    }
    assert client.post("/exercises/new", data=data).status_code == 302
    assert session.scalar(select(Exercise)).scenario_text == "Payroll SaaS stops."


def test_vendors_declare_blackout_dates_in_their_portal(client, auth, build, session):
    own, other = build.vendor(name="Own"), build.vendor(name="Other")
    session.add(
        VendorBlackout(vendor_id=other.id, starts_on=exercise_day(30), ends_on=exercise_day(31))
    )
    session.commit()
    auth.login_as("vendor_user", vendor=own)
    backwards = client.post(
        "/exercises/blackouts",
        data={"starts_on": exercise_day(10).isoformat(), "ends_on": exercise_day(5).isoformat()},
    )
    assert (
        backwards.status_code == 422
        and "The last day must be on or after the first day." in backwards.text
    )
    client.post(
        "/exercises/blackouts",
        data={
            "vendor_id": str(other.id),
            "starts_on": exercise_day(10).isoformat(),
            "ends_on": exercise_day(12).isoformat(),
            "reason": "Peak season",
        },
    )
    rows = session.scalars(select(VendorBlackout).order_by(VendorBlackout.id)).all()
    assert [(r.vendor_id, r.reason) for r in rows] == [
        (other.id, None),
        (own.id, "Peak season"),
    ]  # forced to own vendor
    page = client.get("/exercises/blackouts").text
    assert "Peak season" in page and exercise_day(30).isoformat() not in page
    assert client.post(f"/exercises/blackouts/{rows[0].id}/delete").status_code == 404
    assert client.post(f"/exercises/blackouts/{rows[1].id}/delete").status_code == 302
    assert session.scalar(select(func.count(VendorBlackout.id))) == 1


def exercise_day(days):
    from datetime import UTC, datetime

    return (datetime.now(UTC) + timedelta(days=days)).date()


def test_home_page_tasks_for_vendors_and_managers(client, auth, build, session):
    acme = build.vendor(tier="critical", name="Acme")
    exercise(session, [acme], title="Upcoming")
    from tests.exercises_factories import soon

    exercise(session, [acme], title="Finished", start=soon(-5))
    auth.login_as("vendor_user", vendor=acme)
    home = client.get("/").text
    assert "Answer exercise invitations" in home
    auth.logout()
    auth.login_as("vendor_manager")
    home = client.get("/").text
    assert "Record finished exercises" in home
    assert "Vendors without a recent joint exercise" in home
    coverage = client.get("/exercises/coverage").text
    assert "<strong>0</strong> of <strong>1</strong>" in coverage


def test_coverage_counts_completed_exercises_within_the_policy(client, auth, build, session):
    from tests.exercises_factories import soon

    covered, stale, declined = (
        build.vendor(name="Covered", tier="critical"),
        build.vendor(name="Stale", tier="high"),
        build.vendor(name="Declined", tier="critical"),
    )
    build.vendor(name="Small", tier="low")
    exercise(session, [covered], start=soon(-30), status="completed")
    exercise(session, [stale], start=soon(-400), status="completed")
    done = exercise(session, [declined], start=soon(-10), status="completed")
    done.vendors[0].response = "declined"
    session.commit()
    auth.login_as("admin")
    page = client.get("/exercises/coverage").text
    assert "<strong>1</strong> of <strong>3</strong>" in page and "Small" not in page
    client.post(
        "/exercises/coverage/policy",
        data={"critical": "365", "high": "500", "medium": "", "low": "30"},
    )
    page = client.get("/exercises/coverage").text
    assert "<strong>2</strong> of <strong>4</strong>" in page and "Small" in page


def test_vendor_coverage_partial_for_the_vendor_page(app, build, session):
    from flask import render_template

    from tests.exercises_factories import soon

    vendor = build.vendor(tier="critical")
    with app.test_request_context():
        assert "none completed" in render_template("exercises/_vendor_coverage.html", vendor=vendor)
    exercise(session, [vendor], start=soon(-20), status="completed")
    with app.test_request_context():
        html = render_template("exercises/_vendor_coverage.html", vendor=vendor)
    assert "covered until" in html
