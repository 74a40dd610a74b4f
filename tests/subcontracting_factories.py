"""Builders for subcontracting tests."""

from sqlalchemy import select

from vendor_portal.contracts.models import Obligation


def mandatory_obligations(session, tier: str) -> list[Obligation]:
    return [
        o
        for o in session.scalars(select(Obligation).order_by(Obligation.id))
        if o.mandatory_for(tier)
    ]
