"""The service's view of the rollouts it drives (REST and CLI ones; OBS-4).

A ModelRollout's metrics are the operator's. Rollouts started through REST
or the CLI are driven by every pod's rollout loop, so each pod reports
what it sees of them in the registry: the same figures on every pod, which
the alerts take the `max` of. A pod counts an end it sees happen between
two of its ticks, whoever made it (an analysis, an abort request, the CLI).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from sigmawatch.registry.rollout_records import RolloutRecord
from sigmawatch.rollouts.ended import record_reason


class RolloutGauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.ended = Counter(
            "sigmawatch_rollouts_ended",
            "REST/CLI rollouts seen to end without promotion, by reason: the failing "
            "check, maxDuration, or aborted (each pod counts each; alerts take the max).",
            ["reason"],
            registry=registry,
        )
        self.weight = Gauge(
            "sigmawatch_rollout_weight_percent",
            "Candidate weight of each active REST/CLI canary rollout (r<id>).",
            ["rollout"],
            registry=registry,
        )
        self._active: set[str] = set()

    def observe(self, active: list[RolloutRecord], ended: list[RolloutRecord]) -> None:
        """`active`: this tick's active API rollouts; `ended`: those of the last tick that
        are no longer active, as stored now."""
        names = {r.name for r in active}
        for gone in self._active - names:
            self.weight.remove(gone)
        for record in active:
            self.weight.labels(record.name).set(record.state.weight)
        for record in ended:
            reason = record_reason(record)
            if reason is not None:
                self.ended.labels(reason).inc()
        self._active = names
