"""Sigmawatch beside MLServer and KServe's model server, the same z-score, one run (issue 10).

    make bench-peers     # builds the peers' virtual environments, then runs this
    .venv/bin/python bench/bench_peers.py --peers DIR [--duration S] [--rounds N]

`tools/peers.sh` installs each peer from PyPI, pinned, in its own virtual
environment (DIR). One demo series is trained in Sigmawatch; the peers get
its μ, σ and threshold and do the same work: |x − μ| / σ, flagged above the
threshold, for every value of a request. Each runs as one process on
127.0.0.1 in its fastest configuration we know: MLServer's inference in the
server process (`parallel_workers: 0`), KServe with its per-request latency
log and access log off, Sigmawatch as `sigmawatch serve` with its access
log off. Loads: one point per request (c=32), and one series' 1,000 points
per request (c=4); cases and servers interleaved round by round, medians.
The baseline of each row is the peer; above 1.00× Sigmawatch is ahead.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import orjson

from bench_server import BenchServer, free_port
from loadgen import Budget, WrkResult, budget_arguments, budget_from, require_wrk, run_wrk
from report import Row, median, ms, rate, ratio, summary, table
from sigmawatch.demo import STEP_S, demo_series
from workspace import Workspace, now_on_grid

NAME = "peers"
PEERS_DIR = Path(__file__).resolve().parent / "peers"
SERIES = "bench_peer"
START_TIMEOUT_S = 120.0
SIGMAWATCH, MLSERVER, KSERVE = "Sigmawatch", "MLServer", "KServe"


@dataclass(frozen=True, slots=True)
class Load:
    label: str
    points: int
    connections: int


LOADS = (Load("1 point", 1, 32), Load("1,000 points", 1_000, 4))


def bodies(server: str, values: list[float], timestamps: list[int]) -> tuple[str, bytes]:
    """(path, body) of one request scoring `values` on `server`."""
    if server == SIGMAWATCH:
        if len(values) == 1:
            body = {"timestamp": timestamps[0], "value": values[0]}
            return f"/v1/series/{SERIES}/predict", orjson.dumps(body)
        item = {"series_id": SERIES, "timestamps": timestamps, "values": values}
        return "/v1/predict", orjson.dumps({"items": [item]})
    if server == MLSERVER:
        tensor = {"name": "values", "shape": [len(values)], "datatype": "FP64", "data": values}
        return "/v2/models/zscore/infer", orjson.dumps({"inputs": [tensor]})
    return "/v1/models/zscore:predict", orjson.dumps({"instances": values})


@contextmanager
def peer_process(command: list[str], cwd: Path, port: int, ready: str, log: Path) -> Iterator[str]:
    """A peer server on 127.0.0.1:`port`, stopped on exit; yields its base URL."""
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": str(PEERS_DIR)}
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{command[0]} exited early:\n{log.read_text()[-2000:]}")
            done = subprocess.run(
                ["curl", "-sf", "-o", "/dev/null", url + ready], check=False, timeout=5
            )
            if done.returncode == 0:
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"{command[0]} not ready:\n{log.read_text()[-2000:]}")
            time.sleep(0.3)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def mlserver(peers: Path, root: Path, model: dict[str, float]) -> AbstractContextManager[str]:
    folder = root / "mlserver"
    (folder / "zscore").mkdir(parents=True)
    port = free_port()
    settings = {
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
        "parallel_workers": 0,  # inference in the server process: no IPC per request
        "debug": False,  # no access log
        "metrics_endpoint": None,  # no per-request metrics either
    }
    (folder / "settings.json").write_text(json.dumps(settings))
    model_settings = {
        "name": "zscore",
        "implementation": "mlserver_zscore.ZScore",
        "parameters": {"extra": model},
    }
    (folder / "zscore" / "model-settings.json").write_text(json.dumps(model_settings))
    command = [str(peers / "mlserver" / "bin" / "mlserver"), "start", str(folder)]
    return peer_process(command, folder, port, "/v2/models/zscore/ready", root / "mlserver.log")


def kserve(peers: Path, root: Path, model: dict[str, float]) -> AbstractContextManager[str]:
    port = free_port()
    command = [
        str(peers / "kserve" / "bin" / "python"),
        str(PEERS_DIR / "kserve_zscore.py"),
        "--http_port",
        str(port),
        *(arg for name, value in model.items() for arg in (f"--{name}", str(value))),
    ]
    return peer_process(command, root, port, "/v1/models/zscore", root / "kserve.log")


def measure(
    urls: dict[str, str], files: dict[tuple[str, str], tuple[str, Path]], budget: Budget
) -> dict[tuple[str, str], list[WrkResult]]:
    cases = [(server, load) for load in LOADS for server in urls]
    results: dict[tuple[str, str], list[WrkResult]] = defaultdict(list)
    for round_ in range(budget.rounds + 1):  # round 0 warms every case up
        for server, load in cases if round_ % 2 else cases[::-1]:
            path, body = files[(server, load.label)]
            run = run_wrk(
                urls[server] + path,
                body,
                connections=load.connections,
                duration_s=budget.warmup_s if round_ == 0 else budget.duration_s,
            )
            if run.failed:
                raise RuntimeError(f"{server}, {load.label}: failed requests: {run}")
            if round_:
                results[(server, load.label)].append(run)
    return results


def check(url: str, path: str, body: Path) -> None:
    done = subprocess.run(
        [
            "curl",
            "-sf",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            f"@{body}",
            url + path,
        ],
        capture_output=True,
        check=False,
        timeout=30,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{url}{path} refused the benchmark body: {done.stdout[:300]!r}")


def run(peers: Path, budget: Budget) -> list[Row]:
    require_wrk()
    with Workspace() as workspace:
        end = now_on_grid()
        record = workspace.train_demo(SERIES, end=end).record
        assert record.state is not None
        model = {
            "mean": record.state["mean"],
            "std": record.state["std"],
            "threshold": record.detector.params["threshold"],
        }
        timestamps, values = demo_series(1_000, seed=5, end=end - STEP_S)
        files: dict[tuple[str, str], tuple[str, Path]] = {}
        for server in (SIGMAWATCH, MLSERVER, KSERVE):
            for load in LOADS:
                path, body = bodies(
                    server, values[: load.points].tolist(), timestamps[: load.points].tolist()
                )
                file = workspace.root / f"{server}-{load.points}.json"
                file.write_bytes(body)
                files[(server, load.label)] = (path, file)
        with (
            BenchServer(workspace.server_env(), workspace.root / "sigmawatch.log") as ours,
            mlserver(peers, workspace.root, model) as ml,
            kserve(peers, workspace.root, model) as ks,
        ):
            urls = {SIGMAWATCH: ours.url, MLSERVER: ml, KSERVE: ks}
            for (server, _), (path, file) in files.items():
                check(urls[server], path, file)
            results = measure(urls, files, budget)
    rps = {key: median(r.rps for r in runs) for key, runs in results.items()}
    p99 = {key: median(r.p99_ms for r in runs) for key, runs in results.items()}
    print(f"medians of {budget.rounds} runs of {budget.duration_s} s")
    print(
        table(
            ("server", "load", "req/s", "predictions/s", "P99"),
            [
                (
                    server,
                    load.label,
                    rate(rps[(server, load.label)]),
                    rate(rps[(server, load.label)] * load.points, " pred/s"),
                    ms(p99[(server, load.label)]),
                )
                for load in LOADS
                for server in (SIGMAWATCH, MLSERVER, KSERVE)
            ],
        )
    )
    return [
        Row(
            NAME,
            f"{load.label} a request (c={load.connections}), Sigmawatch vs {peer}",
            rate(rps[(SIGMAWATCH, load.label)] * load.points, " pred/s"),
            rate(rps[(peer, load.label)] * load.points, " pred/s"),
            ratio(rps[(SIGMAWATCH, load.label)], rps[(peer, load.label)]),
        )
        for load in LOADS
        for peer in (MLSERVER, KSERVE)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", type=Path, required=True, help="tools/peers.sh's folder")
    budget_arguments(parser)
    args = parser.parse_args()
    print(summary(run(args.peers, budget_from(args))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
