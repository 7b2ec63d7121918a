"""Training statistics and the data hash (REG-3, CONS-2)."""

from __future__ import annotations

import numpy as np

from sigmawatch.stats import QUANTILES, data_hash, training_stats
from support.data import series_data


def test_stats_match_numpy() -> None:
    _, values = series_data(10_000, seed=4)
    stats = training_stats(values)
    assert stats["n_points"] == 10_000
    assert stats["mean"] == values.mean()
    assert stats["std"] == values.std()
    assert (stats["min"], stats["max"]) == (values.min(), values.max())
    for q in QUANTILES:
        assert stats[f"p{q}"] == np.percentile(values, q)


def test_data_hash_is_stable_and_sensitive_to_every_point() -> None:
    timestamps, values = series_data(10_000, seed=5)
    digest = data_hash(timestamps, values)
    assert digest == data_hash(timestamps.copy(), values.copy())
    nudged = values.copy()
    nudged[-1] = np.nextafter(nudged[-1], np.inf)
    assert data_hash(timestamps, nudged) != digest
    shifted = timestamps.copy()
    shifted[0] -= 1
    assert data_hash(shifted, values) != digest
