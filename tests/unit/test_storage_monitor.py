"""Storage checks off the request path: pings every interval, the series count rarely."""

from __future__ import annotations

from pathlib import Path
from typing import cast

from sigmawatch.artifacts import FileStore
from sigmawatch.registry import Registry
from sigmawatch.registry.memory import MemoryRegistry
from sigmawatch_inference import storage_monitor
from sigmawatch_inference.metrics import Metrics
from sigmawatch_inference.storage_monitor import StorageMonitor
from support.serving import SpyRegistry


def test_the_series_table_is_counted_only_when_it_changed_or_long_ago(tmp_path: Path) -> None:
    spy = SpyRegistry(MemoryRegistry())
    changes = [0]
    monitor = StorageMonitor(
        cast(Registry, spy), FileStore(tmp_path), Metrics(), changes=lambda: changes[0]
    )
    for second in range(0, 60, 2):  # a quiet minute of checks every 2 s
        assert monitor.check(now=1000.0 + second).ok
    assert spy.calls["ping"] == 30
    assert spy.calls["count_served"] == 1
    changes[0] += 1  # a version was trained somewhere
    monitor.check(now=1062.0)
    assert spy.calls["count_served"] == 2
    changes[0] += 1
    monitor.check(now=1063.0)  # changes keep coming: still at most one count per gap
    assert spy.calls["count_served"] == 2
    monitor.check(now=1062.0 + storage_monitor.COUNT_MIN_GAP_S)
    assert spy.calls["count_served"] == 3
    monitor.check(now=1062.0 + storage_monitor.COUNT_MAX_AGE_S + 10)
    assert spy.calls["count_served"] == 4


def test_an_outage_is_reported_without_its_internals(tmp_path: Path) -> None:
    memory = MemoryRegistry()
    metrics = Metrics()
    monitor = StorageMonitor(memory, FileStore(tmp_path), metrics)
    assert monitor.check(now=1.0).ok
    memory.down = True
    state = monitor.check(now=3.0)
    assert not state.ok
    assert state.reason == "the model registry does not answer"
    assert metrics.collectors.get_sample_value("sigmawatch_storage_up") == 0
