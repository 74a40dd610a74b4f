"""Scorecards, the portfolio and the incident total are reused between requests while no stamp
changed: a write through one process (one app) is seen by the next request of every other one,
each with caches of its own, and a reused answer is the one computed afresh."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import base_config
from vendor_portal.kpis import services

NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def other_app(app, database_url, tmp_path):
    """A second app on the same database: another gunicorn worker, with caches of its own."""
    from vendor_portal import create_app
    from vendor_portal.extensions import db

    other = create_app(base_config(tmp_path / "other", database_url))
    yield other
    with other.app_context():
        db.engine.dispose()


@pytest.fixture
def computed(monkeypatch):
    """The vendor ids whose scorecard figures were computed (not reused)."""
    calls: list[int] = []
    real = services._scorecard_figures

    def counting(session, vendor_services, *args):
        calls.append(vendor_services[0].vendor_id if vendor_services else 0)
        return real(session, vendor_services, *args)

    monkeypatch.setattr(services, "_scorecard_figures", counting)
    return calls


def sign_in(client, user):
    response = client.post(
        "/auth/login", data={"email": user.email, "password": "correct horse battery"}
    )
    assert response.status_code == 302


def incident_item(service, external_id, started, hours):
    return {
        "vendor_service": service.id,
        "external_id": external_id,
        "title": "Outage",
        "severity": "major",
        "started_at": started.isoformat(),
        "ended_at": (started + timedelta(hours=hours)).isoformat(),
    }


def test_a_write_in_one_process_shows_in_the_scorecard_of_another(
    api, other_app, build, kb, computed
):
    vendor = build.vendor(name="Nimbus")
    service = kb.service(vendor, name="Hosting")
    kb.kpi(service, threshold=99.9)
    kb.incident(service, NOW - timedelta(days=70), NOW - timedelta(days=70, hours=-1))
    api.as_role("vendor_manager")
    other = other_app.test_client()
    url = f"/api/v1/vendors/{vendor.id}/scorecard"

    first = api.get(url).json
    assert other.get(url, headers=api.headers).json == first
    assert computed == [vendor.id, vendor.id]  # once in each process
    assert api.get(url).json == first and other.get(url, headers=api.headers).json == first
    assert computed == [vendor.id, vendor.id]  # then reused by both

    started = (NOW - timedelta(days=10)).replace(hour=0, minute=0, second=0)
    sent = api.post("/api/v1/incidents", json=[incident_item(service, "NEW-1", started, 5)])
    assert sent.status_code == 200, sent.text
    after = other.get(url, headers=api.headers).json
    assert after != first
    month = started.date().replace(day=1).isoformat()
    (periods,) = [a["periods"] for a in after["availability"]]
    assert [p["downtime_minutes"] for p in periods if p["start"] == month] == [300.0]
    assert api.get(url).json == after  # the writer's process sees it too
    assert computed == [vendor.id] * 4

    # The page (whole months: another range than the API's default) computes its figures
    # once, then reuses them.
    computed.clear()
    client = other_app.test_client()
    sign_in(client, build.user(role="vendor_manager"))
    page = client.get(f"/kpis/vendors/{vendor.id}")
    assert page.status_code == 200 and "Hosting" in page.text
    assert client.get(f"/kpis/vendors/{vendor.id}").status_code == 200
    assert computed == [vendor.id]


def test_a_scorecard_with_an_open_incident_is_computed_every_time(api, build, kb, computed):
    vendor = build.vendor()
    service = kb.service(vendor)
    kb.kpi(service, threshold=99.0)
    kb.incident(service, NOW - timedelta(hours=1), None)  # ongoing: its downtime grows
    api.as_role("vendor_manager")
    url = f"/api/v1/vendors/{vendor.id}/scorecard"
    first = api.get(url).json
    second = api.get(url).json
    assert computed == [vendor.id, vendor.id]
    (periods,) = [a["periods"] for a in second["availability"]]
    (before,) = [a["periods"] for a in first["availability"]]
    # Counted up to each request's own time (minutes to three decimals: may look equal).
    assert periods[-1]["downtime_minutes"] >= before[-1]["downtime_minutes"] > 0


def test_cached_scorecard_figures_equal_fresh_ones(app, build, kb, session):
    vendor = build.vendor()
    steady, other = kb.service(vendor, name="A"), kb.service(vendor, name="B")
    kb.kpi(steady, threshold=99.9)
    kb.kpi(steady, "time_to_notify", period="quarter", statistic="p95", threshold=4.0)
    kb.kpi(other, severities=["critical"])
    began = NOW - timedelta(days=70)
    kb.incident(steady, began, began + timedelta(hours=3), notified_at=began + timedelta(hours=1))
    kb.incident(other, NOW - timedelta(days=20), NOW - timedelta(days=19), severity="critical")
    kb.incident(other, NOW - timedelta(days=5), NOW - timedelta(days=5, hours=-2))
    cache = services.ScorecardCache()
    start, end = (NOW - timedelta(days=365)).date(), NOW.date()

    def figures(card):
        return (
            [(r.kpi.id, r.periods) for r in card.results],
            card.availability.to_dict("records"),
            list(card.incidents),
            [b.id for b in card.open_breaches],
        )

    with app.app_context():
        from vendor_portal.extensions import db

        stored = db.session.get(type(vendor), vendor.id)
        fresh = services.scorecard(db.session, stored, start, end, NOW)
        cached = services.scorecard(db.session, stored, start, end, NOW, cache=cache)
        reused = services.scorecard(db.session, stored, start, end, NOW, cache=cache)
        assert cached.incidents is reused.incidents  # the figures were reused
        assert figures(fresh) == figures(cached) == figures(reused)
        # Next month the periods move on: the entry no longer holds.
        later = NOW.replace(day=1) + timedelta(days=32)
        moved = services.scorecard(db.session, stored, start, end, later, cache=cache)
        assert moved.incidents is not reused.incidents
        db.session.remove()


def test_the_incident_total_follows_writes_from_another_process(api, other_app, build, kb):
    vendor = build.vendor()
    service = kb.service(vendor)
    for day in (1, 2, 3):
        kb.incident(service, NOW - timedelta(days=day), NOW - timedelta(days=day, hours=-1))
    api.as_role("vendor_manager")
    other = other_app.test_client()
    listing = api.get("/api/v1/incidents?per_page=2").json
    assert (listing["total"], listing["pages"], len(listing["items"])) == (3, 2, 2)
    assert other.get("/api/v1/incidents", headers=api.headers).json["total"] == 3
    item = incident_item(service, "NEW-2", NOW - timedelta(days=4), 1)
    assert api.post("/api/v1/incidents", json=[item]).status_code == 200
    assert other.get("/api/v1/incidents", headers=api.headers).json["total"] == 4
    major = other.get("/api/v1/incidents?severity=major&severity=major", headers=api.headers)
    assert major.json["total"] == 4
    assert other.get("/api/v1/incidents?severity=minor", headers=api.headers).json["total"] == 0
    # A vendor user counts only its own vendor's incidents.
    api.as_role("vendor_user", vendor=build.vendor())
    assert api.get("/api/v1/incidents").json["total"] == 0


def missed(csv_text, name):
    (row,) = [line.split(",") for line in csv_text.splitlines() if line.startswith(name + ",")]
    return int(row[4])


def test_the_portfolio_page_follows_writes_from_another_process(client, auth, other_app, build, kb):
    vendor = build.vendor(name="Nimbus")
    service = kb.service(vendor)
    kb.kpi(service, threshold=99.9)
    kb.incident(service, NOW - timedelta(days=70), NOW - timedelta(days=70, hours=-1))
    user = auth.login_as("vendor_manager")
    other = other_app.test_client()
    sign_in(other, user)
    export = "/kpis/?export=csv"
    assert missed(client.get(export).text, "Nimbus") == 1
    assert missed(other.get(export).text, "Nimbus") == 1
    # A rename in one process: the other's cached portfolio is not used any more.
    vendor.name = "Nimbus Renamed"
    kb.session.commit()
    assert missed(other.get(export).text, "Nimbus Renamed") == 1
    assert "Nimbus Renamed" in other.get("/kpis/").text
    # Nor after a new incident: the month it falls in misses its target now.
    started = (NOW - timedelta(days=10)).replace(hour=0, minute=0, second=0)
    kb.incident(service, started, started + timedelta(hours=5))
    assert missed(other.get(export).text, "Nimbus Renamed") == 2
    assert missed(client.get(export).text, "Nimbus Renamed") == 2


def _figures(page: str) -> str:
    """The portfolio page's heatmap and tables (kept between requests), without the form."""
    return page[
        page.index('<section class="card mb-4"') : page.index(
            "</table></div>\n", page.index('data-testid="open-breaches"')
        )
    ]


