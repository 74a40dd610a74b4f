"""Breaches: one per KPI and period however often recomputed, a finding each, managers told."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from tests.kpis_factories import at
from vendor_portal.findings.models import Finding
from vendor_portal.kpis import services
from vendor_portal.kpis.models import Incident, KpiBreach

NOW = at(2023, 6, 15, 12)


def breaches(session):
    session.expire_all()
    return list(session.scalars(select(KpiBreach).order_by(KpiBreach.period_start)))


def test_recompute_opens_one_breach_per_kpi_and_period_and_a_finding_each(build, kb, session):
    vendor = build.vendor(tier="critical")
    service = kb.service(vendor, name="Payments hosting")
    kpi = kb.kpi(service, threshold=99.9)
    kb.incident(service, at(2023, 2, 1, 0), at(2023, 2, 1, 2))  # 2 h: 99.70 % in February
    kb.incident(service, at(2023, 4, 1, 0), at(2023, 4, 1, 0, 30))  # 30 min: 99.93 %, met
    for _ in range(3):
        outcome = services.recompute_breaches(session, date(2023, 1, 1), date(2023, 6, 30), NOW)
        session.commit()
    assert outcome.opened == []  # the last run found nothing new
    [breach] = breaches(session)
    assert (breach.kpi_id, breach.period_start, breach.period_end) == (
        kpi.id,
        date(2023, 2, 1),
        date(2023, 3, 1),
    )
    assert breach.vendor_id == vendor.id and breach.status == "open"
    assert round(breach.value, 4) == round(100 * (1 - 2 / 672), 4)
    finding = session.get(Finding, breach.finding_id)
    assert finding.source == "kpi_breach" and finding.source_ref == f"kpi_breach:{breach.id}"
    assert finding.vendor_id == vendor.id
    assert finding.title == "Availability missed for Payments hosting in 2023-02"
    # A critical vendor missing by three times its downtime budget: escalated to critical.
    assert finding.severity == "critical"
    assert session.scalar(select(func.count(Finding.id))) == 1


def test_the_current_month_breaches_as_soon_as_the_miss_is_certain(build, kb, session):
    service = kb.service(build.vendor())
    kb.kpi(service, threshold=99.9)
    kb.kpi(service, "time_to_notify", threshold=4, statistic="p95")
    kb.incident(service, at(2023, 6, 2), at(2023, 6, 2, 3), notified_at=at(2023, 6, 2, 8))
    services.recompute_breaches(session, date(2023, 6, 1), date(2023, 6, 30), NOW)
    session.commit()
    # Availability can only fall further; a percentile can still change before June ends.
    assert [b.kpi.metric for b in breaches(session)] == ["availability"]


def test_corrected_data_withdraws_the_breach_and_a_new_miss_reopens_it(build, kb, session):
    service = kb.service(build.vendor())
    kb.kpi(service, threshold=99.9)
    wrong = kb.incident(service, at(2023, 3, 1), at(2023, 3, 2))
    services.recompute_breaches(session, date(2023, 3, 1), date(2023, 3, 31), NOW)
    session.commit()
    [breach] = breaches(session)
    wrong.ended_at = at(2023, 3, 1, 0, 10)
    session.commit()
    outcome = services.recompute_breaches(session, date(2023, 3, 1), date(2023, 3, 31), NOW)
    session.commit()
    assert outcome.withdrawn and breaches(session)[0].status == "withdrawn"
    wrong.ended_at = at(2023, 3, 1, 5)
    session.commit()
    outcome = services.recompute_breaches(session, date(2023, 3, 1), date(2023, 3, 31), NOW)
    session.commit()
    [again] = breaches(session)
    assert again.id == breach.id and again.status == "open" and outcome.opened
    assert session.scalar(select(func.count(Finding.id))) == 1


def test_vendor_managers_are_emailed_once_per_breach(app, build, kb, session, smtp_server):
    build.user(role="vendor_manager", email="vm1@example.com")
    build.user(role="vendor_manager", email="vm2@example.com")
    build.user(role="vendor_manager", email="gone@example.com", active=False)
    build.user(role="auditor", email="auditor@example.com")
    vendor = build.vendor(name="Nimbus")
    service = kb.service(vendor, name="IaaS")
    kb.kpi(service, threshold=99.9)
    kb.incident(service, at(2023, 2, 1), at(2023, 2, 1, 2))
    with app.app_context():
        from vendor_portal.extensions import db

        services.recompute_breaches(db.session, date(2023, 1, 1), date(2023, 6, 30), NOW)
        db.session.commit()
        assert services.notify_breaches(db.session, app.config) == 1
        db.session.commit()
        assert services.notify_breaches(db.session, app.config) == 0  # already told
    [message] = smtp_server.messages
    assert message["To"] == "vm1@example.com, vm2@example.com"
    assert message["Subject"] == "KPI breach: Availability of Nimbus"
    body = message.get_content()
    assert "Nimbus, IaaS: Availability 99.702 % in 2023-02 (target ≥ 99.9 %)" in body
    assert "/kpis/breaches/" in body
    assert breaches(session)[0].notified_at is not None


def test_without_smtp_the_breach_waits_to_be_notified(app, build, kb, session):
    build.user(role="vendor_manager")
    service = kb.service(build.vendor())
    kb.kpi(service)
    kb.incident(service, at(2023, 2, 1), at(2023, 2, 1, 2))
    with app.app_context():
        from vendor_portal.extensions import db

        services.recompute_breaches(db.session, date(2023, 2, 1), date(2023, 2, 28), NOW)
        assert services.notify_breaches(db.session, app.config) == 0
        db.session.commit()
    assert breaches(session)[0].notified_at is None


def test_an_api_import_opens_breaches_and_notifies(api, build, kb, session, smtp_server):
    build.user(role="vendor_manager", email="vm@example.com")
    service = kb.service(build.vendor())
    kb.kpi(service, "time_to_notify", threshold=4)
    api.as_role("vendor_manager")
    response = api.post(
        "/api/v1/incidents",
        json=[
            {
                "vendor_service": service.id,
                "external_id": "X-1",
                "title": "Outage",
                "severity": "major",
                "started_at": "2023-02-01T00:00:00Z",
                "notified_at": "2023-02-01T09:00:00Z",
                "ended_at": "2023-02-01T10:00:00Z",
            }
        ],
    )
    assert response.get_json()["breaches_opened"] == 1
    assert len(smtp_server.messages) == 1
    assert (
        "Time to notify 9.00 h in 2023-02 (target ≤ 4.00 h)"
        in smtp_server.messages[0].get_content()
    )


def test_manager_closes_a_breach_and_recompute_never_reopens_it(client, auth, build, kb, session):
    service = kb.service(build.vendor())
    kb.kpi(service)
    kb.incident(service, at(2023, 2, 1), at(2023, 2, 1, 2))
    services.recompute_breaches(session, date(2023, 2, 1), date(2023, 2, 28), NOW)
    session.commit()
    [breach] = breaches(session)
    auth.login_as("vendor_manager")
    refused = client.post(f"/kpis/breaches/{breach.id}/close", data={"note": ""})
    assert refused.status_code == 302 and breaches(session)[0].status == "open"
    client.post(f"/kpis/breaches/{breach.id}/close", data={"note": "Service credit claimed."})
    closed = breaches(session)[0]
    assert closed.status == "closed" and closed.resolution_note == "Service credit claimed."
    services.recompute_breaches(session, date(2023, 2, 1), date(2023, 2, 28), NOW)
    session.commit()
    assert breaches(session)[0].status == "closed"


def test_recompute_page_reports_what_it_did(client, auth, build, kb, session):
    service = kb.service(build.vendor())
    kb.kpi(service)
    kb.incident(service, at(2023, 2, 1), at(2023, 2, 1, 2))
    auth.login_as("vendor_manager")
    page = client.post(
        "/kpis/recompute", data={"start": "2023-01-01", "end": "2023-03-31"}, follow_redirects=True
    )
    assert "1 breach(es) opened, 0 withdrawn" in page.text
    bad = client.post(
        "/kpis/recompute", data={"start": "2023-03-01", "end": "2023-01-01"}, follow_redirects=True
    )
    assert "The end comes before the start." in bad.text
    assert session.scalar(select(func.count(Incident.id))) == 1


def test_only_managers_recompute_or_close(client, auth, build, kb):
    auth.login_as("auditor")
    assert client.post("/kpis/recompute", data={}).status_code == 403
