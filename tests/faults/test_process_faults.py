"""Processes killed: the embedded PostgreSQL, and the service in the middle of
training (AV-1, DUR-2).

A killed embedded server is started again by the service that started it;
a killed service leaves no half version, and the janitor removes what the
kill left in the store; a service killed with SIGKILL no longer keeps the
embedded server from ever being stopped.
"""

from __future__ import annotations

import os
import random
import signal
import threading
import time
from pathlib import Path

import httpx

from sigmawatch.artifacts import open_store
from sigmawatch.artifacts.manifest import read_manifest
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.janitor import sweep
from sigmawatch.registry.embedded import embedded_running
from sigmawatch.registry.postgres import PostgresRegistry
from sigmawatch.registry.records import VersionRecord
from support.data import series_data, train_body
from support.procs import wait_for
from support.service import Service, ServiceFactory

from .conftest import FAST_BREAKER

TS = int(series_data()[0][-1])


def _data_dir(service: Service) -> Path:
    return Path(service.process.env["SIGMAWATCH_DATA_DIR"])


def _postmaster(data_dir: Path) -> int:
    return int((data_dir / "postgres" / "postmaster.pid").read_text().split()[0])


def _kill_service_only(service: Service) -> None:
    """SIGKILL the service's own process, not the embedded server it started."""
    assert service.process.proc is not None
    os.kill(service.process.proc.pid, signal.SIGKILL)
    service.process.proc.wait(10)


def test_a_killed_embedded_postgres_is_restarted_by_the_service(
    make_service: ServiceFactory, tmp_path: Path
) -> None:
    env = {**FAST_BREAKER, "SIGMAWATCH_DATA_DIR": str(tmp_path / "data")}
    service = make_service("embedded-supervised", env=env)
    data_dir = _data_dir(service)
    with service.client() as client:
        assert client.post("/v1/series/emb/train", json=train_body()).status_code == 201
        point = {"timestamp": TS, "value": 11.0}
        assert client.post("/v1/series/emb/predict", json=point).status_code == 200
        killed = _postmaster(data_dir)
        os.kill(killed, signal.SIGKILL)
        assert client.post("/v1/series/emb/predict", json=point).status_code == 200
        wait_for(
            lambda: (
                client.get("/v1/series/emb/versions").status_code == 200
                and _postmaster(data_dir) != killed
            ),
            timeout=30,
            what="the service to restart its embedded PostgreSQL",
        )
        assert client.post("/v1/series/emb/train", json=train_body(seed=1)).status_code == 201
    assert "embedded PostgreSQL restarted" in service.process.log_path.read_text()

    # SIGTERM right after the server died again: prompt, and the server stays stopped.
    os.kill(_postmaster(data_dir), signal.SIGKILL)
    started = time.monotonic()
    service.stop()
    took = time.monotonic() - started
    assert took < 5.0, f"SIGTERM took {took:.1f} s after the embedded server died"
    wait_for(lambda: not embedded_running(data_dir), timeout=15, what="no embedded server left")


def test_a_service_killed_with_sigkill_does_not_keep_the_embedded_server_forever(
    make_service: ServiceFactory, tmp_path: Path
) -> None:
    first = make_service("embedded-killed", env={"SIGMAWATCH_DATA_DIR": str(tmp_path / "data")})
    data_dir = _data_dir(first)
    _kill_service_only(first)
    assert embedded_running(data_dir), "the server outlives the killed process"
    second = make_service("embedded-next", env={"SIGMAWATCH_DATA_DIR": str(data_dir)})
    second.stop()
    wait_for(
        lambda: not embedded_running(data_dir),
        timeout=15,
        what="the last live user to stop the embedded server",
    )


def _train_until_killed(service: Service, series: str, seed: int) -> None:
    body = train_body(100_000, seed=seed)
    try:
        with httpx.Client(base_url=service.url, timeout=30) as client:
            client.post(f"/v1/series/{series}/train", json=body)
    except httpx.HTTPError:
        pass  # killed mid-request, as intended


def test_sigkill_mid_training_leaves_no_half_version_and_the_janitor_cleans_up(
    make_service: ServiceFactory,
) -> None:
    rng = random.Random(16)
    for kill in range(6):
        service = make_service(f"killed-training-{kill}", shares="killed-training")
        trainings = [
            threading.Thread(target=_train_until_killed, args=(service, f"k{i}", kill * 10 + i))
            for i in range(3)
        ]
        for thread in trainings:
            thread.start()
        time.sleep(rng.uniform(0.1, 0.6))
        _kill_service_only(service)
        for thread in trainings:
            thread.join(timeout=30)
    env = service.process.env
    registry = PostgresRegistry(env["SIGMAWATCH_DATABASE_URL"], max_size=2)
    registry.open()
    store = open_store(env["SIGMAWATCH_ARTIFACTS_URL"])
    root = Path(env["SIGMAWATCH_ARTIFACTS_URL"].removeprefix("file://"))
    # What a kill can leave, planted too so the janitor surely has work:
    store.put("models/k0/ffffffffffffffffffff-ffffffffffff/manifest.json", b"{}")
    (root / "models" / "k0" / ".tmp-killed").write_bytes(b"half a write")
    try:
        versions = [
            record for series in ("k0", "k1", "k2") for record in _versions(registry, series)
        ]
        for record in versions:  # no half version: every registered one loads, hash-checked
            read_manifest(store, record.artifact_prefix, record.manifest_sha256)
        left = sweep(registry, store, grace_s=0, dry_run=True).prefixes_removed
        assert "models/k0/ffffffffffffffffffff-ffffffffffff/" in left

        cleaner = make_service(
            "janitor-after-kills",
            shares="killed-training",
            env={"SIGMAWATCH_JANITOR_GRACE_S": "0", "SIGMAWATCH_JANITOR_INTERVAL_S": "3600"},
        )
        wait_for(
            lambda: (
                not sweep(registry, store, grace_s=0, dry_run=True).prefixes_removed
                and not list(root.rglob(".tmp-*"))
            ),
            timeout=30,
            what="the service's janitor to remove orphans and temporary files",
        )
        for record in versions:
            read_manifest(store, record.artifact_prefix, record.manifest_sha256)
        cleaner.stop()
    finally:
        registry.close()


def _versions(registry: PostgresRegistry, series: str) -> list[VersionRecord]:
    try:
        return registry.list_versions(series)
    except SigmawatchError as exc:  # never trained before a kill
        if exc.code is not ErrorCode.MODEL_NOT_FOUND:
            raise
        return []
