"""The S3 server gone or slow under a serving process (AV-1, AV-2).

Cached models keep answering and readiness stays (decision 0009);
/healthcheck turns degraded and names the artifact store; training fails
fast with STORAGE_UNAVAILABLE once the breaker is open; after the fault
the service recovers by itself.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from support.data import series_data, train_body
from support.procs import wait_for
from support.s3 import S3Server
from support.service import Service, ServiceFactory
from support.toxiproxy import Proxy, Toxiproxy

from .conftest import FAST_BREAKER, Load

TS = int(series_data()[0][-1])
TIMEOUT_S = float(FAST_BREAKER["SIGMAWATCH_STORAGE_TIMEOUT_S"])


@pytest.fixture
def s3_proxy(toxiproxy: Toxiproxy, s3_server: S3Server) -> Iterator[Proxy]:
    upstream = s3_server.endpoint.removeprefix("http://")
    proxy = toxiproxy.proxy(f"s3-{time.monotonic_ns()}", upstream)
    yield proxy
    proxy.clear()


def _service(make_service: ServiceFactory, s3_server: S3Server, proxy: Proxy, name: str) -> Service:
    bucket = s3_server.new_bucket()
    env = {
        **s3_server.env,
        **FAST_BREAKER,
        "SIGMAWATCH_ARTIFACTS_URL": f"s3://{bucket}/faults",
        "SIGMAWATCH_S3_ENDPOINT_URL": f"http://127.0.0.1:{proxy.port}",
    }
    return make_service(name, env=env)


def _predict(client: httpx.Client, n: int) -> httpx.Response:
    return client.post(f"/v1/series/s3_{n % 2}/predict", json={"timestamp": TS + n, "value": 3.0})


def _health(client: httpx.Client) -> dict[str, object]:
    storage: dict[str, object] = client.get("/healthcheck").json()["storage"]
    return storage


@pytest.mark.parametrize("fault", ["refused", "latency"])
def test_an_s3_outage_degrades_health_while_cached_models_answer(
    make_service: ServiceFactory, s3_server: S3Server, s3_proxy: Proxy, fault: str
) -> None:
    service = _service(make_service, s3_server, s3_proxy, f"s3-{fault}")
    with service.client() as client:
        for i in range(2):
            assert (
                client.post(f"/v1/series/s3_{i}/train", json=train_body(seed=i)).status_code == 201
            )
            assert _predict(client, i).status_code == 200
        with Load(service.url, _predict, threads=1) as cached:
            if fault == "refused":
                s3_proxy.enable(False)
            else:
                s3_proxy.add("latency", latency=5000)
            wait_for(lambda: _health(client)["ok"] is False, timeout=15, what="degraded health")
            assert "artifact store" in str(_health(client)["reason"])
            assert client.get("/readiness").status_code == 200
            timings = []
            for seed in range(2, 8):
                started = time.monotonic()
                refused = client.post("/v1/series/s3_new/train", json=train_body(seed=seed))
                timings.append(time.monotonic() - started)
                assert refused.status_code == 503
                assert refused.json()["error"]["code"] == "STORAGE_UNAVAILABLE"
            # A write waits at most about twice the timeout (the 100-continue wait and
            # the read), then fails fast while the breaker is open.
            assert max(timings) < 2 * TIMEOUT_S + 1.0, timings
            assert min(timings) < 0.2, f"an open breaker fails at once: {timings}"
            assert "retry-after" in refused.headers
            s3_proxy.clear()
            wait_for(lambda: _health(client)["ok"] is True, timeout=30, what="recovery")
        assert cached.statuses() == {200}, cached.errors()[:5]
        assert _health(client)["breakers"] == {"registry": "closed", "artifacts": "closed"}
        assert client.post("/v1/series/s3_new/train", json=train_body(seed=9)).status_code == 201
