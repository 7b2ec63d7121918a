"""PostgreSQL slow, resetting or restarted under a serving process (AV-1, AV-2).

The service reaches PostgreSQL through toxiproxy. While the database is
slow, cached predictions keep answering in milliseconds, registry calls
end within the deadline and then fail fast with Retry-After while the
breaker is open; after the fault everything recovers by itself, and the
statistics of the points answered meanwhile are all there.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import httpx
import numpy as np

from support.data import series_data, train_body
from support.procs import wait_for
from support.service import ServiceFactory
from support.tcp_postgres import TcpPostgres
from support.toxiproxy import Proxy

from .conftest import FAST_BREAKER, Load

TS = int(series_data()[0][-1])
SERIES = [f"fault_{i}" for i in range(3)]
TIMEOUT_S = float(FAST_BREAKER["SIGMAWATCH_STORAGE_TIMEOUT_S"])


def _service(make_service: ServiceFactory, tcp_postgres: TcpPostgres, proxy: Proxy, name: str):  # type: ignore[no-untyped-def]
    database = tcp_postgres.create_database(f"{name}_{time.monotonic_ns()}")
    url = database.replace(f":{tcp_postgres.port}/", f":{proxy.port}/")
    return make_service(name, env={"SIGMAWATCH_DATABASE_URL": url, **FAST_BREAKER})


def _train(client: httpx.Client) -> None:
    for i, series in enumerate(SERIES):
        assert client.post(f"/v1/series/{series}/train", json=train_body(seed=i)).status_code == 201
        assert client.post(f"/v1/series/{series}/predict", json=_point(0)).status_code == 200


def _point(n: int) -> dict[str, float]:
    return {"timestamp": TS + n, "value": 10.0 + (n % 7)}


def _predict(client: httpx.Client, n: int) -> httpx.Response:
    return client.post(f"/v1/series/{SERIES[n % len(SERIES)]}/predict", json=_point(n))


def _versions(client: httpx.Client, n: int) -> httpx.Response:
    return client.get(f"/v1/series/{SERIES[n % len(SERIES)]}/versions")


def _breaker(client: httpx.Client) -> str:
    return str(client.get("/healthcheck").json()["storage"]["breakers"]["registry"])


def _points_recorded(client: httpx.Client, series: str) -> int:
    stats = client.get(f"/v1/series/{series}/versions/v1/stats", params={"window": "1h"})
    assert stats.status_code == 200, stats.text
    return int(stats.json()["predictions"])


def test_a_five_second_latency_spike_on_postgres(
    make_service: ServiceFactory, tcp_postgres: TcpPostgres, pg_proxy: Proxy, artifacts_dir: Path
) -> None:
    """Figures land in faults-pg-latency.json in the test artifacts (docs/performance.md)."""
    service = _service(make_service, tcp_postgres, pg_proxy, "pg-latency")
    with service.client() as client:
        _train(client)
        breakers_seen = set()
        with (
            Load(service.url, _predict, threads=2) as cached,
            Load(service.url, _versions, 1) as registry,
        ):
            time.sleep(1.0)
            toxic = pg_proxy.add("latency", latency=5000)
            spike_until = time.monotonic() + 5.5
            while time.monotonic() < spike_until:
                breakers_seen.add(_breaker(client))
                time.sleep(0.2)
            pg_proxy.remove(toxic)
            wait_for(lambda: _breaker(client) == "closed", timeout=20, what="the breaker to close")
            time.sleep(1.0)

        # Cached single-point predictions never noticed (P99 < 50 ms, none failed).
        assert cached.statuses() == {200}, cached.errors()[:5]
        p99 = float(np.percentile(np.array(cached.durations()) * 1000, 99))
        assert p99 < 50, f"cached predictions P99 {p99:.1f} ms during the spike"
        # Registry calls: none waited past the deadline; while open they failed fast.
        slowest = max(registry.durations())
        figures = {
            "cached_predictions": len(cached.results),
            "cached_p50_ms": round(
                float(np.percentile(np.array(cached.durations()) * 1000, 50)), 2
            ),
            "cached_p99_ms": round(p99, 2),
            "registry_calls": len(registry.results),
            "registry_slowest_s": round(slowest, 3),
            "registry_503": sum(r.status == 503 for r in registry.results),
            "registry_503_under_100ms": sum(
                r.status == 503 and r.seconds < 0.1 for r in registry.results
            ),
        }
        (artifacts_dir / "faults-pg-latency.json").write_text(json.dumps(figures, indent=2))
        print("figures", figures)
        assert slowest < TIMEOUT_S + 1.0, f"a registry call took {slowest:.2f} s"
        fast = [r for r in registry.results if r.status == 503 and r.seconds < 0.1]
        assert fast, "an open breaker answers at once"
        assert all("retry-after" in r.headers for r in fast)
        assert "open" in breakers_seen
        assert registry.results[-1].status == 200, "recovered without a restart"
        metrics = client.get("/metrics").text
        assert 'sigmawatch_breaker_opened_total{breaker="registry"} 1.0' in metrics
        assert 'sigmawatch_breaker_state{breaker="registry"} 0.0' in metrics

        # Nothing lost: every point answered (the first, before the load, and all
        # during the spike) is in the statistics, once.
        sent = _answered(cached)
        wait_for(
            lambda: all(_points_recorded(client, s) == 1 + sent[s] for s in SERIES),
            timeout=30,
            what="the statistics of every point answered during the fault",
        )


def _answered(load: Load) -> dict[str, int]:
    answered = dict.fromkeys(SERIES, 0)
    for result in load.results:
        if result.status == 200:
            answered[SERIES[result.n % len(SERIES)]] += 1
    return answered


def test_postgres_restarted_while_serving_recovers_without_a_service_restart(
    make_service: ServiceFactory, tcp_postgres: TcpPostgres, pg_proxy: Proxy
) -> None:
    service = _service(make_service, tcp_postgres, pg_proxy, "pg-restart")
    pid = service.process.proc.pid if service.process.proc else None
    with service.client() as client:
        _train(client)
        cached = Load(service.url, _predict, threads=1).__enter__()
        tcp_postgres.stop("immediate")
        assert _versions(client, 0).status_code == 503
        time.sleep(2.0)
        tcp_postgres.start()
        wait_for(
            lambda: _versions(client, 0).status_code == 200,
            timeout=20,
            what="registry calls to work again",
        )
        wait_for(lambda: _breaker(client) == "closed", timeout=20, what="the breaker to close")
        assert client.post("/v1/series/after_restart/train", json=train_body()).status_code == 201
        cached.__exit__()
    assert cached.statuses() == {200}, cached.errors()[:5]
    assert service.process.running
    assert service.process.proc is not None
    assert service.process.proc.pid == pid


def test_connections_reset_by_the_database_fail_fast_and_recover(
    make_service: ServiceFactory, tcp_postgres: TcpPostgres, pg_proxy: Proxy
) -> None:
    service = _service(make_service, tcp_postgres, pg_proxy, "pg-reset")
    with service.client() as client:
        _train(client)
        toxic = pg_proxy.add("reset_peer", "upstream", timeout=0)
        started = time.monotonic()
        answers = [_versions(client, n) for n in range(8)]
        assert {a.status_code for a in answers} == {503}
        assert time.monotonic() - started < 8 * (TIMEOUT_S + 1.0)
        assert answers[-1].json()["error"]["code"] == "STORAGE_UNAVAILABLE"
        assert "retry-after" in answers[-1].headers
        assert client.post(f"/v1/series/{SERIES[0]}/predict", json=_point(1)).status_code == 200
        pg_proxy.remove(toxic)
        wait_for(lambda: _versions(client, 0).status_code == 200, timeout=20, what="recovery")


def test_sigterm_stops_the_service_promptly_while_postgres_hangs_or_refuses(
    make_service: ServiceFactory, tcp_postgres: TcpPostgres, pg_proxy: Proxy
) -> None:
    """The issue saw 13 s with a dead database; every state must stop within a few."""
    for fault in ("refused", "hanging"):
        service = _service(make_service, tcp_postgres, pg_proxy, f"pg-term-{fault}")
        with service.client() as client:
            _train(client)
        if fault == "refused":
            pg_proxy.enable(False)
        else:
            pg_proxy.add("timeout", timeout=0)  # data stops, the connection stays
        time.sleep(1.0)
        started = time.monotonic()
        service.stop()
        took = time.monotonic() - started
        pg_proxy.clear()
        assert not service.process.running
        assert took < 5.0, f"SIGTERM took {took:.1f} s with the database {fault}"
