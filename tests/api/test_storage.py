"""Storage on a real S3 server: start-up waits for it, outages degrade (MON-3, AV-1, PRED-6)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from support.data import series_data, train_body
from support.procs import wait_for
from support.s3 import S3Server
from support.service import ServiceFactory

TS = int(series_data()[0][-1])


@pytest.fixture
def s3_service(
    make_service: ServiceFactory, s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Any, str]:
    bucket = s3_server.new_bucket()
    env = {**s3_server.env, "SIGMAWATCH_ARTIFACTS_URL": f"s3://{bucket}/sigmawatch"}
    return make_service("s3-api", env=env), bucket


def test_models_live_in_s3_and_an_outage_degrades_without_dropping_readiness(
    s3_service: tuple[Any, str], s3_server: S3Server
) -> None:
    service, bucket = s3_service
    s3 = s3_server.client()
    with service.client() as client:
        assert client.post("/v1/series/in_s3/train", json=train_body()).status_code == 201
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        assert any(
            k.startswith("sigmawatch/models/in_s3/") and k.endswith("manifest.json") for k in keys
        )
        answer = client.post("/v1/series/in_s3/predict", json={"timestamp": TS, "value": 10})
        assert answer.json()["version"] == "v1"

        for key in keys:
            s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)
        wait_for(
            lambda: client.get("/healthcheck").json()["status"] == "degraded",
            timeout=15,
            what="healthcheck to report the outage",
        )
        assert client.get("/healthcheck").json()["storage"]["ok"] is False
        assert "sigmawatch_storage_up 0.0" in client.get("/metrics").text
        # Readiness stays: every pod shares this store (decision 0009).
        assert client.get("/readiness").status_code == 200

        # Cached models keep answering; training needs the store and says so.
        cached = client.post("/v1/series/in_s3/predict", json={"timestamp": TS, "value": 10})
        assert cached.status_code == 200
        refused = client.post("/v1/series/in_s3/train", json=train_body(seed=1))
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "STORAGE_UNAVAILABLE"

        s3.create_bucket(Bucket=bucket)
        wait_for(
            lambda: client.get("/healthcheck").json()["status"] == "ok",
            timeout=15,
            what="healthcheck to recover",
        )
        assert "sigmawatch_storage_up 1.0" in client.get("/metrics").text


def test_start_up_waits_for_an_unreachable_store(
    make_service: ServiceFactory, s3_server: S3Server
) -> None:
    bucket = "created-later"
    env = {**s3_server.env, "SIGMAWATCH_ARTIFACTS_URL": f"s3://{bucket}/x"}
    service = make_service("s3-missing", env=env, start=False)
    service.process.start()
    with httpx.Client(base_url=service.url, timeout=5) as client:

        def failing_start() -> bool:
            reasons = client.get("/readiness").json().get("reasons", [])
            return bool(reasons) and "start-up failed" in reasons[0]

        wait_for(failing_start, timeout=30, what="start-up failure in readiness")
        assert client.get("/liveness").status_code == 200
        refused = client.post("/v1/series/x/predict", json={"timestamp": TS, "value": 1})
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "STORAGE_UNAVAILABLE"
        # Once the bucket exists, the retried start-up completes by itself.
        s3_server.client().create_bucket(Bucket=bucket)
        wait_for(lambda: client.get("/readiness").status_code == 200, timeout=60, what="readiness")


def test_a_refused_artifact_write_is_storage_unavailable_and_degrades_health(
    make_service: ServiceFactory,
) -> None:
    """A store that answers reads but refuses writes (read-only volume, full disk)."""
    service = make_service("refused-write")
    models = Path(service.process.env["SIGMAWATCH_DATA_DIR"]) / "artifacts" / "models"
    with service.client() as client:
        assert client.post("/v1/series/w1/train", json=train_body()).status_code == 201
        models.rename(models.with_name("models.moved"))
        models.write_bytes(b"")  # a file where the folder was: every write under it fails
        refused = client.post("/v1/series/w2/train", json=train_body(seed=1))
        assert refused.status_code == 503
        assert refused.json()["error"]["code"] == "STORAGE_UNAVAILABLE"
        wait_for(
            lambda: client.get("/healthcheck").json()["status"] == "degraded",
            timeout=15,
            what="health to report the refused write",
        )
        storage = client.get("/healthcheck").json()["storage"]
        assert storage["reason"] == "the artifact store refused a write"
        assert client.get("/readiness").status_code == 200

        models.unlink()
        models.with_name("models.moved").rename(models)
        wait_for(
            lambda: client.get("/healthcheck").json()["status"] == "ok",
            timeout=15,
            what="health to recover once writes work",
        )
        assert client.post("/v1/series/w2/train", json=train_body(seed=1)).status_code == 201
