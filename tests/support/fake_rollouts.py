"""ModelRollouts driven in process: the AnomalyModel harness, a rollout controller, a clock.

Versions are trained the way the operator trains them (the fake Job client
runs `sigmawatch train-fleet`'s code). What the inference pods would flush
is put in the registry with `traffic` (`Registry.record_stats`), what the
pods of each track count for an Istio rollout with `tracks`
(`Registry.record_track_stats`), labels with `Registry.record_feedback`;
VirtualServices live in `support.fake_istio.FakeVirtualServices`. The
in-memory registry stamps rollouts and labels with the real time, which the
driver compares with the clock it is given: the clock starts at the real
time and moves forward only, and `realign` brings it back to the real time
before a rollout whose labels must count.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sigmawatch.registry.rollout_records import StatsRow, TrackRow
from sigmawatch.rollouts.driver import Analyzer
from sigmawatch.rollouts.window import N_LATENCY, latency_bucket
from sigmawatch_operator.metrics import OperatorMetrics
from sigmawatch_operator.report import Event, Outcome
from sigmawatch_operator.rollouts import RolloutController
from sigmawatch_operator.status_patch import status_patch
from support.fake_istio import FakeVirtualServices
from support.fake_jobs import Clock, Harness, apply_merge_patch, apply_object

FAST = {"intervalSeconds": 1, "minSamples": 100, "minStepSeconds": 0, "failureLimit": 2}


def latency(ms: float, n: int) -> tuple[int, ...]:
    counts = [0] * N_LATENCY
    counts[latency_bucket(ms)] = n
    return tuple(counts)


@dataclass
class Rollouts:
    """One namespace of AnomalyModels (`models`) and ModelRollouts (`objects`)."""

    root: Path
    models: Harness = field(init=False)
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        start = datetime.now(UTC).replace(microsecond=0)
        self.models = Harness(self.root, clock=Clock(start))
        self.registry = self.models.registry
        self.clock = self.models.clock
        self.metrics = OperatorMetrics()
        self.mesh = FakeVirtualServices()
        self.controller = self.replica()

    def replica(self) -> RolloutController:
        """A controller as a (re)started operator has it: nothing in memory."""
        return RolloutController(
            lambda namespace, name: copy.deepcopy(self.models.models.get(name)),
            self.registry,
            Analyzer(self.registry, self.models.store),
            self.metrics,
            self.clock,
            self.mesh,
        )

    # -- versions ------------------------------------------------------------------------

    def trained(
        self, name: str, series: str | list[str], versions: int = 2, *, first: int = 0, **spec: Any
    ) -> str:
        """Training runs `first` … of an AnomalyModel (run 0 makes v1 production, later
        ones leave production alone); the name of the last training Job."""
        h = self.models
        ids = [series] if isinstance(series, str) else series
        selector = {"id": series} if isinstance(series, str) else {"ids": ids}
        for run in range(first, first + versions):
            for i, series_id in enumerate(ids):
                h.write_data(series_id, seed=100 * run + i)
            body = {"series": selector, "source": {"uri": h.source_uri}, **spec}
            body["retrain"] = {"nonce": str(run)}
            body["production"] = {"promote": run == 0}
            h.apply(name, body)
            h.settle(name)
        last: str = h.models[name]["status"]["lastJob"]["name"]
        return last

    def realign(self) -> None:
        """Training moves the clock ahead; labels are stamped with the real time and count
        when sent after the rollout's start, so a rollout on labels starts at the real time."""
        self.clock.now = datetime.now(UTC)

    def traffic(
        self,
        series_id: str,
        version: int,
        n: int = 200,
        *,
        anomalies: int = 2,
        errors: int = 0,
        ms: float = 2.0,
        agreed: int | None = None,
    ) -> None:
        """What pods flush for one version over the coming second (a bucket counts in
        every window it overlaps); `agreed` set means shadow-scored points."""
        self.registry.record_stats(
            [
                StatsRow(
                    series_id,
                    version,
                    self.clock(),
                    predictions=n,
                    anomalies=anomalies,
                    errors=errors,
                    latency=latency(ms, n),
                    shadow_compared=n if agreed is not None else 0,
                    shadow_agreed=agreed or 0,
                    bucket_end=self.clock() + timedelta(seconds=1),
                )
            ]
        )

    def tracks(self, n: int = 200, *, errors: int = 0, ms: float = 2.0) -> None:
        """What the pods of both tracks flush over the coming second: the stable track
        healthy, the candidate track with `errors` of its `n` requests failed."""
        start, end = self.clock(), self.clock() + timedelta(seconds=1)
        self.registry.record_track_stats(
            [
                TrackRow("stable", start, end, n, 0, latency(2.0, n)),
                TrackRow("candidate", start, end, n, errors, latency(ms, n)),
            ]
        )

    # -- ModelRollouts -------------------------------------------------------------------

    def apply(self, name: str, spec: dict[str, Any]) -> None:
        # Never behind the real time the registry stamps a rollout's updates with: the
        # driver analyses once `intervalSeconds` of this clock passed since the last
        # update, so a clock behind it (it starts at the second, and set-up takes time
        # on a loaded machine) skipped the first analysis.
        self.clock.now = max(self.clock.now, datetime.now(UTC))
        apply_object(self.objects, name, spec, self.clock())

    def tick(self, name: str, controller: RolloutController | None = None) -> dict[str, Any]:
        """One handler call; status written back as the handler's merge patch would."""
        body = self.objects[name]
        outcome: Outcome = (controller or self.controller).reconcile(copy.deepcopy(body))
        previous = body["status"]
        body["status"] = apply_merge_patch(previous, status_patch(previous, outcome))
        self.events += outcome.events
        status: dict[str, Any] = body["status"]
        return status

    def later(self, name: str, seconds: float = 2) -> dict[str, Any]:
        """Time passes (an analysis interval or more), then the timer ticks."""
        self.clock.advance(seconds=seconds)
        return self.tick(name)

    def delete(self, name: str) -> None:
        event = self.controller.delete(copy.deepcopy(self.objects.pop(name)))
        if event is not None:
            self.events.append(event)

    def reasons(self) -> list[str]:
        return [e.reason for e in self.events]

    def sample(self, metric: str, **labels: str) -> float | None:
        value: float | None = self.metrics.collectors.get_sample_value(metric, labels)
        return value
