"""The KPI API: incidents and measurements in, availability and scorecards out, scoped."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from tests.kpis_factories import at
from vendor_portal.kpis.models import Incident, KpiMeasurement


def incident(service_id, external_id="INC-1", **fields):
    body = {
        "vendor_service": service_id,
        "external_id": external_id,
        "title": "Database unreachable",
        "severity": "critical",
        "started_at": "2023-01-10T09:00:00+01:00",
        "ended_at": "2023-01-10T08:30:00Z",
    }
    body.update(fields)
    return body


def count(session, model):
    return session.scalar(select(func.count(model.id)))


def test_post_incidents_creates_then_updates_by_external_id(api, build, kb, session):
    service = kb.service(build.vendor())
    api.as_role("vendor_manager")
    first = api.post(
        "/api/v1/incidents",
        json=[incident(service.id), incident(service.id, "INC-2", ended_at=None)],
    )
    assert first.status_code == 200, first.text
    assert first.get_json() == {"created": 2, "updated": 0, "breaches_opened": 0}
    stored = session.scalar(select(Incident).where(Incident.external_id == "INC-1"))
    # 09:00 at +01:00 is 08:00 UTC.
    assert stored.started_at == at(2023, 1, 10, 8) and stored.ended_at == at(2023, 1, 10, 8, 30)
    assert stored.source == "api"

    again = api.post(
        "/api/v1/incidents",
        json=[
            incident(service.id, title="Database unreachable in eu-west"),
            incident(service.id, "INC-2", ended_at=None),  # unchanged
        ],
    )
    assert again.get_json() == {"created": 0, "updated": 1, "breaches_opened": 0}
    session.expire_all()
    assert count(session, Incident) == 2
    assert session.get(Incident, stored.id).title == "Database unreachable in eu-west"


def test_a_single_object_is_accepted_as_a_list_of_one(api, build, kb):
    service = kb.service(build.vendor())
    api.as_role("vendor_manager")
    response = api.post("/api/v1/incidents", json=incident(service.id))
    assert response.get_json()["created"] == 1


def test_unknown_fields_are_refused_before_anything_else(api, build, kb, session):
    service = kb.service(build.vendor())
    api.as_role("vendor_manager")
    response = api.post(
        "/api/v1/incidents",
        json=[incident(service.id), {**incident(service.id, "INC-2"), "colour": "red"}],
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["fields"] == {"[1].colour": "Unknown field."}
    assert count(session, Incident) == 0


def test_field_errors_are_reported_together(api, build, kb, session):
    service = kb.service(build.vendor())
    api.as_role("vendor_manager")
    response = api.post(
        "/api/v1/incidents",
        json=[
            incident(service.id),
            incident(service.id, "INC-2", started_at="2023-01-10 09:00"),
            incident(service.id, "INC-3", ended_at="2023-01-09T00:00:00Z"),
            incident(999_999, "INC-4"),
            incident(service.id, "INC-1"),
            incident(service.id, "INC-7", severity="sev1"),
        ],
    )
    fields = response.get_json()["error"]["fields"]
    assert set(fields) == {
        "[1].started_at",
        "[2].ended_at",
        "[3].vendor_service",
        "[4].external_id",
        "[5].severity",
    }
    assert "UTC offset" in fields["[1].started_at"]
    assert fields["[4].external_id"].endswith("the same as item 0.")
    assert count(session, Incident) == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [("not json", 415), ([], 422), ([1, 2], 422)],
)
def test_malformed_bodies(api, body, status):
    api.as_role("vendor_manager")
    if isinstance(body, str):
        response = api.post("/api/v1/incidents", data=body)
    else:
        response = api.post("/api/v1/incidents", json=body)
    assert response.status_code == status


def test_vendor_users_report_only_on_their_own_services(api, build, kb, session):
    own_vendor, other_vendor = build.vendor(), build.vendor()
    own, other = kb.service(own_vendor), kb.service(other_vendor)
    api.as_role("vendor_user", vendor=own_vendor)
    assert api.post("/api/v1/incidents", json=[incident(own.id)]).get_json()["created"] == 1
    refused = api.post("/api/v1/incidents", json=[incident(other.id, "X")])
    assert refused.status_code == 422
    # The same answer as for a service that does not exist: nothing leaks.
    message = refused.get_json()["error"]["fields"]["[0].vendor_service"]
    assert message == f"No vendor service '{other.id}' (by id or name) that you may report on."
    assert count(session, Incident) == 1


def test_auditors_cannot_post_incidents(api, build, kb):
    service = kb.service(build.vendor())
    api.as_role("auditor")
    assert api.post("/api/v1/incidents", json=[incident(service.id)]).status_code == 403


def test_availability_is_monthly_in_the_documented_shape(api, build, kb):
    service = kb.service(build.vendor())
    # 21.6 minutes down in a 30-day month is 99.95 %.
    kb.incident(service, at(2023, 4, 3, 10), at(2023, 4, 3, 10, 21, 36), severity="major")
    kb.incident(service, at(2023, 4, 5), at(2023, 4, 6), severity="maintenance")
    kb.incident(service, at(2023, 4, 30, 23), at(2023, 5, 1, 1), severity="critical")
    api.as_role("auditor")
    response = api.get(
        f"/api/v1/vendor-services/{service.id}/availability?from=2023-04-01&to=2023-05-31"
    )
    assert response.status_code == 200, response.text
    body = response.get_json()
    april, may = body["periods"]
    assert april["start"] == "2023-04-01" and may["start"] == "2023-05-01"
    assert april["downtime_minutes"] == pytest.approx(21.6 + 60)
    assert april["availability_pct"] == pytest.approx(100 * (1 - 81.6 / (30 * 1440)), abs=1e-6)
    assert may["downtime_minutes"] == 60
    assert may["availability_pct"] == pytest.approx(100 * (1 - 60 / (31 * 1440)), abs=1e-6)
    assert body["severities"] == ["critical", "major"]


def test_availability_uses_the_severities_of_the_services_kpi(api, build, kb):
    service = kb.service(build.vendor())
    kb.kpi(service, severities=["critical"])
    kb.incident(service, at(2023, 4, 3, 10), at(2023, 4, 3, 11), severity="major")
    api.as_role("vendor_manager")
    body = api.get(
        f"/api/v1/vendor-services/{service.id}/availability?from=2023-04-01&to=2023-04-30"
    ).get_json()
    assert body["periods"][0]["availability_pct"] == 100


def test_availability_parameters_are_checked(api, build, kb):
    service = kb.service(build.vendor())
    api.as_role("vendor_manager")
    bad = api.get(f"/api/v1/vendor-services/{service.id}/availability?from=2023-13-01")
    assert bad.status_code == 400 and "from" in bad.get_json()["error"]["fields"]
    reversed_ = api.get(
        f"/api/v1/vendor-services/{service.id}/availability?from=2023-05-01&to=2023-04-01"
    )
    assert reversed_.status_code == 400
    assert api.get("/api/v1/vendor-services/999999/availability").status_code == 404


def test_vendor_users_see_only_their_own_availability_scorecard_and_incidents(api, build, kb):
    own_vendor, other_vendor = build.vendor(), build.vendor()
    own, other = kb.service(own_vendor), kb.service(other_vendor)
    theirs = kb.incident(other, at(2023, 1, 1), at(2023, 1, 1, 1))
    mine = kb.incident(own, at(2023, 1, 1), at(2023, 1, 1, 1))
    api.as_role("vendor_user", vendor=own_vendor)
    assert api.get(f"/api/v1/vendor-services/{own.id}/availability").status_code == 200
    assert api.get(f"/api/v1/vendor-services/{other.id}/availability").status_code == 404
    assert api.get(f"/api/v1/vendors/{own_vendor.id}/scorecard").status_code == 200
    assert api.get(f"/api/v1/vendors/{other_vendor.id}/scorecard").status_code == 404
    assert api.get(f"/api/v1/incidents/{mine.id}").status_code == 200
    assert api.get(f"/api/v1/incidents/{theirs.id}").status_code == 404
    listed = api.get("/api/v1/incidents").get_json()
    assert [i["id"] for i in listed["items"]] == [mine.id]


def test_scorecard_reports_each_kpi_per_period(api, build, kb, session):
    vendor = build.vendor(tier="critical")
    service = kb.service(vendor, name="Payments hosting")
    availability = kb.kpi(service)
    notify = kb.kpi(service, "time_to_notify", threshold=4)
    kb.incident(service, at(2023, 2, 1, 0), at(2023, 2, 1, 2), notified_at=at(2023, 2, 1, 6))
    api.as_role("vendor_manager")
    body = api.get(
        f"/api/v1/vendors/{vendor.id}/scorecard?from=2023-01-01&to=2023-02-28"
    ).get_json()
    kpis = {k["id"]: k for k in body["kpis"]}
    feb = kpis[availability.id]["periods"][1]
    assert feb["start"] == "2023-02-01" and feb["met"] is False
    assert feb["value"] == pytest.approx(100 * (1 - 2 / (28 * 24)), abs=1e-6)
    assert kpis[notify.id]["periods"][0]["met"] is None  # no incident in January
    assert (
        kpis[notify.id]["periods"][1]["value"] == 6
        and kpis[notify.id]["periods"][1]["met"] is False
    )
    assert body["availability"][0]["vendor_service"] == "Payments hosting"
    assert len(body["availability"][0]["periods"]) == 2


def test_measurements_api_needs_a_defined_kpi_code_and_updates_in_place(api, build, kb, session):
    service = kb.service(build.vendor())
    kb.kpi(service, "on_time_delivery", threshold=95)
    api.as_role("vendor_manager")
    ok = api.post(
        "/api/v1/kpi/measurements",
        json=[
            {
                "vendor_service": service.id,
                "code": "on_time_delivery",
                "period_start": "2023-03-01",
                "value": 97.5,
            }
        ],
    )
    assert ok.status_code == 200 and ok.get_json()["created"] == 1
    again = api.post(
        "/api/v1/kpi/measurements",
        json={
            "vendor_service": service.id,
            "code": "on_time_delivery",
            "period_start": "2023-03-01",
            "value": 91,
        },
    )
    assert again.get_json()["updated"] == 1 and again.get_json()["breaches_opened"] == 1
    bad = api.post(
        "/api/v1/kpi/measurements",
        json=[
            {
                "vendor_service": service.id,
                "code": "uptime",
                "period_start": "2023-03",
                "value": "x",
            }
        ],
    )
    assert bad.status_code == 422
    assert set(bad.get_json()["error"]["fields"]) == {"[0].code", "[0].period_start", "[0].value"}
    session.expire_all()
    assert count(session, KpiMeasurement) == 1
    assert session.scalar(select(KpiMeasurement.value)) == 91
    assert session.scalar(select(KpiMeasurement.period_start)) == date(2023, 3, 1)


def test_vendor_users_cannot_post_measurements(api, build, kb):
    vendor = build.vendor()
    service = kb.service(vendor)
    api.as_role("vendor_user", vendor=vendor)
    response = api.post(
        "/api/v1/kpi/measurements",
        json=[
            {"vendor_service": service.id, "code": "x", "period_start": "2023-03-01", "value": 1}
        ],
    )
    assert response.status_code == 403


def test_openapi_documents_the_kpi_paths(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    for path in (
        "/incidents",
        "/kpi/measurements",
        "/vendor-services/{service_id}/availability",
        "/vendors/{vendor_id}/scorecard",
    ):
        assert path in paths
