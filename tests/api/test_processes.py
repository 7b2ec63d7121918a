"""Models survive restarts; processes sharing a registry agree (MOD-3, MOD-7, CONS-1)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from support.data import series_data, train_body
from support.procs import wait_for
from support.service import ServiceFactory

TS = int(series_data()[0][-1])


def version_served(client: httpx.Client, series: str) -> str | None:
    response = client.post(f"/v1/series/{series}/predict", json={"timestamp": TS, "value": 10})
    return response.json().get("version") if response.status_code == 200 else None


def test_models_survive_a_restart_on_the_embedded_defaults(
    make_service: ServiceFactory, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Only a data folder: embedded PostgreSQL and file:// artifacts, as `make run`.
    env = {"SIGMAWATCH_DATA_DIR": str(tmp_path_factory.mktemp("restart"))}
    first = make_service("restart-1", env=env)
    with first.client() as client:
        for seed in range(2):
            assert (
                client.post("/v1/series/keep_me/train", json=train_body(seed=seed)).status_code
                == 201
            )
        for _ in range(5):
            assert version_served(client, "keep_me") == "v2"
    first.stop()

    # The embedded PostgreSQL stopped with the service (no server left behind).
    postmaster = Path(env["SIGMAWATCH_DATA_DIR"]) / "postgres" / "postmaster.pid"
    assert not postmaster.exists()

    second = make_service("restart-2", env=env)
    with second.client() as client:
        health = client.get("/healthcheck").json()
        assert health["series_trained"] == 1
        # Before readiness the resident table held the z-score model (issue 10), so
        # the cache's warm-up (MOD-7) had nothing left to load.
        assert (health["models_resident"], health["models_cached"]) == (1, 0)
        assert version_served(client, "keep_me") == "v2"
        assert [
            v["version"] for v in client.get("/v1/series/keep_me/versions").json()["versions"]
        ] == ["v1", "v2"]
        metrics = client.get("/metrics").text
        assert "sigmawatch_models_resident 1.0" in metrics
        assert "sigmawatch_warmup_models 0.0" in metrics


def test_a_second_process_serves_what_the_first_trained(
    make_service: ServiceFactory, tmp_path: Path
) -> None:
    trainer = make_service("shared-a")
    shared = {
        "SIGMAWATCH_DATABASE_URL": trainer.process.env["SIGMAWATCH_DATABASE_URL"],
        "SIGMAWATCH_ARTIFACTS_URL": (
            Path(trainer.process.env["SIGMAWATCH_DATA_DIR"]) / "artifacts"
        ).as_uri(),
        # Notifications must do the work: the periodic refresh is set far out.
        "SIGMAWATCH_REFRESH_INTERVAL_S": "300",
    }
    server = make_service("shared-b", env={**shared, "SIGMAWATCH_DATA_DIR": str(tmp_path)})
    with trainer.client() as a, server.client() as b:
        assert version_served(b, "shared_s") is None  # caches "no model" ...
        a.post("/v1/series/shared_s/train", json=train_body(seed=0))
        wait_for(
            lambda: version_served(b, "shared_s") == "v1",
            timeout=10,
            what="v1 on the second process",
        )
        assert version_served(b, "shared_s") == "v1"  # now from its cache
        a.post("/v1/series/shared_s/train", json=train_body(seed=1))
        wait_for(
            lambda: version_served(b, "shared_s") == "v2",
            timeout=10,
            what="v2 on the second process",
        )
        a.post("/v1/series/shared_s/rollback", json={"version": "v1"})
        wait_for(
            lambda: version_served(b, "shared_s") == "v1",
            timeout=10,
            what="rollback on the second process",
        )


def columns(client: httpx.Client, ids: list[str], values: list[float]) -> dict[str, Any]:
    body = {"series_ids": ids, "timestamps": [TS] * len(ids), "values": values}
    response = client.post("/v1/predict", json=body)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_two_processes_answer_the_fleet_alike_and_follow_changes(
    make_service: ServiceFactory, tmp_path: Path
) -> None:
    """Issue 10: the second process answers from its resident table, the first (which
    trained the series after its table was loaded) through its cache; both agree."""
    trainer = make_service("fleet-a")
    ids = [f"fleet_{i:02d}" for i in range(20)]
    values = [10.0 + i * 0.7 for i in range(20)]
    with trainer.client() as a:
        for i, series_id in enumerate(ids):
            detector = {"kind": "mad" if i % 2 else "zscore"}
            body = train_body(seed=i, detector=detector)
            assert a.post(f"/v1/series/{series_id}/train", json=body).status_code == 201
    shared = {
        "SIGMAWATCH_DATABASE_URL": trainer.process.env["SIGMAWATCH_DATABASE_URL"],
        "SIGMAWATCH_ARTIFACTS_URL": (
            Path(trainer.process.env["SIGMAWATCH_DATA_DIR"]) / "artifacts"
        ).as_uri(),
        "SIGMAWATCH_REFRESH_INTERVAL_S": "300",  # notifications must do the work
    }
    server = make_service("fleet-b", env={**shared, "SIGMAWATCH_DATA_DIR": str(tmp_path)})
    with trainer.client() as a, server.client() as b:
        assert b.get("/healthcheck").json()["models_resident"] == 20
        first = columns(a, ids, values)
        assert first == columns(b, ids, values)
        assert first["versions"] == ["v1"] * 20
        assert sum(first["anomalies"]) > 0
        metrics = b.get("/metrics").text
        assert "sigmawatch_resident_answers_total 20.0" in metrics

        a.post(f"/v1/series/{ids[3]}/train", json=train_body(seed=99))
        wait_for(
            lambda: columns(b, ids, values)["versions"][3] == "v2",
            timeout=10,
            what="the new version in the second process's table",
        )
        assert columns(a, ids, values) == columns(b, ids, values)
        a.post(f"/v1/series/{ids[3]}/rollback", json={"version": "v1"})
        wait_for(
            lambda: columns(b, ids, values) == first,
            timeout=10,
            what="the rollback in the second process's table",
        )
