"""Every kopf registration, each a thin adapter into OperatorApp.

Handlers are registered on an explicit registry by `register()`, so their
settings (the reconcile interval) come from configuration, not import time.
"""

from __future__ import annotations

from typing import Any

import kopf

from sigmawatch_operator.app import OperatorApp

MODELS = ("sigmawatch.dev", "v1alpha1", "anomalymodels")
ROLLOUTS = ("sigmawatch.dev", "v1alpha1", "modelrollouts")


def register(registry: kopf.OperatorRegistry, app: OperatorApp) -> None:
    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        app.configure(settings)
        app.start()

    @kopf.on.login(registry=registry)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # The same credentials as the Kubernetes client (in-cluster or KUBECONFIG).
        info: kopf.ConnectionInfo | None = kopf.login_via_client(**kwargs)
        return info

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        app.stop()

    @kopf.on.resume(*MODELS, registry=registry)
    @kopf.on.create(*MODELS, registry=registry)
    @kopf.on.update(*MODELS, registry=registry)
    async def reconcile_model(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        await app.reconcile_model(body, patch)

    @kopf.timer(*MODELS, interval=app.config.reconcile_interval_s, registry=registry)
    async def follow_model(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        await app.reconcile_model(body, patch)

    @kopf.on.delete(*MODELS, optional=True, registry=registry)
    async def model_deleted(body: kopf.Body, **_: Any) -> None:
        app.model_deleted(body)

    @kopf.on.resume(*ROLLOUTS, registry=registry)
    @kopf.on.create(*ROLLOUTS, registry=registry)
    @kopf.on.update(*ROLLOUTS, registry=registry)
    async def check_rollout(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        await app.check_rollout(body, patch)
