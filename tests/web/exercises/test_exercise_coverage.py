"""Exercise coverage counted in SQL (home page, coverage page) agrees with Coverage.covered_on."""

from datetime import UTC, datetime, time, timedelta

from tests.exercises_factories import exercise
from vendor_portal.db import utcnow
from vendor_portal.exercises import services
from vendor_portal.exercises.domain import Coverage


def ended_at(session, vendor, end: datetime, **fields):
    """A joint exercise with `vendor` that ended at `end` (three hours long)."""
    return exercise(session, [vendor], start=end - timedelta(hours=3), **fields)


def midnight(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def edge_cases(session, build):
    """Vendors around every edge of the policy: critical 365 days, high 30, no rule below."""
    services.set_coverage_policy(session, {"critical": 365, "high": 30, "medium": None})
    session.commit()
    today = utcnow().date()
    v = {}
    v["on_the_last_day"] = build.vendor(name="A on the last day", tier="critical")
    ended_at(
        session, v["on_the_last_day"], midnight(today - timedelta(days=365)), status="completed"
    )
    v["a_day_late"] = build.vendor(name="B a day late", tier="critical")
    ended_at(
        session,
        v["a_day_late"],
        midnight(today - timedelta(days=365)) - timedelta(seconds=1),
        status="completed",
    )
    v["today"] = build.vendor(name="C today", tier="high")
    ended_at(session, v["today"], midnight(today) + timedelta(minutes=1), status="completed")
    v["old_and_new"] = build.vendor(name="D old and new", tier="high")
    ended_at(session, v["old_and_new"], midnight(today - timedelta(days=90)), status="completed")
    ended_at(session, v["old_and_new"], midnight(today - timedelta(days=10)), status="completed")
    v["declined"] = build.vendor(name="E declined", tier="critical")
    declined = ended_at(
        session, v["declined"], midnight(today - timedelta(days=5)), status="completed"
    )
    declined.vendors[0].response = "declined"
    v["not_recorded"] = build.vendor(name="F not recorded", tier="critical")
    ended_at(session, v["not_recorded"], midnight(today - timedelta(days=5)))
    v["offboarding"] = build.vendor(name="G offboarding", tier="high", status="offboarding")
    v["another_vendors"] = build.vendor(name="H exercise of another vendor", tier="high")
    ended_at(session, build.vendor(tier="high", status="prospective"), midnight(today))
    # Not asked for an exercise: no rule for the tier, not live, not (yet) a vendor.
    build.vendor(name="medium", tier="medium")
    build.vendor(name="archived", tier="critical", archived_at=utcnow())
    build.vendor(name="prospective", tier="critical", status="prospective")
    session.commit()
    return v, today


def test_coverage_counts_agree_with_each_vendors_coverage_at_the_edges(app, build, session):
    v, today = edge_cases(session, build)
    with app.app_context():
        required, covered = services.coverage_counts(session, today)
        vendors = list(
            session.scalars(services.required_vendors(services.coverage_policy(session)))
        )
        rows = services.coverage_rows(session, vendors)
    assert [vendor.name for vendor in vendors] == sorted(vendor.name for vendor in v.values())
    reference = services.last_completed_exercises(session)
    policy = services.coverage_policy(session)
    for vendor, coverage in rows:
        assert coverage == Coverage(
            vendor.id, vendor.tier, policy[vendor.tier], reference.get(vendor.id)
        )
    assert {vendor.name for vendor, c in rows if c.covered_on(today)} == {
        "A on the last day",
        "C today",
        "D old and new",
    }
    assert (required, covered) == (len(v), 3)


def test_home_and_coverage_page_count_the_same_and_the_page_is_paged(
    app, client, auth, build, session
):
    v, _ = edge_cases(session, build)
    auth.login_as("vendor_manager")
    home = client.get("/").text
    assert "Vendors without a recent joint exercise" in home
    assert f'text-bg-info">{len(v) - 3}</span>' in home
    seen = []
    for number in (1, 2, 3):
        page = client.get(f"/exercises/coverage?per_page=3&page={number}").text
        assert f"<strong>3</strong> of <strong>{len(v)}</strong>" in page
        seen += [name for name in sorted(x.name for x in v.values()) if f">{name}</a>" in page]
    assert seen == sorted(x.name for x in v.values())
    assert "B a day late" in client.get("/exercises/coverage?per_page=3&page=1").text
    assert "B a day late" not in client.get("/exercises/coverage?per_page=3&page=2").text


def test_a_new_exercise_is_counted_on_the_next_request(client, auth, build, session):
    vendor = build.vendor(name="Acme", tier="critical")
    auth.login_as("vendor_manager")
    assert "<strong>0</strong> of <strong>1</strong>" in client.get("/exercises/coverage").text
    ended_at(session, vendor, utcnow() - timedelta(days=2), status="completed")
    page = client.get("/exercises/coverage").text
    assert "<strong>1</strong> of <strong>1</strong>" in page
    assert "Vendors without a recent joint exercise" not in client.get("/").text


def test_no_tier_with_a_rule_asks_nothing(app, build, session):
    services.set_coverage_policy(session, {t: None for t in ("critical", "high", "medium", "low")})
    session.commit()
    build.vendor(tier="critical")
    with app.app_context():
        assert services.coverage_counts(session, utcnow().date()) == (0, 0)
