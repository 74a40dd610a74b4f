"""The KPI caches of this app in this process. Gunicorn runs several processes, each with its
own caches: every entry is checked against the stamps in the database before use (versions.py),
so that a write made through any process is seen by the next request in all of them."""

from __future__ import annotations

from flask import current_app

from vendor_portal.kpis import services


def attainment_cache() -> services.AttainmentCache:
    """Monthly tallies and whole portfolios (see services.AttainmentCache)."""
    return current_app.extensions.setdefault("kpi_attainment_cache", services.AttainmentCache())


def scorecard_cache() -> services.ScorecardCache:
    """Each vendor's scorecard figures (see services.ScorecardCache)."""
    return current_app.extensions.setdefault("kpi_scorecard_cache", services.ScorecardCache())


def stamped_results() -> services.StampedResults:
    """Totals of the incident and breach lists, the latest open breaches (see
    services.StampedResults)."""
    return current_app.extensions.setdefault("kpi_stamped_results", services.StampedResults())
