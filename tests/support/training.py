"""Training through the one training path, for contract tests."""

from __future__ import annotations

from typing import Any

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.registry import Registry
from sigmawatch.settings import TrainingSettings
from sigmawatch.training import TrainResult, train_series
from support.data import series_data


def train(
    registry: Registry,
    store: ArtifactStore,
    settings: TrainingSettings,
    series: str,
    seed: int,
    *,
    promote: bool = True,
    detector: dict[str, Any] | None = None,
    keep_versions: int | None = None,
) -> TrainResult:
    timestamps, values = series_data(10_000, seed=seed)
    return train_series(
        series,
        timestamps,
        values,
        registry=registry,
        store=store,
        settings=settings,
        promote=promote,
        detector=detector,
        keep_versions=keep_versions,
    )
