"""GET /plot?series_id=…&version=vN (MOD-5): the training window of a version."""

from __future__ import annotations

from typing import Annotated

from anyio import to_thread
from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from sigmawatch.validation import parse_version, validate_series_id
from sigmawatch_inference.plotting import plot_data, render_page
from sigmawatch_inference.routes import ERRORS
from sigmawatch_inference.services import Services


def build(services: Services) -> APIRouter:
    router = APIRouter(tags=["plot"])

    @router.get(
        "/plot",
        response_class=HTMLResponse,
        responses=ERRORS,
        summary="Page with a version's training points, mean, band and flagged points",
    )
    async def plot(
        series_id: Annotated[str, Query(max_length=200)],
        version: Annotated[str | None, Query(description="e.g. v3; production if absent")] = None,
    ) -> HTMLResponse:
        validate_series_id(series_id)
        number = parse_version(version) if version is not None else None
        registry, store, _ = services.require()

        def build_page() -> str:
            versions = registry.list_versions(series_id)
            record = (
                registry.get_version(series_id, number)
                if number is not None
                else registry.get_production(series_id)
            )
            route = services.routing.route(series_id)
            return render_page(plot_data(record, versions, store, route))

        return HTMLResponse(await to_thread.run_sync(build_page))

    return router
