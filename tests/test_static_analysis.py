"""Static security analysis of the application code: bandit finds no high-severity issue."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def bandit_executable() -> str:
    beside_python = Path(sys.executable).with_name("bandit")
    found = str(beside_python) if beside_python.exists() else shutil.which("bandit")
    if found is None:
        pytest.fail("bandit is not installed (it is a dev dependency: pip install -e '.[dev]')")
    return found


def test_bandit_finds_no_high_severity_issue():
    # -lll: high severity only; the configuration ([tool.bandit]) is read from pyproject.toml
    result = subprocess.run(
        [bandit_executable(), "-r", "vendor_portal", "-lll", "-q", "-c", "pyproject.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
