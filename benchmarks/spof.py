"""Benchmark: SPOF sets (with witnesses, gaps, common causes) for every business service, by the
fast dynamic programme against the brute-force reference (fail each node, propagate), in the
same process, on the same graphs.

Graphs:

- the largest Willems (2008) supply chain in ../shared/data/willems_2008 (when present), read
  with every stage needing all its upstream stages, and again with distribution, manufacturing
  and retail stages able to use any one upstream stage;
- generated supply maps shaped like real ones (layers from services down to regions, fan-out
  2-6, about a quarter of the nodes with alternatives and switchover times, a few loops), of
  2,000 nodes by default (`--nodes 2000 10000 ...` for more sizes).

For each graph it prints the fast and brute-force times (best of `--repeat` runs), the speed-up
ratio, the time networkx takes to compute the plain descendants of every service on the same
graph (a floor for any SPOF method that reports per service), and checks that both answers are
identical. Target: all services of a 2,000-node graph well under a second with the fast engine.

    .venv/bin/python benchmarks/spof.py [--nodes 2000 5000] [--repeat 3] [--brute-limit 20000]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vendor_portal.graph.domain.interchange import parse_json  # noqa: E402
from vendor_portal.graph.domain.model import DependencyGraph  # noqa: E402
from vendor_portal.graph.domain.spof import brute_force_reports, spof_reports  # noqa: E402
from vendor_portal.graph.domain.synthetic import Shape, supply_map  # noqa: E402
from vendor_portal.graph.domain.willems import read_chain, to_interchange  # noqa: E402

WILLEMS = ROOT.parent / "shared" / "data" / "willems_2008"
TARGET_2000_S = 1.0


def best_of(
    repeat: int, build: Callable[[], DependencyGraph], run: Callable[[Any], Any]
) -> tuple[float, Any]:
    """Best wall time of `repeat` runs, each on a freshly built graph (no cached state)."""
    best, result = float("inf"), None
    for _ in range(repeat):
        graph = build()
        started = time.perf_counter()
        result = run(graph)
        best = min(best, time.perf_counter() - started)
    return best, result


def descendants_baseline(graph: DependencyGraph) -> int:
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(range(len(graph)))
    g.add_edges_from((a, b) for a, ds in enumerate(graph.deps) for b in ds)
    return sum(len(nx.descendants(g, s)) for s in graph.services)


def same(fast: list, brute: list) -> bool:
    return [(r.service, r.down, r.spof_ids, r.gaps) for r in fast] == [
        (r.service, r.down, r.spof_ids, r.gaps) for r in brute
    ]


def measure(
    label: str, build: Callable[[], DependencyGraph], repeat: int, brute_limit: int
) -> dict:
    graph = build()
    row: dict[str, Any] = {
        "graph": label,
        "nodes": len(graph),
        "edges": len(graph.edges),
        "services": len(graph.services),
        "loops": len(graph.loops()),
    }
    fast_s, fast = best_of(repeat, build, spof_reports)
    row["fast_s"] = fast_s
    row["spofs"] = sum(len(r.spofs) for r in fast)
    nx_s, _ = best_of(repeat, build, descendants_baseline)
    row["nx_descendants_s"] = nx_s
    if len(graph) <= brute_limit:
        brute_s, brute = best_of(max(1, repeat // 2), build, brute_force_reports)
        row["brute_s"] = brute_s
        row["ratio"] = brute_s / fast_s if fast_s else float("inf")
        row["agree"] = same(fast, brute)
    return row


def willems_graphs() -> list[tuple[str, Callable[[], DependencyGraph]]]:
    if not WILLEMS.is_dir():
        return []
    chains = sorted(WILLEMS.glob("*.csv"))
    largest = max(chains, key=lambda p: len(read_chain(p.read_bytes()).stages))
    data = largest.read_bytes()
    return [
        (
            f"Willems {largest.stem} (all upstream)",
            lambda: parse_json(to_interchange(read_chain(data, largest.name))),
        ),
        (
            f"Willems {largest.stem} (any upstream)",
            lambda: parse_json(
                to_interchange(read_chain(data, largest.name), ["Dist", "Manuf", "Retail"])
            ),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--nodes", type=int, nargs="*", default=[2000], help="generated graph sizes"
    )
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best kept)")
    parser.add_argument(
        "--brute-limit", type=int, default=20000, help="skip brute force above this many nodes"
    )
    args = parser.parse_args(argv)
    print(
        f"python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    cases = willems_graphs()
    if not cases:
        print(f"({WILLEMS} is absent: generated graphs only)")
    for n in args.nodes:
        services = max(10, n // 20)
        cases.append(
            (f"generated {n} nodes", lambda n=n, s=services: supply_map(Shape(services=s, nodes=n)))
        )
    rows = [measure(label, build, args.repeat, args.brute_limit) for label, build in cases]
    header = (
        f"{'graph':<34}{'nodes':>7}{'edges':>8}{'svc':>6}{'loops':>6}{'SPOFs':>8}"
        f"{'fast s':>9}{'brute s':>9}{'ratio':>8}{'nx desc s':>10}  agree"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        brute = f"{r['brute_s']:>9.3f}" if "brute_s" in r else f"{'-':>9}"
        ratio = f"{r['ratio']:>7.1f}x" if "ratio" in r else f"{'-':>8}"
        agree = {True: "yes", False: "NO"}.get(r.get("agree"), "-")
        print(
            f"{r['graph']:<34}{r['nodes']:>7}{r['edges']:>8}{r['services']:>6}{r['loops']:>6}"
            f"{r['spofs']:>8}{r['fast_s']:>9.3f}{brute}{ratio}"
            f"{r['nx_descendants_s']:>10.3f}  {agree}"
        )
    failed = [r for r in rows if r.get("agree") is False]
    generated_2000 = [r for r in rows if r["graph"] == "generated 2000 nodes"]
    if generated_2000:
        verdict = "PASS" if generated_2000[0]["fast_s"] < TARGET_2000_S else "FAIL"
        print(
            f"\n2,000-node graph, all {generated_2000[0]['services']} services with witnesses: "
            f"{generated_2000[0]['fast_s']:.3f} s (target < {TARGET_2000_S:.1f} s): {verdict}"
        )
    if failed:
        print("fast and brute force DISAGREE on: " + ", ".join(r["graph"] for r in failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
