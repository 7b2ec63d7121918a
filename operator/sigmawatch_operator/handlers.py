"""Every kopf registration, each a thin adapter into OperatorApp.

Handlers are registered on an explicit `kopf.OperatorRegistry` (kopf's
handler registry, not the model registry) by `register()`, so their
settings (the reconcile interval) come from configuration, not import time.
"""

from __future__ import annotations

from typing import Any

import kopf

from sigmawatch.rollouts.policy import ACTIVE, Phase
from sigmawatch_operator.app import OperatorApp
from sigmawatch_operator.jobs import MODEL_LABEL

MODELS = ("sigmawatch.dev", "v1alpha1", "anomalymodels")
ROLLOUTS = ("sigmawatch.dev", "v1alpha1", "modelrollouts")
ENDED = frozenset(phase.value for phase in Phase if phase not in ACTIVE)


def register(handlers: kopf.OperatorRegistry, app: OperatorApp) -> None:
    @kopf.on.startup(registry=handlers)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        app.configure(settings)
        app.start()

    @kopf.on.login(registry=handlers)
    def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
        # The same credentials as the Kubernetes client (in-cluster or KUBECONFIG).
        info: kopf.ConnectionInfo | None = kopf.login_via_client(**kwargs)
        return info

    @kopf.on.cleanup(registry=handlers)
    async def cleanup(**_: Any) -> None:
        app.stop()

    @kopf.on.resume(*MODELS, registry=handlers)
    @kopf.on.create(*MODELS, registry=handlers)
    @kopf.on.update(*MODELS, registry=handlers)
    async def reconcile_model(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        await app.reconcile_model(body, patch)

    @kopf.timer(*MODELS, interval=app.config.reconcile_interval_s, registry=handlers)
    async def follow_model(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        await app.reconcile_model(body, patch)

    # Our training Jobs: the end of a run reaches its model's status within a second,
    # not on the next timer tick.
    @kopf.on.event("batch", "v1", "jobs", labels={MODEL_LABEL: kopf.PRESENT}, registry=handlers)
    async def job_changed(body: kopf.Body, event: kopf.RawEvent, **_: Any) -> None:
        await app.job_changed(body, event.get("type"))

    @kopf.on.delete(*MODELS, optional=True, registry=handlers)
    async def model_deleted(body: kopf.Body, **_: Any) -> None:
        await app.model_deleted(body)

    @kopf.on.resume(*ROLLOUTS, registry=handlers)
    @kopf.on.create(*ROLLOUTS, registry=handlers)
    @kopf.on.update(*ROLLOUTS, registry=handlers)
    async def reconcile_rollout(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        await app.reconcile_rollout(body, patch)

    # kopf timers take one interval at registration: a short tick, and
    # `sigmawatch.rollouts.driver.due` keeps each rollout to its own
    # analysis.intervalSeconds. An ended rollout needs no tick.
    @kopf.timer(
        *ROLLOUTS,
        interval=app.config.rollout_tick_s,
        when=lambda status, **_: (status or {}).get("phase") not in ENDED,
        registry=handlers,
    )
    async def follow_rollout(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        await app.reconcile_rollout(body, patch)

    # An ended Istio rollout keeps the weights it ended with on its route (until a
    # newer rollout takes the route, or it is deleted): a route someone edited is
    # set back on the drift interval, as AnomalyModels are reconciled.
    @kopf.timer(
        *ROLLOUTS,
        interval=app.config.reconcile_interval_s,
        when=lambda spec, status, **_: (
            (spec or {}).get("trafficRouting") == "istio" and (status or {}).get("phase") in ENDED
        ),
        registry=handlers,
    )
    async def hold_route(body: kopf.Body, patch: kopf.Patch, **_: Any) -> None:
        await app.reconcile_rollout(body, patch)

    # Not optional, so kopf puts its finalizer on every ModelRollout: deleting an
    # active one must abort it, or its series' production pointers stay held.
    @kopf.on.delete(*ROLLOUTS, registry=handlers)
    async def rollout_deleted(body: kopf.Body, **_: Any) -> None:
        await app.rollout_deleted(body)
