"""One contract for every artifact store: file:// and a real S3 server."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

from sigmawatch.artifacts import (
    ArtifactNotFoundError,
    ArtifactStore,
    FileStore,
    StorageUnavailableError,
    copy_prefix,
    open_store,
)
from sigmawatch.artifacts.manifest import read_array, read_manifest, write_model
from sigmawatch.errors import ErrorCode, SigmawatchError


@pytest.fixture(params=["file", "s3"])
def store(request: pytest.FixtureRequest) -> ArtifactStore:
    fixture = "file_store" if request.param == "file" else "s3_store"
    result: ArtifactStore = request.getfixturevalue(fixture)
    return result


def test_put_get_overwrite(store: ArtifactStore) -> None:
    store.put("a/b/one.bin", b"first")
    assert store.get("a/b/one.bin") == b"first"
    store.put("a/b/one.bin", b"second")
    assert store.get("a/b/one.bin") == b"second"
    assert store.exists("a/b/one.bin")


def test_missing_keys(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactNotFoundError):
        store.get("nope/none.bin")
    assert not store.exists("nope/none.bin")
    store.delete("nope/none.bin")  # deleting what is not there is fine


def test_list_is_sorted_and_scoped_to_the_prefix(store: ArtifactStore) -> None:
    for key in ("m/s1/x/2", "m/s1/x/1", "m/s10/x/1", "m/s2/x/1"):
        store.put(key, b".")
    assert store.list("m/s1/") == ["m/s1/x/1", "m/s1/x/2"]
    assert store.list("m/") == sorted(["m/s1/x/1", "m/s1/x/2", "m/s10/x/1", "m/s2/x/1"])
    assert store.list("absent/") == []


def test_list_modified_gives_each_key_its_last_write(store: ArtifactStore) -> None:
    before = time.time() - 5  # S3 servers keep whole seconds
    store.put("t/a", b"1")
    store.put("t/b", b"2")
    listed = store.list_modified("t/")
    assert [key for key, _ in listed] == ["t/a", "t/b"]
    assert all(before <= modified <= time.time() + 5 for _, modified in listed)


def test_delete_removes_only_that_key(store: ArtifactStore) -> None:
    store.put("d/1", b"1")
    store.put("d/2", b"2")
    store.delete("d/1")
    assert store.list("d/") == ["d/2"]


def test_copy_prefix_keeps_the_source(store: ArtifactStore) -> None:
    store.put("src/a", b"A")
    store.put("src/b/c", b"C")
    assert copy_prefix(store, "src/", "dst/") == ["src/a", "src/b/c"]
    assert store.get("dst/b/c") == b"C"
    assert store.get("src/a") == b"A"


def test_ping(store: ArtifactStore) -> None:
    store.ping()


def test_model_round_trip_verifies_hashes(store: ArtifactStore) -> None:
    timestamps = np.arange(1, 101, dtype=np.int64)
    values = np.linspace(0, 1, 100)
    stored = write_model(
        store,
        "models/s/abc/",
        {"state": {"mean": 0.5}},
        {"timestamps": timestamps, "values": values},
    )
    manifest = read_manifest(store, "models/s/abc/", stored.manifest_sha256)
    assert manifest["state"] == {"mean": 0.5}
    np.testing.assert_array_equal(
        read_array(store, "models/s/abc/", manifest, "timestamps"), timestamps
    )
    np.testing.assert_array_equal(read_array(store, "models/s/abc/", manifest, "values"), values)


def test_tampered_manifest_is_refused(store: ArtifactStore) -> None:
    stored = write_model(store, "models/t/", {"state": {"mean": 1.0}}, {})
    store.put("models/t/manifest.json", store.get("models/t/manifest.json").replace(b"1.0", b"9.0"))
    with pytest.raises(SigmawatchError) as caught:
        read_manifest(store, "models/t/", stored.manifest_sha256)
    assert caught.value.code is ErrorCode.ARTIFACT_CORRUPT


def test_tampered_or_pickled_array_is_refused(store: ArtifactStore) -> None:
    stored = write_model(store, "models/u/", {}, {"values": np.ones(10)})
    manifest = read_manifest(store, "models/u/", stored.manifest_sha256)
    store.put("models/u/values.npy", store.get("models/u/values.npy")[:-8] + b"\x00" * 8)
    with pytest.raises(SigmawatchError) as caught:
        read_array(store, "models/u/", manifest, "values")
    assert caught.value.code is ErrorCode.ARTIFACT_CORRUPT


def test_file_store_keys_cannot_escape_the_root(file_store: FileStore) -> None:
    with pytest.raises(ValueError, match="escapes"):
        file_store.put("../outside", b"x")


def test_unreachable_s3_reports_storage_unavailable(tmp_path: Path) -> None:
    """Every call, `exists` included, answers STORAGE_UNAVAILABLE, never a 500; the
    endpoint stays out of what a caller sees."""
    store = open_store(
        "s3://bucket/prefix", s3_endpoint_url="http://127.0.0.1:9", s3_region="us-east-1"
    )
    for call in (
        store.ping,
        lambda: store.exists("k"),
        lambda: store.get("k"),
        lambda: store.put("k", b"x"),
        lambda: store.list("k"),
        lambda: store.delete("k"),
    ):
        with pytest.raises(StorageUnavailableError) as caught:
            call()
        assert "127.0.0.1" not in str(caught.value.to_dict())


def test_a_missing_object_is_missing_not_unavailable(store: ArtifactStore) -> None:
    with pytest.raises(ArtifactNotFoundError) as caught:
        store.get("models/none/manifest.json")
    assert caught.value.code is ErrorCode.ARTIFACT_MISSING
    assert not caught.value.retryable


def test_an_operating_system_failure_is_storage_unavailable(tmp_path: Path) -> None:
    """What a full or read-only disk does to a write (an OSError), shown the way root
    cannot be stopped by permissions: a file stands where a folder must be made."""
    store = FileStore(tmp_path / "fs")
    store.put("a/one", b"1")
    for call in (lambda: store.put("a/one/two", b"2"), lambda: store.get("a/one/two")):
        with pytest.raises(StorageUnavailableError) as caught:
            call()
        assert str(tmp_path) not in str(caught.value.to_dict())


def test_open_store_rejects_unknown_schemes() -> None:
    with pytest.raises(ValueError, match="unsupported"):
        open_store("ftp://host/x")


def test_file_store_sweeps_only_old_temporary_files(file_store: FileStore) -> None:
    """A write killed midway leaves a `.tmp-` file; listing hides it, the sweep removes it."""
    file_store.put("m/s/x/kept", b"k")
    folder = file_store.root / "m" / "s" / "x"
    old, young = folder / ".tmp-old", folder / ".tmp-young"
    old.write_bytes(b"half")
    young.write_bytes(b"in progress")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert file_store.list("m/") == ["m/s/x/kept"]
    assert file_store.remove_temp(time.time() - 3600) == 1
    assert not old.exists()
    assert young.exists()
    assert file_store.get("m/s/x/kept") == b"k"
