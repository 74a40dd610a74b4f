"""The scorecard's availability chart, built from plain columns: the same figure as grouping
the frame with pandas (which it replaced, for speed), on the frames scorecards produce."""

from datetime import UTC, date, datetime

import pandas as pd

from vendor_portal.kpis import charts, domain


def grouped_with_pandas(availability: pd.DataFrame, names: dict[int, str]) -> dict:
    """The chart as first written: a pandas groupby per service, in order of appearance."""
    data = []
    lowest = 100.0
    for service_id, rows in availability.groupby("service_id", sort=False):
        values = rows["availability_pct"].round(4).tolist()
        lowest = min([lowest, *values])
        data.append(
            {
                "type": "bar",
                "name": names.get(int(service_id), str(service_id)),
                "x": [d.isoformat() for d in rows["period_start"]],
                "y": values,
                "customdata": (rows["downtime_seconds"] / 60).round(1).tolist(),
                "hovertemplate": "%{fullData.name}<br>%{x|%b %Y}: %{y:.3f} %"
                "<br>%{customdata} min down<extra></extra>",
            }
        )
    floor = min(99.0, lowest - (100 - lowest) * 0.1)
    return {"data": data, "range": [max(0.0, floor), 100]}


def incidents_frame(rows: list[tuple[int, str, datetime, datetime | None]]) -> pd.DataFrame:
    return domain.incident_frame(
        [
            {"service_id": i, "severity": sev, "started_at": start, "ended_at": end}
            for i, sev, start, end in rows
        ]
    )


def test_the_chart_equals_the_pandas_grouping_on_real_frames():
    now = datetime(2026, 6, 15, 12, tzinfo=UTC)
    incidents = incidents_frame(
        [
            (
                7,
                "critical",
                datetime(2026, 2, 3, 1, tzinfo=UTC),
                datetime(2026, 2, 3, 4, tzinfo=UTC),
            ),
            (3, "major", datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 3, 2, 7, 33, tzinfo=UTC)),
            (
                7,
                "major",
                datetime(2026, 5, 30, 23, tzinfo=UTC),
                datetime(2026, 6, 1, 2, tzinfo=UTC),
            ),
            (3, "critical", datetime(2026, 6, 14, tzinfo=UTC), None),
        ]
    )
    names = {7: "Hosting", 3: "Payments & clearing"}
    for ids in ([7, 3], [3], [7, 3, 11], []):
        frame = domain.availability(
            incidents, ids, date(2026, 1, 1), date(2026, 6, 30), now, "month"
        )
        built = charts.availability_bars(frame, names)
        expected = grouped_with_pandas(frame, names)
        assert built["data"] == expected["data"]
        assert built["layout"]["yaxis"]["range"] == expected["range"]
        assert [trace["name"] for trace in built["data"]] == [
            names.get(i, str(i)) for i in dict.fromkeys(frame["service_id"].tolist())
        ]
