"""Bulk imports audited as one event, data versions, the portfolio's reused tallies, and the
contract a KPI target belongs to."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import func, select

from tests.kpis_factories import at
from tests.web.kpis.test_import_files import upload
from vendor_portal.audit.models import AuditEntry
from vendor_portal.audit.services import verify
from vendor_portal.contracts.models import Contract
from vendor_portal.kpis import services
from vendor_portal.kpis.models import Incident, Kpi, KpiBreach, KpiDataVersion

NOW = datetime(2024, 6, 15, 12, tzinfo=UTC)
FIELDS = ("vendor_service", "external_id", "title", "severity", "started_at", "ended_at")


def last_seq(session) -> int:
    return session.scalar(select(func.max(AuditEntry.seq))) or 0


def entries_since(session, seq):
    session.expire_all()
    return list(session.scalars(select(AuditEntry).where(AuditEntry.seq > seq)))


def version(session, service) -> int | None:
    session.expire_all()
    return session.scalar(
        select(KpiDataVersion.version).where(KpiDataVersion.vendor_service_id == service.id)
    )


def test_a_file_import_is_one_audit_event_naming_the_file_and_what_it_overwrote(
    client, auth, build, kb, session
):
    service = kb.service(build.vendor(), name="Payments hosting")
    old = kb.incident(service, at(2024, 1, 15, 9), external_id="T-1", title="Old title")
    auth.login_as("vendor_manager")
    csv = (
        ",".join(FIELDS)
        + "\n"
        + f"{service.id},T-1,New title,major,2024-01-15T09:00:00Z,2024-01-15T10:00:00Z\n"
        + f"{service.id},T-2,Other,minor,2024-02-01T09:00:00Z,\n"
        + f"{service.id},T-3,Third,critical,2024-02-02T09:00:00Z,2024-02-02T09:30:00Z\n"
    ).encode()
    url = upload(client, csv, "monitoring.csv")
    seq = last_seq(session)
    stamp = version(session, service)
    mapping = {f"column_{name}": name for name in FIELDS} | {"timezone": "UTC"}
    done = client.post(url, data={**mapping, "action": "import"}, follow_redirects=True)
    assert "Imported incidents: 2 created, 1 updated." in done.text

    new = entries_since(session, seq)
    incident_entries = [e for e in new if e.entity_type == "incident"]
    assert [e.action for e in incident_entries] == ["incident.import"]  # not one per row
    event = incident_entries[0].after
    assert event["file"] == "monitoring.csv"
    assert event["sha256"] == hashlib.sha256(csv).hexdigest()
    assert (event["rows"], event["created"], event["updated"], event["unchanged"]) == (3, 2, 1, 0)
    assert event["source"] == "file"
    assert event["updated_before"] == {str(old.id): {"title": "Old title", "ended_at": None}}
    assert incident_entries[0].actor_id is not None
    assert verify(session)[1] is None  # the chain still verifies
    assert version(session, service) != stamp  # cached figures of the service are stale now

    # Sending the same file again changes nothing and says so.
    url = upload(client, csv, "monitoring.csv")
    seq = last_seq(session)
    again = client.post(url, data={**mapping, "action": "import"}, follow_redirects=True)
    assert "Imported incidents: 0 created, 0 updated." in again.text
    assert session.scalar(select(func.count(Incident.id))) == 3
    (event,) = [e.after for e in entries_since(session, seq) if e.entity_type == "incident"]
    assert (event["unchanged"], event["updated_before"]) == (3, {})


def test_an_api_import_is_audited_with_the_hash_of_what_was_sent(api, build, kb, session):
    service = kb.service(build.vendor())
    api.as_role("vendor_manager")
    items = [
        {
            "vendor_service": service.id,
            "external_id": "API-1",
            "title": "Outage",
            "severity": "major",
            "started_at": "2024-03-01T10:00:00+01:00",
            "ended_at": "2024-03-01T11:00:00+01:00",
        }
    ]
    seq = last_seq(session)
    response = api.post("/api/v1/incidents", json=items)
    assert response.status_code == 200, response.text
    (event,) = [e for e in entries_since(session, seq) if e.entity_type == "incident"]
    assert event.action == "incident.import" and event.after["source"] == "api"
    assert event.after["created"] == 1 and len(event.after["sha256"]) == 64
    stored = session.scalar(select(Incident))
    assert stored.started_at == at(2024, 3, 1, 9) and stored.source == "api"


def test_writes_through_the_orm_replace_the_services_data_version(build, kb, session):
    vendor = build.vendor()
    first, second = kb.service(vendor), kb.service(vendor)
    assert version(session, first) is not None  # a new service has a stamp already
    stamp = version(session, first)
    kpi = kb.kpi(first)
    assert version(session, first) != stamp
    stamp = version(session, first)
    incident = kb.incident(first, at(2024, 1, 1))
    after_incident = version(session, first)
    assert after_incident != stamp
    second_stamp = version(session, second)
    incident.vendor_service_id = second.id  # moved: both services change
    session.commit()
    assert version(session, first) != after_incident
    assert version(session, second) != second_stamp
    before_edit = version(session, first)
    kpi.threshold = 99.0
    session.commit()
    assert version(session, first) != before_edit
    # What the KPI pages show of the service and its vendor: names, tier, archiving.
    stamps = (version(session, first), version(session, second))
    vendor.tier = "critical" if vendor.tier != "critical" else "low"
    session.commit()
    assert version(session, first) != stamps[0] and version(session, second) != stamps[1]
    before_rename = version(session, second)
    second.name = "Renamed"
    session.commit()
    assert version(session, second) != before_rename
    # A breach (its status feeds the open-breach counts).
    before_breach = version(session, first)
    breach = KpiBreach(
        kpi_id=kpi.id,
        vendor_id=vendor.id,
        vendor_service_id=first.id,
        period_start=date(2024, 1, 1),
        period_end=date(2024, 2, 1),
        value=98.0,
        threshold=99.0,
        comparator="gte",
    )
    session.add(breach)
    session.commit()
    after_breach = version(session, first)
    assert after_breach != before_breach
    breach.status = "closed"
    session.commit()
    assert version(session, first) != after_breach


def portfolio_figures(result):
    return result.months, [
        (v.vendor.id, dict(v.by_month), v.open_breaches, v.attainment_pct) for v in result.vendors
    ]


def test_the_portfolio_reuses_tallies_until_the_data_change(build, kb, session, monkeypatch):
    a, b = build.vendor(name="Alpha"), build.vendor(name="Beta")
    steady = kb.service(a)
    ongoing = kb.service(a)
    measured = kb.service(b)
    kb.kpi(steady, threshold=99.9)
    kb.kpi(steady, "time_to_notify", period="quarter", statistic="p95", threshold=4.0)
    kb.kpi(ongoing, threshold=99.0)
    kb.kpi(measured, "on_time_delivery")
    kb.incident(steady, at(2024, 2, 3), at(2024, 2, 3, 2), notified_at=at(2024, 2, 3, 1))
    kb.incident(steady, at(2024, 5, 30, 23), at(2024, 6, 1, 1), notified_at=at(2024, 6, 1))
    # Open for an hour: June's availability is still met, and moves with the clock: 99 % of
    # June allows 7.2 h down, so it is met for another 6.2 h at least.
    kb.incident(ongoing, at(2024, 6, 15, 11), None)
    kb.measurement(measured, "on_time_delivery", date(2024, 3, 1), 91.0)
    start, end = date(2024, 1, 1), date(2024, 6, 30)

    computed: list[list[int]] = []
    real = services._monthly_tallies

    def counting(session_, service_ids, *args):
        computed.append(sorted(service_ids))
        return real(session_, service_ids, *args)

    monkeypatch.setattr(services, "_monthly_tallies", counting)
    cache = services.AttainmentCache()

    def check(expect_computed, now=NOW):
        computed.clear()
        cached = services.portfolio(session, start, end, now, cache=cache)
        assert computed == expect_computed
        fresh = services.portfolio(session, start, end, now)
        assert portfolio_figures(cached) == portfolio_figures(fresh)
        return cached

    first = check([sorted([steady.id, ongoing.id, measured.id])])
    # February: 2 h down misses 99.9 %; the quarterly notify KPI and the other service meet.
    assert first.vendors[0].by_month[date(2024, 2, 1)] == (100 * 2 / 3, 3, 1)
    assert check([]) is first  # nothing changed: the whole portfolio is reused
    # Still met five hours later; past 7.2 h down the ongoing service misses June, and only
    # that service is computed again.
    assert check([], NOW + timedelta(hours=5)) is first
    later = check([[ongoing.id]], NOW + timedelta(hours=6, minutes=13))
    clock = NOW + timedelta(hours=7)  # time only moves on
    june = date(2024, 6, 1)
    assert later.vendors[0].by_month[june][2] == first.vendors[0].by_month[june][2] + 1
    kb.measurement(measured, "on_time_delivery", date(2024, 4, 1), 50.0)  # ORM write
    check([[measured.id]], clock)
    frame = pd.DataFrame(
        [
            {
                "service_id": steady.id,
                "external_id": "BULK-1",
                "title": "Outage",
                "severity": "critical",
                "description": None,
                "started_at": pd.Timestamp("2024-04-02T00:00:00Z"),
                "acknowledged_at": pd.NaT,
                "notified_at": pd.Timestamp("2024-04-02T09:00:00Z"),
                "ended_at": pd.Timestamp("2024-04-02T05:00:00Z"),
            }
        ]
    )
    services.upsert_incidents(session, frame, source="api", user_id=None)  # bulk write
    session.commit()
    after_bulk = check([[steady.id]], clock)
    assert after_bulk.vendors[0].by_month[date(2024, 4, 1)][2] == 2  # availability and notify
    kpi = session.scalar(select(Kpi).where(Kpi.vendor_service_id == measured.id))
    kpi.threshold = 40.0  # a changed target
    session.commit()
    check([[measured.id]], clock)
    b.name = "Beta renamed"  # a vendor's name (and tier, and archiving) shows in the portfolio
    session.commit()
    renamed = check([[measured.id]], clock)
    assert [v.vendor.name for v in renamed.vendors] == ["Alpha", "Beta renamed"]
    check([], clock)


def test_a_kpi_names_one_of_its_vendors_contracts(client, auth, api, build, kb, session):
    vendor, other = build.vendor(name="Nimbus"), build.vendor(name="Stratus")
    service = kb.service(vendor, name="Hosting")
    own = Contract(vendor_id=vendor.id, title="Hosting MSA", reference="C-17")
    foreign = Contract(vendor_id=other.id, title="Stratus deal")
    session.add_all([own, foreign])
    session.commit()
    auth.login_as("vendor_manager")
    form = client.get(f"/kpis/targets/new?contract={own.id}")
    assert f'<option selected value="{own.id}">Nimbus — Hosting MSA (C-17)</option>' in form.text
    data = {
        "vendor_service_id": str(service.id),
        "metric": "availability",
        "comparator": "gte",
        "threshold": "99.9",
        "period": "month",
        "statistic": "worst",
        "severities": ["major", "critical"],
    }
    refused = client.post("/kpis/targets/new", data={**data, "contract_id": str(foreign.id)})
    assert refused.status_code == 200
    assert "Choose a contract of the vendor that delivers this service (Nimbus)." in refused.text
    assert session.scalar(select(func.count(Kpi.id))) == 0
    saved = client.post("/kpis/targets/new", data={**data, "contract_id": str(own.id)})
    assert saved.status_code == 302
    kpi = session.scalar(select(Kpi))
    assert kpi.contract_id == own.id

    card = client.get(f"/kpis/vendors/{vendor.id}")
    assert "Contract: Hosting MSA (C-17)" in card.text
    page = client.get(f"/contracts/{own.id}")
    assert "Availability</a> of Hosting" in page.text
    api.as_role("vendor_manager")
    scorecard = api.get(f"/api/v1/vendors/{vendor.id}/scorecard").json
    assert [k["contract_id"] for k in scorecard["kpis"]] == [own.id]

    # A vendor user sees its own KPI's contract, and only its own vendor's contracts exist for
    # it; another vendor's user gets nothing of this vendor.
    insider = build.user(role="vendor_user", vendor=vendor)
    outsider = build.user(role="vendor_user", vendor=other)
    assert [c.id for c in services.scoped_contracts(session, insider)] == [own.id]
    assert [c.id for c in services.scoped_contracts(session, outsider)] == [foreign.id]
    api.as_role("vendor_user", vendor=other)
    assert api.get(f"/api/v1/vendors/{vendor.id}/scorecard").status_code == 404
