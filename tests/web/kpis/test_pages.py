"""KPI pages: dashboards, incidents, targets, measurements, breaches; each vendor sees its own."""

from __future__ import annotations

import io
import json
import re
from datetime import date

import openpyxl
import pytest
from sqlalchemy import select

from tests.kpis_factories import at
from vendor_portal.kpis import services
from vendor_portal.kpis.models import Incident, Kpi, KpiBreach, KpiMeasurement

NOW = at(2023, 6, 15)


@pytest.fixture
def world(build, kb, session):
    """Two vendors, each with a service, a KPI, an incident and a breach in February 2023."""
    data = {}
    for key, name, tier in (
        ("own", "Nimbus Cloud", "critical"),
        ("other", "Stratus Compute", "high"),
    ):
        vendor = build.vendor(name=name, tier=tier)
        service = kb.service(vendor, name=f"{name} hosting", service_type="cloud_iaas")
        kpi = kb.kpi(service)
        incident = kb.incident(
            service,
            at(2023, 2, 1),
            at(2023, 2, 1, 3),
            title=f"{name} outage",
            external_id=f"{key}-1",
        )
        data[key] = {"vendor": vendor, "service": service, "kpi": kpi, "incident": incident}
    services.recompute_breaches(session, date(2023, 1, 1), date(2023, 6, 30), NOW)
    session.commit()
    for key in data:
        data[key]["breach"] = session.scalar(
            select(KpiBreach).where(KpiBreach.kpi_id == data[key]["kpi"].id)
        )
    return data


def chart_blocks(html: str) -> dict[str, dict]:
    blocks = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.S)
    return {name: json.loads(body) for name, body in blocks}


def test_portfolio_heatmap_worst_performers_and_open_breaches(client, auth, world):
    auth.login_as("vendor_manager")
    page = client.get("/kpis/?from=2023-01&to=2023-06")
    assert page.status_code == 200
    figure = chart_blocks(page.text)["heatmap-data"]
    heat = figure["data"][0]
    assert heat["type"] == "heatmap" and heat["y"] == ["Nimbus Cloud", "Stratus Compute"]
    assert heat["x"] == ["2023-01", "2023-02", "2023-03", "2023-04", "2023-05", "2023-06"]
    assert heat["z"][0][:3] == [100.0, 0.0, 100.0]
    assert heat["customdata"][0][0].startswith(f"/kpis/vendors/{world['own']['vendor'].id}")
    # No script but data blocks and files: the CSP forbids inline code.
    assert not re.search(r"<script(?![^>]*(src=|application/json))", page.text)
    assert 'src="/static/vendor/plotly/plotly.min.js"' in page.text
    assert 'data-testid="open-breaches"' in page.text and "2023-02" in page.text


def test_portfolio_filters_by_tier_and_service_type(client, auth, world):
    auth.login_as("vendor_manager")
    page = client.get("/kpis/?from=2023-01&to=2023-06&tier=critical")
    assert chart_blocks(page.text)["heatmap-data"]["data"][0]["y"] == ["Nimbus Cloud"]
    page = client.get("/kpis/?from=2023-01&to=2023-06&service_type=saas")
    assert "heatmap-data" not in page.text and 'data-testid="no-kpis"' in page.text


def test_portfolio_tables_export_to_csv_and_excel(client, auth, world):
    auth.login_as("auditor")
    csv = client.get("/kpis/?from=2023-01&to=2023-06&table=performers&export=csv&sort=-missed")
    lines = csv.text.strip().splitlines()
    assert lines[0].startswith("Vendor,Tier,KPI periods met (%)")
    assert len(lines) == 3
    xlsx = client.get("/kpis/?table=breaches&export=xlsx")
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.data)).active
    rows = list(sheet.values)
    assert rows[0][:4] == ("ID", "Vendor", "Vendor service", "KPI") and len(rows) == 3


