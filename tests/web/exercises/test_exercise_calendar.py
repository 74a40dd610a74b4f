"""The calendar: API feed, secret-token feed for calendar apps, month view."""

from datetime import UTC, datetime

from icalendar import Calendar
from sqlalchemy import select

from tests.exercises_factories import exercise
from vendor_portal.exercises.models import CalendarFeedToken


def attendees(event) -> set[str]:
    value = event.get("ATTENDEE", [])
    return {str(a) for a in (value if isinstance(value, list) else [value])}


def feed(response) -> Calendar:
    assert response.status_code == 200, response.text
    assert response.mimetype == "text/calendar"
    return Calendar.from_ical(response.data)


def test_api_feed_lists_the_callers_exercises_with_stable_uids(client, auth, build, session):
    acme, beta = build.vendor(name="Acme"), build.vendor(name="Beta")
    ann = build.contact(acme, email="ann@acme.example")
    bob = build.contact(beta, email="bob@beta.example")
    manager = build.user(role="vendor_manager")
    bystander = build.user(role="vendor_manager")
    joint = exercise(
        session,
        [acme, beta],
        organizer=manager,
        title="Joint",
        contact_ids=[ann.id, bob.id],
        timezone="America/New_York",
    )
    exercise(session, [beta], title="Beta only")
    headers = {"Authorization": f"Bearer {build.token(manager)}"}

    assert client.get("/api/v1/exercises.ics").status_code == 401
    first = feed(client.get("/api/v1/exercises.ics", headers=headers))
    assert first["VERSION"] == "2.0" and first["PRODID"] and first["METHOD"] == "PUBLISH"
    (event,) = first.walk("VEVENT")
    assert event["UID"] == joint.uid and event.decoded("SEQUENCE") == 0
    assert event["DTSTART"].params["TZID"] == "America/New_York"
    assert event.decoded("DTSTART") == joint.starts_at
    assert first.get_missing_tzids() == set()
    assert attendees(event) == {
        "mailto:ann@acme.example",
        "mailto:bob@beta.example",
    }

    joint.title, joint.sequence = "Joint, renamed", joint.sequence + 1
    session.commit()
    again = feed(client.get("/api/v1/exercises.ics", headers=headers)).walk("VEVENT")[0]
    assert again["UID"] == event["UID"] and again.decoded("SEQUENCE") == 1
    assert str(again["SUMMARY"]).startswith("Joint, renamed")
    # someone who is in no exercise gets an empty, valid calendar
    other = {"Authorization": f"Bearer {build.token(bystander)}"}
    assert feed(client.get("/api/v1/exercises.ics", headers=other)).walk("VEVENT") == []


def test_vendor_users_feed_has_only_their_exercises_and_people(client, build, session):
    acme, beta = build.vendor(name="Acme"), build.vendor(name="Beta")
    ann = build.contact(acme, email="ann@acme.example")
    bob = build.contact(beta, email="bob@beta.example")
    joint = exercise(session, [acme, beta], contact_ids=[ann.id, bob.id])
    exercise(session, [beta], title="Beta only")
    cancelled = exercise(session, [acme], title="Called off", status="cancelled")
    user = build.user(role="vendor_user", vendor=acme)
    cal = feed(
        client.get(
            "/api/v1/exercises.ics", headers={"Authorization": f"Bearer {build.token(user)}"}
        )
    )
    events = {str(e["UID"]): e for e in cal.walk("VEVENT")}
    assert set(events) == {joint.uid, cancelled.uid}
    assert attendees(events[joint.uid]) == {"mailto:ann@acme.example"}
    assert "Beta" not in str(events[joint.uid]["DESCRIPTION"])
    assert events[cancelled.uid]["STATUS"] == "CANCELLED"


def test_secret_feed_url_for_calendar_apps_is_hashed_and_revocable(client, auth, build, session):
    acme = build.vendor()
    user = auth.login_as("vendor_user", vendor=acme)
    drill = exercise(session, [acme])
    page = client.post("/exercises/feed")
    assert page.status_code == 200
    url = (
        page.text.split('data-testid="feed-url"')[1]
        .split('<code class="user-select-all">')[1]
        .split("</code>")[0]
    )
    token = url.rsplit("/", 1)[1].removesuffix(".ics")
    stored = session.scalar(select(CalendarFeedToken))
    assert (
        stored.user_id == user.id
        and token not in stored.token_hash
        and len(stored.token_hash) == 64
    )
    auth.logout()  # calendar apps have no session
    cal = feed(client.get(f"/exercises/feed/{token}.ics"))
    assert [str(e["UID"]) for e in cal.walk("VEVENT")] == [drill.uid]
    session.expire_all()
    assert session.scalar(select(CalendarFeedToken)).last_used_at is not None
    assert client.get("/exercises/feed/vpcal_wrong.ics").status_code == 404
    assert client.get("/exercises/feed/nonsense.ics").status_code == 404

    auth.login(user.email)
    # a new address replaces the old one
    client.post("/exercises/feed")
    assert client.get(f"/exercises/feed/{token}.ics").status_code == 404
    client.post("/exercises/feed/revoke")
    session.expire_all()
    assert all(t.revoked_at for t in session.scalars(select(CalendarFeedToken)))
    # a deactivated user's address stops working too
    newer = client.post("/exercises/feed").text
    newer_token = newer.split("/exercises/feed/")[1].split(".ics")[0]
    assert client.get(f"/exercises/feed/{newer_token}.ics").status_code == 200
    user.active = False
    session.merge(user)
    session.commit()
    assert client.get(f"/exercises/feed/{newer_token}.ics").status_code == 404


def test_month_view_places_exercises_on_their_local_day(client, auth, build, session):
    acme = build.vendor()
    # 23:30 UTC on 14 May is 15 May in Tokyo
    exercise(
        session,
        [acme],
        title="Late drill",
        start=datetime(2031, 5, 14, 23, 30, tzinfo=UTC),
        hours=1,
    )
    auth.login_as("vendor_manager")
    utc_page = client.get("/exercises/calendar?month=2031-05&tz=UTC").text
    day_cell = utc_page.split('data-date="2031-05-14"')[1].split("</td>")[0]
    assert "Late drill" in day_cell and "23:30" in day_cell
    tokyo = client.get("/exercises/calendar?month=2031-05&tz=Asia/Tokyo").text
    assert "Late drill" in tokyo.split('data-date="2031-05-15"')[1].split("</td>")[0]
    assert "Late drill" not in tokyo.split('data-date="2031-05-14"')[1].split("</td>")[0]
    assert "May 2031" in tokyo and "month=2031-04" in tokyo and "month=2031-06" in tokyo
    bad = client.get("/exercises/calendar?month=2031-05&tz=Nowhere/City", follow_redirects=True)
    assert "Unknown time zone" in bad.text
