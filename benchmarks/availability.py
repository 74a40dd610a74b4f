"""Benchmark: vectorised monthly availability against a naive Python loop, same process.

Generates a portfolio of vendor services with random incidents (overlapping, some spanning
months, some ongoing, a mix of severities), then computes the availability of every service
in every calendar month twice:

- `vendor_portal.kpis.domain.availability` (numpy/pandas: grouped running maxima to merge
  overlaps, searchsorted + repeat to clip to months, bincount to sum), and
- a plain Python reference: for each service and each month, clip that service's incidents,
  sort them and sweep to merge overlaps.

It checks that both agree to the second and prints both times and the speed-up.

    .venv/bin/python benchmarks/availability.py
    .venv/bin/python benchmarks/availability.py --services 200 --incidents 50000 --months 36
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vendor_portal.kpis.domain import DEFAULT_SEVERITIES, availability

SEVERITIES = np.array(["minor", "major", "critical", "maintenance"])
SEVERITY_WEIGHTS = [0.45, 0.35, 0.12, 0.08]


def generate(
    services: int, incidents: int, months: int, seed: int
) -> tuple[pd.DataFrame, date, datetime]:
    """Random incidents over `months` calendar months starting January 2022 (UTC)."""
    rng = np.random.default_rng(seed)
    start = date(2022, 1, 1)
    end_month = start.month - 1 + months
    end = date(start.year + end_month // 12, end_month % 12 + 1, 1)
    # "now" is ten days before the end of the last month: that month is in progress.
    now = datetime(end.year, end.month, 1, tzinfo=UTC) - timedelta(days=10)
    span_s = int((now - datetime(2022, 1, 1, tzinfo=UTC)).total_seconds())
    begin = pd.Timestamp("2022-01-01", tz="UTC")
    # Mostly short incidents, a long tail of multi-day ones (some cross month boundaries).
    offsets = rng.integers(-3 * 86400, span_s, incidents)
    durations = np.where(
        rng.random(incidents) < 0.97,
        rng.exponential(40 * 60, incidents),
        rng.exponential(10 * 3600, incidents),
    ).astype(np.int64)
    started = begin + pd.to_timedelta(offsets, unit="s")
    ended = started + pd.to_timedelta(durations, unit="s")
    # Some of the incidents of the last two days are still open.
    recent = started > pd.Timestamp(now) - pd.Timedelta(days=2)
    ongoing = recent & (rng.random(incidents) < 0.3)
    ended = ended.where(~ongoing, pd.NaT)
    frame = pd.DataFrame(
        {
            "service_id": rng.integers(1, services + 1, incidents),
            "severity": rng.choice(SEVERITIES, incidents, p=SEVERITY_WEIGHTS),
            "started_at": started,
            "acknowledged_at": pd.Series(
                pd.NaT, index=range(incidents), dtype="datetime64[ns, UTC]"
            ),
            "notified_at": pd.Series(pd.NaT, index=range(incidents), dtype="datetime64[ns, UTC]"),
            "ended_at": ended,
        }
    )
    last_day = date(end.year, end.month, 1) - timedelta(days=1)
    return frame, last_day, now


def naive(frame: pd.DataFrame, services: list[int], start: date, end: date, now: datetime) -> dict:
    """The obvious loops: per service, per month, clip, sort, sweep."""
    by_service: dict[int, list[tuple[datetime, datetime]]] = defaultdict(list)
    for service_id, severity, started, ended in zip(
        frame["service_id"], frame["severity"], frame["started_at"], frame["ended_at"], strict=True
    ):
        if severity not in DEFAULT_SEVERITIES:
            continue
        finish = now if pd.isna(ended) else min(ended.to_pydatetime(), now)
        by_service[int(service_id)].append((started.to_pydatetime(), finish))
    months = []
    month = date(start.year, start.month, 1)
    while month <= end:
        nxt = date(month.year + month.month // 12, month.month % 12 + 1, 1)
        lo = datetime(month.year, month.month, 1, tzinfo=UTC)
        if lo > now:
            break
        months.append((month, lo, datetime(nxt.year, nxt.month, 1, tzinfo=UTC)))
        month = nxt
    result = {}
    for service_id in services:
        spans = by_service.get(service_id, [])
        for month, lo, hi in months:
            clipped = sorted(
                (max(b, lo), min(e, hi))
                for b, e in spans
                if b < hi and e > lo and min(e, hi) > max(b, lo)
            )
            down = 0.0
            current_start = current_end = None
            for b, e in clipped:
                if current_end is None or b > current_end:
                    if current_end is not None:
                        down += (current_end - current_start).total_seconds()
                    current_start, current_end = b, e
                else:
                    current_end = max(current_end, e)
            if current_end is not None:
                down += (current_end - current_start).total_seconds()
            length = (hi - lo).total_seconds()
            result[(service_id, month)] = (down, 100 * (1 - down / length))
    return result


def timed(func, *args, repeat: int = 1):
    best = float("inf")
    out = None
    for _ in range(repeat):
        began = time.perf_counter()
        out = func(*args)
        best = min(best, time.perf_counter() - began)
    return best, out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--services", type=int, default=200)
    parser.add_argument("--incidents", type=int, default=50_000)
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--repeat", type=int, default=3, help="vectorised runs (best is kept)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    frame, end, now = generate(args.services, args.incidents, args.months, args.seed)
    services = list(range(1, args.services + 1))
    start = date(2022, 1, 1)
    print(
        f"{args.services} services, {args.incidents:,} incidents, {args.months} months "
        f"(Python {platform.python_version()}, numpy {np.__version__}, pandas {pd.__version__}, "
        f"{platform.machine()})"
    )
    vector_s, table = timed(availability, frame, services, start, end, now, repeat=args.repeat)
    naive_s, reference = timed(naive, frame, services, start, end, now)

    got = {(int(r.service_id), r.period_start): r.downtime_seconds for r in table.itertuples()}
    assert set(got) == set(reference), "the two computations cover different service-months"
    worst = max(abs(got[key] - reference[key][0]) for key in reference)
    assert worst < 1e-3, f"results differ by up to {worst} s of downtime"
    cells = len(reference)
    print(
        f"  service-months computed:  {cells:,} (identical in both, max difference {worst:.1e} s)"
    )
    print(f"  mean availability:        {table['availability_pct'].mean():.4f} %")
    print(f"  vectorised (numpy/pandas): {vector_s * 1000:10.1f} ms  (best of {args.repeat})")
    print(f"  naive Python loops:        {naive_s * 1000:10.1f} ms")
    print(f"  speed-up:                  {naive_s / vector_s:10.1f} x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
