"""The one training path (MOD-1): artifacts and registry stay consistent."""

from __future__ import annotations

import numpy as np
import pytest

from sigmawatch.artifacts import FileStore, S3Store, StorageUnavailableError
from sigmawatch.artifacts.manifest import read_array, read_manifest
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.loading import load_model
from sigmawatch.registry import Registry
from sigmawatch.settings import TrainingSettings
from sigmawatch.training import train_series
from support.data import series_data
from support.s3 import S3Server


def test_a_registered_version_has_its_artifact(
    registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    timestamps, values = series_data(20_000)
    result = train_series(
        "art", timestamps, values, registry=registry, store=file_store, settings=settings
    )
    record = result.record
    manifest = read_manifest(file_store, record.artifact_prefix, record.manifest_sha256)
    assert manifest["detector"] == {"kind": "zscore", "params": {"threshold": 3.0}}
    kept = read_array(file_store, record.artifact_prefix, manifest, "values")
    np.testing.assert_array_equal(kept, values[-settings.plot_points :])
    assert manifest["data_hash"] == record.data_hash


def test_a_failed_artifact_write_registers_nothing(
    registry: Registry,
    s3_server: S3Server,
    settings: TrainingSettings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    missing_bucket = S3Store(
        "no-such-bucket", "x", endpoint_url=s3_server.endpoint, region="us-east-1"
    )
    with pytest.raises(StorageUnavailableError):
        train_series(
            "lost", *series_data(), registry=registry, store=missing_bucket, settings=settings
        )
    assert registry.get_series("lost") is None


def test_rejected_data_registers_nothing(
    registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    timestamps, values = series_data()
    values[10] = np.nan
    with pytest.raises(SigmawatchError) as caught:
        train_series(
            "bad", timestamps, values, registry=registry, store=file_store, settings=settings
        )
    assert caught.value.code is ErrorCode.INVALID_VALUE
    assert registry.get_series("bad") is None
    assert file_store.list("models/") == []


def test_a_model_whose_artifact_is_gone_answers_with_the_zscore_fallback(
    registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    result = train_series(
        "fb",
        *series_data(),
        registry=registry,
        store=file_store,
        settings=settings,
        detector={"kind": "mad"},
    )
    file_store.delete(result.record.artifact_prefix + "manifest.json")
    model = load_model(registry.get_production("fb"), file_store)
    assert model.detector is None
    assert model.load_error
    scored = model.score(np.array([10.0, 40.0]))
    assert scored.fallback
    assert list(scored.anomalies) == [False, True]
    assert model.kind == "mad"  # the response still names the version's own kind
