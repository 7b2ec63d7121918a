"""Per-call fallback (PRED-6): a detector that fails answers with the z-score."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sigmawatch.arrays import FloatArray
from sigmawatch.detectors import zscore_fallback
from sigmawatch.loading import LoadedModel, load_model
from sigmawatch.sizes import deep_size
from support.serving import Stack


@dataclass
class Broken:
    """A detector whose learned state is unusable in the way the test names."""

    failure: str
    kind: str = "mad"
    params: dict[str, float] = field(default_factory=lambda: {"threshold": 3.0})
    state: dict[str, float] = field(default_factory=dict)

    @property
    def threshold(self) -> float:
        return 3.0

    def score(self, values: FloatArray) -> FloatArray:
        if self.failure == "raises":
            raise RuntimeError("corrupt state")
        return values / 0.0  # a zero scale: inf and nan

    def bounds(self) -> tuple[float, float]:
        return (0.0, 0.0)


def test_raising_and_non_finite_detectors_fall_back_to_the_zscore() -> None:
    fallback = zscore_fallback(10.0, 2.0, 3.0)
    for failure in ("raises", "divides by zero"):
        model = LoadedModel("s", 1, "mad", Broken(failure), fallback, (1, 2))
        scored = model.score(np.array([10.0, 0.0, 17.0]))
        assert scored.fallback, failure
        assert list(scored.anomalies) == [False, True, True]
        np.testing.assert_allclose(scored.scores, [0.0, 5.0, 3.5])


def test_a_working_detector_is_not_a_fallback() -> None:
    detector = zscore_fallback(0.0, 1.0, 3.0)
    model = LoadedModel("s", 1, "zscore", detector, zscore_fallback(5.0, 1.0), (1, 2))
    scored = model.score(np.array([0.5]))
    assert not scored.fallback
    assert scored.scores[0] == 0.5


@dataclass(frozen=True)
class Rich:
    """A richer detector: its learned state is an array (as a forest's would be)."""

    table: FloatArray
    kind: str = "rich"
    params: dict[str, float] = field(default_factory=lambda: {"threshold": 3.0})

    @property
    def state(self) -> dict[str, float]:
        return {}

    @property
    def threshold(self) -> float:
        return 3.0

    def score(self, values: FloatArray) -> FloatArray:
        return values

    def bounds(self) -> tuple[float, float]:
        return (0.0, 1.0)


def test_a_models_bytes_follow_what_it_holds() -> None:
    """The cache bounds bytes by this estimate, so it must grow with the model."""
    small = LoadedModel("s", 1, "zscore", zscore_fallback(0, 1), zscore_fallback(0, 1), (1, 2))
    big = LoadedModel("b", 1, "rich", Rich(np.zeros(10_000)), zscore_fallback(0, 1), (1, 2))
    assert 200 < deep_size(small) < 4_000
    assert deep_size(big) > 80_000 + deep_size(small) / 2


def test_loading_estimates_the_bytes_the_cache_will_hold(tmp_path: Path) -> None:
    stack = Stack(tmp_path)
    record = stack.train("sized").record
    model = load_model(record, stack.store)
    assert model.nbytes == deep_size(dataclasses.replace(model, nbytes=0))
    assert model.nbytes != 1024
