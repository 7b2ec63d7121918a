"""AnomalyModel spec parsing and the training key (what triggers a retrain)."""

from __future__ import annotations

from typing import Any

import pytest

from sigmawatch_operator.model_spec import InvalidSpecError, parse_spec

BASE: dict[str, Any] = {
    "series": {"id": "sensor_1"},
    "source": {"uri": "s3://bucket/train/{series_id}.npy"},
}


def spec(**changes: Any) -> dict[str, Any]:
    return {**BASE, **changes}


def test_defaults() -> None:
    parsed = parse_spec(BASE)
    assert parsed.single
    assert parsed.detector.to_dict() == {"kind": "zscore", "params": {"threshold": 3.0}}
    assert parsed.keep_versions == 10
    assert parsed.promote is True
    assert parsed.pinned_version is None
    assert parsed.describe() == "sensor_1"
    assert parsed.shards(1) == 1


def test_fleet_shapes_and_shards() -> None:
    ids = parse_spec(
        spec(series={"ids": [f"s{i}" for i in range(1000)]}, job={"seriesPerPod": 400})
    )
    assert ids.describe() == "1000 series"
    assert ids.shards(1000) == 3
    with pytest.raises(InvalidSpecError, match="at most 1000"):
        parse_spec(spec(series={"ids": [f"s{i}" for i in range(1001)]}))
    selector = parse_spec(spec(series={"selector": {"prefix": "pump_"}}))
    assert selector.describe() == "prefix pump_"
    assert selector.explicit_series == ()


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"series": {"id": "a", "ids": ["b"]}}, "exactly one"),
        ({"series": {"id": "bad-id"}}, "INVALID_SERIES_ID"),
        ({"source": {}}, "exactly one of source"),
        ({"detector": {"kind": "zscore", "params": {"window": 3}}}, "INVALID_DETECTOR"),
        ({"series": {"ids": ["a", "b"]}, "production": {"pinnedVersion": "v2"}}, "single-series"),
        ({"production": {"pinnedVersion": "2"}}, "INVALID_VERSION"),
        ({"retrain": {"interval": "soon"}}, "duration"),
        ({"source": {"uri": "s3://bucket"}}, "source URI must be"),
    ],
)
def test_what_the_schema_cannot_say_is_checked_here(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSpecError, match=message):
        parse_spec(spec(**changes))


def test_training_key_follows_training_inputs_only() -> None:
    key = parse_spec(BASE).training_key()
    assert parse_spec(spec(production={"pinnedVersion": "v1"})).training_key() == key
    assert parse_spec(spec(retention={"keepVersions": 3})).training_key() == key
    assert parse_spec(spec(job={"parallelism": 9})).training_key() == key
    for changed in (
        spec(retrain={"nonce": "2026-11-25"}),
        spec(source={"uri": "s3://other/{series_id}.npy"}),
        spec(detector={"kind": "mad"}),
        spec(window={"points": 20000}),
    ):
        assert parse_spec(changed).training_key() != key
