"""Google Cloud's public incident history (July 2021 to July 2022) through the status-feed
importer, with monthly availability checked against a computation written here from scratch."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from vendor_portal.kpis.models import Incident

FEED = "cloud_incidents/gcp_incidents_2021-07_to_2022-07.json"
MONTHS = [(2021, m) for m in range(7, 13)] + [(2022, m) for m in range(1, 8)]


def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def independent_downtime_minutes(feed: list[dict], severities: set[str]) -> dict[str, float]:
    """Union of [begin, end) of the feed's incidents with these raw severities, per month."""
    spans = sorted(
        (datetime.fromisoformat(i["begin"]), datetime.fromisoformat(i["end"]))
        for i in feed
        if i["severity"] in severities
    )
    merged: list[list[datetime]] = []
    for begin, end in spans:
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    out = {}
    for year, month in MONTHS:
        lo, hi = month_bounds(year, month)
        seconds = sum(
            max(0.0, (min(end, hi) - max(begin, lo)).total_seconds()) for begin, end in merged
        )
        out[f"{year}-{month:02d}-01"] = seconds / 60
    return out


def import_feed(client, content: bytes, service_id: int, **options) -> str:
    # Encoded in memory: for a body this large the test client would spool it to a temporary
    # file it never closes.
    boundary, body = encode_multipart(
        MultiDict({"kind": "status_feed", "file": FileStorage(io.BytesIO(content), "gcp.json")})
    )
    response = client.post(
        "/kpis/import", data=body, content_type=f"multipart/form-data; boundary={boundary}"
    )
    assert response.status_code == 302, response.text
    url = response.headers["Location"]
    page = client.get(url)
    assert "Choose the service the feed reports on" in page.text
    data = {"service_id": str(service_id), "timezone": "UTC", **options}
    preview = client.post(url, data={**data, "action": "preview"}, follow_redirects=True)
    assert 'data-testid="import-problems"' not in preview.text, preview.text
    done = client.post(url, data={**data, "action": "import"}, follow_redirects=True)
    return done.text


@pytest.fixture
def feed_bytes(shared_data) -> bytes:
    return (shared_data / FEED).read_bytes()


def availability_by_month(api, service_id: int) -> dict[str, dict]:
    body = api.get(
        f"/api/v1/vendor-services/{service_id}/availability?from=2021-07-01&to=2022-07-31"
    ).get_json()
    return {p["start"]: p for p in body["periods"]}


def assert_matches(got: dict[str, dict], expected_minutes: dict[str, float]) -> None:
    assert list(got) == list(expected_minutes)  # the 13 months, July 2021 to July 2022
    for start, minutes in expected_minutes.items():
        lo, hi = month_bounds(int(start[:4]), int(start[5:7]))
        length = (hi - lo).total_seconds() / 60
        assert got[start]["downtime_minutes"] == pytest.approx(minutes, abs=1e-3), start
        assert got[start]["availability_pct"] == pytest.approx(
            100 * (1 - minutes / length), abs=1e-6
        ), start


def test_gcp_history_imports_and_gives_the_independently_computed_availability(
    client, auth, api, build, kb, session, feed_bytes
):
    feed = json.loads(feed_bytes)
    vendor = build.vendor(name="Google Cloud", country="US", tier="critical")
    service = kb.service(vendor, name="Google Cloud Platform", service_type="cloud_iaas")
    auth.login_as("vendor_manager")
    result = import_feed(client, feed_bytes, service.id)
    assert f"Imported incidents: {len(feed)} created, 0 updated." in result
    assert session.scalar(select(func.count(Incident.id))) == len(feed) == 157

    # Importing the same history again changes nothing and duplicates nothing.
    again = import_feed(client, feed_bytes, service.id)
    assert "Imported incidents: 0 created, 0 updated." in again
    assert session.scalar(select(func.count(Incident.id))) == 157

    # Outages (high) are critical and count as downtime; disruptions were recorded as minor.
    api.as_role("auditor")
    got = availability_by_month(api, service.id)
    assert_matches(got, independent_downtime_minutes(feed, {"high"}))
    values = [p["availability_pct"] for p in got.values()]
    # Sensible for "any Google Cloud product anywhere is out": mostly 99 % and more, the worst
    # June 2022 (a 56-hour console outage), never a month wholly down.
    assert all(90 < v <= 100 for v in values), values
    assert sum(v >= 99 for v in values) >= 10 and min(values) < 95


def test_disruptions_count_as_downtime_when_the_contract_says_so(
    client, auth, api, build, kb, feed_bytes
):
    feed = json.loads(feed_bytes)
    vendor = build.vendor(name="Google Cloud", country="US", tier="critical")
    service = kb.service(vendor, name="Google Cloud Platform", service_type="cloud_iaas")
    auth.login_as("vendor_manager")
    import_feed(client, feed_bytes, service.id, disruption="major")
    api.as_role("auditor")
    got = availability_by_month(api, service.id)
    assert_matches(got, independent_downtime_minutes(feed, {"high", "medium"}))


def test_a_product_filter_imports_only_that_products_incidents(
    client, auth, api, build, kb, session, feed_bytes
):
    feed = json.loads(feed_bytes)
    gce = [
        i
        for i in feed
        if any(p["title"] == "Google Compute Engine" for p in i["affected_products"])
    ]
    vendor = build.vendor(name="Google Cloud", country="US", tier="critical")
    service = kb.service(vendor, name="Compute Engine", service_type="cloud_iaas")
    kb.kpi(service, severities=["critical"])  # only outages count for this contract
    auth.login_as("vendor_manager")
    result = import_feed(client, feed_bytes, service.id, products="Google Compute Engine")
    assert f"Imported incidents: {len(gce)} created" in result
    api.as_role("auditor")
    body = api.get(
        f"/api/v1/vendor-services/{service.id}/availability?from=2021-07-01&to=2022-07-31"
    ).get_json()
    assert body["severities"] == ["critical"]
    expected = independent_downtime_minutes(gce, {"high"})
    for period in body["periods"]:
        assert period["downtime_minutes"] == pytest.approx(expected[period["start"]], abs=1e-3)


def test_a_feed_that_is_not_a_status_history_is_refused(client, auth, build, kb):
    auth.login_as("vendor_manager")
    response = client.post(
        "/kpis/import",
        data={"kind": "status_feed", "file": (io.BytesIO(b'{"status": "ok"}'), "x.json")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200
    assert "A status feed is a JSON list of incidents." in response.text
