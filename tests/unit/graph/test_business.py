from vendor_portal.graph.domain.business import (
    objectives_problem,
    slug,
    validate_business_service_input,
)


def test_a_complete_service_is_clean():
    values, errors = validate_business_service_input(
        {
            "name": " Card payments ",
            "criticality": "critical",
            "rto_hours": 2,
            "mtd_hours": "8",
            "downtime_cost_per_hour": 85000,
        }
    )
    assert errors == {}
    assert values == {
        "name": "Card payments",
        "criticality": "critical",
        "rto_hours": 2.0,
        "mtd_hours": 8.0,
        "downtime_cost_per_hour": 85000.0,
    }


def test_each_bad_field_is_named():
    _, errors = validate_business_service_input(
        {
            "criticality": "urgent",
            "rto_hours": -1,
            "mtd_hours": "soon",
            "downtime_cost_per_hour": -5,
            "colour": "red",
        }
    )
    assert errors == {
        "name": "This field is required.",
        "criticality": "Must be one of critical, high, medium, low.",
        "rto_hours": "Must be between 0 and 8760 hours.",
        "mtd_hours": "Must be a number of hours.",
        "downtime_cost_per_hour": "Must be zero or more.",
        "colour": "Unknown field.",
    }


def test_the_rto_must_fit_within_the_mtd_also_on_partial_updates():
    assert (
        objectives_problem(8, 4)
        == "The RTO (8 h) is longer than the MTD (4 h); it must fit within it."
    )
    assert objectives_problem(4, None) is None
    _, errors = validate_business_service_input(
        {"rto_hours": 12}, partial=True, current={"rto_hours": 2, "mtd_hours": 8}
    )
    assert "longer than the MTD" in errors["rto_hours"]


def test_slugs_for_node_ids():
    assert slug("Card payments") == "card-payments"
    assert slug("Zahlungsverkehr (Ü-Bank)") == "zahlungsverkehr-u-bank"
    assert slug("***") == "service"
