"""POST /v1/series/{series_id}/predict and POST /v1/predict (PRED-2..6): parse, predict, render."""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import APIRouter, Request

from sigmawatch.audit import current_actor
from sigmawatch.errors import SigmawatchError
from sigmawatch.validation import format_version, validate_series_id
from sigmawatch_inference import offload
from sigmawatch_inference.batch_schemas import BatchRequest, BatchResponse
from sigmawatch_inference.columns import predict_columns
from sigmawatch_inference.parsing import (
    parse_point,
    parse_version_param,
    read_batch,
    read_json_object,
    route_key,
)
from sigmawatch_inference.points import ColumnsRequest, PointsRequest, Prediction
from sigmawatch_inference.responses import OrjsonResponse
from sigmawatch_inference.routes import ERRORS, body_doc
from sigmawatch_inference.schemas import (
    PredictRequest,
    PredictResponse,
)
from sigmawatch_inference.security.ratelimits import RateLimits, client_of
from sigmawatch_inference.services import Services

SINGLE_PREDICT_PARAMETERS: dict[str, Any] = {
    "parameters": [
        {"name": "series_id", "in": "path", "required": True, "schema": {"type": "string"}},
        {
            "name": "version",
            "in": "query",
            "required": False,
            "description": "e.g. v3; production when absent",
            "schema": {"type": "string"},
        },
    ]
}


def build(services: Services) -> APIRouter:
    router = APIRouter(tags=["predict"])

    @router.post(
        "/v1/series/{series_id}/predict",
        response_model=PredictResponse,
        responses=ERRORS,
        openapi_extra=body_doc(PredictRequest) | SINGLE_PREDICT_PARAMETERS,
        summary="Is this point anomalous?",
    )
    async def predict(request: Request) -> Any:
        # Parameters are read by hand (and documented above): FastAPI's
        # parameter solving costs a fifth of this route's time.
        series_id = validate_series_id(request.path_params["series_id"])
        version = parse_version_param(request.query_params.get("version"))
        body = await read_json_object(request)
        point = parse_point(series_id, version, body, route_key(request))
        _, _, predictor = services.require()
        if services.limits is not None:
            client = client_of(current_actor())
            await services.limits.prediction(client, series_id, point.values.size)
        answer = await predictor.predict(point)
        return OrjsonResponse(
            {
                "series_id": answer.series_id,
                "version": format_version(answer.version),
                "anomaly": bool(answer.anomalies[0]),
                "score": float(answer.scores[0]),
                "threshold": answer.threshold,
                "detector": {"kind": answer.kind, "params": answer.params},
                "fallback": answer.fallback,
                "warnings": answer.warnings,
            }
        )

    @router.post(
        "/v1/predict",
        response_model=BatchResponse,
        responses=ERRORS,
        openapi_extra=body_doc(BatchRequest),
        summary="Score many points of one or many series (PRED-5), as items or in columns",
    )
    async def predict_batch(request: Request) -> Any:
        batch = await read_batch(request, services.settings.batch_max_items)
        _, _, predictor = services.require()
        if isinstance(batch, ColumnsRequest):
            refused = {}
            if services.limits is not None:  # SEC-2: rows of series over their limit fail
                client = client_of(current_actor())
                refused = await services.limits.predictions(client, Counter(batch.series_ids))
            columns = await predict_columns(predictor, batch, refused)
            return OrjsonResponse(columns.to_dict())
        items = batch
        if services.limits is not None:
            items = await _within_limits(services.limits, items)
        answers = await predictor.predict_many(items)

        def render() -> OrjsonResponse:
            results = [_render(answer, item) for answer, item in zip(answers, items, strict=True)]
            return OrjsonResponse({"results": results})

        return await offload.run(len(items), render)  # 10,000 results: ~30 ms

    return router


async def _within_limits(
    limits: RateLimits, items: list[PointsRequest | SigmawatchError]
) -> list[PointsRequest | SigmawatchError]:
    """The batch with the items of series over their limit turned into that error (SEC-2)."""
    points: Counter[str] = Counter()
    for item in items:
        if isinstance(item, PointsRequest):
            points[item.series_id] += item.values.size
    refused = await limits.predictions(client_of(current_actor()), points)
    if not refused:
        return items
    return [
        refused.get(item.series_id, item) if isinstance(item, PointsRequest) else item
        for item in items
    ]


def _render(answer: Prediction | SigmawatchError, item: object) -> dict[str, Any]:
    if isinstance(answer, SigmawatchError):
        return {"series_id": getattr(item, "series_id", None), "error": answer.to_dict()}
    return {
        "series_id": answer.series_id,
        "version": format_version(answer.version),
        "anomalies": answer.anomalies,
        "scores": answer.scores,
        "n_anomalies": answer.n_anomalies,
        "threshold": answer.threshold,
        "detector": {"kind": answer.kind, "params": answer.params},
        "fallback": answer.fallback,
        "warnings": answer.warnings,
    }
