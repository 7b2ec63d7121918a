"""/healthcheck, /liveness, /readiness and /metrics (MON-1..3)."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

import sigmawatch
from sigmawatch_inference.responses import OrjsonResponse
from sigmawatch_inference.schemas import HealthResponse
from sigmawatch_inference.services import Services


def build(services: Services) -> APIRouter:
    router = APIRouter(tags=["health"])
    metrics = services.metrics

    @router.get("/liveness", summary="The process answers (Kubernetes liveness probe)")
    async def liveness() -> Any:
        return OrjsonResponse({"status": "alive"})

    @router.get(
        "/readiness",
        summary="Ready for traffic: migrated, storage answered, warm-up done",
        responses={503: {"description": "Still starting; `reasons` says why"}},
    )
    async def readiness() -> Any:
        # Only start-up gates readiness. Every pod shares the registry and the
        # store, so failing readiness on an outage would take all of them out
        # of the Service at once while cached models could still answer
        # (docs/decisions/0009); /healthcheck reports the outage instead.
        if services.ready.is_set():
            return OrjsonResponse({"status": "ready"})
        reason = (
            f"start-up failed ({services.startup_error}), retrying; the service log has details"
            if services.startup_error
            else "starting: migrations, storage check or warm-up not finished"
        )
        return OrjsonResponse({"status": "not ready", "reasons": [reason]}, status_code=503)

    @router.get("/healthcheck", response_model=HealthResponse, summary="Service summary (MON-2)")
    async def healthcheck() -> Any:
        ready = services.ready.is_set()
        storage = services.storage()
        return OrjsonResponse(
            {
                "status": "starting" if not ready else ("ok" if storage.ok else "degraded"),
                "version": sigmawatch.__version__,
                "uptime_s": round(time.time() - services.started_at, 3),
                "series_trained": storage.series_trained,
                "models_cached": services.cache.size if services.cache else 0,
                "models_resident": services.resident.size if services.resident else 0,
                "cache_hit_rate": metrics.cache_hit_rate,
                "inference_latency_ms": metrics.inference_ms.summary(),
                "training_latency_ms": metrics.training_ms.summary(),
                "storage": {
                    "ok": storage.ok,
                    "reason": storage.reason,
                    "breakers": services.breaker_states(),  # AV-2
                },
            }
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        if services.cache is not None:
            metrics.observe_cache(services.cache.size, services.cache.nbytes)
        metrics.system.observe_thread_pool()  # here: the pool belongs to this event loop
        return Response(generate_latest(metrics.collectors), media_type=CONTENT_TYPE_LATEST)

    return router
