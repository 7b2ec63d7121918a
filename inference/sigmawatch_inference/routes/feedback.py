"""Ground truth in, statistics out (REL-3, OBS-2).

POST /v1/series/{series_id}/feedback stores labels (was each point truly
anomalous?); a label sent again for the same timestamp replaces the old
one. GET /v1/series/{series_id}/versions/{version}/stats answers a
version's counts for a time window, and its confusion on the labels
received in that window (the version scores them: models are stateless).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import numpy as np
from anyio import to_thread
from fastapi import APIRouter, Query, Request

from sigmawatch.durations import parse_duration
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.loading import load_model
from sigmawatch.registry.errors import model_not_found
from sigmawatch.rollouts.driver import confusion
from sigmawatch.validation import (
    check_timestamps,
    check_values,
    parse_version,
    to_timestamps,
    to_values,
    validate_series_id,
)
from sigmawatch_inference.parsing import read_json_object, require_field
from sigmawatch_inference.responses import OrjsonResponse
from sigmawatch_inference.rollout_schemas import FeedbackRequest, FeedbackResponse, VersionStats
from sigmawatch_inference.routes import ERRORS, body_doc
from sigmawatch_inference.schemas import DURATION, IsoDatetime
from sigmawatch_inference.services import Services


def _labels(raw: Any, size: int) -> np.ndarray[Any, np.dtype[np.bool_]]:
    if not isinstance(raw, list) or not all(isinstance(v, bool) for v in raw):
        raise SigmawatchError(ErrorCode.INVALID_REQUEST, "labels must be a list of true/false")
    if len(raw) != size or size == 0:
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST,
            "timestamps, values and labels must be non-empty and of the same length",
            timestamps=size,
            labels=len(raw),
        )
    return np.asarray(raw, dtype=np.bool_)


def _window(
    window: str | None, since: datetime | None, until: datetime | None
) -> tuple[datetime, datetime]:
    end = until or datetime.now(UTC)
    if since is not None:
        return since, end
    try:
        return end - timedelta(seconds=parse_duration(window or "1h")), end
    except ValueError as exc:
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST, str(exc), window=(window or "")[:40]
        ) from None
    except OverflowError:  # a window reaching before year 1, or beyond any timedelta
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST,
            "the window reaches outside the dates the service can represent",
            window=(window or "1h")[:40],
        ) from None


def build(services: Services) -> APIRouter:
    router = APIRouter(tags=["rollouts"])

    @router.post(
        "/v1/series/{series_id}/feedback",
        response_model=FeedbackResponse,
        responses=ERRORS,
        openapi_extra=body_doc(FeedbackRequest),
        summary="Tell which points were truly anomalous (ground truth for rollouts)",
    )
    async def feedback(series_id: str, request: Request) -> Any:
        validate_series_id(series_id)
        body = await read_json_object(request)
        timestamps = to_timestamps(require_field(body, "timestamps"))
        values = to_values(require_field(body, "values"))
        labels = _labels(require_field(body, "labels"), int(timestamps.size))
        if values.size != timestamps.size:
            raise SigmawatchError(
                ErrorCode.INVALID_REQUEST, "timestamps and values must be of the same length"
            )
        check_timestamps(timestamps, strictly_increasing=False)
        check_values(values, services.settings)
        registry, _, _ = services.require()

        def run() -> dict[str, Any]:
            if registry.get_series(series_id) is None:
                raise model_not_found(series_id)
            replaced = registry.record_feedback(series_id, timestamps, values, labels)
            return {"series_id": series_id, "accepted": int(timestamps.size), "replaced": replaced}

        return OrjsonResponse(await to_thread.run_sync(run))

    @router.get(
        "/v1/series/{series_id}/versions/{version}/stats",
        response_model=VersionStats,
        responses=ERRORS,
        summary="A version's predictions, anomalies, errors, latency, agreement and labels",
    )
    async def stats(
        series_id: str,
        version: str,
        window: Annotated[
            str | None,
            Query(description="e.g. 15m, 1h, 1d; default 1h", pattern=DURATION),
        ] = None,
        since: IsoDatetime | None = None,
        until: IsoDatetime | None = None,
    ) -> Any:
        validate_series_id(series_id)
        number = parse_version(version)
        start, end = _window(window, since, until)
        registry, store, _ = services.require()

        def run() -> dict[str, Any]:
            record = registry.get_version(series_id, number)
            counts = registry.version_window(series_id, number, start, end)
            labeled = registry.feedback([series_id], since=start).get(series_id)
            if labeled is not None:
                counts = dataclasses.replace(
                    counts, labeled=confusion(load_model(record, store), labeled)
                )
            return {
                "series_id": series_id,
                "version": record.name,
                "since": start.isoformat(),
                "until": end.isoformat(),
                **counts.to_dict(),
                **registry.version_health(series_id, number, start, end).to_dict(),
            }

        return OrjsonResponse(await to_thread.run_sync(run))

    return router
