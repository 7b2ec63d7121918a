"""The registry on a real PostgreSQL (REG-1..6, CONS-2, CONS-3)."""

from __future__ import annotations

import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psycopg
import pytest

from sigmawatch.artifacts import FileStore
from sigmawatch.datasets import write_training_file
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.lifecycle import restore_version
from sigmawatch.registry import CHANNEL, CatalogueQuery, Registry, search
from sigmawatch.registry.runs import prune_results, record_result, run_summary
from sigmawatch.registry.schema import available, migrate
from sigmawatch.settings import Settings
from sigmawatch.training import TrainResult, train_series
from support.data import series_data
from support.service import SOURCE_ROOTS


def train(
    registry: Registry,
    store: FileStore,
    settings: Settings,
    series: str,
    seed: int,
    *,
    promote: bool = True,
    detector: dict[str, Any] | None = None,
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
    )


def test_versions_count_up_and_new_ones_become_production(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    names = [train(registry, file_store, settings, "s1", seed).record.name for seed in range(3)]
    assert names == ["v1", "v2", "v3"]
    assert registry.get_production("s1").name == "v3"
    held = train(registry, file_store, settings, "s1", 99, promote=False)
    assert held.record.name == "v4"
    assert not held.record.is_production
    assert registry.get_production("s1").name == "v3"


def test_first_version_is_production_even_without_promote(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    result = train(registry, file_store, settings, "s2", 0, promote=False)
    assert result.record.is_production


def test_same_data_and_spec_is_the_same_version(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    first = train(registry, file_store, settings, "s3", 1)
    again = train(registry, file_store, settings, "s3", 1)
    assert (first.created, again.created) == (True, False)
    assert again.record.name == "v1"
    other_spec = train(registry, file_store, settings, "s3", 1, detector={"kind": "mad"})
    assert other_spec.created
    assert other_spec.record.name == "v2"


def test_same_data_at_once_from_many_threads_makes_one_version(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    barrier = threading.Barrier(8)

    def go(_: int) -> TrainResult:
        barrier.wait()
        return train(registry, file_store, settings, "race", 7)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(go, range(8)))
    assert sum(r.created for r in results) == 1
    assert {r.record.name for r in results} == {"v1"}
    assert [r.name for r in registry.list_versions("race")] == ["v1"]


def test_different_data_at_once_gets_consecutive_versions(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    barrier = threading.Barrier(8)

    def go(seed: int) -> TrainResult:
        barrier.wait()
        return train(registry, file_store, settings, "race2", seed)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(go, range(8)))
    assert all(r.created for r in results)
    assert sorted(r.record.version for r in results) == list(range(1, 9))
    assert [r.version for r in registry.list_versions("race2")] == list(range(1, 9))


def test_concurrent_trainings_from_separate_processes(database_url: str, tmp_path: Path) -> None:
    files = []
    for seed in range(4):
        path = tmp_path / f"data{seed}.npy"
        write_training_file(path, *series_data(10_000, seed=seed))
        files.append(path)
    env = {
        "PYTHONPATH": SOURCE_ROOTS,
        "SIGMAWATCH_DATABASE_URL": database_url,
        "SIGMAWATCH_ARTIFACTS_URL": (tmp_path / "artifacts").as_uri(),
        "SIGMAWATCH_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sigmawatch_inference.cli",
                "train",
                "--series",
                "proc",
                "--file",
                str(f),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files + files  # every file twice: 4 new versions, 4 repeats
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    lines = sorted(out.strip() for out, _ in outputs)
    assert sum("created" in line for line in lines) == 4
    assert sum("already existed" in line for line in lines) == 4
    registry = Registry(database_url)
    registry.open()
    try:
        assert [r.version for r in registry.list_versions("proc")] == [1, 2, 3, 4]
    finally:
        registry.close()


def test_retention_archives_beyond_ten_and_keeps_metadata(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    archived = []
    for seed in range(12):
        archived += train(registry, file_store, settings, "ret", seed).archived
    assert archived == ["v1", "v2"]
    records = {r.name: r for r in registry.list_versions("ret")}
    assert [n for n, r in records.items() if r.status == "archived"] == ["v1", "v2"]
    assert records["v1"].stats["n_points"] == 10_000  # metadata kept
    assert records["v1"].artifact_prefix.startswith("archive/")
    assert file_store.exists(records["v1"].artifact_prefix + "manifest.json")
    assert not file_store.list(records["v1"].artifact_prefix.removeprefix("archive/"))
    with pytest.raises(SigmawatchError) as caught:
        registry.set_production("ret", 1)
    assert caught.value.code is ErrorCode.VERSION_ARCHIVED


def test_production_version_is_never_archived(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    train(registry, file_store, settings, "pinned", 0)
    for seed in range(1, 3):
        train(registry, file_store, settings, "pinned", seed)
    registry.set_production("pinned", 1)
    for seed in range(3, 13):
        train(registry, file_store, settings, "pinned", seed, promote=False)
    statuses = {r.name: r.status for r in registry.list_versions("pinned")}
    assert statuses["v1"] == "active"
    assert registry.get_production("pinned").name == "v1"
    assert [n for n, s in statuses.items() if s == "archived"] == ["v2", "v3"]


def test_restore_brings_an_archived_version_back(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    for seed in range(11):
        train(registry, file_store, settings, "back", seed)
    record = restore_version(registry, file_store, "back", 1)
    assert record.status == "active"
    assert not record.artifact_prefix.startswith("archive/")
    assert file_store.exists(record.artifact_prefix + "manifest.json")
    assert not file_store.list("archive/" + record.artifact_prefix)
    assert registry.set_production("back", 1).is_production


def test_rollback_errors_have_stable_codes(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    train(registry, file_store, settings, "rb", 0)
    with pytest.raises(SigmawatchError) as missing_version:
        registry.set_production("rb", 5)
    assert missing_version.value.code is ErrorCode.INVALID_VERSION
    with pytest.raises(SigmawatchError) as missing_series:
        registry.set_production("nobody", 1)
    assert missing_series.value.code is ErrorCode.MODEL_NOT_FOUND


def test_catalogue_filters_and_pages_with_a_cursor(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    for i in range(7):
        train(
            registry,
            file_store,
            settings,
            f"pump_{i}",
            i,
            detector={"kind": "mad" if i % 2 else "zscore"},
        )
    train(registry, file_store, settings, "pumpX", 50)  # "_" must not act as a wildcard
    train(registry, file_store, settings, "pump_0", 51)
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        page, cursor = search(
            registry, CatalogueQuery(series_prefix="pump_", limit=3, cursor=cursor)
        )
        seen += [(r.series_id, r.name) for r in page]
        if cursor is None:
            break
    assert len(seen) == 8
    assert seen == sorted(seen)
    assert ("pumpX", "v1") not in seen
    mad, _ = search(registry, CatalogueQuery(detector_kind="mad"))
    assert {r.series_id for r in mad} == {"pump_1", "pump_3", "pump_5"}
    production, _ = search(registry, CatalogueQuery(series_prefix="pump_0", production_only=True))
    assert [(r.series_id, r.name) for r in production] == [("pump_0", "v2")]
    with pytest.raises(SigmawatchError) as bad:
        search(registry, CatalogueQuery(cursor="not-a-cursor"))
    assert bad.value.code is ErrorCode.INVALID_CURSOR


def test_migrations_run_once_even_when_started_together(database_url: str) -> None:
    barrier = threading.Barrier(4)

    def go(_: int) -> list[int]:
        with psycopg.connect(database_url, autocommit=True) as conn:
            barrier.wait()
            return migrate(conn)

    with ThreadPoolExecutor(4) as pool:
        applied = list(pool.map(go, range(4)))
    # One starter applies every migration; the others find nothing left to do.
    assert sorted(len(a) for a in applied) == [0, 0, 0, len(available())]


def test_new_versions_and_rollbacks_are_notified(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    with psycopg.connect(registry.url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        train(registry, file_store, settings, "heard", 0)
        train(registry, file_store, settings, "heard", 1)
        registry.set_production("heard", 1)
        events = [n.payload for n in listener.notifies(timeout=2.0, stop_after=3)]
    assert events == [
        '{"series_id":"heard","event":"version"}',
        '{"series_id":"heard","event":"version"}',
        '{"series_id":"heard","event":"production"}',
    ]


def test_usage_counts_rank_the_warm_up(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    for i in range(3):
        train(registry, file_store, settings, f"u{i}", i)
    registry.record_usage({"u2": 50, "u0": 5})
    registry.record_usage({"u2": 1, "nobody": 3})
    assert [r.series_id for r in registry.most_used(2)] == ["u2", "u0"]
    assert registry.get_series("u2").usage_count == 51  # type: ignore[union-attr]
    assert registry.count_trained_series() == 3


def test_concurrent_retention_never_loses_an_artifact(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    tight = settings.model_copy(update={"retention_versions": 2})
    barrier = threading.Barrier(6)

    def go(seed: int) -> TrainResult:
        barrier.wait()
        return train(registry, file_store, tight, "crowd", seed)

    for round_ in range(3):
        with ThreadPoolExecutor(6) as pool:
            list(pool.map(go, range(round_ * 6, round_ * 6 + 6)))
    records = registry.list_versions("crowd")
    assert len(records) == 18
    assert sum(r.status == "active" for r in records) == 2
    # Every version, archived or not, still has its artifact where its row says.
    for record in records:
        assert file_store.exists(record.artifact_prefix + "manifest.json"), record.name
    restored = restore_version(registry, file_store, "crowd", 1)
    assert file_store.exists(restored.artifact_prefix + "manifest.json")


def test_restoring_a_version_whose_archive_vanished_is_refused(
    registry: Registry, file_store: FileStore, settings: Settings
) -> None:
    for seed in range(11):
        train(registry, file_store, settings, "vanished", seed)
    archived = registry.get_version("vanished", 1)
    for key in file_store.list(archived.artifact_prefix):
        file_store.delete(key)
    with pytest.raises(SigmawatchError) as caught:
        restore_version(registry, file_store, "vanished", 1)
    assert caught.value.code is ErrorCode.ARTIFACT_CORRUPT
    assert registry.get_version("vanished", 1).status == "archived"


def test_old_run_outcomes_are_pruned(registry: Registry) -> None:
    record_result(registry, "old-run", "a", "created", version=1)
    record_result(registry, "new-run", "a", "existing", version=1)
    with registry.pool.connection() as conn:
        conn.execute(
            "UPDATE training_results SET finished_at = now() - interval '40 days'"
            " WHERE run_id = 'old-run'"
        )
    assert prune_results(registry, 30) == 1
    assert run_summary(registry, "old-run").total == 0
    assert run_summary(registry, "new-run").existing == 1
