"""The fleet's ML health (OBS-2): which series are over an anomaly rate, which drift.

Prometheus only gets counts (sigmawatch_series_anomaly_rate_high,
sigmawatch_series_drifting): these lists name the series, a page at a time,
ordered by series then version, from the hourly periods (the daily ones for
windows of a day or more) that overlap the window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query

from sigmawatch.durations import parse_duration
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry.catalogue import decode_cursor, encode_cursor
from sigmawatch.registry.health_records import HealthPage, HealthQuery
from sigmawatch_inference.health_schemas import DriftPage, RatePage
from sigmawatch_inference.responses import OrjsonResponse
from sigmawatch_inference.routes import ERRORS
from sigmawatch_inference.schemas import DURATION
from sigmawatch_inference.services import Services

MAX_WINDOW = timedelta(days=400)
Window = Annotated[str, Query(description="e.g. 1h, 6h, 1d, 7d", pattern=DURATION)]
Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[
    str | None, Query(min_length=1, max_length=400, description="next_cursor of the page before")
]
MinPoints = Annotated[
    int, Query(ge=1, le=10**12, description="Pairs with fewer points in the window are left out")
]


def health_query(
    window: str, threshold: float, min_points: int, limit: int, cursor: str | None
) -> HealthQuery:
    seconds = parse_duration(window)
    if not 0 < seconds <= MAX_WINDOW.total_seconds():
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST, "window must be between 1s and 400d", window=window
        )
    until = datetime.now(UTC)
    return HealthQuery(
        since=until - timedelta(seconds=seconds),
        until=until,
        threshold=threshold,
        min_points=min_points,
        limit=limit,
        cursor=decode_cursor(cursor) if cursor else None,
    )


def render(query: HealthQuery, page: HealthPage[Any]) -> OrjsonResponse:
    return OrjsonResponse(
        {
            "since": query.since.isoformat(),
            "until": query.until.isoformat(),
            "items": [item.to_dict() for item in page.items],
            "next_cursor": encode_cursor(*page.next_cursor) if page.next_cursor else None,
        }
    )


def build(services: Services) -> APIRouter:
    router = APIRouter(tags=["ml health"])

    @router.get(
        "/v1/anomaly-rates",
        response_model=RatePage,
        responses=ERRORS,
        summary="Series whose anomaly rate in a window is at least min_rate (OBS-2)",
    )
    async def anomaly_rates(
        window: Window = "1h",
        min_rate: Annotated[float, Query(ge=0, le=1)] = 0.2,
        min_points: MinPoints = 1,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Any:
        query = health_query(window, min_rate, min_points, limit, cursor)
        registry, _, _ = services.require()
        return render(query, await to_thread.run_sync(registry.anomaly_rates, query))

    @router.get(
        "/v1/drift",
        response_model=DriftPage,
        responses=ERRORS,
        summary="Versions whose live values diverge from their training by at least min_kl",
    )
    async def drift(
        window: Window = "1d",
        min_kl: Annotated[float, Query(ge=0, le=1000, description="KL divergence, nats")] = 0.5,
        min_points: MinPoints = 100,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> Any:
        query = health_query(window, min_kl, min_points, limit, cursor)
        registry, _, _ = services.require()
        return render(query, await to_thread.run_sync(registry.drifting, query))

    return router
