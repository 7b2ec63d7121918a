"""The service's metrics of REST/CLI rollouts, for the rollout alerts (OBS-4).

ModelRollouts are the operator's to report; a rollout started through REST
or the CLI is reported by every pod's rollout loop: its canary weight while
active, and its end, counted once by reason, whoever ended it.
"""

from __future__ import annotations

import dataclasses

from prometheus_client import CollectorRegistry

from sigmawatch.artifacts import FileStore
from sigmawatch.registry.memory import MemoryRegistry
from sigmawatch.registry.rollout_records import Driver
from sigmawatch.rollouts import driver
from sigmawatch.rollouts.ended import record_reason
from sigmawatch.rollouts.policy import Phase
from sigmawatch.settings import TrainingSettings
from sigmawatch_inference.metrics_rollouts import RolloutGauges
from sigmawatch_inference.rollout_loop import RolloutLoop
from support.training import rollout, two_versions


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_a_pod_reports_api_rollouts_weights_and_ends(
    file_store: FileStore, settings: TrainingSettings
) -> None:
    registry = MemoryRegistry()
    for series in ("loop_a", "loop_b"):
        two_versions(registry, file_store, settings, series)
    first = registry.start_rollout(rollout("loop_a"))
    second = registry.start_rollout(rollout("loop_b"))
    metrics = CollectorRegistry()
    pods = [RolloutLoop(registry, file_store, 60.0, RolloutGauges(metrics))]
    other = CollectorRegistry()
    pods.append(RolloutLoop(registry, file_store, 60.0, RolloutGauges(other)))
    for pod in pods:
        pod.tick()
    weight = "sigmawatch_rollout_weight_percent"
    assert sample(metrics, weight, rollout=first.name) == first.state.weight == 10
    assert sample(other, weight, rollout=second.name) == 10

    driver.abort(registry, registry.get_rollout(first.rollout_id), Driver.API)  # a request
    for _ in range(2):  # seen once, however many ticks follow
        for pod in pods:
            pod.tick()
    ended = "sigmawatch_rollouts_ended_total"
    assert sample(metrics, ended, reason="aborted") == 1
    assert sample(other, ended, reason="aborted") == 1  # every pod: alerts take the max
    assert sample(metrics, weight, rollout=first.name) is None
    assert sample(metrics, weight, rollout=second.name) == 10


def test_a_rolled_back_rollout_is_counted_by_its_first_failing_check(
    file_store: FileStore, settings: TrainingSettings
) -> None:
    registry = MemoryRegistry()
    two_versions(registry, file_store, settings, "loop_c")
    record = registry.start_rollout(rollout("loop_c"))
    analysis = {
        "checks": [
            {"name": "errorRate", "passed": True},
            {"name": "latency", "passed": False},
            {"name": "agreement", "passed": False},
        ]
    }
    ended = dataclasses.replace(
        record,
        state=dataclasses.replace(record.state, phase=Phase.ROLLED_BACK),
        last_analysis=analysis,
    )
    assert record_reason(ended) == "latency"
    assert record_reason(record) is None  # still active
    timed_out = dataclasses.replace(
        ended, state=dataclasses.replace(record.state, phase=Phase.FAILED)
    )
    assert record_reason(timed_out) == "maxDuration"
    promoted = dataclasses.replace(
        ended, state=dataclasses.replace(record.state, phase=Phase.PROMOTED)
    )
    assert record_reason(promoted) is None
