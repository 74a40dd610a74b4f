"""Planning, conflicts, invitations, answers, rescheduling and cancelling exercises."""

from datetime import UTC, datetime, timedelta

from icalendar import Calendar
from sqlalchemy import func, select

from tests.exercises_factories import exercise, soon
from vendor_portal.exercises.models import Exercise, ExerciseVendor, VendorBlackout


def ics_of(message) -> Calendar:
    parts = [p for p in message.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert len(parts) == 1, message
    return Calendar.from_ical(parts[0].get_content())


def by_recipient(messages) -> dict:
    return {m["To"]: m for m in messages}


def plan_data(vendors, contacts=(), participants=(), **overrides):
    data = {
        "title": "Payments region loss",
        "exercise_type": "simulation",
        "scenario_id": "0",
        "objectives": "Restore payments within 2 hours.",
        "vendor_ids": [str(v.id) for v in vendors],
        "contact_ids": [str(c.id) for c in contacts],
        "participant_ids": [str(u.id) for u in participants],
        "starts_local": "2031-03-20T09:00",
        "ends_local": "2031-03-20T12:30",
        "timezone": "Europe/Paris",
        "location": "Bridge 4",
    }
    data.update(overrides)
    return data


def test_manager_schedules_with_two_vendors_and_everyone_gets_an_invitation(
    client, auth, build, session, smtp_server
):
    nimbus, ledger = build.vendor(name="Nimbus"), build.vendor(name="Ledger")
    ann = build.contact(nimbus, name="Ann", email="ann@nimbus.example")
    lars = build.contact(ledger, name="Lars", email="lars@ledger.example")
    nimbus_user = build.user(role="vendor_user", vendor=nimbus, email="ops@nimbus.example")
    colleague = build.user(role="vendor_manager", email="colleague@example.com")
    manager = auth.login_as("vendor_manager", email="manager@example.com")
    response = client.post(
        "/exercises/new", data=plan_data([nimbus, ledger], [ann, lars], [manager, colleague])
    )
    assert response.status_code == 302, response.text
    stored = session.scalar(select(Exercise))
    # 09:00 in Paris in March (before summer time) is 08:00 UTC
    assert stored.starts_at == datetime(2031, 3, 20, 8, 0, tzinfo=UTC)
    assert stored.timezone == "Europe/Paris" and stored.sequence == 0
    assert {v.response for v in stored.vendors} == {"invited"}

    mail = by_recipient(smtp_server.messages)
    assert set(mail) == {
        "manager@example.com",
        "colleague@example.com",
        "ann@nimbus.example",
        "lars@ledger.example",
        nimbus_user.email,
    }
    for message in mail.values():
        cal = ics_of(message)
        assert cal["METHOD"] == "REQUEST"
        event = cal.walk("VEVENT")[0]
        assert event["UID"] == stored.uid and event.decoded("SEQUENCE") == 0
        assert event.decoded("DTSTART") == stored.starts_at
        assert event["DTSTART"].params["TZID"] == "Europe/Paris"
        assert str(event["ORGANIZER"]) == "mailto:manager@example.com"
        assert cal.get_missing_tzids() == set()
    attendees = lambda to: {str(a) for a in ics_of(mail[to]).walk("VEVENT")[0]["ATTENDEE"]}  # noqa: E731
    # each vendor sees its own people and ours, never the other vendor's
    assert attendees("ann@nimbus.example") == {
        "mailto:ann@nimbus.example",
        "mailto:manager@example.com",
        "mailto:colleague@example.com",
    }
    assert "mailto:ann@nimbus.example" not in attendees("lars@ledger.example")
    assert {"mailto:ann@nimbus.example", "mailto:lars@ledger.example"} <= attendees(
        "colleague@example.com"
    )
    assert "Payments region loss" in mail["ann@nimbus.example"]["Subject"]


def test_bad_plans_are_explained_and_nothing_is_stored(client, auth, build, session):
    acme, other = build.vendor(name="Acme"), build.vendor(name="Other Co")
    stranger = build.contact(other, name="Olga")
    outsider = build.user(role="vendor_user", vendor=other)
    auth.login_as("vendor_manager")
    cases = [
        ({"ends_local": "2031-03-20T08:00"}, "The end must be after the start."),
        ({"timezone": "Europe/Atlantis"}, "&#39;Europe/Atlantis&#39; is not a time zone"),
        (
            {"starts_local": "2031-03-30T02:30", "ends_local": "2031-03-30T05:00"},
            "2031-03-30 02:30 does not exist in Europe/Paris",
        ),
        (
            {"contact_ids": [str(stranger.id)]},
            "Olga is a contact of Other Co, which is not invited to this exercise",
        ),
        ({"participant_ids": [str(outsider.id)]}, "is not a valid choice for this field"),
        ({"vendor_ids": []}, "Invite at least one vendor."),
    ]
    for overrides, message in cases:
        data = plan_data([acme], **overrides)
        if overrides.get("vendor_ids") == []:
            data.pop("vendor_ids")
        response = client.post("/exercises/new", data=data)
        assert response.status_code == 422, overrides
        assert message in response.text, (overrides, message)
    assert session.scalar(select(func.count(Exercise.id))) == 0


def test_conflicts_are_shown_and_can_be_overridden(client, auth, build, session):
    acme = build.vendor(name="Acme")
    ann = build.contact(acme, name="Ann Acme")
    manager = auth.login_as("vendor_manager", name="Morgan")
    exercise(
        session,
        [acme],
        title="Earlier drill",
        start=datetime(2031, 3, 20, 10, 0, tzinfo=UTC),
        participant_ids=[manager.id],
        contact_ids=[ann.id],
    )
    session.add(
        VendorBlackout(
            vendor_id=acme.id,
            starts_on=datetime(2031, 3, 19).date(),
            ends_on=datetime(2031, 3, 21).date(),
            reason="quarter close",
        )
    )
    session.commit()
    data = plan_data([acme], [ann], [manager])
    first = client.post("/exercises/new", data=data)
    assert first.status_code == 422
    assert "Morgan is already booked in “Earlier drill”" in first.text
    assert "Ann Acme (Acme) is already booked in “Earlier drill”" in first.text
    assert "Acme declared 2031-03-19 to 2031-03-21 as blackout dates (quarter close)." in first.text
    assert session.scalar(select(func.count(Exercise.id))) == 1
    forced = client.post("/exercises/new", data={**data, "schedule_anyway": "y"})
    assert forced.status_code == 302
    assert session.scalar(select(func.count(Exercise.id))) == 2
    shown = client.get(forced.headers["Location"])
    assert 'data-testid="conflicts"' in shown.text


def test_vendors_confirm_decline_or_propose_in_their_portal(
    client, auth, build, session, smtp_server
):
    acme, beta = build.vendor(name="Acme"), build.vendor(name="Beta")
    organizer = build.user(role="vendor_manager", email="organiser@example.com")
    drill = exercise(session, [acme, beta], organizer=organizer, timezone="Europe/London")
    auth.login_as("vendor_user", vendor=acme)
    page = client.get(f"/exercises/{drill.id}")
    assert 'data-testid="respond"' in page.text and "Beta" not in page.text
    no_reason = client.post(f"/exercises/{drill.id}/respond", data={"response": "declined"})
    assert no_reason.status_code == 422 and "Say why you decline" in no_reason.text
    no_time = client.post(f"/exercises/{drill.id}/respond", data={"response": "proposed"})
    assert "Give the start you propose." in no_time.text
    backwards = client.post(
        f"/exercises/{drill.id}/respond",
        data={
            "response": "proposed",
            "proposed_starts_local": "2031-06-02T10:00",
            "proposed_ends_local": "2031-06-02T09:00",
        },
    )
    assert "The end must be after the start." in backwards.text
    past = client.post(
        f"/exercises/{drill.id}/respond",
        data={
            "response": "proposed",
            "proposed_starts_local": "2020-06-02T10:00",
            "proposed_ends_local": "2020-06-02T12:00",
        },
    )
    assert "Propose a time in the future." in past.text
    ok = client.post(
        f"/exercises/{drill.id}/respond",
        data={
            "response": "proposed",
            "proposed_starts_local": "2031-06-02T10:00",
            "proposed_ends_local": "2031-06-02T13:00",
            "comment": "Our change freeze ends on the 1st.",
        },
    )
    assert ok.status_code == 302
    session.expire_all()
    link = session.scalar(select(ExerciseVendor).where(ExerciseVendor.vendor_id == acme.id))
    # 10:00 London summer time is 09:00 UTC
    assert link.response == "proposed"
    assert link.proposed_starts_at == datetime(2031, 6, 2, 9, 0, tzinfo=UTC)
    (notice,) = [m for m in smtp_server.messages if m["To"] == "organiser@example.com"]
    assert "Proposed instead: Mon 02 Jun 2031 10:00-13:00 (Europe/London)" in notice.get_content()
    auth.logout()
    auth.login_as("vendor_user", vendor=beta)
    client.post(f"/exercises/{drill.id}/respond", data={"response": "confirmed"})
    session.expire_all()
    responses = {v.vendor_id: v.response for v in session.scalars(select(ExerciseVendor))}
    assert responses == {acme.id: "proposed", beta.id: "confirmed"}


def test_answering_an_exercise_one_is_not_invited_to_is_refused(client, auth, build, session):
    acme, other = build.vendor(), build.vendor()
    drill = exercise(session, [acme])
    auth.login_as("vendor_user", vendor=other)
    response = client.post(f"/exercises/{drill.id}/respond", data={"response": "confirmed"})
    assert response.status_code == 404
    assert "This exercise is not one your company is invited to." in response.text
    auth.logout()
    auth.login_as("vendor_manager")
    assert (
        client.post(f"/exercises/{drill.id}/respond", data={"response": "confirmed"}).status_code
        == 403
    )
    cancelled = exercise(session, [other], status="cancelled")
    auth.logout()
    auth.login_as("vendor_user", vendor=other)
    refused = client.post(f"/exercises/{cancelled.id}/respond", data={"response": "confirmed"})
    assert refused.status_code == 422 and "This exercise was cancelled" in refused.text


def test_rescheduling_to_a_proposal_notifies_everyone_with_a_higher_sequence(
    client, auth, build, session, smtp_server
):
    acme, beta = build.vendor(name="Acme"), build.vendor(name="Beta")
    ann = build.contact(acme, email="ann@acme.example")
    bob = build.contact(beta, email="bob@beta.example")
    drill = exercise(session, [acme, beta], contact_ids=[ann.id, bob.id], timezone="UTC")
    acme_link, beta_link = sorted(drill.vendors, key=lambda v: v.vendor_id != acme.id)
    new_start = soon(30, 14)
    acme_link.response, acme_link.proposed_starts_at = "proposed", new_start
    acme_link.proposed_ends_at = new_start + timedelta(hours=2)
    beta_link.response = "confirmed"
    session.commit()
    auth.login_as("vendor_manager")
    response = client.post(f"/exercises/{drill.id}/proposals/{acme.id}/accept")
    assert response.status_code == 302
    session.expire_all()
    moved = session.get(Exercise, drill.id)
    assert moved.starts_at == new_start and moved.sequence == 1
    answers = {v.vendor_id: v.response for v in moved.vendors}
    # the proposer has in effect confirmed; the other vendor must confirm the new time
    assert answers == {acme.id: "confirmed", beta.id: "invited"}
    mail = by_recipient(smtp_server.messages)
    assert set(mail) == {"ann@acme.example", "bob@beta.example"}
    event = ics_of(mail["bob@beta.example"]).walk("VEVENT")[0]
    assert event["UID"] == drill.uid and event.decoded("SEQUENCE") == 1
    assert event.decoded("DTSTART") == new_start
    assert mail["bob@beta.example"]["Subject"].startswith("Rescheduled:")


def test_editing_bumps_sequence_and_a_removed_contact_gets_a_cancellation(
    client, auth, build, session, smtp_server
):
    acme = build.vendor(name="Acme")
    ann = build.contact(acme, email="ann@acme.example")
    bob = build.contact(acme, email="bob@acme.example")
    manager = auth.login_as("vendor_manager", email="m@example.com")
    drill = exercise(session, [acme], organizer=manager, contact_ids=[ann.id, bob.id])
    data = plan_data([acme], [ann], [], title="Renamed drill")
    data.update(
        starts_local=drill.local_start.strftime("%Y-%m-%dT%H:%M"),
        ends_local=drill.local_end.strftime("%Y-%m-%dT%H:%M"),
    )
    response = client.post(f"/exercises/{drill.id}/edit", data=data)
    assert response.status_code == 302, response.text
    session.expire_all()
    assert session.get(Exercise, drill.id).sequence == 1
    mail = by_recipient(smtp_server.messages)
    assert ics_of(mail["ann@acme.example"])["METHOD"] == "REQUEST"
    assert mail["ann@acme.example"]["Subject"] == "Updated: Renamed drill"
    removed = ics_of(mail["bob@acme.example"])
    assert removed["METHOD"] == "CANCEL"
    assert removed.walk("VEVENT")[0].decoded("SEQUENCE") == 1
    # saving the same plan again changes nothing and sends nothing
    before = len(smtp_server.messages)
    client.post(f"/exercises/{drill.id}/edit", data=data)
    session.expire_all()
    assert session.get(Exercise, drill.id).sequence == 1 and len(smtp_server.messages) == before


def test_cancelling_sends_method_cancel_to_everyone(client, auth, build, session, smtp_server):
    acme = build.vendor()
    ann = build.contact(acme, email="ann@acme.example")
    manager = auth.login_as("vendor_manager", email="m@example.com")
    drill = exercise(session, [acme], organizer=manager, contact_ids=[ann.id])
    missing_reason = client.post(f"/exercises/{drill.id}/cancel", data={"reason": ""})
    assert missing_reason.status_code == 302
    session.expire_all()
    assert session.get(Exercise, drill.id).status == "scheduled"
    client.post(f"/exercises/{drill.id}/cancel", data={"reason": "Vendor migration moved"})
    session.expire_all()
    cancelled = session.get(Exercise, drill.id)
    assert cancelled.status == "cancelled" and cancelled.sequence == 1
    mail = by_recipient(smtp_server.messages)
    assert set(mail) == {"m@example.com", "ann@acme.example"}
    for message in mail.values():
        cal = ics_of(message)
        event = cal.walk("VEVENT")[0]
        assert cal["METHOD"] == "CANCEL" and event["STATUS"] == "CANCELLED"
        assert event["UID"] == drill.uid and event.decoded("SEQUENCE") == 1
    assert "Reason: Vendor migration moved" in mail["ann@acme.example"].get_body().get_content()
    assert client.get(f"/exercises/{drill.id}/edit").status_code == 302


def test_vendor_users_see_only_their_exercises_on_every_route(client, auth, build, session):
    own, other = build.vendor(name="Own Co"), build.vendor(name="Other Co")
    mine = exercise(session, [own, other], title="Joint drill")
    theirs = exercise(session, [other], title="Their drill")
    user = auth.login_as("vendor_user", vendor=own)
    listing = client.get("/exercises/")
    assert "Joint drill" in listing.text and "Their drill" not in listing.text
    assert "Their drill" not in client.get("/exercises/?export=csv").text
    assert "Their drill" not in client.get(f"/exercises/?vendor={other.id}").text
    month = mine.starts_at.strftime("%Y-%m")
    calendar_page = client.get(f"/exercises/calendar?month={month}")
    assert "Joint drill" in calendar_page.text and "Their drill" not in calendar_page.text
    shown = client.get(f"/exercises/{mine.id}").text
    assert "Own Co" in shown and "Other Co" not in shown
    report = client.get(f"/exercises/{mine.id}/report").text
    assert "Other Co" not in report
    for path in ("", "/report", "/invite.ics"):
        assert client.get(f"/exercises/{theirs.id}{path}").status_code == 404, path
    for path in ("/edit", "/record"):
        assert client.get(f"/exercises/{theirs.id}{path}").status_code == 403, path
    ics = Calendar.from_ical(client.get(f"/exercises/{mine.id}/invite.ics").data)
    assert ics.walk("VEVENT")[0]["UID"] == mine.uid
    api = build.token(user)
    headers = {"Authorization": f"Bearer {api}"}
    assert client.get(f"/api/v1/exercises/{theirs.id}", headers=headers).status_code == 404
    body = client.get(f"/api/v1/exercises/{mine.id}", headers=headers).get_json()
    assert [v["name"] for v in body["vendors"]] == ["Own Co"]
    items = client.get("/api/v1/exercises", headers=headers).get_json()["items"]
    assert [i["title"] for i in items] == ["Joint drill"]
