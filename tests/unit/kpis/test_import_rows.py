"""Import rows: every problem named by row and field; offsets to UTC; status feeds."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pandas as pd

from vendor_portal.kpis.domain import (
    ServiceLookup,
    apply_mapping,
    feed_problem,
    guess_mapping,
    parse_incidents,
    parse_instants,
    parse_measurements,
    status_feed_frame,
)

LOOKUP = ServiceLookup(
    {"10": 10, "payments hosting": 10, "11": 11, "mpls wan": 11, "12": 12},
    ambiguous=frozenset({"internet transit"}),
)


def rows(*records):
    return pd.DataFrame(list(records), dtype=object)


def good(**overrides):
    row = {
        "vendor_service": "10",
        "external_id": "INC-1",
        "title": "Outage",
        "severity": "major",
        "started_at": "2024-03-01T10:00:00+01:00",
        "ended_at": "2024-03-01T12:30:00Z",
    }
    row.update(overrides)
    return row


def test_valid_rows_convert_offsets_to_utc_and_resolve_services_by_id_or_name():
    parsed = parse_incidents(
        rows(
            good(),
            good(vendor_service="MPLS WAN", external_id="INC-2", severity="Critical"),
            good(vendor_service=11.0, external_id="INC-3", ended_at=""),
        ),
        LOOKUP,
        naive_timezone=None,
    )
    assert parsed.errors == []
    frame = parsed.frame
    assert list(frame["service_id"]) == [10, 11, 11]
    assert frame.loc[0, "started_at"] == pd.Timestamp("2024-03-01T09:00Z")
    assert frame.loc[0, "ended_at"] == pd.Timestamp("2024-03-01T12:30Z")
    assert frame.loc[1, "severity"] == "critical"
    assert pd.isna(frame.loc[2, "ended_at"])


def test_every_bad_cell_is_named_and_nothing_is_dropped():
    parsed = parse_incidents(
        rows(
            good(external_id=""),  # 0: missing id
            good(external_id="A", started_at="yesterday"),  # 1: unparseable
            good(external_id="B", ended_at="2024-03-01T08:00:00Z"),  # 2: ends before start
            good(external_id="C", vendor_service="999"),  # 3: unknown service
            good(external_id="D", vendor_service="internet transit"),  # 4: ambiguous name
            good(external_id="E", severity="sev1"),  # 5: bad severity
            good(external_id="F"),  # 6
            good(external_id="F"),  # 7: duplicate of 6
            good(external_id="G", started_at="2024-03-01 10:00"),  # 8: no offset, none allowed
            good(external_id="H", notified_at="2024-02-29T00:00:00Z"),  # 9: notified before start
        ),
        LOOKUP,
        naive_timezone=None,
    )
    found = {(e.index, e.field): e.message for e in parsed.errors}
    assert set(found) == {
        (0, "external_id"),
        (1, "started_at"),
        (2, "ended_at"),
        (3, "vendor_service"),
        (4, "vendor_service"),
        (5, "severity"),
        (7, "external_id"),
        (8, "started_at"),
        (9, "notified_at"),
    }
    assert found[(1, "started_at")].startswith("'yesterday': Not a date and time")
    assert found[(2, "ended_at")] == "The incident ends before it started."
    assert "several vendor services" in found[(4, "vendor_service")]
    assert "'sev1' is not a severity" in found[(5, "severity")]
    assert "input row index 6" in found[(7, "external_id")]
    assert "UTC offset" in found[(8, "started_at")]


def test_the_same_external_id_on_two_services_is_not_a_duplicate():
    parsed = parse_incidents(rows(good(), good(vendor_service="11")), LOOKUP, naive_timezone=None)
    assert parsed.errors == []


def test_times_without_an_offset_are_read_in_the_chosen_zone_and_bad_local_times_refused():
    values = pd.Series(
        [
            "2024-07-01 12:00",  # CEST: 10:00 UTC
            datetime(2024, 1, 15, 9, 0),  # a spreadsheet date: CET, 08:00 UTC
            "2024-03-31 02:30",  # does not exist in Paris (clocks jump 02:00 -> 03:00)
            "2024-10-27 02:30",  # happens twice in Paris
            "2024-07-01T12:00:00-04:00",
            None,
            "2024-07-02",  # a bare date is midnight in the chosen zone
        ],
        dtype=object,
    )
    parsed, bad = parse_instants(values, "Europe/Paris")
    assert parsed[0] == pd.Timestamp("2024-07-01T10:00Z")
    assert parsed[1] == pd.Timestamp("2024-01-15T08:00Z")
    assert list(bad) == [False, False, True, True, False, False, False]
    assert parsed[4] == pd.Timestamp("2024-07-01T16:00Z")
    assert pd.isna(parsed[5])
    assert parsed[6] == pd.Timestamp("2024-07-01T22:00Z")


def test_measurement_rows():
    parsed = parse_measurements(
        rows(
            {
                "vendor_service": "10",
                "code": "on_time_delivery",
                "period_start": "2024-01-01",
                "value": "97,5",
            },
            {"vendor_service": "10", "code": "uptime", "period_start": "2024-01-01", "value": "1"},
            {
                "vendor_service": "10",
                "code": "on_time_delivery",
                "period_start": "Jan",
                "value": "x",
            },
            {
                "vendor_service": "10",
                "code": "on_time_delivery",
                "period_start": datetime(2024, 1, 1),
                "value": 96,
            },
            {
                "vendor_service": "",
                "code": "on_time_delivery",
                "period_start": "2024-02-01",
                "value": 1,
            },
        ),
        LOOKUP,
        {10: {"on_time_delivery"}},
    )
    found = {(e.index, e.field) for e in parsed.errors}
    assert found == {
        (1, "code"),
        (2, "period_start"),
        (2, "value"),
        (3, "period_start"),  # the same service, code and period as row 0
        (4, "vendor_service"),
    }
    assert parsed.frame.loc[0, "value"] == 97.5
    assert parsed.frame.loc[0, "period_start"] == date(2024, 1, 1)


def test_column_mapping_is_guessed_from_common_headers_and_checked():
    columns = ["Incident ID", "Service", "Summary", "Priority", "Start", "Resolved at", "Notes"]
    fields = [
        "vendor_service",
        "external_id",
        "title",
        "severity",
        "started_at",
        "ended_at",
        "description",
    ]
    mapping = guess_mapping(columns, fields)
    assert mapping == {
        "vendor_service": "Service",
        "external_id": "Incident ID",
        "title": "Summary",
        "severity": "Priority",
        "started_at": "Start",
        "ended_at": "Resolved at",
        "description": "Notes",
    }
    table = pd.DataFrame({c: ["x"] for c in columns})
    renamed, problems = apply_mapping(
        table, {**mapping, "notified_at": "Told customers"}, [*fields, "notified_at"]
    )
    assert problems == ["The file has no column 'Told customers' (chosen for Notified at)."]
    assert list(renamed.columns) == fields


FEED = [
    {
        "id": "abc",
        "number": "1",
        "begin": "2022-01-10T10:00:00+00:00",
        "created": "2022-01-10T10:20:00+00:00",
        "end": "2022-01-10T12:00:00+00:00",
        "severity": "high",
        "service_name": "Google Compute Engine",
        "external_desc": "VMs   unreachable\\n",
        "affected_products": [{"title": "Google Compute Engine", "id": "gce"}],
        "previously_affected_locations": [{"id": "europe-west1", "title": "Belgium"}],
        "most_recent_update": {"text": "Resolved."},
    },
    {
        "id": "def",
        "begin": "2022-02-01T00:00:00+00:00",
        "created": "2022-02-01T01:00:00+00:00",
        "end": None,
        "severity": "low",
        "service_name": "Multiple Products",
        "external_desc": "Console slow",
        "affected_products": [{"title": "Google Cloud Console", "id": "console"}],
        "previously_affected_locations": [],
    },
]


def test_status_feed_rows_map_severity_and_times():
    frame = status_feed_frame(FEED)
    assert list(frame["external_id"]) == ["abc", "def"]
    assert list(frame["severity"]) == ["critical", "minor"]
    disruption = {**FEED[1], "severity": "medium"}
    assert status_feed_frame([disruption])["severity"].tolist() == ["minor"]
    assert status_feed_frame([disruption], disruption="major")["severity"].tolist() == ["major"]
    assert frame.loc[0, "notified_at"] == "2022-01-10T10:20:00+00:00"
    assert frame.loc[0, "title"] == "VMs unreachable\\n"
    assert pd.isna(frame.loc[1, "ended_at"])
    assert "Products: Google Compute Engine" in frame.loc[0, "description"]


def test_a_post_before_the_declared_start_counts_as_told_at_the_start():
    revised = {
        **FEED[0],
        "begin": "2022-01-10T10:30:00+00:00",
        "created": "2022-01-10T10:20:00+00:00",
    }
    frame = status_feed_frame([revised])
    assert frame.loc[0, "notified_at"] == frame.loc[0, "acknowledged_at"] == revised["begin"]


def test_status_feed_filters_by_product_and_location():
    assert list(status_feed_frame(FEED, products=["Google Compute Engine"])["external_id"]) == [
        "abc"
    ]
    assert list(status_feed_frame(FEED, products=["console"])["external_id"]) == ["def"]
    # An incident naming no location affects every location.
    assert list(status_feed_frame(FEED, locations=["us-east1"])["external_id"]) == ["def"]
    assert len(status_feed_frame(FEED, locations=["europe-west1"])) == 2


def test_status_feed_shape_is_checked():
    assert feed_problem({"incidents": []}) == "A status feed is a JSON list of incidents."
    assert "Item 1" in feed_problem([FEED[0], {"title": "x"}])
    assert feed_problem(FEED) is None
    assert (
        parse_incidents(
            status_feed_frame(FEED).assign(vendor_service="10"), LOOKUP, naive_timezone=None
        ).errors
        == []
    )
    assert datetime(2022, 1, 1, tzinfo=UTC)  # feed times carry offsets: no zone needed
