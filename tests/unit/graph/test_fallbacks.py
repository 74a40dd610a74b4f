"""The fallback-provider register read off the graph: roles, and every flag with its reasons."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from vendor_portal.graph.domain import fallbacks as fb
from vendor_portal.graph.domain.fallbacks import FlagCode
from vendor_portal.graph.domain.interchange import parse_json
from vendor_portal.graph.domain.regions import Level, Rating, RatingBook

TODAY = date(2026, 11, 25)
RECENT = {"fallback_status": "contracted", "last_tested": "2026-06-01", "capacity_pct": 80}


def build(nodes: list[dict[str, Any]], edges: list[dict[str, Any]]):
    return parse_json({"nodes": nodes, "edges": edges})


def hosting(
    shared: str | None = "shared-wan",
    beta_terms: dict[str, Any] | None = None,
    rto: float = 4,
    criticality: str = "critical",
    beta_country: str = "DE",
):
    """Card payments needs hosting: Acme (primary) or Beta (fallback, 2 h); both may reach the
    same carrier, whose vendor is Carrier Ltd."""
    nodes = [
        {
            "id": "svc",
            "kind": "business_service",
            "name": "Card payments",
            "rto_hours": rto,
            "criticality": criticality,
        },
        {"id": "cap", "kind": "capability", "name": "Payments hosting"},
        {"id": "acme", "kind": "vendor_service", "name": "Acme hosting", "country": "IE"},
        {"id": "beta", "kind": "vendor_service", "name": "Beta hosting", "country": beta_country},
        {"id": "wan", "kind": "vendor_service", "name": "Carrier WAN", "country": "GB"},
        {"id": "carrier", "kind": "vendor", "name": "Carrier Ltd"},
    ]
    edges = [
        {"from": "svc", "to": "cap"},
        {"from": "cap", "to": "acme"},
        {"from": "cap", "to": "beta", "switchover_hours": 2, **(beta_terms or RECENT)},
        {"from": "wan", "to": "carrier"},
    ]
    if shared == "shared-wan":
        edges += [{"from": "acme", "to": "wan"}, {"from": "beta", "to": "wan"}]
    return build(nodes, edges)


def entry(graph, ratings: RatingBook | None = None, today: date = TODAY) -> fb.Entry:
    (found,) = fb.register(graph, ratings, today)
    return found


def codes(flags) -> set[str]:
    return {f.code.value for f in flags}


def provider(e: fb.Entry, node_id: str) -> fb.Provider:
    return next(p for p in e.providers if p.id == node_id)


def test_roles_come_from_the_graph_switchover_and_terms_from_the_edge():
    e = entry(hosting(shared=None))
    assert [(p.id, p.role) for p in e.providers] == [("acme", "primary"), ("beta", "fallback")]
    beta = provider(e, "beta")
    assert beta.switchover_hours == 2
    assert beta.terms.status == fb.Status.CONTRACTED
    assert beta.terms.last_tested == date(2026, 6, 1) and beta.terms.capacity_pct == 80
    assert e.fallback_status == "contracted"
    assert [n.name for n in e.needs] == ["Card payments"]
    assert not e.flagged


def test_a_carrier_under_both_providers_is_a_common_cause_with_its_vendor_and_country():
    e = entry(hosting())
    beta = provider(e, "beta")
    (flag,) = [f for f in beta.flags if f.code == FlagCode.COMMON_CAUSE]
    assert flag.level == "danger"
    assert {"wan", "carrier", "country:GB"} <= set(flag.nodes)
    assert "Carrier WAN" in flag.message and "Acme hosting" in flag.message
    wan = next(c for c in beta.common_causes if c.id == "wan")
    assert wan.chain == ("beta", "wan") and wan.primary == "acme"
    carrier = next(c for c in beta.common_causes if c.id == "carrier")
    assert carrier.chain == ("beta", "wan", "carrier")
    # Not Ireland or Germany: each is under only one of them.
    assert {"country:IE", "country:DE"}.isdisjoint(flag.nodes)
    # The primary line carries no common-cause flag of its own.
    assert FlagCode.COMMON_CAUSE not in {f.code for f in provider(e, "acme").flags}


def test_a_shared_dependency_that_has_its_own_alternative_is_not_a_common_cause():
    g = build(
        [
            {"id": "svc", "kind": "business_service", "criticality": "critical"},
            {"id": "cap", "kind": "capability"},
            {"id": "acme", "kind": "vendor_service"},
            {"id": "beta", "kind": "vendor_service"},
            {"id": "net", "kind": "capability", "requires": "any"},
            {"id": "carrier-a", "kind": "vendor"},
            {"id": "carrier-b", "kind": "vendor"},
        ],
        [
            {"from": "svc", "to": "cap"},
            {"from": "cap", "to": "acme"},
            {"from": "cap", "to": "beta", "switchover_hours": 1, **RECENT},
            {"from": "acme", "to": "net"},
            {"from": "beta", "to": "net"},
            {"from": "net", "to": "carrier-a"},
            {"from": "net", "to": "carrier-b"},
        ],
    )
    (hosting_entry,) = [e for e in fb.register(g, today=TODAY) if e.id == "cap"]
    assert FlagCode.COMMON_CAUSE not in codes(provider(hosting_entry, "beta").flags)
    # ... until one carrier is dropped: then the remaining carrier takes both down.
    g2 = build(
        [
            {"id": "svc", "kind": "business_service", "criticality": "critical"},
            {"id": "cap", "kind": "capability"},
            {"id": "acme", "kind": "vendor_service"},
            {"id": "beta", "kind": "vendor_service"},
            {"id": "net", "kind": "capability", "requires": "any"},
            {"id": "carrier-a", "kind": "vendor"},
        ],
        [
            {"from": "svc", "to": "cap"},
            {"from": "cap", "to": "acme"},
            {"from": "cap", "to": "beta", "switchover_hours": 1, **RECENT},
            {"from": "acme", "to": "net"},
            {"from": "beta", "to": "net"},
            {"from": "net", "to": "carrier-a"},
        ],
    )
    (hosting_entry,) = [e for e in fb.register(g2, today=TODAY) if e.id == "cap"]
    flag = next(f for f in provider(hosting_entry, "beta").flags if f.code == "common_cause")
    # The carrier, not the redundant "net" node (which fails only through its carriers).
    assert set(flag.nodes) == {"carrier-a"}


def test_a_whole_country_is_a_common_cause_when_losing_it_takes_both_down():
    g = build(
        [
            {"id": "svc", "kind": "business_service", "criticality": "high"},
            {"id": "cap", "kind": "capability"},
            {"id": "acme", "kind": "vendor_service", "country": "IN"},
            {"id": "beta", "kind": "component", "country": "IN"},
        ],
        [
            {"from": "svc", "to": "cap"},
            {"from": "cap", "to": "acme"},
            {"from": "cap", "to": "beta", "switchover_hours": 1, **RECENT},
        ],
    )
    ratings = RatingBook(
        [Rating("country", "IN", "India", Level.HIGH, 84.0, Level.HIGH, 76.0, "indices")]
    )
    beta = provider(entry(g, ratings), "beta")
    common = next(f for f in beta.flags if f.code == FlagCode.COMMON_CAUSE)
    assert common.nodes == ("country:IN",) and "India" in common.message
    risky = next(f for f in beta.flags if f.code == FlagCode.HIGH_RISK_REGION)
    assert risky.nodes == ("country:IN",)
    assert "political instability high (76/100)" in risky.message
    assert [r.code for r in beta.ratings] == ["IN"]


def test_a_fallback_that_depends_on_the_primary_is_named_as_such():
    g = build(
        [
            {"id": "svc", "kind": "business_service", "criticality": "critical"},
            {"id": "cap", "kind": "capability"},
            {"id": "acme", "kind": "vendor_service", "name": "Acme"},
            {"id": "reseller", "kind": "vendor_service", "name": "Reseller"},
        ],
        [
            {"from": "svc", "to": "cap"},
            {"from": "cap", "to": "acme"},
            {"from": "cap", "to": "reseller", "switchover_hours": 1, **RECENT},
            {"from": "reseller", "to": "acme"},
        ],
    )
    flag = next(f for f in provider(entry(g), "reseller").flags if f.code == FlagCode.COMMON_CAUSE)
    assert flag.nodes == ("acme",) and "the primary itself (Acme)" in flag.message


@pytest.mark.parametrize(
    ("criticality", "flagged"), [("critical", True), ("high", False), ("low", False)]
)
def test_no_fallback_is_flagged_for_critical_services(criticality, flagged):
    g = build(
        [
            {"id": "svc", "kind": "business_service", "criticality": criticality},
            {"id": "cap", "kind": "capability", "name": "Card acquiring"},
            {"id": "ledger", "kind": "vendor_service", "name": "Ledgerline"},
        ],
        [{"from": "svc", "to": "cap"}, {"from": "cap", "to": "ledger"}],
    )
    e = entry(g)
    assert e.fallback_status == "missing" and e.spare == 0
    assert (FlagCode.NO_FALLBACK in codes(e.flags)) is flagged
    if flagged:
        assert e.flags[0].message == "Only Ledgerline: no fallback for svc (a critical service)."


def test_a_capability_without_any_provider_is_flagged():
    g = build(
        [
            {"id": "svc", "kind": "business_service", "criticality": "critical"},
            {"id": "cap", "kind": "capability", "name": "Card acquiring"},
        ],
        [{"from": "svc", "to": "cap"}],
    )
    e = entry(g)
    assert e.providers == () and "No provider at all" in e.flags[0].message


def test_k_of_n_counts_spares_beyond_k():
    nodes = [
        {"id": "svc", "kind": "business_service", "criticality": "critical"},
        {"id": "cap", "kind": "capability", "requires": 2},
        {"id": "a", "kind": "vendor_service"},
        {"id": "b", "kind": "vendor_service"},
        {"id": "c", "kind": "vendor_service"},
    ]
    edges = [
        {"from": "svc", "to": "cap"},
        {"from": "cap", "to": "a"},
        {"from": "cap", "to": "b", "switchover_hours": 1, **RECENT},
    ]
    e = entry(build(nodes, edges))
    assert [p.role for p in e.providers] == ["primary", "primary"]
    assert FlagCode.NO_FALLBACK in codes(e.flags) and "All 2 providers must run" in (
        e.flags[0].message
    )
    edges.append({"from": "cap", "to": "c", "switchover_hours": 3, **RECENT})
    e = entry(build(nodes, edges))
    assert [p.role for p in e.providers] == ["primary", "primary", "fallback"]
    assert e.spare == 1 and not e.flags


def test_switchover_longer_than_an_rto_is_flagged_with_the_service():
    e = entry(hosting(shared=None, rto=1.5))
    flag = next(f for f in provider(e, "beta").flags if f.code == FlagCode.SLOW_SWITCHOVER)
    assert flag.level == "danger" and "Card payments (1.5 h)" in flag.message
    assert FlagCode.SLOW_SWITCHOVER not in codes(entry(hosting(shared=None, rto=2)).all_flags)


@pytest.mark.parametrize(
    ("tested", "flagged"),
    [(None, True), ("2025-11-24", True), ("2025-11-25", False), ("2026-11-01", False)],
)
def test_fallback_untested_for_twelve_months(tested, flagged):
    terms = {"fallback_status": "contracted"}
    if tested:
        terms["last_tested"] = tested
    beta = provider(entry(hosting(shared=None, beta_terms=terms)), "beta")
    assert (FlagCode.UNTESTED in codes(beta.flags)) is flagged


def test_identified_only_and_unrecorded_status():
    beta = provider(
        entry(hosting(shared=None, beta_terms={**RECENT, "fallback_status": "identified"})),
        "beta",
    )
    flag = next(f for f in beta.flags if f.code == FlagCode.NOT_CONTRACTED)
    assert flag.level == "warning"
    e = entry(hosting(shared=None, beta_terms={"last_tested": "2026-06-01"}))
    flag = next(f for f in provider(e, "beta").flags if f.code == FlagCode.NOT_CONTRACTED)
    assert flag.level == "info" and not e.flagged  # info flags do not count
    assert e.fallback_status == "not recorded"


def test_unreadable_terms_from_an_imported_file_are_flagged_not_fatal():
    e = entry(
        hosting(
            shared=None,
            beta_terms={
                "fallback_status": "maybe",
                "last_tested": "last spring",
                "capacity_pct": "lots",
            },
        )
    )
    beta = provider(e, "beta")
    flag = next(f for f in beta.flags if f.code == FlagCode.BAD_TERMS)
    assert "'maybe'" in flag.message and "'last spring'" in flag.message
    assert "'lots'" in flag.message
    assert beta.terms.status is None and beta.terms.last_tested is None


def test_csv_strings_are_read_as_terms():
    terms = fb.read_terms(
        {"fallback_status": "In house", "last_tested": "2026-01-02", "capacity_pct": "60%"}
    )
    assert terms.status == fb.Status.IN_HOUSE
    assert terms.last_tested == date(2026, 1, 2) and terms.capacity_pct == 60.0
    assert not terms.problems


def test_with_terms_keeps_other_attributes_and_drops_empty_terms():
    attrs = {"label": "kept", "fallback_status": "identified", "last_tested": "2020-01-01"}
    out = fb.with_terms(attrs, "contracted", None, 75.0, "")
    assert out == {"label": "kept", "fallback_status": "contracted", "capacity_pct": 75}
    assert fb.read_terms(out).capacity_pct == 75


def test_terms_problems_name_the_field():
    problems = fb.terms_problems("sometimes", date(2027, 1, 1), 120, TODAY)
    assert set(problems) == {"status", "last_tested", "capacity_pct"}
    assert fb.terms_problems("in_house", TODAY, 0, TODAY) == {}


@pytest.mark.parametrize(
    ("day", "expected"),
    [
        (date(2026, 11, 25), date(2025, 11, 25)),
        (date(2024, 2, 29), date(2023, 2, 28)),
        (date(2026, 1, 31), date(2025, 1, 31)),
    ],
)
def test_months_before(day, expected):
    assert fb.months_before(day, 12) == expected
    assert fb.months_before(date(2026, 3, 31), 1) == date(2026, 2, 28)


def test_capabilities_nobody_needs_are_listed_without_no_fallback_flag():
    g = build(
        [{"id": "cap", "kind": "capability"}, {"id": "a", "kind": "vendor_service"}],
        [{"from": "cap", "to": "a"}],
    )
    e = entry(g)
    assert e.needs == () and not e.flags


def test_the_json_document_carries_flags_and_providers():
    document = fb.entry_document(entry(hosting()))
    assert document["id"] == "cap" and document["flagged"] is True
    beta = document["providers"][1]
    assert beta["role"] == "fallback" and beta["last_tested"] == "2026-06-01"
    assert {"common_cause"} <= {f["code"] for f in beta["flags"]}
    assert beta["common_causes"][0]["primary"] == "acme"


def test_counts_per_flag():
    found = fb.counts([entry(hosting()), entry(hosting(shared=None))])
    assert found.capabilities == 2 and found.flagged == 1
    assert found.by_code == {"common_cause": 1}
