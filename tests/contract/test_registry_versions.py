"""Registry contract, versions and catalogue (REG-1..5, CONS-2, CONS-3): memory and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple
from datetime import UTC, datetime, timedelta

import pytest

from sigmawatch.artifacts import FileStore
from sigmawatch.artifacts.manifest import read_manifest
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import API, CatalogueQuery, Registry
from sigmawatch.settings import TrainingSettings
from sigmawatch.training import TrainResult
from support.training import train


def test_versions_count_up_and_new_ones_become_production(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    names = [train(any_registry, file_store, settings, "s1", seed).record.name for seed in range(3)]
    assert names == ["v1", "v2", "v3"]
    assert any_registry.get_production("s1").name == "v3"
    held = train(any_registry, file_store, settings, "s1", 99, promote=False)
    assert held.record.name == "v4"
    assert not held.record.is_production
    assert any_registry.get_production("s1").name == "v3"


def test_first_version_is_production_even_without_promote(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    result = train(any_registry, file_store, settings, "s2", 0, promote=False)
    assert result.record.is_production


def test_same_data_and_spec_is_the_same_version(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    first = train(any_registry, file_store, settings, "s3", 1)
    again = train(any_registry, file_store, settings, "s3", 1)
    assert (first.created, again.created) == (True, False)
    assert again.record.name == "v1"
    other_spec = train(any_registry, file_store, settings, "s3", 1, detector={"kind": "mad"})
    assert other_spec.created
    assert other_spec.record.name == "v2"


def test_same_data_at_once_from_many_threads_makes_one_version(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    barrier = threading.Barrier(8)

    def go(_: int) -> TrainResult:
        barrier.wait()
        return train(any_registry, file_store, settings, "race", 7)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(go, range(8)))
    assert sum(r.created for r in results) == 1
    assert {r.record.name for r in results} == {"v1"}
    assert [r.name for r in any_registry.list_versions("race")] == ["v1"]


def test_different_data_at_once_gets_consecutive_versions(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    barrier = threading.Barrier(8)

    def go(seed: int) -> TrainResult:
        barrier.wait()
        return train(any_registry, file_store, settings, "race2", seed)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(go, range(8)))
    assert all(r.created for r in results)
    assert sorted(r.record.version for r in results) == list(range(1, 9))
    assert [r.version for r in any_registry.list_versions("race2")] == list(range(1, 9))


def test_lookup_errors_have_stable_codes(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    train(any_registry, file_store, settings, "rb", 0)
    calls: list[tuple[ErrorCode, Callable[[], object]]] = [
        (ErrorCode.INVALID_VERSION, lambda: any_registry.set_production("rb", 5, by=API)),
        (ErrorCode.MODEL_NOT_FOUND, lambda: any_registry.set_production("nobody", 1, by=API)),
        (ErrorCode.MODEL_NOT_FOUND, lambda: any_registry.get_production("nobody")),
        (ErrorCode.MODEL_NOT_FOUND, lambda: any_registry.list_versions("nobody")),
        (ErrorCode.MODEL_NOT_FOUND, lambda: any_registry.get_version("nobody", 1)),
    ]
    for code, call in calls:
        with pytest.raises(SigmawatchError) as caught:
            call()
        assert caught.value.code is code
    assert any_registry.get_series("nobody") is None


def test_catalogue_filters_and_pages_with_a_cursor(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    for i in range(7):
        kind = "mad" if i % 2 else "zscore"
        train(any_registry, file_store, settings, f"pump_{i}", i, detector={"kind": kind})
    train(any_registry, file_store, settings, "pumpX", 50)  # "_" must not act as a wildcard
    train(any_registry, file_store, settings, "pump_0", 51)
    seen: list[tuple[str, str]] = []
    cursor = None
    while True:
        page = any_registry.search(CatalogueQuery(series_prefix="pump_", limit=3, cursor=cursor))
        seen += [(r.series_id, r.name) for r in page.items]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == 8
    assert seen == sorted(seen)
    assert ("pumpX", "v1") not in seen
    mad = any_registry.search(CatalogueQuery(detector_kind="mad")).items
    assert {r.series_id for r in mad} == {"pump_1", "pump_3", "pump_5"}
    production = any_registry.search(CatalogueQuery(series_prefix="pump_0", production_only=True))
    assert [(r.series_id, r.name) for r in production.items] == [("pump_0", "v2")]
    any_registry.set_production("pump_0", 1, by=API)  # the filter follows the pointer
    production = any_registry.search(CatalogueQuery(series_prefix="pump_0", production_only=True))
    assert [(r.series_id, r.name, r.is_production) for r in production.items] == [
        ("pump_0", "v1", True)
    ]
    mad_production = CatalogueQuery(detector_kind="mad", production_only=True)
    assert {r.series_id for r in any_registry.search(mad_production).items} == {
        "pump_1",
        "pump_3",
        "pump_5",
    }
    for bad, code in (
        (CatalogueQuery(cursor="not-a-cursor"), ErrorCode.INVALID_CURSOR),
        (CatalogueQuery(detector_kind="\x00"), ErrorCode.INVALID_REQUEST),
        (CatalogueQuery(status="gone"), ErrorCode.INVALID_REQUEST),
    ):
        with pytest.raises(SigmawatchError) as caught:
            any_registry.search(bad)
        assert caught.value.code is code


def test_usage_counts_rank_the_warm_up(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    for i in range(3):
        train(any_registry, file_store, settings, f"u{i}", i)
    any_registry.record_usage({"u2": 50, "u0": 5})
    any_registry.record_usage({"u2": 1, "nobody": 3})
    assert [r.series_id for r in any_registry.most_used(2)] == ["u2", "u0"]
    series = any_registry.get_series("u2")
    assert series is not None
    assert series.usage_count == 51
    assert any_registry.count_served(prefix="") == 3
    assert any_registry.count_served(prefix="u1") == 1
    assert any_registry.count_served(ids=["u0", "u1", "nobody"]) == 2


def test_the_warm_up_ranks_recent_use_above_old_use(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    """MOD-7: use decays with a one-week half-life; the total count stays whole."""
    for name in ("last_month", "today", "steady"):
        train(any_registry, file_store, settings, name, 0)
    now = datetime.now(UTC)
    any_registry.record_usage({"last_month": 1_000}, at=now - timedelta(days=30))
    any_registry.record_usage({"today": 100}, at=now)  # 1,000 * 2^-(30/7) ≈ 51 < 100
    for days in (21, 14, 7, 0):  # 40 a week for a month: ≈ 40 + 20 + 10 + 5 = 75
        any_registry.record_usage({"steady": 40}, at=now - timedelta(days=days))
    assert [r.series_id for r in any_registry.most_used(3)] == ["today", "steady", "last_month"]
    series = any_registry.get_series("last_month")
    assert series is not None
    assert series.usage_count == 1_000


def test_run_outcomes_are_summarised_with_an_example_of_the_top_error(
    any_registry: Registry,
) -> None:
    for series_id in ("a", "b"):
        any_registry.record_result("run", series_id, "created", version=1)
    any_registry.record_result("run", "c", "existing", version=1)
    for series_id in ("d", "e"):
        error = SigmawatchError(ErrorCode.CONSTANT_SERIES, f"{series_id} is constant")
        any_registry.record_result("run", series_id, "failed", error=error)
    any_registry.record_result(
        "run", "ab", "failed", error=SigmawatchError(ErrorCode.DATA_NOT_FOUND, "no data")
    )
    any_registry.record_result("run", "a", "existing", version=1)  # a retried pod overwrites
    summary = any_registry.run_summary("run")
    assert (summary.total, summary.created, summary.existing, summary.failed) == (6, 1, 2, 3)
    assert summary.errors == {"CONSTANT_SERIES": 2, "DATA_NOT_FOUND": 1}
    assert summary.top_error == {
        "code": "CONSTANT_SERIES",
        "series_id": "d",
        "message": "d is constant",
    }
    assert any_registry.run_summary("other").total == 0
    assert any_registry.prune_results(1) == 0  # nothing that old


def test_production_states_give_each_fitted_detector_most_used_first(
    any_registry: Registry, file_store: FileStore, settings: TrainingSettings
) -> None:
    """Issue 10: what the resident table is built from, the artifact's numbers exactly."""
    for i, kind in enumerate(("zscore", "mad", "zscore")):
        train(any_registry, file_store, settings, f"st{i}", i, detector={"kind": kind})
    newer = train(any_registry, file_store, settings, "st0", 9)  # production moves to v2
    train(any_registry, file_store, settings, "st1", 8, promote=False)  # production stays v1
    any_registry.record_usage({"st2": 5, "st1": 3})
    asked = [("zscore", "mean", "std"), ("mad", "median", "scale")]
    chunks = list(any_registry.centre_scale_states(asked, 10, chunk=2))
    assert [len(c.series_ids) for c in chunks] == [2, 1]
    rows = [row for c in chunks for row in zip(*astuple(c), strict=True)]
    assert [row[:3] for row in rows] == [("st2", 1, 0), ("st1", 1, 1), ("st0", 2, 0)]
    manifest = read_manifest(file_store, newer.record.artifact_prefix, newer.record.manifest_sha256)
    assert rows[2][3:8] == (
        3.0,
        manifest["state"]["mean"],
        manifest["state"]["std"],
        newer.record.training_start,
        newer.record.training_end,
    )
    # OBS-2: the training quantiles, the edges of the version's drift bins.
    stats = newer.record.stats
    assert rows[2][8].tolist() == [stats[f"p{q}"] for q in (1, 5, 25, 50, 75, 95, 99)]
    assert any_registry.get_version("st0", 2).state == manifest["state"]
    only = any_registry.centre_scale_states(asked[1:], 10, series_ids=["st0", "st1"])
    assert [s for c in only for s in c.series_ids] == ["st1"]
    first = any_registry.centre_scale_states(asked, 1)
    assert [s for c in first for s in c.series_ids] == ["st2"]
    # Every row, in any order: the same rows (the resident load when everyone fits).
    unordered = any_registry.centre_scale_states(asked, 3, chunk=2, ordered=False)
    by_id = {row[0]: row for c in unordered for row in zip(*astuple(c), strict=True)}
    assert sorted(by_id) == ["st0", "st1", "st2"]
    for row in rows:
        found = by_id[row[0]]
        assert found[:8] == row[:8]
        assert found[8].tolist() == row[8].tolist()
    assert any_registry.served_footprint() == (3, 9)  # three ids of three characters
