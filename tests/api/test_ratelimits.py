"""Rate limits against real service processes and a real Redis (SEC-2).

Two `sigmawatch serve` processes given one `SIGMAWATCH_REDIS_URL` enforce one
shared limit: calls spread over both run out together. Without Redis each
process counts its own. The refusal is a 429 in the error envelope with
`Retry-After` and the `RateLimit-*` headers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from support.data import train_body
from support.redis import RedisServer, start_redis
from support.service import Service, ServiceFactory

SERIES_POINTS = 20  # predictions of a series per hour
CLIENT_POINTS = 40  # predictions of a client per hour
# Hour-long windows: a test never straddles a window edge long enough to matter.
LIMITS = {
    "SIGMAWATCH_RATE_LIMITS": "on",  # on without authentication: the client is its address
    "SIGMAWATCH_RATE_LIMIT_SERIES_PREDICTIONS": f"{SERIES_POINTS} per hour",
    "SIGMAWATCH_RATE_LIMIT_CLIENT_PREDICTIONS": f"{CLIENT_POINTS} per hour",
    "SIGMAWATCH_RATE_LIMIT_SERIES_TRAININGS": "1 per 5 minutes",
    "SIGMAWATCH_RATE_LIMIT_CLIENT_TRAININGS": "3 per hour",
    "SIGMAWATCH_MIN_TRAINING_POINTS": "200",
}
POINT = {"timestamp": 1_700_000_000, "value": 1.0}


@pytest.fixture(scope="module")
def redis(artifacts_dir: Path) -> Iterator[RedisServer]:
    server = start_redis(artifacts_dir / "logs")
    yield server
    server.process.stop()


def pair(make_service: ServiceFactory, name: str, extra: dict[str, str]) -> tuple[Service, Service]:
    """Two processes on one registry and one artifact store."""
    env = LIMITS | extra
    return (
        make_service(f"{name}-a", env=env, shares=name),
        make_service(f"{name}-b", env=env, shares=name),
    )


def predict(service: Service, series_id: str) -> httpx.Response:
    with service.client() as client:
        return client.post(f"/v1/series/{series_id}/predict", json=POINT)


def assert_limited(response: httpx.Response, scope: str, limit: int) -> None:
    assert response.status_code == 429, response.text
    error = response.json()["error"]
    assert error["code"] == "RATE_LIMITED"
    assert error["details"]["scope"] == scope
    assert error["details"]["limit"] == limit
    assert 1 <= int(response.headers["retry-after"]) <= 3600
    assert response.headers["ratelimit-limit"] == str(limit)
    assert response.headers["ratelimit-remaining"] == "0"
    assert response.headers["ratelimit-reset"] == response.headers["retry-after"]


def test_two_processes_sharing_redis_enforce_one_limit(
    make_service: ServiceFactory, redis: RedisServer
) -> None:
    a, b = pair(make_service, "shared", {"SIGMAWATCH_REDIS_URL": redis.url})
    with a.client() as client:
        assert client.post("/v1/series/pump/train", json=train_body(2_000)).status_code == 201
    answers = [predict(a if i % 2 else b, "pump") for i in range(SERIES_POINTS)]
    assert [r.status_code for r in answers] == [200] * SERIES_POINTS
    # The 21st point of the series is over its limit, whichever process is asked.
    assert_limited(predict(a, "pump"), "predictions of a series", SERIES_POINTS)
    assert_limited(predict(b, "pump"), "predictions of a series", SERIES_POINTS)

    # A batch counts its points per series: the pump's items fail alone.
    with b.client() as client:
        batch = client.post(
            "/v1/predict",
            json={
                "items": [
                    {"series_id": "pump", "timestamps": [1], "values": [1.0]},
                    {"series_id": "fan", "timestamps": [1, 2], "values": [1.0, 2.0]},
                ]
            },
        )
    assert batch.status_code == 200, batch.text
    pump, fan = batch.json()["results"]
    assert pump["error"]["code"] == "RATE_LIMITED"
    assert fan["error"]["code"] == "MODEL_NOT_FOUND"  # within its limit, and unknown
    # The client has asked for 22 + 3 points this hour: 15 more are over its 40.
    with a.client() as client:
        many = [{"series_id": f"s{i}", "timestamps": [1], "values": [1.0]} for i in range(16)]
        assert_limited(
            client.post("/v1/predict", json={"items": many}), "client predictions", CLIENT_POINTS
        )

    # Trainings: the same data again is no new training; new data within 5 min is.
    with b.client() as client:
        again = client.post("/v1/series/pump/train", json=train_body(2_000))
        assert again.status_code == 200, again.text
        assert again.json()["created"] is False
        assert_limited(
            client.post("/v1/series/pump/train", json=train_body(2_000, seed=1)),
            "trainings of a series",
            1,
        )
        assert client.post("/v1/series/fan/train", json=train_body(2_000)).status_code == 201
    with a.client() as client:
        assert client.post("/v1/series/fan2/train", json=train_body(2_000)).status_code == 201
        assert_limited(
            client.post("/v1/series/fan3/train", json=train_body(2_000)), "client trainings", 3
        )
    metrics = httpx.get(a.url + "/metrics").text
    assert 'sigmawatch_http_errors_total{code="RATE_LIMITED"' in metrics


def test_without_redis_each_process_counts_its_own(make_service: ServiceFactory) -> None:
    a, b = pair(make_service, "own", {})
    for service in (a, b):
        answers = [predict(service, "nothing").status_code for _ in range(SERIES_POINTS)]
        assert answers == [404] * SERIES_POINTS  # counted, though the series is unknown
        assert_limited(predict(service, "nothing"), "predictions of a series", SERIES_POINTS)


def test_the_unauthenticated_default_has_no_limits(make_service: ServiceFactory) -> None:
    service = make_service("unlimited", env={"SIGMAWATCH_MIN_TRAINING_POINTS": "200"})
    answers = {predict(service, "nothing").status_code for _ in range(SERIES_POINTS + 5)}
    assert answers == {404}
