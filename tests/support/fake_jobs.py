"""The AnomalyModel reconcile in process: a fake Job client, the in-memory registry, a clock.

`FakeJobs` stores Jobs as the API server would (a second create of a name
is a 409: `create_job` answers False) and, when told, runs one the way a
training pod does: the container's arguments and environment are parsed
by the training-Job contract and trained through `sigmawatch.fleet.run_shard`,
the code the real CLI runs. Exit codes map to the Job's terminal condition
as the Job controller's podFailurePolicy would.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sigmawatch import training_job
from sigmawatch.artifacts import FileStore
from sigmawatch.audit import acting_as
from sigmawatch.errors import SigmawatchError
from sigmawatch.fleet import run_shard
from sigmawatch.registry import Registry
from sigmawatch.registry.memory import MemoryRegistry
from sigmawatch.settings import TrainingSettings
from sigmawatch.training_job import Exit
from sigmawatch_inference import cli
from sigmawatch_operator.act import Executor
from sigmawatch_operator.config import OperatorConfig
from sigmawatch_operator.jobs import MODEL_LABEL
from sigmawatch_operator.metrics import OperatorMetrics
from sigmawatch_operator.planning import format_time
from sigmawatch_operator.reconciler import Reconciler
from sigmawatch_operator.report import Event, Outcome
from sigmawatch_operator.status_patch import status_patch
from support.data import write_series

NAMESPACE = "plant"
POINTS = 500  # training data per series; the harness lowers VAL-1's minimum to match


@dataclass
class Clock:
    now: datetime = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


class FakeJobs:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.jobs: dict[str, dict[str, Any]] = {}
        self.creates = 0

    def list_jobs(self, namespace: str, model: str) -> list[dict[str, Any]]:
        return [
            copy.deepcopy(job)
            for job in self.jobs.values()
            if job["metadata"]["namespace"] == namespace
            and job["metadata"]["labels"][MODEL_LABEL] == model
        ]

    def create_job(self, manifest: dict[str, Any]) -> bool:
        self.creates += 1
        name = manifest["metadata"]["name"]
        if name in self.jobs:
            return False
        job = copy.deepcopy(manifest)
        job["metadata"]["creationTimestamp"] = format_time(self.clock())
        job["status"] = {"active": 1}
        self.jobs[name] = job
        return True

    def running(self) -> list[str]:
        return [n for n, j in self.jobs.items() if not j["status"].get("conditions")]

    def run(
        self,
        name: str,
        *,
        registry: Registry,
        store: FileStore,
        settings: TrainingSettings,
        indexes: int | None = None,
    ) -> list[int]:
        """Run every index of the Job to its end, or only the first `indexes` (the Job
        stays active, as mid-run); returns each index's exit status."""
        job = self.jobs[name]
        spec = job["spec"]
        container = spec["template"]["spec"]["containers"][0]
        assert container["command"] == [training_job.COMMAND]
        args = container["args"]
        assert args[0] == training_job.SUBCOMMAND
        parser = argparse.ArgumentParser()
        training_job.add_fleet_arguments(parser)
        env = {e["name"]: e.get("value", "") for e in container["env"]}
        run = training_job.from_args(parser.parse_args(args[1:]), env)
        exits = []
        for index in range(spec["completions"] if indexes is None else indexes):
            attempt = dataclasses.replace(run, shard_index=index)
            for _ in range(spec["backoffLimitPerIndex"] + 1):
                try:
                    with acting_as(cli.actor(env)):  # as the pod's command does
                        outcome = run_shard(
                            attempt, registry=registry, store=store, settings=settings, environ={}
                        )
                    code = Exit.SERIES_FAILED if outcome.result.failed else Exit.OK
                except SigmawatchError as exc:
                    code = Exit.UNAVAILABLE if exc.retryable else Exit.INVALID
                if code is Exit.OK or code in training_job.NO_RETRY:
                    break
            exits.append(int(code))
        if indexes is None:
            self._finish(job, exits)
        return exits

    def _finish(self, job: dict[str, Any], exits: list[int]) -> None:
        stamp = format_time(self.clock())
        failed_policy = any(code in training_job.NO_RETRY for code in exits)
        if all(code == Exit.OK for code in exits):
            condition = {"type": "Complete", "status": "True", "reason": "Completed"}
        elif failed_policy:
            condition = {"type": "Failed", "status": "True", "reason": "FailedIndexes"}
            condition["message"] = "Job has failed indexes"
        else:
            condition = {"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}
            condition["message"] = "Job has reached the specified backoff limit"
        condition["lastTransitionTime"] = stamp
        job["status"] = {"conditions": [condition], "completionTime": stamp}


@dataclass
class Harness:
    """One namespace of AnomalyModels, reconciled in process."""

    root: Path
    registry: Registry = field(default_factory=MemoryRegistry)
    clock: Clock = field(default_factory=Clock)
    models: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.store = FileStore(self.root / "artifacts")
        self.settings = TrainingSettings(data_dir=self.root, min_training_points=POINTS)
        self.jobs = FakeJobs(self.clock)
        self.metrics = OperatorMetrics()
        self.reconciler = self.replica()

    @property
    def source_uri(self) -> str:
        return (self.root / "train").as_uri() + "/{series_id}.npy"

    def replica(self, registry: Registry | None = None) -> Reconciler:
        """A reconciler as one operator replica has it (replicas share Jobs and registry)."""
        registry = registry or self.registry
        executor = Executor(self.jobs, registry, self.store, self.settings, OperatorConfig())
        return Reconciler(self.jobs, registry, executor, self.metrics, self.clock)

    def write_data(self, series_id: str, *, seed: int = 0, constant: bool = False) -> None:
        write_series(self.root / "train" / f"{series_id}.npy", POINTS, seed=seed, constant=constant)

    def apply(self, name: str, spec: dict[str, Any]) -> None:
        apply_object(self.models, name, spec, self.clock())

    def single(self, series_id: str, **spec: Any) -> dict[str, Any]:
        return {"series": {"id": series_id}, "source": {"uri": self.source_uri}, **spec}

    def reconcile(self, name: str, reconciler: Reconciler | None = None) -> Outcome:
        """One reconcile, its status written back as the handler's merge patch would."""
        body = self.models[name]
        outcome = (reconciler or self.reconciler).reconcile(copy.deepcopy(body))
        previous = body["status"]
        body["status"] = apply_merge_patch(previous, status_patch(previous, outcome))
        self.events += outcome.events
        return outcome

    def run_jobs(self, registry: Registry | None = None) -> None:
        for name in self.jobs.running():
            self.jobs.run(
                name, registry=registry or self.registry, store=self.store, settings=self.settings
            )
        self.clock.advance(seconds=30)

    def settle(self, name: str, rounds: int = 3) -> dict[str, Any]:
        """Reconcile and run Jobs until nothing runs: what the timer does over time."""
        for _ in range(rounds):
            self.reconcile(name)
            if not self.jobs.running():
                break
            self.run_jobs()
        self.reconcile(name)
        status: dict[str, Any] = self.models[name]["status"]
        return status

    def reasons(self) -> list[str]:
        return [e.reason for e in self.events]


def apply_object(
    objects: dict[str, dict[str, Any]], name: str, spec: dict[str, Any], now: datetime
) -> None:
    """kubectl apply: a new object, or a new generation of its spec."""
    if name in objects:
        body = objects[name]
        body["spec"] = copy.deepcopy(spec)
        body["metadata"]["generation"] += 1
        return
    objects[name] = {
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "uid": f"uid-{name}",
            "generation": 1,
            "creationTimestamp": format_time(now),
        },
        "spec": copy.deepcopy(spec),
        "status": {},
    }


def apply_merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7386, as the API server applies the handler's status patch."""
    result = copy.deepcopy(target)
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        elif isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = apply_merge_patch(result[key], value)
        else:
            result[key] = copy.deepcopy(value)
    return result


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    return next((c for c in status.get("conditions") or [] if c["type"] == kind), {})
