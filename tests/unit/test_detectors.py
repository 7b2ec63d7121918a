"""Detectors (MOD-8): the z-score baseline, the robust MAD kind, their specs."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from sigmawatch.detectors import KINDS, DetectorSpec, zscore_fallback
from sigmawatch.errors import ErrorCode, SigmawatchError

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def test_zscore_learns_mean_and_std_and_flags_beyond_three_sigma() -> None:
    values = np.random.default_rng(1).normal(100.0, 5.0, 50_000)
    fitted = DetectorSpec.parse(None).fit(values)
    assert fitted.kind == "zscore"
    assert fitted.state["mean"] == pytest.approx(values.mean())
    assert fitted.state["std"] == pytest.approx(values.std())
    mean, std = fitted.state["mean"], fitted.state["std"]
    probe = np.array([mean, mean + 2.9 * std, mean - 3.1 * std, mean + 10 * std])
    scores = fitted.score(probe)
    np.testing.assert_allclose(scores, [0.0, 2.9, 3.1, 10.0], rtol=1e-9, atol=1e-9)
    assert list(scores > fitted.threshold) == [False, False, True, True]


@settings(max_examples=60, deadline=None)
@given(
    values=arrays(np.float64, st.integers(20, 300), elements=finite),
    threshold=st.floats(0.5, 10),
)
def test_zscore_flags_exactly_the_points_beyond_k_sigma(
    values: np.ndarray, threshold: float
) -> None:
    if values.std() < 1e-6:
        return
    fitted = DetectorSpec.parse({"kind": "zscore", "params": {"threshold": threshold}}).fit(values)
    flagged = fitted.score(values) > fitted.threshold
    expected = np.abs(values - values.mean()) > threshold * values.std()
    # Points within float rounding of the boundary may go either way.
    boundary = np.isclose(np.abs(values - values.mean()), threshold * values.std(), rtol=1e-9)
    assert np.array_equal(flagged[~boundary], expected[~boundary])


def test_mad_band_ignores_outliers_that_widen_the_zscore_band() -> None:
    rng = np.random.default_rng(2)
    values = rng.normal(0.0, 1.0, 20_000)
    values[:1_000] = 500.0  # a past incident inside the training window
    zscore = DetectorSpec.parse({"kind": "zscore"}).fit(values)
    mad = DetectorSpec.parse({"kind": "mad"}).fit(values)
    zlo, zhi = zscore.bounds()
    mlo, mhi = mad.bounds()
    assert mhi - mlo < (zhi - zlo) / 10
    # A 6σ excursion of the normal regime: the MAD detector sees it, z-score does not.
    probe = np.array([6.0])
    assert bool((mad.score(probe) > mad.threshold)[0])
    assert not bool((zscore.score(probe) > zscore.threshold)[0])


def test_mad_falls_back_to_mean_absolute_deviation_when_most_values_repeat() -> None:
    values = np.zeros(1_000)
    values[:100] = np.linspace(1, 5, 100)
    fitted = DetectorSpec.parse({"kind": "mad"}).fit(values)
    assert fitted.state["scale"] > 0
    assert np.isfinite(fitted.score(values)).all()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_state_round_trips_through_json_numbers(kind: str) -> None:
    values = np.random.default_rng(3).gamma(2.0, 3.0, 10_000)
    spec = DetectorSpec.parse({"kind": kind, "params": {"threshold": 2.5}})
    fitted = spec.fit(values)
    restored = spec.restore({k: float(v) for k, v in fitted.state.items()})
    np.testing.assert_array_equal(restored.score(values), fitted.score(values))
    lo, hi = restored.bounds()
    inside = values[(values > lo) & (values < hi)]
    assert not (restored.score(inside) > restored.threshold).any()


def test_spec_defaults_make_equal_specs_hash_equal() -> None:
    implicit = DetectorSpec.parse(None)
    explicit = DetectorSpec.parse({"kind": "zscore", "params": {"threshold": 3}})
    assert implicit == explicit
    assert implicit.spec_hash == explicit.spec_hash
    assert DetectorSpec.parse({"params": {"threshold": 4}}).spec_hash != implicit.spec_hash


@pytest.mark.parametrize(
    ("raw", "detail"),
    [
        ({"kind": "isolation_forest"}, "allowed"),
        ({"kind": "zscore", "params": {"window": 3}}, "allowed"),
        ({"kind": "zscore", "params": {"threshold": -1}}, "value"),
        ({"kind": "zscore", "params": {"threshold": True}}, "value"),
        ({"kind": "zscore", "params": {"threshold": 1e30}}, "value"),
        ({"kind": "mad", "params": {"threshold": "3"}}, "value"),
        ({"kind": 3}, None),
        ({"kind": "zscore", "params": [1]}, None),
    ],
)
def test_invalid_specs_are_rejected_with_a_stable_code(
    raw: dict[str, object], detail: str | None
) -> None:
    with pytest.raises(SigmawatchError) as caught:
        DetectorSpec.parse(raw)
    assert caught.value.code is ErrorCode.INVALID_DETECTOR
    if detail:
        assert detail in caught.value.details


def test_fallback_is_a_zscore_from_stored_moments() -> None:
    fallback = zscore_fallback(10.0, 2.0, 3.0)
    np.testing.assert_allclose(fallback.score(np.array([10.0, 16.5])), [0.0, 3.25])
