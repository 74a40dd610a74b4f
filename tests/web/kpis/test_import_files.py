"""Uploads: column mapping, a preview with every problem by row and column, all or nothing."""

from __future__ import annotations

import io
import re
from datetime import datetime

import openpyxl
from sqlalchemy import func, select

from tests.kpis_factories import at
from vendor_portal.kpis.models import Incident, KpiMeasurement, KpiUpload

HEADER = "Ticket,Service,Summary,Priority,Opened (local),Resolved (local),Customers told\n"


def upload(client, content: bytes, filename: str, kind: str = "incidents"):
    response = client.post(
        "/kpis/import",
        data={"kind": kind, "file": (io.BytesIO(content), filename)},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302, response.text
    return response.headers["Location"]


def incidents(session):
    session.expire_all()
    return list(session.scalars(select(Incident).order_by(Incident.external_id)))


def mapping(**extra):
    data = {
        "column_vendor_service": "Service",
        "column_external_id": "Ticket",
        "column_title": "Summary",
        "column_severity": "Priority",
        "column_started_at": "Opened (local)",
        "column_ended_at": "Resolved (local)",
        "column_notified_at": "Customers told",
        "timezone": "Europe/Berlin",
    }
    data.update(extra)
    return data


def test_csv_import_maps_columns_previews_and_stores_in_utc(client, auth, build, kb, session):
    vendor = build.vendor()
    service = kb.service(vendor, name="Payments hosting")
    auth.login_as("vendor_manager")
    csv = (
        HEADER
        + "T-1,Payments hosting,Database down,major,"
        + "2024-01-15 10:00,2024-01-15 11:30,2024-01-15T10:20:00Z\n"
        + f"T-2,{service.id},Slow API,minor,2024-07-01T12:00:00+02:00,,\n"
    ).encode()
    url = upload(client, csv, "incidents.csv")
    page = client.get(url)
    # The headers were not guessable: required columns are listed as missing.
    assert "No column chosen for Started at, which is required." in page.text
    assert 'data-testid="column-mapping"' in page.text

    preview = client.post(url, data={**mapping(), "action": "preview"}, follow_redirects=True)
    assert "2 rows ready: <strong>2</strong> new" in preview.text
    assert "2024-01-15 09:00:00 UTC" in preview.text  # Berlin winter time is UTC+1
    assert incidents(session) == []  # a preview stores nothing

    done = client.post(url, data={**mapping(), "action": "import"}, follow_redirects=True)
    assert "Imported incidents: 2 created, 0 updated." in done.text
    first, second = incidents(session)
    assert first.started_at == at(2024, 1, 15, 9) and first.ended_at == at(2024, 1, 15, 10, 30)
    assert first.notified_at == at(2024, 1, 15, 10, 20) and first.source == "file"
    assert second.started_at == at(2024, 7, 1, 10) and second.ended_at is None
    assert session.scalar(select(func.count(KpiUpload.id))) == 0  # removed once imported


def test_reimporting_updates_instead_of_duplicating(client, auth, build, kb, session):
    service = kb.service(build.vendor(), name="Payments hosting")
    kb.incident(service, at(2024, 1, 15, 9), external_id="T-1", title="Old title")
    auth.login_as("vendor_manager")
    csv = (
        HEADER + "T-1,Payments hosting,New title,critical,2024-01-15 10:00,2024-01-15 12:00,\n"
    ).encode()
    url = upload(client, csv, "again.csv")
    preview = client.post(url, data={**mapping(), "action": "preview"}, follow_redirects=True)
    assert "<strong>0</strong> new, <strong>1</strong> update" in preview.text
    client.post(url, data={**mapping(), "action": "import"})
    [only] = incidents(session)
    assert only.title == "New title" and only.severity == "critical"


def test_every_problem_is_named_by_row_and_column_and_nothing_is_stored(
    client, auth, build, kb, session
):
    kb.service(build.vendor(), name="Payments hosting")
    auth.login_as("vendor_manager")
    csv = (
        HEADER
        + "T-1,Payments hosting,Fine,major,2024-01-15 10:00,2024-01-15 11:00,\n"  # row 2
        + "T-2,Payments hosting,Bad date,major,15/01/2024 10:00,,\n"  # row 3
        + "T-3,Payments hosting,Ends early,major,2024-01-15 10:00,2024-01-15 09:00,\n"  # row 4
        + "T-4,Nowhere,Unknown service,major,2024-01-15 10:00,,\n"  # row 5
        + "T-1,Payments hosting,Duplicate,major,2024-01-15 10:00,,\n"  # row 6
        + "T-6,Payments hosting,,sev1,2024-01-15 10:00,,\n"  # row 7
        + "T-7,Payments hosting,Gap hour,major,2024-03-31 02:30,,\n"  # row 8: no such time
    ).encode()
    url = upload(client, csv, "bad.csv")
    page = client.post(url, data={**mapping(), "action": "preview"}, follow_redirects=True)
    problems = re.findall(
        r"<tr><td>(\d+)</td><td>([^<]+)</td><td>([^<]+)</td></tr>", page.text.replace("&#39;", "'")
    )
    found = {(int(row), column) for row, column, _ in problems}
    assert found == {
        (3, "Opened (local)"),
        (4, "Resolved (local)"),
        (5, "Service"),
        (6, "Ticket"),
        (7, "Summary"),
        (7, "Priority"),
        (8, "Opened (local)"),
    }
    messages = {(int(r), c): m for r, c, m in problems}
    assert messages[(6, "Ticket")].endswith("the same as row 2.")
    assert "8 problems" not in page.text and "7 problems" in page.text
    refused = client.post(url, data={**mapping(), "action": "import"}, follow_redirects=True)
    assert "Nothing was imported" in refused.text
    assert incidents(session) == []


def test_a_file_without_required_columns_says_which(client, auth, build, kb, session):
    kb.service(build.vendor())
    auth.login_as("vendor_manager")
    url = upload(client, b"id,title\nA,Outage\n", "thin.csv")
    page = client.get(url)
    for label in ("Vendor service", "Severity", "Started at"):
        assert f"No column chosen for {label}" in page.text
    assert "No column chosen for Title" not in page.text  # guessed from the header


def test_unreadable_files_are_refused_at_upload(client, auth, session):
    auth.login_as("vendor_manager")
    response = client.post(
        "/kpis/import",
        data={"kind": "incidents", "file": (io.BytesIO(b"PK\x03\x04garbage"), "x.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200 and "not a readable Excel workbook" in response.text
    response = client.post(
        "/kpis/import",
        data={"kind": "incidents", "file": (io.BytesIO(b"a,b\n"), "empty.csv")},
        content_type="multipart/form-data",
    )
    assert "no data rows" in response.text
    assert session.scalar(select(func.count(KpiUpload.id))) == 0


def test_excel_import_with_one_service_for_the_whole_file(client, auth, build, kb, session):
    service = kb.service(build.vendor())
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Incident ID", "Title", "Severity", "Start", "End"])
    sheet.append(
        ["X-1", "Outage", "critical", datetime(2024, 2, 29, 23, 0), datetime(2024, 3, 1, 1, 0)]
    )
    sheet.append(["X-2", "Blip", "minor", "2024-03-02T10:00:00-05:00", None])
    buffer = io.BytesIO()
    book.save(buffer)
    auth.login_as("vendor_manager")
    url = upload(client, buffer.getvalue(), "incidents.xlsx")
    page = client.get(url)
    assert "No column chosen for Vendor service, which is required (or choose one" in page.text
    data = {
        "service_id": str(service.id),
        "column_external_id": "Incident ID",
        "column_title": "Title",
        "column_severity": "Severity",
        "column_started_at": "Start",
        "column_ended_at": "End",
        "timezone": "UTC",
    }
    done = client.post(url, data={**data, "action": "import"}, follow_redirects=True)
    assert "2 created" in done.text
    first, second = incidents(session)
    assert first.started_at == at(2024, 2, 29, 23) and first.vendor_service_id == service.id
    assert second.started_at == at(2024, 3, 2, 15)


def test_vendor_users_import_for_their_own_services_only(client, auth, build, kb, session):
    own_vendor, other_vendor = build.vendor(), build.vendor()
    own = kb.service(own_vendor, name="Our service")
    other = kb.service(other_vendor, name="Their service")
    auth.login_as("vendor_user", vendor=own_vendor)
    csv = (
        "id,service,title,severity,start\n"
        + f"A,{own.id},Ours,major,2024-01-01T00:00:00Z\n"
        + f"B,{other.id},Theirs,major,2024-01-01T00:00:00Z\n"
        + "C,Their service,Theirs by name,major,2024-01-01T00:00:00Z\n"
    ).encode()
    url = upload(client, csv, "mine.csv")
    page = client.get(url)
    assert page.text.count("that you may report on") == 2
    assert "Their service</option>" not in page.text  # not offered as a whole-file service
    # A vendor user cannot pick another vendor's service for the whole file either.
    forged = client.post(
        url,
        data={
            "service_id": str(other.id),
            "column_external_id": "id",
            "column_title": "title",
            "column_severity": "severity",
            "column_started_at": "start",
            "action": "import",
        },
    )
    assert forged.status_code == 200 and "Not a valid choice" in forged.text
    assert incidents(session) == []
    # Measurements are for vendor managers.
    response = client.post(
        "/kpis/import",
        data={"kind": "measurements", "file": (io.BytesIO(b"a\n1\n"), "m.csv")},
        content_type="multipart/form-data",
    )
    assert "Not a valid choice" in response.text


def test_another_users_upload_is_not_found(client, auth, build, kb, session):
    kb.service(build.vendor())
    auth.login_as("vendor_manager")
    url = upload(client, b"id,title\nA,B\n", "x.csv")
    auth.logout()
    auth.login_as("vendor_manager")
    assert client.get(url).status_code == 404


def test_measurement_file_import(client, auth, build, kb, session):
    service = kb.service(build.vendor(), name="Card personalisation")
    kb.kpi(service, "on_time_delivery", threshold=95)
    auth.login_as("vendor_manager")
    csv = (
        b"service;kpi;month;value\n"
        b"Card personalisation;on_time_delivery;2024-01-01;96,5\n"
        b"Card personalisation;on_time_delivery;2024-02-01;91\n"
    )
    url = upload(client, csv, "delivery.csv", kind="measurements")
    page = client.get(url)
    assert "2 rows ready" in page.text  # semicolons, decimal commas and headers all guessed
    done = client.post(
        url,
        data={
            "column_vendor_service": "service",
            "column_code": "kpi",
            "column_period_start": "month",
            "column_value": "value",
            "action": "import",
        },
        follow_redirects=True,
    )
    assert "Imported measurements: 2 created" in done.text
    assert "1 KPI breach(es) opened." in done.text
    values = session.scalars(select(KpiMeasurement.value).order_by(KpiMeasurement.period_start))
    assert list(values) == [96.5, 91.0]