def test_scorecard_charts_and_tables(client, auth, world, kb):
    own = world["own"]
    kb.kpi(own["service"], "time_to_notify", threshold=4)
    auth.login_as("vendor_manager")
    page = client.get(f"/kpis/vendors/{own['vendor'].id}?from=2023-01&to=2023-03")
    assert page.status_code == 200
    blocks = chart_blocks(page.text)
    trend = blocks[f"trend-{own['kpi'].id}-data"]["data"]
    assert trend[0]["x"] == ["2023-01-01", "2023-02-01", "2023-03-01"]
    assert trend[1]["y"] == [99.9, 99.9, 99.9]  # the target line
    bars = blocks["availability-data"]["data"][0]
    assert bars["y"][1] == pytest.approx(100 * (1 - 3 / 672), abs=1e-4)
    timeline = blocks["timeline-data"]["data"][0]
    assert timeline["orientation"] == "h" and timeline["x"] == [3 * 3600 * 1000]
    assert "Stratus" not in page.text
    export = client.get(
        f"/kpis/vendors/{own['vendor'].id}?from=2023-01&to=2023-03&table=kpis&export=csv"
    )
    assert "Nimbus Cloud hosting,Availability,2023-02," in export.text
    assert ",no,yes," in export.text
    availability = client.get(
        f"/kpis/vendors/{own['vendor'].id}?from=2023-01&to=2023-03&table=availability&export=csv"
    )
    assert availability.text.splitlines()[2].startswith("Nimbus Cloud hosting,2023-02-01,99.553571")


