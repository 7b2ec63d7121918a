"""Training through the one training path, and rollouts of what it trained, for contract tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sigmawatch.artifacts import ArtifactStore
from sigmawatch.registry import Registry
from sigmawatch.registry.rollout_records import Driver, NewRollout, RolloutMember
from sigmawatch.rollouts.policy import first_state
from sigmawatch.rollouts.spec import RolloutSpec, parse_rollout_spec
from sigmawatch.settings import TrainingSettings
from sigmawatch.training import TrainResult, train_series
from support.data import series_data

CANARY = parse_rollout_spec({"strategy": "canary", "steps": [10, 50, 100]})


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


def two_versions(
    registry: Registry, store: ArtifactStore, settings: TrainingSettings, series: str
) -> None:
    train(registry, store, settings, series, 0)
    train(registry, store, settings, series, 1, promote=False)


def rollout(
    series: str, *, stable: int = 1, candidate: int = 2, spec: RolloutSpec = CANARY
) -> NewRollout:
    """An API-driven rollout of one series, from stable to candidate."""
    return NewRollout(
        spec,
        (RolloutMember(series, stable, candidate),),
        Driver.API,
        first_state(spec, datetime.now(UTC)),
    )
