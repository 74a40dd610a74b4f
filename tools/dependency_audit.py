"""Check the pinned dependencies against PyPI's vulnerability data, where pip-audit cannot.

pip-audit asks PyPI for each pinned release (`/pypi/<name>/<version>/json`) or OSV. Where
neither answers (the build machine reaches PyPI's project pages only through a mirror), this
reads each project's page (`/pypi/<name>/json`), whose `vulnerabilities` are the known
advisories affecting the *latest* release, and whose releases list says which release is
latest. For a pin that is the latest release, that list is the answer (clean, or the advisories
printed). A pin older than the latest release cannot be checked here and is listed as such:
upgrade it or run pip-audit where the advisory services answer.

    .venv/bin/python tools/dependency_audit.py [requirements.lock]

Exit status: 0 when no checked pin has a known vulnerability, 1 when one has, 2 when PyPI
could not be read at all.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path

INDEX = "https://pypi.org/pypi/{name}/json"


def pins(lock: Path) -> list[tuple[str, str]]:
    found = []
    for line in lock.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line and not line.startswith("-"):
            name, version = line.split("==", 1)
            found.append((name.strip(), version.split(";", 1)[0].strip()))
    return found


def project(name: str) -> dict | None:
    try:
        with urllib.request.urlopen(INDEX.format(name=name), timeout=20) as response:  # noqa: S310 - fixed https URL
            return json.load(response)
    except (urllib.error.URLError, TimeoutError, json.JSONDecodeError):
        return None


def main(argv: list[str]) -> int:
    lock = Path(argv[1] if len(argv) > 1 else "requirements.lock")
    clean, vulnerable, older, unreachable = [], [], [], []
    for name, version in pins(lock):
        data = project(name)
        if data is None:
            unreachable.append(name)
            continue
        latest = data["info"]["version"]
        if latest != version:
            older.append(f"{name} {version} (latest {latest})")
            continue
        advisories = data.get("vulnerabilities") or []
        if advisories:
            ids = ", ".join(a.get("id", "?") for a in advisories)
            vulnerable.append(f"{name} {version}: {ids}")
        else:
            clean.append(f"{name} {version}")
    print(f"{len(clean)} pins are the latest release with no known vulnerability.")
    for line in vulnerable:
        print(f"VULNERABLE {line}")
    if older:
        print(f"{len(older)} pins are older than the latest release and could not be checked here:")
        for line in older:
            print(f"  {line}")
    if unreachable:
        print(f"PyPI did not answer for: {', '.join(unreachable)}")
    if unreachable and not (clean or vulnerable or older):
        return 2
    return 1 if vulnerable else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
