"""Prometheus metrics of the operator, on their own registry and port."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server


class OperatorMetrics:
    def __init__(self) -> None:
        self.collectors = CollectorRegistry(auto_describe=True)
        r = self.collectors
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

    def serve(self, port: int) -> None:
        if port:
            start_http_server(port, addr="0.0.0.0", registry=self.collectors)  # noqa: S104 - a pod's metrics port
