"""How wide and how long a training run may be, from the fleet's size (issue 10).

A fixed deadline of an hour with 4 pods at a time failed fleets of ~230k
series with DeadlineExceeded, unretried. Unless the spec sets them,
`job.parallelism` and `job.activeDeadlineSeconds` are derived here: enough
pods at a time that the run should take about an hour, and a deadline
twice the estimate. When the spec sets them and the estimate does not fit,
the run still starts, and the TrainingStarted event says it may not finish.
The estimate is `SIGMAWATCH_OPERATOR_SECONDS_PER_SERIES` a series, a
measured figure for the cluster's nodes (docs/operator.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from sigmawatch_operator.model_spec import ModelSpec

DEFAULT_PARALLELISM = 4
MAX_PARALLELISM = 100  # the CRD's bound
TARGET_S = 3600.0  # a derived parallelism aims at a run of about this long
MIN_DEADLINE_S = 3600
SAFETY = 2.0  # a derived deadline is this many times the estimate
POD_START_S = 30.0  # scheduling, image and start-up, per wave of pods


@dataclass(frozen=True, slots=True)
class RunSize:
    shards: int
    parallelism: int
    deadline_s: int
    estimate_s: float  # how long the run should take at `parallelism`

    @property
    def fits(self) -> bool:
        return self.estimate_s <= self.deadline_s


def size_run(spec: ModelSpec, series: int, seconds_per_series: float) -> RunSize:
    shards = spec.shards(series)
    per_pod = min(series, spec.series_per_pod) * seconds_per_series + POD_START_S
    parallelism = spec.parallelism or max(
        DEFAULT_PARALLELISM, math.ceil(shards * per_pod / TARGET_S)
    )
    parallelism = min(parallelism, shards, MAX_PARALLELISM)
    estimate = math.ceil(shards / parallelism) * per_pod
    deadline = spec.active_deadline_s or max(MIN_DEADLINE_S, math.ceil(estimate * SAFETY))
    return RunSize(shards, parallelism, deadline, estimate)
