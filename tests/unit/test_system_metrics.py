"""OBS-1 system metrics and OBS-2 errors per version, in process, as a scrape shows them.

The app runs on the in-memory registry through httpx's ASGI transport, in an
event loop of the test's own: that loop's thread pool is the one /metrics
reports. A registry hook holds model loads (or fails them) to make the
states a scrape must show: requests in flight, a saturated pool, a version
that cannot load.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import httpx
import numpy as np
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from sigmawatch.artifacts import store_for
from sigmawatch.errors import ErrorCode, StorageUnavailableError
from sigmawatch.registry import Registry
from sigmawatch.registry.embedded import EmbeddedSupervisor
from sigmawatch.registry.memory import MemoryRegistry
from sigmawatch.training import train_series
from sigmawatch.training_job import Exit
from sigmawatch_inference import cli
from sigmawatch_inference.app import create_app
from sigmawatch_inference.points import PointsRequest
from sigmawatch_inference.services import Services
from sigmawatch_inference.settings import ServiceSettings
from support.data import START, series_data
from support.procs import wait_for
from support.serving import SpyRegistry, Stack, run_async

TS = START + 300 * 500
POINT = {"timestamp": TS, "value": 10.0}


@dataclass
class Served:
    app: FastAPI
    spy: SpyRegistry


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """A started service with one trained series, nothing of it in memory yet."""
    settings = ServiceSettings(
        data_dir=tmp_path,
        min_training_points=100,
        resident_max_bytes=0,  # every predict goes through the cache and model loads
        warmup_top_n=0,
        stats_flush_interval_s=0.2,
        stats_bucket_s=1,
    )
    memory = MemoryRegistry()
    train_series(
        "s1", *series_data(500), registry=memory, store=store_for(settings), settings=settings
    )
    spy = SpyRegistry(memory)
    services = Services(settings, open_registry=lambda _s, _b: cast(Registry, spy))
    starting = threading.Thread(target=services.start)
    starting.start()
    try:
        wait_for(services.ready.is_set, timeout=15, what="start-up")
        yield Served(create_app(settings, services), spy)
    finally:
        services.stop()
        starting.join(10)


def in_loop[T](app: FastAPI, scenario: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    async def run() -> T:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            return await scenario(client)

    return run_async(run())


async def scrape(client: httpx.AsyncClient) -> dict[str, float]:
    """Every sample of /metrics, keyed `name{label="value",...}` (labels sorted)."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
            samples[f"{s.name}{{{labels}}}" if labels else s.name] = s.value
    return samples


def test_process_cpu_memory_and_open_files_are_exported(served: Served) -> None:
    async def scenario(client: httpx.AsyncClient) -> tuple[dict[str, float], dict[str, float]]:
        before = await scrape(client)
        files = [open(os.devnull) for _ in range(25)]  # noqa: SIM115  # closed below
        try:
            return before, await scrape(client)
        finally:
            for file in files:
                file.close()

    before, after = in_loop(served.app, scenario)
    assert after["process_resident_memory_bytes"] > 20 * 2**20  # numpy, FastAPI: tens of MB
    assert after["process_cpu_seconds_total"] > 0
    assert after["process_open_fds"] - before["process_open_fds"] >= 20
    assert after["process_max_fds"] >= after["process_open_fds"]
    # Models in memory beside what the registry serves (one series trained, none loaded).
    assert (after["sigmawatch_series_trained"], after["sigmawatch_models_cached"]) == (1, 0)
    assert after["sigmawatch_models_resident"] == 0


def test_the_data_folders_disk_space_is_exported_and_follows_what_is_written(
    served: Served,
) -> None:
    """OBS-1: what SigmawatchDataDiskLow reads; a file written there shows at once."""
    data_dir = served.app.state.services.settings.data_dir
    big = data_dir / "filler.bin"

    async def scenario(client: httpx.AsyncClient) -> tuple[dict[str, float], dict[str, float]]:
        before = await scrape(client)
        with big.open("wb") as file:
            file.write(os.urandom(32 * 2**20))
            file.flush()
            os.fsync(file.fileno())
        try:
            return before, await scrape(client)
        finally:
            big.unlink()

    before, after = in_loop(served.app, scenario)
    assert before["sigmawatch_data_dir_size_bytes"] == shutil.disk_usage(data_dir).total
    assert 0 < after["sigmawatch_data_dir_free_bytes"] < before["sigmawatch_data_dir_size_bytes"]
    freed = before["sigmawatch_data_dir_free_bytes"] - after["sigmawatch_data_dir_free_bytes"]
    assert freed >= 16 * 2**20, freed  # 32 MiB written, whatever else the machine did


