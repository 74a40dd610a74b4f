"""Sets of node positions as Python integers (bit i set = node i is in the set).

Union and intersection are then single C-level operations on the whole set, which is what makes
the dynamic programme over the graph fast."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

import numpy as np

_DENSE = 48  # above this many members, decoding through numpy beats peeling bits one by one


def members(bits: int) -> list[int]:
    """The positions set in `bits`, ascending."""
    if bits <= 0:
        return []
    if bits.bit_count() <= _DENSE:
        return list(_peel(bits))
    raw = np.frombuffer(bits.to_bytes((bits.bit_length() + 7) // 8, "little"), dtype=np.uint8)
    return np.flatnonzero(np.unpackbits(raw, bitorder="little")).tolist()


def _peel(bits: int) -> Iterator[int]:
    while bits:
        low = bits & -bits
        yield low.bit_length() - 1
        bits ^= low


def of(positions: Iterable[int]) -> int:
    out = 0
    for i in positions:
        out |= 1 << i
    return out


def at_least(sets: Sequence[int], m: int) -> int:
    """The positions present in at least `m` of `sets` (m >= 1)."""
    if m <= 1:
        out = 0
        for s in sets:
            out |= s
        return out
    if m > len(sets):
        return 0
    if m == len(sets):
        out = -1  # every bit set: the neutral element of &
        for s in sets:
            out &= s
        return out
    # counts[j]: positions seen in at least j of the sets so far (j = 1..m); counts[0] is "all".
    counts = [-1] + [0] * m
    for seen, s in enumerate(sets, start=1):
        for j in range(min(m, seen), 0, -1):
            counts[j] |= counts[j - 1] & s
    return counts[m]