def _row(page: str, name: str) -> tuple[int, int]:
    found = re.search(rf">{name}</a></td>.*?<td class=\"num\">(\d+) of (\d+)</td>", page, re.S)
    return int(found.group(1)), int(found.group(2))


def test_the_portfolio_page_is_kept_only_while_its_portfolio_is(client, auth, other_app, build, kb):
    vendor = build.vendor(name="Nimbus")
    service = kb.service(vendor)
    kb.kpi(service, threshold=99.9)
    kb.incident(service, NOW - timedelta(days=70), NOW - timedelta(days=70, hours=-1))
    build.vendor(name="Zeta")
    user = auth.login_as("vendor_manager")
    first = client.get("/kpis/").text
    assert _row(first, "Nimbus")[0] == 1
    assert _figures(client.get("/kpis/").text) == _figures(first)  # kept
    # Another query string is another page of figures.
    by_name = client.get("/kpis/?sort=-vendor").text
    assert 'aria-sort="descending"' in _figures(by_name)
    assert 'aria-sort="descending"' not in _figures(client.get("/kpis/").text)

    vendor.name = "Nimbus Renamed"
    kb.session.commit()
    renamed = client.get("/kpis/").text
    assert _row(renamed, "Nimbus Renamed")[0] == 1 and ">Nimbus</a>" not in renamed
    started = (NOW - timedelta(days=10)).replace(hour=0, minute=0, second=0)
    kb.incident(service, started, started + timedelta(hours=5))
    kept = client.get("/kpis/").text
    assert _row(kept, "Nimbus Renamed")[0] == 2
    # What is kept is what a process without anything kept renders.
    other = other_app.test_client()
    sign_in(other, user)
    assert _figures(other.get("/kpis/").text) == _figures(kept)


