"""Demo exercises: one scheduled with two demo vendors, one completed with findings."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from vendor_portal.auth.models import User
from vendor_portal.db import utcnow
from vendor_portal.demo.seed import SeedSummary, seed_step
from vendor_portal.exercises import services
from vendor_portal.exercises.domain import Window
from vendor_portal.exercises.models import Exercise, Scenario
from vendor_portal.vendors.models import Vendor, VendorService

SCHEDULED = "Payments platform: loss of eu-west-1"
COMPLETED = "Ransomware at Meridian Telecom (tabletop)"


def _at(days: int, hour: int):
    day = (utcnow() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return day


@seed_step
def seed_exercises(session: Session, summary: SeedSummary) -> None:
    services.ensure_scenario_library(session)
    manager = session.scalar(select(User).where(User.email == "manager@example.com"))
    admin = session.scalar(select(User).where(User.email == "admin@example.com"))
    vendors = {v.name: v for v in session.scalars(select(Vendor))}
    scenario = {s.code: s for s in session.scalars(select(Scenario))}
    nimbus, ledgerline = vendors.get("Nimbus Cloud Services"), vendors.get("Ledgerline Payments")
    meridian = vendors.get("Meridian Telecom")
    existing = set(session.scalars(select(Exercise.title)))
    added = []
    if nimbus and ledgerline and manager and SCHEDULED not in existing:
        region = scenario["cloud-region-loss"]
        plan = services.Plan(
            title=SCHEDULED,
            exercise_type="simulation",
            objectives="Fail card acquiring over to the secondary region within 2 hours; "
            "confirm Ledgerline reroutes authorisations without manual steps.",
            window=Window(_at(21, 8), _at(21, 12)),
            timezone="Europe/Dublin",
            vendor_ids=[nimbus.id, ledgerline.id],
            contact_ids=[c.id for c in (nimbus.contacts[:1] + ledgerline.contacts[:1])],
            participant_ids=[u.id for u in (manager, admin) if u],
            scenario_id=region.id,
            location="Bridge: +44 20 7946 0000, room 4.12",
        )
        services.schedule_exercise(session, plan, manager.id)
        added.append("one scheduled exercise with Nimbus and Ledgerline")
    if meridian and manager and COMPLETED not in existing:
        plan = services.Plan(
            title=COMPLETED,
            exercise_type="tabletop",
            objectives="Walk through Meridian's notification and restoration after "
            "ransomware; agree how branches keep connectivity.",
            window=Window(_at(-40, 9), _at(-40, 12)),
            timezone="Europe/London",
            vendor_ids=[meridian.id],
            contact_ids=[c.id for c in meridian.contacts[:2]],
            participant_ids=[manager.id],
            scenario_id=scenario["vendor-ransomware"].id,
        )
        exercise = services.schedule_exercise(session, plan, manager.id)
        exercise.vendors[0].response = "confirmed"
        start = exercise.starts_at
        for minutes, kind, actor, text in [
            (0, "inject", "Facilitator", "Meridian's support line is unreachable."),
            (25, "response", "Meridian NOC", "Meridian confirms an incident; no scope yet."),
            (70, "inject", "Facilitator", "Customer-facing branches report no WAN."),
            (95, "decision", "Vendor manager", "Invoke satellite backup links for branches."),
            (150, "response", "Meridian NOC", "MPLS core restored from clean images."),
        ]:
            services.add_timeline_entry(
                session,
                exercise,
                start + timedelta(minutes=minutes),
                kind,
                text,
                actor,
                meridian.id if actor.startswith("Meridian") else None,
                manager.id,
            )
        services.record_attendance(
            session, exercise, {manager.id}, {c.contact_id for c in exercise.contacts}
        )
        wan = session.scalar(
            select(VendorService).where(
                VendorService.vendor_id == meridian.id, VendorService.name == "MPLS WAN"
            )
        )
        if wan:
            services.record_results(session, exercise, {wan.id: 6.5})
        services.raise_finding(
            session,
            exercise,
            vendor_id=meridian.id,
            title="MPLS WAN restored in 6.5 h against an attested RTO of 4 h",
            severity="high",
            description="Clean images had to be fetched from the vendor's offsite store.",
            owner_id=manager.id,
            key="demo-rto",
        )
        services.raise_finding(
            session,
            exercise,
            vendor_id=meridian.id,
            title="Customer notification came 70 minutes after detection",
            severity="medium",
            description="The notification clause asks for 30 minutes.",
            owner_id=manager.id,
            key="demo-notify",
        )
        services.complete_exercise(
            session,
            exercise,
            "partially_met",
            "Branch fallback worked; the WAN restore took longer than attested because clean "
            "images were stored off-site. Notification to us was late.",
            manager.id,
        )
        exercise.completed_at = exercise.ends_at + timedelta(days=1)
        added.append("one completed exercise with two findings")
    session.flush()
    if added:
        summary.extra.append("Exercises: " + "; ".join(added))
