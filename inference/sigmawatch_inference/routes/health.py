"""/healthcheck, /liveness, /readiness and /metrics (MON-1..3)."""

from __future__ import annotations

import time
from typing import Any

from anyio import to_thread
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
        summary="Ready for traffic: migrated, storage answers, warm-up done",
        responses={503: {"description": "Not ready; `reasons` says why"}},
    )
    async def readiness() -> Any:
        reasons = []
        if services.startup_error:
            reasons.append(f"start-up failed, retrying: {services.startup_error}")
        elif not services.ready.is_set():
            reasons.append("starting: migrations or warm-up not finished")
        else:
            check = await to_thread.run_sync(services.storage_check)
            if not check.ok:
                reasons.append(f"storage unavailable: {check.reason}")
        if reasons:
            return OrjsonResponse({"status": "not ready", "reasons": reasons}, status_code=503)
        return OrjsonResponse({"status": "ready"})

    @router.get("/healthcheck", response_model=HealthResponse, summary="Service summary (MON-2)")
    async def healthcheck() -> Any:
        ready = services.ready.is_set()
        check = await to_thread.run_sync(services.storage_check) if ready else None
        series = await to_thread.run_sync(services.series_trained) if ready else None
        return OrjsonResponse(
            {
                "status": "starting" if not ready else ("ok" if check and check.ok else "degraded"),
                "version": sigmawatch.__version__,
                "uptime_s": round(time.time() - services.started_at, 3),
                "series_trained": series,
                "models_cached": services.cache.size if services.cache else 0,
                "cache_hit_rate": metrics.cache_hit_rate,
                "inference_latency_ms": metrics.inference_ms.summary(),
                "training_latency_ms": metrics.training_ms.summary(),
                "storage": {"ok": check.ok, "reason": check.reason} if check else {"ok": None},
            }
        )

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        if services.cache is not None:
            metrics.observe_cache(services.cache.size, services.cache.nbytes)
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
