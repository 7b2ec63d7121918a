"""How recently and how much a series was used, as one number that orders the warm-up.

A prediction counts for less as it ages: its weight halves every
`HALF_LIFE_S` (a week), so a series that was hot last month does not crowd
out today's. The decayed sum at time T, Σ nᵢ·2^(-(T - tᵢ)/h), orders series
the same way at every T as its logarithm shifted by T, which needs no
update as time passes:

    rank = ln Σ nᵢ·2^(tᵢ/h) = ln Σ exp(ln nᵢ + tᵢ·ln2/h)

So each series keeps `rank`, adds a count with a log-sum-exp, and an index
on it orders the fleet. Both registries compute it here; PostgreSQL gets
each new term from `term`.
"""

from __future__ import annotations

import math

HALF_LIFE_S = 7 * 86_400
_PER_SECOND = math.log(2) / HALF_LIFE_S


def term(count: int, at: float) -> float:
    """The rank of `count` predictions made at `at` (Unix seconds)."""
    return math.log(count) + at * _PER_SECOND


def added(rank: float | None, count: int, at: float) -> float:
    """`rank` with `count` more predictions at `at`."""
    new = term(count, at)
    if rank is None:
        return new
    high, low = max(rank, new), min(rank, new)
    return high + math.log1p(math.exp(low - high))
