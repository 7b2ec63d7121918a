"""OBS-2 drift bins, KL divergence and the score histogram, on both serving paths."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from prometheus_client import CollectorRegistry, Histogram

from sigmawatch.drift import (
    bin_counts,
    bin_index_rows,
    edges_of,
    expected_shares,
    kl_divergence,
)
from sigmawatch.errors import SigmawatchError
from sigmawatch.stats import training_stats
from sigmawatch_inference.metrics_ml import SCORE_BUCKETS, ScoreHistogram
from sigmawatch_inference.points import PointsRequest
from support.data import START, series_data
from support.serving import Stack, run_async


def kl(live: Any, shares: Any) -> float:
    value = kl_divergence(live, shares)
    assert value is not None
    return value


def test_training_quantiles_make_bins_with_known_shares() -> None:
    values = np.random.default_rng(0).normal(10.0, 2.0, 100_000)
    edges = edges_of(training_stats(values))
    assert edges is not None
    shares = expected_shares(edges)
    assert shares == pytest.approx((0.01, 0.04, 0.2, 0.25, 0.25, 0.2, 0.04, 0.01))
    # The training data itself lands in those shares, so it does not drift from itself.
    counts = bin_counts(values, edges)
    assert (counts / values.size).tolist() == pytest.approx(shares, abs=1e-3)
    assert kl(counts, shares) < 1e-4


def test_equal_quantiles_give_their_share_to_the_bin_their_values_fall_in() -> None:
    # 30% zeros: p1, p5 and p25 are all 0, so values of 0 are counted in the first bin.
    rng = np.random.default_rng(1)
    values = np.concatenate([np.zeros(3000), rng.uniform(1.0, 2.0, 7000)])
    edges = edges_of(training_stats(values))
    assert edges is not None
    shares = expected_shares(edges)
    assert shares[:4] == pytest.approx((0.25, 0.0, 0.0, 0.25))
    assert sum(shares) == pytest.approx(1.0)
    live = bin_counts(rng.permutation(values)[:2000], edges)
    assert live[1] == live[2] == 0
    # The same distribution reads as (nearly) no drift: 30% of zeros against the 25%
    # the quantiles can tell. Bins taken at face value would expect 1% there instead.
    assert kl(live, shares) < 0.05
    naive = np.diff((0.0, 0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99, 1.0)).tolist()
    assert kl(live, naive) > 0.5


def test_divergence_grows_as_the_live_values_leave_the_training_range() -> None:
    shares = expected_shares([-2.33, -1.64, -0.67, 0.0, 0.67, 1.64, 2.33])
    everything_high = [0, 0, 0, 0, 0, 0, 0, 10_000]
    assert kl_divergence(everything_high, shares) == pytest.approx(math.log(100), rel=0.01)
    # A handful of points is smoothed: far from infinite, and never None once counted.
    few = kl_divergence([0, 0, 0, 0, 0, 0, 0, 3], shares)
    assert few is not None
    assert 0 < few < math.log(100)
    assert kl_divergence([0] * 8, shares) is None
    assert edges_of({"mean": 1.0}) is None  # a version stored no quantiles


def test_per_row_binning_equals_per_version_binning() -> None:
    rng = np.random.default_rng(2)
    edges = np.sort(rng.normal(size=(50, 7)), axis=1)
    values = rng.normal(scale=2, size=50)
    values[:7] = edges[0]  # values on the edges
    rows = bin_index_rows(values, edges)
    for i in range(50):
        assert rows[i] == int(np.flatnonzero(bin_counts(values[i : i + 1], edges[i]))[0])


def test_score_histogram_equals_a_prometheus_histogram() -> None:
    scores = np.abs(np.random.default_rng(3).normal(scale=4, size=5000))
    scores[:13] = SCORE_BUCKETS  # scores on the bucket bounds count as ≤ the bound
    ours = ScoreHistogram()
    ours.observe(scores[:4000])
    for score in scores[4000:].tolist():
        ours.observe_one(score)
    reference_registry = CollectorRegistry()
    reference = Histogram("ref", "", buckets=SCORE_BUCKETS, registry=reference_registry)
    for score in scores.tolist():
        reference.observe(score)
    (family,) = ours.collect()
    got = {(s.name.removeprefix(ours.name), s.labels.get("le")): s.value for s in family.samples}
    for sample in next(iter(reference_registry.collect())).samples:
        if sample.name.endswith("_created"):
            continue
        key = (sample.name.removeprefix("ref"), sample.labels.get("le"))
        assert got[key] == pytest.approx(sample.value), key


def drift_rows(stack: Stack) -> list[Any]:
    stack.resident.spill()
    return sorted(
        (r.series_id, r.version, r.drift_bins, r.training_shares is not None)
        for r in stack.stats.take()
    )


def test_resident_and_per_item_paths_count_the_same_drift_bins(tmp_path: Path) -> None:
    found = []
    for resident_bytes in (0, 10**6):
        stack = Stack(tmp_path / str(resident_bytes), resident_bytes=resident_bytes)
        ids = [f"drift_{i}" for i in range(5)]
        for i, series_id in enumerate(ids):
            timestamps, values = series_data(200, seed=i)
            kind = "zscore" if i % 2 else "mad"
            stack.train_data(series_id, timestamps, values * (1 + i), detector={"kind": kind})
        stack.resident.load(stack.memory)
        rng = np.random.default_rng(4)
        batch: list[PointsRequest | SigmawatchError] = [
            PointsRequest(s, None, START + np.arange(n), rng.normal(10.0, 6.0, n))
            for s in ids
            for n in (1, 3)
        ]
        run_async(stack.predictor.predict_many(batch))
        single = PointsRequest(ids[0], None, np.array([START]), np.array([25.0]))
        run_async(stack.predictor.predict(single))
        assert stack.counter("sigmawatch_resident_answers_total") == (11 if resident_bytes else 0)
        found.append(drift_rows(stack))
        assert stack.counter("sigmawatch_prediction_score_count") == 21
    assert found[0] == found[1]
    assert all(sum(bins) in (4, 5) and with_shares for _, _, bins, with_shares in found[1])
