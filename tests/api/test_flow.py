"""The REST API end to end through a real uvicorn process (MOD-1..5, PRED-2..5, REG-1..5)."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import httpx
import numpy as np
import orjson

from support.data import series_data, train_body
from support.procs import wait_for
from support.service import Service

NOW_TS = int(series_data(12_000)[0][-1]) + 300


def train(client: httpx.Client, series: str, seed: int = 0, **extra: Any) -> httpx.Response:
    return client.post(f"/v1/series/{series}/train", json=train_body(seed=seed, **extra))


def test_train_then_predict(client: httpx.Client) -> None:
    created = train(client, "flow_a")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["created"] is True
    assert body["version"] == "v1"
    assert body["n_points"] == 12_000
    assert set(body["stats"]) >= {
        "mean",
        "std",
        "min",
        "max",
        "p1",
        "p5",
        "p25",
        "p50",
        "p75",
        "p95",
        "p99",
    }
    assert re.fullmatch(r"[0-9a-f]{64}", body["data_hash"])
    assert body["detector"] == {"kind": "zscore", "params": {"threshold": 3.0}}
    assert body["training_ms"] > 0
    mean, std = body["stats"]["mean"], body["stats"]["std"]

    normal = client.post("/v1/series/flow_a/predict", json={"timestamp": NOW_TS, "value": mean})
    assert normal.status_code == 200
    assert normal.json()["anomaly"] is False
    spike = client.post(
        "/v1/series/flow_a/predict", json={"timestamp": NOW_TS, "value": mean + 4 * std}
    ).json()
    assert spike["anomaly"] is True
    assert spike["version"] == "v1"
    assert spike["score"] > 3.9
    assert spike["fallback"] is False
    assert spike["detector"]["kind"] == "zscore"
    assert "warnings" in spike


def test_same_data_answers_200_with_the_existing_version(client: httpx.Client) -> None:
    assert train(client, "flow_b", 3).status_code == 201
    again = train(client, "flow_b", 3)
    assert again.status_code == 200
    assert again.json()["created"] is False
    assert again.json()["version"] == "v1"


def test_points_body_shape_is_accepted(client: httpx.Client) -> None:
    timestamps, values = series_data(10_000, seed=4)
    points = [
        {"timestamp": int(t), "value": float(v)} for t, v in zip(timestamps, values, strict=True)
    ]
    response = client.post("/v1/series/flow_points/train", json={"points": points})
    assert response.status_code == 201, response.text
    columns = client.post(
        "/v1/series/flow_points/train",
        json={"timestamps": timestamps.tolist(), "values": values.tolist()},
    )
    assert columns.json() == {
        **response.json(),
        "created": False,
        "training_ms": columns.json()["training_ms"],
    }


def test_versions_rollback_and_pinned_predictions(client: httpx.Client) -> None:
    for seed in range(3):
        train(client, "flow_c", seed)
    listing = client.get("/v1/series/flow_c/versions").json()
    assert [v["version"] for v in listing["versions"]] == ["v1", "v2", "v3"]
    assert listing["production_version"] == "v3"
    assert listing["latest_version"] == "v3"
    one = client.get("/v1/series/flow_c/versions/v2").json()
    assert one["version"] == "v2"
    assert one["production"] is False
    assert one["status"] == "active"

    pinned = client.post(
        "/v1/series/flow_c/predict?version=v1", json={"timestamp": NOW_TS, "value": 10}
    )
    assert pinned.json()["version"] == "v1"

    rolled = client.post("/v1/series/flow_c/rollback", json={"version": "v2"})
    assert rolled.status_code == 200
    assert rolled.json() == {
        "series_id": "flow_c",
        "production_version": "v2",
        "previous_version": "v3",
    }
    assert (
        client.post("/v1/series/flow_c/predict", json={"timestamp": NOW_TS, "value": 10}).json()[
            "version"
        ]
        == "v2"
    )


def test_promote_false_keeps_production(client: httpx.Client) -> None:
    train(client, "flow_d", 0)
    held = train(client, "flow_d", 1, promote=False).json()
    assert held["version"] == "v2"
    assert held["production"] is False
    assert (
        client.post("/v1/series/flow_d/predict", json={"timestamp": NOW_TS, "value": 1}).json()[
            "version"
        ]
        == "v1"
    )


def test_mad_detector_through_the_api(client: httpx.Client) -> None:
    body = train(client, "flow_mad", 0, detector={"kind": "mad", "params": {"threshold": 4}}).json()
    assert body["detector"] == {"kind": "mad", "params": {"threshold": 4.0}}
    answer = client.post(
        "/v1/series/flow_mad/predict", json={"timestamp": NOW_TS, "value": 10.0}
    ).json()
    assert answer["detector"]["kind"] == "mad"
    assert answer["threshold"] == 4.0


def test_batch_keeps_order_and_isolates_bad_items(client: httpx.Client) -> None:
    train(client, "flow_e", 0)
    train(client, "flow_f", 1)
    items = [
        {"series_id": "flow_e", "timestamps": [NOW_TS, NOW_TS + 300], "values": [10.0, 100.0]},
        {"series_id": "flow_missing", "timestamps": [NOW_TS], "values": [1.0]},
        {"series_id": "flow_f", "timestamps": [NOW_TS], "values": [10.0], "version": "v1"},
        {"series_id": "bad id", "timestamps": [NOW_TS], "values": [1.0]},
        {"series_id": "flow_f", "timestamps": [NOW_TS], "values": [10.0], "version": "v9"},
        {"series_id": "flow_e", "timestamps": [NOW_TS, -1], "values": [1.0, 2.0]},
        {"series_id": "flow_e", "timestamps": [NOW_TS], "values": [1.0, 2.0]},
    ]
    response = client.post("/v1/predict", json={"items": items})
    assert response.status_code == 200
    results = response.json()["results"]
    assert len(results) == len(items)
    assert results[0]["anomalies"] == [False, True]
    assert len(results[0]["scores"]) == 2
    assert results[0]["n_anomalies"] == 1
    codes = [r.get("error", {}).get("code") for r in results]
    assert codes == [
        None,
        "MODEL_NOT_FOUND",
        None,
        "INVALID_SERIES_ID",
        "INVALID_VERSION",
        "INVALID_TIMESTAMP",
        "INVALID_REQUEST",
    ]
    assert results[2]["version"] == "v1"
    assert results[5]["error"]["details"]["index"] == 1


def test_large_batch_scores_match_the_model(client: httpx.Client) -> None:
    body = train(client, "flow_big", 5).json()
    mean, std = body["stats"]["mean"], body["stats"]["std"]
    values = np.random.default_rng(9).normal(mean, std * 1.5, 10_000)
    timestamps = NOW_TS + 300 * np.arange(10_000)
    results = client.post(
        "/v1/predict",
        json={
            "items": [
                {
                    "series_id": "flow_big",
                    "timestamps": timestamps.tolist(),
                    "values": values.tolist(),
                }
            ]
        },
    ).json()["results"]
    scores = np.array(results[0]["scores"])
    np.testing.assert_allclose(scores, np.abs(values - mean) / std, rtol=1e-9)
    assert results[0]["anomalies"] == (scores > 3.0).tolist()


def test_catalogue_search_and_pagination(client: httpx.Client) -> None:
    for i in range(5):
        train(client, f"cat_{i}", i)
    first = client.get("/v1/models", params={"series_prefix": "cat_", "limit": 2}).json()
    assert [i["series_id"] for i in first["items"]] == ["cat_0", "cat_1"]
    second = client.get(
        "/v1/models", params={"series_prefix": "cat_", "limit": 2, "cursor": first["next_cursor"]}
    ).json()
    assert [i["series_id"] for i in second["items"]] == ["cat_2", "cat_3"]
    zscore = client.get(
        "/v1/models",
        params={
            "series_prefix": "cat_",
            "detector": "zscore",
            "status": "active",
            "created_after": "2000-01-01T00:00:00Z",
        },
    ).json()
    assert len(zscore["items"]) == 5
    assert zscore["next_cursor"] is None
    none = client.get(
        "/v1/models", params={"series_prefix": "cat_", "created_before": "2000-01-01T00:00:00Z"}
    ).json()
    assert none["items"] == []


def test_far_timestamps_warn_but_answer(client: httpx.Client) -> None:
    train(client, "flow_w", 0)
    answer = client.post(
        "/v1/series/flow_w/predict", json={"timestamp": 4_000_000_000, "value": 10}
    )
    assert answer.status_code == 200
    codes = {w["code"] for w in answer.json()["warnings"]}
    assert {"TIMESTAMP_IN_FUTURE", "TIMESTAMP_OUTSIDE_TRAINING_RANGE"} <= codes


def test_retention_through_the_api_and_restore(client: httpx.Client) -> None:
    archived = []
    for seed in range(11):
        archived += train(client, "flow_ret", seed).json()["archived_versions"]
    assert archived == ["v1"]
    blocked = client.post(
        "/v1/series/flow_ret/predict?version=v1", json={"timestamp": NOW_TS, "value": 1}
    )
    assert blocked.status_code == 409
    assert blocked.json()["error"]["code"] == "VERSION_ARCHIVED"
    assert "restore" in blocked.json()["error"]["details"]["hint"]
    assert (
        client.get("/v1/models", params={"series_prefix": "flow_ret", "status": "archived"}).json()[
            "items"
        ][0]["version"]
        == "v1"
    )
    restored = client.post("/v1/series/flow_ret/versions/v1/restore")
    assert restored.status_code == 200
    assert restored.json()["status"] == "active"
    again = client.post(
        "/v1/series/flow_ret/predict?version=v1", json={"timestamp": NOW_TS, "value": 1}
    )
    assert again.status_code == 200
    assert again.json()["version"] == "v1"


def test_health_endpoints(client: httpx.Client) -> None:
    train(client, "flow_h", 0)
    client.post("/v1/series/flow_h/predict", json={"timestamp": NOW_TS, "value": 1})
    assert client.get("/liveness").status_code == 200
    assert client.get("/readiness").json() == {"status": "ready"}
    # series_trained comes from the background storage check (every 2 s).
    wait_for(
        lambda: (client.get("/healthcheck").json()["series_trained"] or 0) >= 1,
        timeout=10,
        what="series_trained to count flow_h",
    )
    health = client.get("/healthcheck").json()
    assert health["status"] == "ok"
    assert health["models_cached"] >= 1
    assert health["uptime_s"] > 0
    for key in ("inference_latency_ms", "training_latency_ms"):
        assert health[key]["count"] > 0
        assert 0 < health[key]["mean"] <= health[key]["p95"] * 10


def test_metrics_have_routes_but_no_series_labels(client: httpx.Client) -> None:
    train(client, "flow_m", 0)
    client.post("/v1/series/flow_m/predict", json={"timestamp": NOW_TS, "value": 1})
    client.post("/v1/series/flow_m/predict?version=v7", json={"timestamp": NOW_TS, "value": 1})
    text = client.get("/metrics").text
    for name in (
        "sigmawatch_http_requests_total",
        "sigmawatch_http_request_duration_seconds_bucket",
        "sigmawatch_http_errors_total",
        "sigmawatch_model_cache_hits_total",
        "sigmawatch_model_cache_misses_total",
        "sigmawatch_models_cached",
        "sigmawatch_warmup_seconds",
        "sigmawatch_trainings_total",
    ):
        assert name in text, name
    assert 'route="/v1/series/{series_id}/predict"' in text
    assert 'code="INVALID_VERSION"' in text
    assert "flow_m" not in text
    assert "series_id=" not in text


def test_openapi_documents_every_route_and_body(client: httpx.Client) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/v1/series/{series_id}/train",
        "/v1/series/{series_id}/predict",
        "/v1/predict",
        "/v1/models",
        "/plot",
        "/healthcheck",
    ):
        assert path in spec["paths"], path
    batch = spec["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"][
        "schema"
    ]
    assert batch == {"$ref": "#/components/schemas/BatchRequest"}
    assert "BatchItem" in spec["components"]["schemas"]
    assert client.get("/docs").status_code == 200


def test_uploaded_dataset_trains_through_the_fleet_command(
    client: httpx.Client, service: Service
) -> None:
    body = train_body(seed=31)
    stored = client.put("/v1/series/from_dataset/dataset", json=body)
    assert stored.status_code == 200, stored.text
    assert stored.json()["n_points"] == 12_000
    bad = client.put("/v1/series/from_dataset/dataset", json=train_body(n=50))
    assert bad.json()["error"]["code"] == "INSUFFICIENT_DATA"

    # What an AnomalyModel with `source: {dataset: {}}` runs in its training Job.
    env = {**service.process.env, "SIGMAWATCH_JOB_SERIES": "from_dataset"}
    job = subprocess.run(
        [
            sys.executable,
            "-m",
            "sigmawatch_inference.cli",
            "train-fleet",
            "--run-id",
            "r1",
            "--dataset",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert job.returncode == 0, job.stderr
    assert orjson.loads(job.stdout.splitlines()[-1])["outcomes"] == {"created": 1}
    version = client.get("/v1/series/from_dataset/versions/v1").json()
    assert version["data_hash"] == stored.json()["data_hash"]
    assert version["source"] == "job:r1"
