"""Prometheus metrics of the operator, on their own registry and port."""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    start_http_server,
)


class OperatorMetrics:
    def __init__(self) -> None:
        self.collectors = CollectorRegistry(auto_describe=True)
        r = self.collectors
        ProcessCollector(registry=r)  # OBS-1: its CPU, memory and open files, as the service
        self.reconciles = Counter(
            "sigmawatch_operator_reconciles",
            "Reconciles by kind and result.",
            ["kind", "result"],
            registry=r,
        )
        self.reconcile_seconds = Histogram(
            "sigmawatch_operator_reconcile_seconds",
            "Time one reconcile took.",
            ["kind"],
            registry=r,
        )
        self.jobs_created = Counter(
            "sigmawatch_operator_training_jobs_created", "Training Jobs created.", registry=r
        )
        self.job_outcomes = Counter(
            "sigmawatch_operator_training_jobs_finished",
            "Training Jobs finished by outcome.",
            ["outcome"],
            registry=r,
        )
        self.models = Gauge(
            "sigmawatch_operator_models",
            "AnomalyModels seen, by Ready condition.",
            ["ready"],
            registry=r,
        )

        # ModelRollouts (OBS-2): labelled by phase, check, or "<namespace>/<name>" of a
        # ModelRollout (bounded by how many exist), never by series.
        self.rollouts = Gauge(
            "sigmawatch_operator_rollouts",
            "ModelRollouts seen, by phase.",
            ["phase"],
            registry=r,
        )
        self.rollout_weight = Gauge(
            "sigmawatch_operator_rollout_weight_percent",
            "Share of traffic (of series, for a fleet canary) on the candidate.",
            ["rollout"],
            registry=r,
        )
        self.rollout_agreement = Gauge(
            "sigmawatch_operator_rollout_agreement",
            "Shadow agreement of the candidate with stable at the last analysis.",
            ["rollout"],
            registry=r,
        )
        self.rollbacks = Counter(
            "sigmawatch_operator_rollbacks",
            "Rollouts ended without promotion, by reason: the failing check, "
            "maxDuration, or aborted.",
            ["reason"],
            registry=r,
        )
        self.promotion_seconds = Histogram(
            "sigmawatch_operator_rollout_promotion_seconds",
            "Time from a rollout's start to its promotion.",
            buckets=(60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86_400, 172_800),
            registry=r,
        )

    def serve(self, port: int, host: str) -> None:
        if port:
            start_http_server(port, addr=host, registry=self.collectors)
