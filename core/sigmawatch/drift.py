"""Drift (OBS-2): how far the values a version scores are from the values it was trained on.

A version stores seven training quantiles (stats.QUANTILES: p1 … p99). They
cut the line into eight bins whose training shares are known exactly
(1%, 4%, 20%, 25%, 25%, 20%, 4%, 1%), so no training data is needed at
serving time: live values are counted into the same bins as they are
scored, and the drift is the KL divergence D(live ‖ training) of the two
histograms. Empty live bins are smoothed (ALPHA pseudo-counts each), so a
few points never read as an infinite divergence.

Equal quantiles (a series with many identical values) make bins of zero
width; a value equal to an edge counts in the bin that edge closes, so the
training share of a zero-width bin moves to the first bin ending at that
edge, where its values are counted.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sigmawatch.arrays import FloatArray, IntArray
from sigmawatch.stats import QUANTILES

N_EDGES = len(QUANTILES)
N_BINS = N_EDGES + 1
ALPHA = 0.5  # pseudo-count per bin: Jeffreys' prior
_LEVELS = tuple(q / 100.0 for q in QUANTILES)
EMPTY_BINS: tuple[int, ...] = (0,) * N_BINS


def edges_of(stats: Mapping[str, Any]) -> FloatArray | None:
    """The version's bin edges (its training quantiles), or None when it stored none."""
    try:
        edges = np.array([float(stats[f"p{q}"]) for q in QUANTILES], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        return None
    if not np.isfinite(edges).all() or (np.diff(edges) < 0).any():
        return None
    return edges


def expected_shares(edges: Sequence[float] | FloatArray) -> tuple[float, ...]:
    """Training share of each bin; a zero-width bin's share goes to the bin before it."""
    shares = np.diff((0.0, *_LEVELS, 1.0))
    e = np.asarray(edges, dtype=np.float64)
    for i in range(1, N_EDGES):  # bin i is (e[i - 1], e[i]]; bin 0 is (-inf, e[0]]
        if e[i] == e[i - 1]:
            first = i
            while first > 0 and e[first - 1] == e[i]:
                first -= 1
            shares[first] += shares[i]
            shares[i] = 0.0
    return tuple(float(s) for s in shares)


def expected_shares_rows(edges: FloatArray) -> FloatArray:
    """`expected_shares` of each row of edges (n × N_EDGES), vectorised."""
    n = edges.shape[0]
    shares = np.tile(np.diff((0.0, *_LEVELS, 1.0)), (n, 1))
    run_start = np.zeros(n, dtype=np.int64)  # where the run of equal edges at i began
    everyone = np.arange(n)
    for i in range(1, N_EDGES):
        equal = edges[:, i] == edges[:, i - 1]
        run_start = np.where(equal, run_start, i)
        rows = everyone[equal]
        shares[rows, run_start[equal]] += shares[rows, i]
        shares[rows, i] = 0.0
    return shares


def bin_counts(values: FloatArray, edges: FloatArray) -> IntArray:
    """How many of `values` fall in each of the N_BINS bins of one version."""
    index = np.searchsorted(edges, values, side="left")
    counts: IntArray = np.bincount(index, minlength=N_BINS)
    return counts


def bin_index_rows(values: FloatArray, edges: FloatArray) -> IntArray:
    """Each value's bin against its own row of edges (values: n, edges: n × N_EDGES),
    in one vectorised pass: the count of edges strictly below the value."""
    index: IntArray = np.count_nonzero(edges < values[:, None], axis=1)
    return index


def kl_divergence(live: Sequence[int] | IntArray, expected: Sequence[float]) -> float | None:
    """D(live ‖ expected) in nats over the bins training can populate; None without points."""
    counts = np.asarray(live, dtype=np.float64)
    shares = np.asarray(expected, dtype=np.float64)
    usable = shares > 0.0
    total = float(counts[usable].sum())
    if total <= 0.0:
        return None
    p = (counts[usable] + ALPHA) / (total + ALPHA * int(usable.sum()))
    return float(np.sum(p * np.log(p / shares[usable])))


def drift_summary(live: Sequence[int], expected: Sequence[float] | None) -> dict[str, Any]:
    """The drift part of an answer: points binned, their histogram, and the divergence."""
    points = int(sum(live))
    kl = kl_divergence(live, expected) if expected is not None else None
    return {
        "points": points,
        "kl_divergence": None if kl is None or math.isnan(kl) else round(kl, 6),
        "live_bins": [int(n) for n in live],
        "training_shares": list(expected) if expected is not None else None,
    }
