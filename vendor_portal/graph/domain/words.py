"""SPOFs, common causes and gaps in words, for people who will act on them."""

from __future__ import annotations

from itertools import pairwise

from vendor_portal.graph.domain.model import DependencyGraph, Effective, NodeKind
from vendor_portal.graph.domain.spof import Gap, Spof

VERBS = {
    NodeKind.CLOUD_REGION: "hosts",
    NodeKind.GEO_REGION: "hosts",
    NodeKind.FACILITY: "houses",
    NodeKind.VENDOR: "is behind",
    NodeKind.VENDOR_SERVICE: "serves",
    NodeKind.COMPONENT: "is part of",
}


def hours(value: float) -> str:
    return f"{value:g} h"


def _names(graph: DependencyGraph, positions: list[int]) -> str:
    names = [graph.nodes[i].label for i in positions]
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]


def _slow(graph: DependencyGraph, eff: Effective, x: int) -> str:
    """The alternatives of x left out because they switch over too slowly, in words."""
    counted = set(eff.deps[x])
    slow = [
        f"{graph.nodes[d].label} takes {hours(s)} to switch over"
        for d, s in zip(graph.deps[x], graph.switchover[x], strict=True)
        if d not in counted
    ]
    return "; ".join(slow)


def _alternatives(graph: DependencyGraph, eff: Effective, x: int, taken: list[int]) -> str:
    counted = eff.deps[x]
    if len(taken) == 2 and len(counted) == 2:
        primary, fallback = sorted(taken, key=lambda d: graph.switchover[x][graph.deps[x].index(d)])
        return (
            f"both the primary ({graph.nodes[primary].label}) and the fallback "
            f"({graph.nodes[fallback].label}) of {graph.nodes[x].label}"
        )
    if len(taken) == len(counted):
        return f"all {len(counted)} alternatives of {graph.nodes[x].label} ({_names(graph, taken)})"
    return (
        f"{len(taken)} of the {len(counted)} alternatives of {graph.nodes[x].label} "
        f"({_names(graph, taken)}), which needs {graph.k[x]}"
    )


def explain_spof(graph: DependencyGraph, service: str, spof: Spof) -> str:
    """One or two sentences: how the failure of this node takes the service down."""
    s = graph.index[service]
    threshold = graph.threshold(s)
    eff = graph.effective(threshold)
    v = graph.index[spof.node]
    subject = graph.nodes[v]
    if spof.defeats:
        down = eff.down([v])
        base = eff.baseline
        chain = [graph.index[i] for i in spof.witness]
        # Name the defeated node nearest the failure on the witness chain, else the first one.
        defeated = [graph.index[d] for d in spof.defeats]
        on_chain = [x for x in chain if x in defeated]
        x = on_chain[0] if on_chain else defeated[0]
        taken = [d for d in eff.deps[x] if down[d] and not base[d]]
        verb = VERBS.get(subject.kind, "sits under")
        sentence = f"{subject.label} {verb} {_alternatives(graph, eff, x, taken)}"
        if x != s:
            sentence += f", which {graph.nodes[s].label} needs"
        return sentence + "."
    chain = [graph.index[i] for i in reversed(spof.witness)]  # from the service down
    if len(chain) < 2:
        return f"{graph.nodes[s].label} fails with {subject.label}."
    clauses = [f"{graph.nodes[chain[0]].label} needs {graph.nodes[chain[1]].label}"]
    notes = []
    for x, y in pairwise(chain[1:]):
        node, target = graph.nodes[x], graph.nodes[y]
        if graph.k[x] == 0:
            clauses.append(f"which needs {target.label}")
            continue
        counted = eff.deps[x]
        slow = _slow(graph, eff, x)
        if len(counted) == 1 and not slow:
            clauses.append(f"which has no fallback for {target.label}")
        elif len(counted) == 1:
            rto = hours(threshold or 0)
            clauses.append(f"which has no alternative to {target.label} within the {rto} RTO")
            notes.append(f"{node.label}: {slow}, longer than the {rto} RTO.")
        else:
            clauses.append(
                f"which needs {graph.k[x]} of its {len(counted)} alternatives, and losing "
                f"{subject.label} leaves fewer"
            )
            if slow:
                notes.append(f"{node.label}: {slow}, longer than the {hours(threshold or 0)} RTO.")
    return ", ".join(clauses) + "." + "".join(f" {note}" for note in notes)


def explain_gap(graph: DependencyGraph, service: str, gap: Gap) -> str:
    s = graph.index[service]
    threshold = graph.threshold(s)
    eff = graph.effective(threshold)
    g = graph.index[gap.node]
    node = graph.nodes[g]
    if not gap.unmet:
        causes = [graph.nodes[graph.index[c]].label for c in gap.because]
        return f"{node.label} is down with nothing failed: it needs {_names_of(causes)}, which " + (
            "is down." if len(causes) == 1 else "are down."
        )
    if gap.total == 0:
        return f"{node.label} has no provider at all."
    within = (
        f" within the {hours(threshold)} RTO of {graph.nodes[s].label}"
        if threshold is not None
        else ""
    )
    slow = _slow(graph, eff, g)
    slow = f": {slow}" if slow else ""
    if gap.counted == 0:
        return f"{node.label} has no provider that can take over{within}{slow}."
    return (
        f"{node.label} needs {gap.required} of its alternatives but only {gap.counted} "
        f"can run{within}{slow}."
    )


def _names_of(names: list[str]) -> str:
    if len(names) <= 2:
        return " and ".join(names)
    return ", ".join(names[:-1]) + " and " + names[-1]
