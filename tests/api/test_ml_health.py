"""OBS-2 end to end: per-series anomaly rates and drift in PostgreSQL, bounded gauges.

A real service scores three series: one like its training data, one far
above it (every point past p99 and anomalous) through the resident table's
one-pass batch path, one the same way through the per-item path (a pinned
version). After a statistics flush the version stats carry hourly and daily
periods and the drift, the fleet lists name exactly the shifted series, and
/metrics counts them without a series label.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import httpx
import numpy as np
import pytest

from support.data import START, train_body
from support.procs import wait_for
from support.service import Service, ServiceFactory

POINTS = 400
N = 300  # points scored per series
FAST = {
    "SIGMAWATCH_MIN_TRAINING_POINTS": "200",
    "SIGMAWATCH_STATS_FLUSH_INTERVAL_S": "0.3",
    "SIGMAWATCH_STATS_BUCKET_S": "1",
    "SIGMAWATCH_STATS_PERIOD_FLUSH_S": "0.3",
    "SIGMAWATCH_RESIDENT_RELOAD_S": "1",
    "SIGMAWATCH_ML_SUMMARY_INTERVAL_S": "0.5",
    "SIGMAWATCH_ML_MIN_POINTS": "50",
}
timestamps = itertools.count(START + 300 * POINTS)


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.MULTILINE)
    assert found, f"{name} not in /metrics"
    return float(found[1])


def batch(client: httpx.Client, series: str, values: np.ndarray) -> dict[str, Any]:
    items = [
        {"series_id": series, "timestamps": [next(timestamps)], "values": [float(v)]}
        for v in values
    ]
    response = client.post("/v1/predict", json={"items": items})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.fixture(scope="module")
def scored(make_service: ServiceFactory) -> Service:
    service = make_service("mlhealth", env=FAST)
    with service.client() as client:
        for seed, series in enumerate(("steady", "shifted", "pinned")):
            body = train_body(POINTS, seed=seed)
            assert client.post(f"/v1/series/{series}/train", json=body).status_code == 201
        # A retrain (v2 becomes production): v1 is then asked for by version, per item.
        retrain = client.post("/v1/series/pinned/train", json=train_body(POINTS, seed=9))
        assert retrain.status_code == 201
        wait_for(
            lambda: metric(client.get("/metrics").text, "sigmawatch_models_resident") >= 3,
            timeout=20,
            what="the resident table to hold the three series",
        )
        rng = np.random.default_rng(1)
        batch(client, "steady", rng.normal(10.0, 2.0, N))
        answered = batch(client, "shifted", rng.normal(40.0, 1.0, N))
        assert all(item["anomalies"] == [True] for item in answered["results"])
        items = [
            {
                "series_id": "pinned",
                "version": "v1",
                "timestamps": [next(timestamps) for _ in range(10)],
                "values": rng.normal(40.0, 1.0, 10).tolist(),
            }
            for _ in range(N // 10)
        ]
        response = client.post("/v1/predict", json={"items": items})
        assert response.status_code == 200, response.text
        assert all(r["version"] == "v1" for r in response.json()["results"])
    return service


def stats(client: httpx.Client, series: str) -> dict[str, Any]:
    response = client.get(f"/v1/series/{series}/versions/v1/stats?window=1h")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_version_stats_carry_hourly_daily_and_drift(scored: Service) -> None:
    with scored.client() as client:
        wait_for(
            lambda: all(stats(client, s)["drift"]["points"] >= N for s in ("steady", "shifted")),
            timeout=20,
            what="the flushed statistics",
        )
        shifted, steady = stats(client, "shifted"), stats(client, "steady")
    assert sum(h["predictions"] for h in shifted["hourly"]) == N
    assert sum(h["anomalies"] for h in shifted["hourly"]) == N
    assert sum(d["predictions"] for d in shifted["daily"]) == N
    assert shifted["hourly"][-1]["anomaly_rate"] == 1.0
    assert shifted["drift"]["live_bins"][-1] == N  # every value past the training p99
    assert shifted["drift"]["kl_divergence"] > 3.0
    assert steady["drift"]["kl_divergence"] < 0.2
    assert sum(steady["drift"]["training_shares"]) == pytest.approx(1.0)


def test_fleet_lists_name_the_shifted_series_with_a_cursor(scored: Service) -> None:
    with scored.client() as client:
        wait_for(
            lambda: len(client.get("/v1/drift?min_kl=0.5&min_points=50").json()["items"]) == 2,
            timeout=20,
            what="both shifted series to be listed as drifting",
        )
        rates = client.get("/v1/anomaly-rates?window=1h&min_rate=0.2").json()
        assert [(i["series_id"], i["version"]) for i in rates["items"]] == [
            ("pinned", "v1"),
            ("shifted", "v1"),
        ]
        drift = client.get("/v1/drift?min_kl=0.5&min_points=50").json()["items"]
        assert [i["series_id"] for i in drift] == ["pinned", "shifted"]
        assert all(i["kl_divergence"] > 3 for i in drift)

        first = client.get("/v1/anomaly-rates?min_rate=0.2&limit=1").json()
        assert [i["series_id"] for i in first["items"]] == ["pinned"]
        second = client.get(f"/v1/anomaly-rates?min_rate=0.2&limit=1&cursor={first['next_cursor']}")
        assert [i["series_id"] for i in second.json()["items"]] == ["shifted"]
        assert second.json()["next_cursor"] is None

        bad = client.get("/v1/drift?cursor=not-ours")
        assert bad.status_code == 400
        assert bad.json()["error"]["code"] == "INVALID_CURSOR"
        too_long = client.get("/v1/anomaly-rates?window=500d")
        assert too_long.status_code == 422
        assert too_long.json()["error"]["code"] == "INVALID_REQUEST"


def test_metrics_count_without_a_series_label(scored: Service) -> None:
    with scored.client() as client:
        wait_for(
            lambda: metric(client.get("/metrics").text, "sigmawatch_series_drifting") == 2,
            timeout=20,
            what="the drift gauge",
        )
        text = client.get("/metrics").text
    assert metric(text, "sigmawatch_series_anomaly_rate_high") == 2
    assert metric(text, "sigmawatch_ml_summary_timestamp_seconds") > START
    assert metric(text, "sigmawatch_prediction_score_count") == 3 * N
    # The pinned version's model was loaded through the cache, timed by its kind.
    assert metric(text, 'sigmawatch_model_load_seconds_count{kind="zscore"}') >= 1
    assert metric(text, "sigmawatch_retrains_total") == 1
    assert "series_id=" not in text  # no label of that name; route templates contain it
    assert not re.search(r"steady|shifted|pinned", text)