def test_vendor_users_land_on_their_own_scorecard_and_nothing_else(client, auth, world):
    own, other = world["own"], world["other"]
    auth.login_as("vendor_user", vendor=own["vendor"])
    landing = client.get("/kpis/")
    assert landing.headers["Location"] == f"/kpis/vendors/{own['vendor'].id}"
    page = client.get(landing.headers["Location"])
    assert page.status_code == 200 and "Nimbus Cloud" in page.text and "Stratus" not in page.text
    for path in (
        f"/kpis/vendors/{other['vendor'].id}",
        f"/kpis/vendors/{other['vendor'].id}?export=csv",
        f"/kpis/incidents/{other['incident'].id}",
        f"/kpis/incidents/{other['incident'].id}/edit",
        f"/kpis/breaches/{other['breach'].id}",
        "/kpis/vendors/999999",
    ):
        assert client.get(path).status_code == 404, path
    # Lists and their exports hold only their own rows, even when asked for another vendor.
    for path in (
        "/kpis/incidents",
        f"/kpis/incidents?vendor={other['vendor'].id}",
        "/kpis/incidents?export=csv",
        "/kpis/breaches?status=open&status=closed&export=csv",
        "/kpis/breaches",
        "/kpis/targets",
        "/kpis/targets?export=csv",
        "/kpis/measurements?export=csv",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        assert "Stratus" not in response.text, path
    assert "Nimbus Cloud outage" in client.get("/kpis/incidents").text
    assert "Nimbus Cloud hosting" in client.get("/kpis/breaches").text
    # Managing KPIs is not theirs to do.
    for path in ("/kpis/targets/new", f"/kpis/targets/{own['kpi'].id}/edit"):
        assert client.get(path).status_code == 403, path
    assert (
        client.post(f"/kpis/breaches/{own['breach'].id}/close", data={"note": "x"}).status_code
        == 403
    )
    assert client.post(f"/kpis/targets/{other['kpi'].id}/archive").status_code == 403


def test_vendor_users_report_and_update_their_own_incidents(client, auth, world, session):
    own, other = world["own"], world["other"]
    auth.login_as("vendor_user", vendor=own["vendor"])
    form = client.get("/kpis/incidents/new")
    assert own["service"].name in form.text and other["service"].name not in form.text
    data = {
        "vendor_service_id": str(own["service"].id),
        "title": "Storage latency",
        "severity": "major",
        "timezone": "Europe/Dublin",
        "started_at": "2023-06-10T10:00",
        "acknowledged_at": "2023-06-10T10:05",
        "notified_at": "2023-06-10T10:45",
    }
    created = client.post("/kpis/incidents/new", data=data)
    assert created.status_code == 302
    incident = session.scalar(select(Incident).where(Incident.title == "Storage latency"))
    # Irish summer time is UTC+1.
    assert incident.started_at == at(2023, 6, 10, 9) and incident.ended_at is None
    assert incident.source == "vendor" and incident.notified_at == at(2023, 6, 10, 9, 45)
    edit = client.post(
        f"/kpis/incidents/{incident.id}/edit", data={**data, "ended_at": "2023-06-10T12:00"}
    )
    assert edit.status_code == 302
    session.expire_all()
    assert session.get(Incident, incident.id).ended_at == at(2023, 6, 10, 11)
    forged = client.post(
        "/kpis/incidents/new", data={**data, "vendor_service_id": str(other["service"].id)}
    )
    assert forged.status_code == 200 and "Not a valid choice." in forged.text
    assert client.post(f"/kpis/incidents/{other['incident'].id}/edit", data=data).status_code == 404


def test_incident_form_explains_bad_times(client, auth, world, session):
    auth.login_as("vendor_manager")
    data = {
        "vendor_service_id": str(world["own"]["service"].id),
        "title": "Bad",
        "severity": "major",
        "timezone": "Europe/Paris",
        "started_at": "2024-03-31T02:30",  # skipped by the clock change
        "ended_at": "2024-03-30T10:00",
    }
    page = client.post("/kpis/incidents/new", data=data)
    assert "does not exist or happens twice in Europe/Paris" in page.text
    page = client.post("/kpis/incidents/new", data={**data, "started_at": "2024-03-31T10:00"})
    assert "An incident cannot end before it started." in page.text
    clash = client.post(
        "/kpis/incidents/new",
        data={**data, "started_at": "2024-03-29T10:00", "external_id": "own-1"},
    )
    assert "already has the external id own-1" in clash.text


def test_a_manual_incident_that_breaks_a_target_opens_a_breach(client, auth, world, session):
    auth.login_as("vendor_manager")
    response = client.post(
        "/kpis/incidents/new",
        data={
            "vendor_service_id": str(world["other"]["service"].id),
            "title": "Region down",
            "severity": "critical",
            "timezone": "UTC",
            "started_at": "2023-04-02T00:00",
            "ended_at": "2023-04-02T06:00",
        },
        follow_redirects=True,
    )
    assert "1 KPI breach(es) opened by this change" in response.text
    periods = session.scalars(
        select(KpiBreach.period_start).where(KpiBreach.kpi_id == world["other"]["kpi"].id)
    )
    assert date(2023, 4, 1) in set(periods)


def test_incident_list_filters_sorts_and_exports(client, auth, world, kb):
    kb.incident(
        world["own"]["service"], at(2023, 3, 1), None, title="Still broken", severity="minor"
    )
    auth.login_as("auditor")
    page = client.get("/kpis/incidents?ongoing=1")
    assert "Still broken" in page.text and "Stratus Compute outage" not in page.text
    page = client.get("/kpis/incidents?severity=major&sort=title")
    assert page.text.index("Nimbus Cloud outage") < page.text.index("Stratus Compute outage")
    assert "Still broken" not in page.text
    xlsx = client.get("/kpis/incidents?export=xlsx&sort=-started_at")
    rows = list(openpyxl.load_workbook(io.BytesIO(xlsx.data)).active.values)
    assert rows[1][4] == "Still broken" and len(rows) == 4
    bad = client.get("/kpis/incidents?sort=colour", follow_redirects=True)
    assert "Cannot sort by &#39;colour&#39;" in bad.text


def test_managers_define_edit_and_archive_kpis(client, auth, world, session):
    service = world["own"]["service"]
    auth.login_as("vendor_manager")
    created = client.post(
        "/kpis/targets/new",
        data={
            "vendor_service_id": str(service.id),
            "metric": "time_to_notify",
            "comparator": "lte",
            "threshold": "4",
            "period": "quarter",
            "statistic": "p95",
            "severities": ["minor", "major", "critical"],
        },
    )
    assert created.status_code == 302
    kpi = session.scalar(select(Kpi).where(Kpi.metric == "time_to_notify"))
    assert (kpi.name, kpi.unit, kpi.period, kpi.statistic) == (
        "Time to notify",
        "h",
        "quarter",
        "p95",
    )
    assert kpi.severities == ["critical", "major", "minor"]
    custom = client.post(
        "/kpis/targets/new",
        data={
            "vendor_service_id": str(service.id),
            "metric": "custom",
            "comparator": "gte",
            "threshold": "80",
            "period": "month",
            "statistic": "worst",
        },
    )
    assert "A custom KPI needs a code" in custom.text and "Name the custom KPI." in custom.text
    duplicate = client.post(
        "/kpis/targets/new",
        data={
            "vendor_service_id": str(service.id),
            "metric": "availability",
            "comparator": "gte",
            "threshold": "99.95",
            "period": "month",
            "statistic": "worst",
            "severities": ["critical"],
        },
    )
    assert "already has a monthly KPI with the code availability" in duplicate.text
    too_high = client.post(
        "/kpis/targets/new",
        data={
            "vendor_service_id": str(service.id),
            "metric": "availability",
            "comparator": "gte",
            "threshold": "120",
            "period": "quarter",
            "statistic": "worst",
            "severities": ["critical"],
        },
    )
    assert "Availability is a percentage from 0 to 100." in too_high.text
    client.post(
        f"/kpis/targets/{kpi.id}/edit",
        data={
            "vendor_service_id": str(service.id),
            "metric": "time_to_notify",
            "comparator": "lte",
            "threshold": "2",
            "period": "quarter",
            "statistic": "worst",
            "severities": ["major"],
        },
    )
    session.expire_all()
    assert session.get(Kpi, kpi.id).threshold == 2
    client.post(f"/kpis/targets/{kpi.id}/archive")
    session.expire_all()
    assert session.get(Kpi, kpi.id).archived_at is not None
    listing = client.get("/kpis/targets").text
    table = listing[listing.index('data-testid="kpi-table"') :]
    assert "Time to notify" not in table and "Availability" in table


def test_manual_measurement_is_stored_for_the_kpis_period(client, auth, world, kb, session):
    service = world["own"]["service"]
    kb.kpi(service, "rto_achieved", threshold=4, period="quarter")
    auth.login_as("vendor_manager")
    page = client.get("/kpis/measurements")
    kpi = session.scalar(select(Kpi).where(Kpi.metric == "rto_achieved"))
    response = client.post(
        "/kpis/measurements",
        data={
            "kpi_id": str(kpi.id),
            "period_start": "2023-05-20",
            "value": "6.5",
            "note": "DR test",
        },
        follow_redirects=True,
    )
    assert page.status_code == 200
    assert "Measurement for RTO achieved in a test in 2023-Q2 recorded." in response.text
    stored = session.scalar(select(KpiMeasurement))
    assert (stored.period_start, stored.value, stored.code) == (
        date(2023, 4, 1),
        6.5,
        "rto_achieved",
    )


def test_home_page_tasks(client, auth, world):
    auth.login_as("vendor_manager")
    home = client.get("/")
    assert "Review KPI breaches" in home.text
    auth.logout()
    auth.login_as("vendor_user", vendor=world["own"]["vendor"])
    home = client.get("/")
    assert "Your KPI breaches" in home.text and "Report incidents" in home.text
    assert "/kpis/breaches?status=open" in home.text


def test_breach_page_shows_value_target_and_finding(client, auth, world):
    breach = world["own"]["breach"]
    auth.login_as("vendor_manager")
    page = client.get(f"/kpis/breaches/{breach.id}")
    assert "Availability missed in 2023-02" in page.text
    assert "99.554 %" in page.text and "≥ 99.9 %" in page.text
    assert "Nimbus Cloud outage" in page.text  # the incident behind it
    assert f"#{breach.finding_id}" in page.text


@pytest.mark.parametrize("query", ["from=9999-01&to=9999-12", "from=0001-01", "from=1000-01"])
def test_months_beyond_what_the_maths_can_count_fall_back_to_the_default(
    client, auth, world, query
):
    auth.login_as("vendor_manager")
    own = world["own"]["vendor"].id
    for path in ("/kpis/", f"/kpis/vendors/{own}"):
        page = client.get(f"{path}?{query}")
        assert page.status_code == 200, path
        # The default months are shown instead of the impossible ones.
        assert f'value="{query.split("&")[0].removeprefix("from=")}"' not in page.text


def test_portfolio_table_and_heatmap_page_through_vendors(client, auth, world):
    auth.login_as("vendor_manager")
    first = client.get("/kpis/?from=2023-01&to=2023-06&per_page=1&sort=vendor")
    second = client.get("/kpis/?from=2023-01&to=2023-06&per_page=1&sort=vendor&page=2")
    assert first.status_code == second.status_code == 200
    assert chart_blocks(first.text)["heatmap-data"]["data"][0]["y"] == ["Nimbus Cloud"]
    assert chart_blocks(second.text)["heatmap-data"]["data"][0]["y"] == ["Stratus Compute"]
    assert "1–1 of 2" in first.text and "2–2 of 2" in second.text
    # The export still holds every vendor, whatever the page.
    export = client.get("/kpis/?from=2023-01&to=2023-06&per_page=1&export=csv").text
    assert "Nimbus Cloud" in export and "Stratus Compute" in export
