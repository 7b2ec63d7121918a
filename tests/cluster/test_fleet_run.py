"""A fleet's training run as the operator drives it (issue 10, item 5): progress in
status while it runs, its end seen within seconds, and where each pod's time goes.

In `make test` a small fleet (1,200 series, 4 pods). The issue's run is the same
test with `SIGMAWATCH_FLEET_RUN_SERIES=100000` (and `..._PER_POD`, `..._PARALLELISM`);
it prints the figures docs/performance.md records.
"""

from __future__ import annotations

import itertools
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from sigmawatch_operator.jobs import job_state
from support.kubelet import FakeKubelet
from support.operator import OperatorProcess, condition, get_json
from support.plant import Plant, model

SERIES = int(os.environ.get("SIGMAWATCH_FLEET_RUN_SERIES", "1200"))
PER_POD = int(os.environ.get("SIGMAWATCH_FLEET_RUN_PER_POD", "300"))
PARALLELISM = int(os.environ.get("SIGMAWATCH_FLEET_RUN_PARALLELISM", "2"))
POINTS = 1_000  # a series' training data; the pods' minimum is lowered to it
NOTICED_S = 5.0  # the Job's end reaches the model's status within this
RUN_TIMEOUT_S = max(300.0, SERIES / 20)  # a fleet of 100,000 trains here in ~10 minutes


@dataclass(frozen=True, slots=True)
class Sample:
    at: float
    trained: int | None
    pending: int | None
    training: bool
    job_done: bool
    settled: bool


@pytest.fixture
def fleet_operator(plant: Plant, artifacts_dir: Path) -> Any:
    process: OperatorProcess = plant.start_operator("operator-fleet-run", artifacts_dir / "logs")
    yield process
    process.stop()


@pytest.mark.timeout(RUN_TIMEOUT_S + 120)  # the files written, and the run
def test_a_fleet_run_shows_progress_and_its_end_within_seconds(
    plant: Plant,
    kubelet: FakeKubelet,
    models_namespace: str,
    pod_env: dict[str, str],
    fleet_operator: OperatorProcess,
) -> None:
    ns = models_namespace
    pod_env["SIGMAWATCH_MIN_TRAINING_POINTS"] = str(POINTS)
    written = time.monotonic()
    for i in range(SERIES):
        plant.write_data(f"run_{i:06d}", seed=i, n=POINTS)
    print(f"\n{SERIES} series written in {time.monotonic() - written:.1f} s")
    spec = {
        "series": {"selector": {"prefix": "run_"}},
        "source": {"uri": plant.source_uri},
        "job": {"seriesPerPod": PER_POD, "parallelism": PARALLELISM},
    }
    started = time.monotonic()
    plant.apply(ns, model("fleet-run", spec))
    samples = _watch(plant, ns, started, timeout_s=RUN_TIMEOUT_S)

    end = samples[-1]
    status = get_json(plant.cluster.kubectl, "anomalymodel", "fleet-run", "-n", ns)["status"]
    assert (status["seriesCovered"], status["seriesTrained"], status["seriesFailed"]) == (
        SERIES,
        SERIES,
        0,
    )
    assert status["lastJob"]["phase"] == "Succeeded"
    # Progress while the Job ran: counts between none and all, pending going down.
    during = [s for s in samples if s.training and not s.job_done]
    partial = sorted({s.trained for s in during if s.trained and s.trained < SERIES})
    assert len(partial) >= 2, f"no progress seen while training: {partial}"
    pending = [s.pending for s in during if s.pending is not None]
    assert pending == sorted(pending, reverse=True), f"pending went up: {during[:6]}"
    # Its end: the Job's completion reaches status within seconds, not on a timer.
    job_done = next(s.at for s in samples if s.job_done)
    noticed = next(s.at for s in samples if s.settled)
    assert noticed - job_done < NOTICED_S

    runs = _pod_runs(kubelet, ns)
    assert len(runs) == -(-SERIES // PER_POD)
    wall = sum(r[0] for r in runs)
    training = sum(r[2] for r in runs)
    finding = sum(r[1] for r in runs)
    assert finding < 0.05 * training  # a pod reads its own list: it never lists the fleet
    gaps = [b.at - a.at for a, b in itertools.pairwise(during) if b.trained != a.trained]
    print(
        f"{SERIES} series, {len(runs)} pods of {PER_POD}, {PARALLELISM} at a time: "
        f"run {end.at:.1f} s, {SERIES / end.at:.0f} series/s; "
        f"pods' time training {training / wall:.1%} (finding their share {finding:.2f} s "
        f"of {wall:.0f} s); {len(partial)} progress values, longest wait between two "
        f"{max(gaps, default=0.0):.1f} s; Job end to status {noticed - job_done:.1f} s"
    )


def _watch(plant: Plant, ns: str, started: float, timeout_s: float) -> list[Sample]:
    """Status and Job sampled every ~0.5 s, from apply until the run is recorded."""
    samples: list[Sample] = []
    deadline = started + timeout_s
    while time.monotonic() < deadline:
        obj = get_json(plant.cluster.kubectl, "anomalymodel", "fleet-run", "-n", ns)
        jobs = plant.jobs(ns, "fleet-run")
        status = obj.get("status") or {}
        training = condition(obj, "Training").get("status") == "True"
        last = status.get("lastJob") or {}
        sample = Sample(
            at=time.monotonic() - started,
            trained=status.get("seriesTrained"),
            pending=status.get("seriesPending"),
            training=training,
            job_done=any(job_state(job).finished for job in jobs),
            settled=bool(last.get("finishedAt")) and not training,
        )
        samples.append(sample)
        if sample.settled:
            return samples
        time.sleep(0.5)
    raise TimeoutError(f"the fleet run did not end in {timeout_s:.0f} s: {samples[-3:]}")


def _pod_runs(kubelet: FakeKubelet, ns: str) -> list[tuple[float, float, float]]:
    """Each training pod's (wall, finding, training) seconds: the kubelet's clock for the
    process, the pod's own summary for the rest."""
    runs = []
    for pod, seconds in kubelet.run_seconds.items():
        namespace, name = pod.split("/", 1)
        if namespace != ns:
            continue
        summary = _summary(kubelet.log_path(namespace, name))
        runs.append((seconds[-1], summary["finding"], summary["training"]))
    return runs


def _summary(log: Path) -> dict[str, float]:
    for line in reversed(log.read_bytes().splitlines()):
        if line.startswith(b"{") and b'"seconds"' in line:
            found: dict[str, float] = orjson.loads(line)["seconds"]
            return found
    raise AssertionError(f"no run summary in {log}")