def _kpi_table(page: str) -> str:
    return re.search(r'data-testid="kpi-results">.*?</table>', page, re.S).group(0)


def _breaches(page: str) -> str:
    return re.search(r'data-testid="scorecard-breaches">.*?</table>', page, re.S).group(0)


def test_scorecard_parts_are_kept_only_while_they_hold(app, client, auth, other_app, build, kb):
    """A scorecard's rendered summary, KPI table, charts and breaches are kept between views:
    a new incident, a breach closed, a contract renamed (audited, not stamped) each show on
    the next view, and what is kept is what a process with nothing kept renders."""
    from vendor_portal.audit.services import Actor, acting_as
    from vendor_portal.contracts.models import Contract
    from vendor_portal.extensions import db
    from vendor_portal.kpis.models import Kpi, KpiBreach

    vendor = build.vendor(name="Nimbus")
    service = kb.service(vendor)
    contract = Contract(vendor_id=vendor.id, title="MSA one", status="active")
    kb.session.add(contract)
    kb.session.commit()
    kpi = kb.kpi(service, threshold=99.9, contract_id=contract.id)
    kb.incident(service, NOW - timedelta(days=70), NOW - timedelta(days=70, hours=-1))
    user = auth.login_as("vendor_manager")
    path = f"/kpis/vendors/{vendor.id}"
    first = client.get(path).text
    assert "Contract: MSA one" in _kpi_table(first)
    assert client.get(path).text.count("Contract: MSA one") == 1  # kept

    # A new incident in a month of the range: the month now misses its target.
    started = (NOW - timedelta(days=10)).replace(hour=0, minute=0, second=0)
    kb.incident(service, started, started + timedelta(hours=5))
    page = client.get(path).text
    assert page != first and _kpi_table(page) != _kpi_table(first)

    # A breach opened and then closed through the app.
    with app.app_context(), acting_as(Actor(user.id, user.email)):
        db.session.add(
            KpiBreach(
                kpi_id=kpi.id,
                vendor_id=vendor.id,
                vendor_service_id=service.id,
                period_start=started.date().replace(day=1),
                period_end=started.date().replace(day=1) + timedelta(days=27),
                value=99.0,
                threshold=99.9,
                comparator=db.session.get(Kpi, kpi.id).comparator,
                status="open",
            )
        )
        db.session.commit()
    assert "No open breaches." not in _breaches(client.get(path).text)
    with app.app_context(), acting_as(Actor(user.id, user.email)):
        for breach in db.session.query(KpiBreach).all():
            breach.status = "closed"
        db.session.commit()
    assert "No open breaches." in _breaches(client.get(path).text)

    # A contract renamed through the app: audited, not stamped.
    with app.app_context(), acting_as(Actor(user.id, user.email)):
        db.session.get(Contract, contract.id).title = "MSA renamed"
        db.session.commit()
    kept = client.get(path).text
    assert "Contract: MSA renamed" in _kpi_table(kept) and "MSA one" not in kept

    other = other_app.test_client()
    sign_in(other, user)
    fresh = other.get(path).text
    assert _kpi_table(fresh) == _kpi_table(kept) and _breaches(fresh) == _breaches(kept)
    assert (
        fresh.split('id="availability-data">')[1].split("</script>")[0]
        == kept.split('id="availability-data">')[1].split("</script>")[0]
    )


def test_the_kept_api_scorecard_follows_the_vendor_and_its_breaches(api, build, kb):
    from vendor_portal.kpis.models import KpiBreach

    vendor = build.vendor(name="Nimbus")
    service = kb.service(vendor, name="Hosting")
    kpi = kb.kpi(service, threshold=99.9)
    kb.incident(service, NOW - timedelta(days=70), NOW - timedelta(days=70, hours=-1))
    api.as_role("vendor_manager")
    url = f"/api/v1/vendors/{vendor.id}/scorecard"
    first = api.get(url).json
    assert api.get(url).json == first and first["open_breaches"] == []  # kept

    vendor.name = "Nimbus Renamed"
    kb.session.commit()
    assert api.get(url).json["vendor"]["name"] == "Nimbus Renamed"

    month = (NOW - timedelta(days=70)).date().replace(day=1)
    breach = KpiBreach(
        kpi_id=kpi.id,
        vendor_id=vendor.id,
        vendor_service_id=service.id,
        period_start=month,
        period_end=month + timedelta(days=27),
        value=99.0,
        threshold=99.9,
        comparator=kpi.comparator,
        status="open",
    )
    kb.session.add(breach)
    kb.session.commit()
    assert [b["id"] for b in api.get(url).json["open_breaches"]] == [breach.id]
    breach.status = "closed"
    kb.session.commit()
    assert api.get(url).json["open_breaches"] == []
