"""The load script runs end to end at a tiny size: every route answers 200 under wrk, and the
figures are printed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

from tests.conftest import ROOT, skip_or_fail


def test_load_script_prints_figures_for_every_route_without_errors():
    if shutil.which("wrk") is None:
        skip_or_fail("wrk is not installed")
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "load.py"),
            "--size=tiny",
            "--duration=3",
            "--warmup=1",
            "--connections=4",
            "--workers=2",
            "--fail-on-errors",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "No errors on any route." in done.stdout
    rows = [
        line
        for line in done.stdout.splitlines()
        if re.match(r"^\S.{23} /\S*\s+\d+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+[\d.]+\s+0$", line)
    ]
    paths = {row.split()[-7] for row in rows}
    assert {"/healthz", "/", "/vendors/", "/kpis/", "/graph/", "/api/v1/graph/spof"} <= paths
    assert len(rows) == 14, done.stdout
    assert all(int(row.split()[-6]) > 0 for row in rows), done.stdout
