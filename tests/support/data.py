"""Training data for tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from sigmawatch.arrays import FloatArray, IntArray
from sigmawatch.datasets import write_training_file

START = 1_767_225_600  # 2026-01-01T00:00:00Z


def series_data(
    n: int = 12_000, *, seed: int = 0, start: int = START, step: int = 300
) -> tuple[IntArray, FloatArray]:
    """Strictly increasing timestamps and normal values (μ=10, σ=2)."""
    rng = np.random.default_rng(seed)
    return start + step * np.arange(n, dtype=np.int64), rng.normal(10.0, 2.0, n)


def train_body(n: int = 12_000, *, seed: int = 0, **extra: Any) -> dict[str, Any]:
    timestamps, values = series_data(n, seed=seed)
    return {"timestamps": timestamps.tolist(), "values": values.tolist(), **extra}


def write_series(path: Path, n: int, *, seed: int = 0, constant: bool = False) -> None:
    """A training-data file (.npy, .csv or .npz by suffix) of `n` points."""
    timestamps, values = series_data(n, seed=seed)
    if constant:
        values = np.full(n, 3.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_training_file(path, timestamps, values)
