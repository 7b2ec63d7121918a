"""The FastAPI application: `create_app(settings)` wires routes to services."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

import sigmawatch
from sigmawatch import tracing
from sigmawatch.settings import load_settings
from sigmawatch_inference import errors
from sigmawatch_inference.batch_schemas import BatchRequest
from sigmawatch_inference.guards import CORS_HEADERS, HostAllowList, RequestGuards, page_policy
from sigmawatch_inference.middleware import BodyLimit, RequestMetrics
from sigmawatch_inference.openapi_contract import make_strict
from sigmawatch_inference.plotting import PLOT_TEMPLATE
from sigmawatch_inference.rollout_schemas import (
    FeedbackRequest,
    FleetRolloutRequest,
    RolloutRequest,
)
from sigmawatch_inference.routes import (
    access,
    feedback,
    health,
    ml_health,
    plot,
    predict,
    rollouts,
    train,
    versions,
)
from sigmawatch_inference.schemas import (
    DatasetRequest,
    PredictRequest,
    RollbackRequest,
    TrainRequest,
)
from sigmawatch_inference.security.authenticate import Authenticate
from sigmawatch_inference.security.identify import Identify
from sigmawatch_inference.security.openapi import add_security
from sigmawatch_inference.security.ratelimits import rate_limits
from sigmawatch_inference.security.schemas import ApiKeyRequest
from sigmawatch_inference.services import Services
from sigmawatch_inference.settings import ServiceSettings
from sigmawatch_inference.tracing_middleware import TraceRequests

log = logging.getLogger(__name__)

DESCRIPTION = """Train, version and serve one anomaly model per time series.

Errors are always `{"error": {"code", "message", "details"}}` with a stable code.
"""

# Bodies parsed by hand: their schemas are added to the OpenAPI components.
DOCUMENTED_BODIES = (
    TrainRequest,
    DatasetRequest,
    PredictRequest,
    BatchRequest,
    RollbackRequest,
    RolloutRequest,
    FleetRolloutRequest,
    FeedbackRequest,
    ApiKeyRequest,
)
SERVICE_NAME = "sigmawatch-inference"  # in traces and logs, unless OTEL_SERVICE_NAME
PREDICT_ROUTES = frozenset({"/v1/series/{series_id}/predict", "/v1/predict"})


def create_app(
    settings: ServiceSettings | None = None,
    services: Services | None = None,
    first: Sequence[APIRouter] = (),
) -> FastAPI:
    """The service's app; `first` are routers matched before its own (the benchmarks'
    do-nothing routes, so their floor pays no route matching the real routes skip)."""
    settings = settings or load_settings(ServiceSettings)
    tracing.configure(SERVICE_NAME)  # OBS-5: from the OTEL_* variables; off by default
    services = services or Services(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.rate_limits_on:
            services.limits = rate_limits(settings)
        # Start-up runs beside the server so /liveness answers during warm-up.
        starting = asyncio.create_task(to_thread.run_sync(services.start))
        starting.add_done_callback(_started)
        try:
            yield
        finally:
            await to_thread.run_sync(services.stop)  # also ends a start-up still retrying
            await asyncio.wait([starting])

    def _started(task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is None:
            # Objects alive after start-up are never garbage; keeping them out
            # of the collector's generations removes p99 spikes.
            gc.collect()
            gc.freeze()

    app = FastAPI(
        title="Sigmawatch",
        version=sigmawatch.__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served below from local assets: /docs must work offline
        redoc_url=None,
        # OBS-5: TraceRequests makes the server span. FastAPI's own would be a second
        # one per request, and its per-operation spans cost more than they tell
        # (docs/performance.md, "Tracing overhead"). Its OTel metrics and logs are
        # off too: the service exports Prometheus metrics and JSON logs, and with
        # them on FastAPI looks up both providers on every request.
        telemetry={"tracing": False, "operation_spans": False, "metrics": False, "logs": False},
    )
    app.state.services = services
    # FastAPI matches routes in order and each one passed over costs ~1.5 µs
    # (0.165): behind every other router, a predict paid ~50 µs before its handler
    # ran (docs/performance.md). The hot routes come first.
    routers = [*first] + [
        module.build(services)
        for module in (
            predict,
            train,
            versions,
            rollouts,
            feedback,
            ml_health,
            access,
            plot,
            health,
        )
    ]
    for router in routers:
        app.include_router(router)
    app.mount(
        "/static/docs", StaticFiles(packages=[("fastapi_offline", "static")]), name="docs-assets"
    )
    app.mount("/static", StaticFiles(packages=[("sigmawatch_inference", "static")]), name="static")

    # Rendered once: the page's Content-Security-Policy names its inline script by hash.
    docs_page = get_swagger_ui_html(
        openapi_url="/openapi.json",
        title="Sigmawatch API",
        swagger_js_url="/static/docs/swagger-ui-bundle.js",
        swagger_css_url="/static/docs/swagger-ui.css",
        swagger_favicon_url="/static/docs/favicon.png",
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return HTMLResponse(docs_page.body)

    errors.install(app, services.metrics, [r for router in routers for r in router.routes])
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    # Outer layers run first: a request is counted, then its caller checked (SEC-3).
    app.add_middleware(
        Authenticate,
        identify=Identify(settings, services.keys, lambda: services.registry),
        proxies=settings.proxy_networks,
        registry=lambda: services.registry,
    )
    if settings.cors_origin_list:  # closed unless configured (SEC-1)
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origin_list,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=list(CORS_HEADERS),
            max_age=600,
        )
    # Outside CORS, so preflight answers carry the security headers too.
    app.add_middleware(
        RequestGuards,
        hosts=HostAllowList(settings.allowed_hosts),
        metrics=services.metrics,
        page_policies={
            "/docs": page_policy(bytes(docs_page.body).decode()),
            "/plot": page_policy(PLOT_TEMPLATE),
        },
    )
    app.add_middleware(
        RequestMetrics,
        metrics=services.metrics,
        timed_routes=PREDICT_ROUTES,
        tracks=services.tracks,
    )
    if tracing.enabled():  # outermost: the span covers every layer, and auth sees its trace
        app.add_middleware(TraceRequests)
    app.openapi = lambda: build_openapi(app)  # type: ignore[method-assign]
    return app


def build_openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for model in DOCUMENTED_BODIES:
        document = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(document.pop("$defs", {}))
        components[model.__name__] = document
    settings = app.state.services.settings
    make_strict(schema, settings)
    add_security(schema, settings.auth_methods)
    app.openapi_schema = schema
    return schema