def test_in_flight_requests_and_queued_thread_pool_work_show_while_loads_wait(
    served: Served,
) -> None:
    """42 predicts whose model loads wait on the registry: 40 hold every pool thread,
    2 queue for one; all 42 (and the scrape) are in flight; all drain after."""
    gate = threading.Event()

    def hold(*_: Any) -> None:
        gate.wait(30)

    served.spy.before["get_production"] = hold

    async def scenario(client: httpx.AsyncClient) -> tuple[dict[str, float], ...]:
        idle = await scrape(client)
        n = int(idle["sigmawatch_thread_pool_size"]) + 2
        calls = [client.post("/v1/series/s1/predict", json=POINT) for _ in range(n)]
        waiting = [asyncio.create_task(call) for call in calls]
        try:
            for _ in range(500):
                during = await scrape(client)
                if during["sigmawatch_thread_pool_queued"] >= 2:
                    break
                await asyncio.sleep(0.02)
        finally:
            gate.set()
        answers = await asyncio.gather(*waiting)
        assert [a.status_code for a in answers] == [200] * n
        return idle, during, await scrape(client)

    idle, during, after = in_loop(served.app, scenario)
    size = idle["sigmawatch_thread_pool_size"]
    assert size == 40  # anyio's default
    assert (idle["sigmawatch_http_requests_in_flight"], idle["sigmawatch_thread_pool_busy"]) == (
        1,  # the scrape itself
        0,
    )
    assert during["sigmawatch_http_requests_in_flight"] == size + 2 + 1
    assert during["sigmawatch_thread_pool_busy"] == size
    assert during["sigmawatch_thread_pool_queued"] == 2
    assert after["sigmawatch_http_requests_in_flight"] == 1
    assert (after["sigmawatch_thread_pool_busy"], after["sigmawatch_thread_pool_queued"]) == (0, 0)


def registry_down(*_: Any) -> None:
    raise StorageUnavailableError("the registry does not answer")


def test_a_version_that_cannot_load_shows_its_errors_in_its_stats_and_metrics(
    served: Served,
) -> None:
    """OBS-2: a pinned version whose model cannot load (registry down) is answered 503;
    its stats count the point as its error, and /metrics by role. An unknown series is
    the caller's mistake and counts nowhere."""
    served.spy.before["get_version"] = registry_down

    async def scenario(client: httpx.AsyncClient) -> tuple[dict[str, Any], dict[str, float]]:
        failed = await client.post("/v1/series/s1/predict?version=v1", json=POINT)
        assert failed.status_code == 503
        assert failed.json()["error"]["code"] == ErrorCode.STORAGE_UNAVAILABLE
        del served.spy.before["get_version"]
        unknown = await client.post("/v1/series/ghost/predict?version=v1", json=POINT)
        assert unknown.json()["error"]["code"] == ErrorCode.MODEL_NOT_FOUND
        for _ in range(200):  # the statistics flush runs every 0.2 s
            stats = (await client.get("/v1/series/s1/versions/v1/stats")).json()
            if stats["errors"]:
                break
            await asyncio.sleep(0.05)
        return stats, await scrape(client)

    stats, metrics = in_loop(served.app, scenario)
    assert (stats["predictions"], stats["errors"], stats["error_rate"]) == (0, 1, 1.0)
    assert metrics['sigmawatch_version_errors_total{role="served"}'] == 1
    assert metrics['sigmawatch_version_errors_total{role="candidate"}'] == 0


def point(series_id: str) -> PointsRequest:
    return PointsRequest(series_id, None, np.array([TS]), np.array([10.0]))


def test_batch_items_count_errors_on_the_production_version_they_were_meant_for(
    tmp_path: Path,
) -> None:
    """With the registry down, items of a series whose model left the cache fail: the
    cached production pointer names the version that erred. A series never seen has no
    version to name: Prometheus counts its points, the stats cannot."""
    stack = Stack(tmp_path)
    stack.train("b1")
    stack.train("b2", seed=1)
    stack.cache.max_entries = 1
    for series_id in ("b1", "b2"):  # b1's model is evicted, its pointer stays
        run_async(stack.predictor.predict(point(series_id)))
    stack.stats.take()
    stack.spy.before["get_production"] = registry_down
    answers = run_async(stack.predictor.predict_many([point("b1"), point("b1"), point("b3")]))
    assert [getattr(a, "code", None) for a in answers] == [ErrorCode.STORAGE_UNAVAILABLE] * 3
    rows = {(r.series_id, r.version): r.errors for r in stack.stats.take()}
    assert rows == {("b1", 1): 2}
    assert stack.counter("sigmawatch_version_errors_total", role="served") == 3


@pytest.mark.parametrize("how", ["flag", "environment"])
def test_more_than_one_worker_is_refused_before_anything_starts(
    how: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """One process per pod (docs/decisions/0018): `--workers 2` or SIGMAWATCH_WORKERS=2
    exit 2 with the reason, before the embedded PostgreSQL or a signal handler is set up."""
    monkeypatch.setenv("SIGMAWATCH_DATA_DIR", str(tmp_path))
    argv = ["serve", "--workers", "2"]
    if how == "environment":
        monkeypatch.setenv("SIGMAWATCH_WORKERS", "2")
        argv = ["serve"]

    def started(*_: Any, **__: Any) -> None:  # so a missing refusal fails, not serves
        raise AssertionError("serve went on to start the service")

    monkeypatch.setattr("uvicorn.run", started)
    monkeypatch.setattr(EmbeddedSupervisor, "start", started)
    handler = signal.getsignal(signal.SIGTERM)
    assert cli.main(argv) == Exit.INVALID
    error = capsys.readouterr().err
    assert "SIGMAWATCH_WORKERS: 2 workers refused: one process per pod" in error
    assert "docs/decisions/0018-one-worker-per-pod.md" in error
    assert signal.getsignal(signal.SIGTERM) is handler
    assert list(tmp_path.iterdir()) == []
