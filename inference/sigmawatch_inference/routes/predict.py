"""POST /v1/series/{series_id}/predict and POST /v1/predict (PRED-2..6)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg
from fastapi import APIRouter, Request
from psycopg_pool import PoolTimeout

from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.loading import LoadedModel
from sigmawatch.validation import (
    FloatArray,
    IntArray,
    parse_version,
    to_timestamps,
    to_values,
    validate_series_id,
)
from sigmawatch_inference.prediction import score_points
from sigmawatch_inference.resolver import ModelResolver
from sigmawatch_inference.responses import OrjsonResponse, read_json_object, require_field
from sigmawatch_inference.routes import body_doc
from sigmawatch_inference.schemas import (
    BatchRequest,
    BatchResponse,
    ErrorResponse,
    PredictRequest,
    PredictResponse,
)
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

log = logging.getLogger(__name__)

# (series_id, version or None for production, timestamps, values)
type ParsedItem = tuple[str, int | None, IntArray, FloatArray]

# Placeholder while a miss loads; replaced before anyone reads it.
_PENDING = SigmawatchError(ErrorCode.INTERNAL_ERROR, "model load did not finish")

ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorResponse} for code in (400, 404, 409, 413, 422, 503)
}


def build(services: Services) -> APIRouter:
    router = APIRouter(tags=["predict"])
    settings = services.settings
    metrics = services.metrics

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
        version = request.query_params.get("version")
        number = parse_version(version) if version is not None else None
        body = await read_json_object(request)
        timestamps = to_timestamps([require_field(body, "timestamp")])
        values = to_values([require_field(body, "value")])
        _, _, resolver = services.require()
        model = await resolver.resolve(series_id, number)
        result = score_points(model, timestamps, values, settings)
        services.usage.add(series_id)
        metrics.predictions.labels("single").inc()
        if result["n_anomalies"]:
            metrics.anomalies.labels("single").inc()
        if result["fallback"]:
            metrics.fallbacks.inc()
        return OrjsonResponse(
            {
                "series_id": series_id,
                "version": result["version"],
                "anomaly": bool(result["anomalies"][0]),
                "score": float(result["scores"][0]),
                "threshold": result["threshold"],
                "detector": result["detector"],
                "fallback": result["fallback"],
                "warnings": result["warnings"],
            }
        )

    @router.post(
        "/v1/predict",
        response_model=BatchResponse,
        responses=ERRORS,
        openapi_extra=body_doc(BatchRequest),
        summary="Score many points of one or many series (PRED-5)",
    )
    async def predict_batch(request: Request) -> Any:
        body = await read_json_object(request)
        items = require_field(body, "items")
        if not isinstance(items, list):
            raise SigmawatchError(ErrorCode.INVALID_REQUEST, "items must be a list")
        _, _, resolver = services.require()
        parsed: list[ParsedItem | SigmawatchError] = []
        for item in items:
            try:
                parsed.append(_parse_item(item))
            except SigmawatchError as exc:
                parsed.append(exc)
        models = await _resolve_all(resolver, parsed)
        results: list[dict[str, Any]] = []
        points = anomalies = fallbacks = 0
        for item, model in zip(parsed, models, strict=True):
            if isinstance(item, SigmawatchError):
                results.append(_error_result(item, None))
                continue
            series_id = item[0]
            if not isinstance(model, LoadedModel):
                results.append(_error_result(model or _PENDING, series_id))
                continue
            try:
                result = score_points(model, item[2], item[3], settings)
            except SigmawatchError as exc:
                results.append(_error_result(exc, series_id))
                continue
            results.append(result)
            n = int(item[3].size)
            services.usage.add(series_id, n)
            points += n
            anomalies += result["n_anomalies"]
            fallbacks += n if result["fallback"] else 0
        metrics.predictions.labels("batch").inc(points)
        metrics.anomalies.labels("batch").inc(anomalies)
        if fallbacks:
            metrics.fallbacks.inc(fallbacks)
        return OrjsonResponse({"results": results})

    return router


def _parse_item(item: Any) -> ParsedItem:
    if not isinstance(item, dict):
        raise SigmawatchError(ErrorCode.INVALID_REQUEST, "each item must be an object")
    series_id = validate_series_id(require_field(item, "series_id", where="item"))
    version = item.get("version")
    number = parse_version(version) if version is not None else None
    timestamps = to_timestamps(require_field(item, "timestamps", where="item"))
    values = to_values(require_field(item, "values", where="item"))
    if timestamps.size != values.size or values.size == 0:
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST,
            "timestamps and values must be non-empty and of the same length",
            timestamps=int(timestamps.size),
            values=int(values.size),
        )
    return series_id, number, timestamps, values


async def _resolve_all(
    resolver: ModelResolver, parsed: list[ParsedItem | SigmawatchError]
) -> list[LoadedModel | SigmawatchError | None]:
    """Each item's model: cache hits at once, misses loaded concurrently, once per model."""
    found: dict[tuple[str, int | None], LoadedModel | SigmawatchError] = {}
    misses: list[tuple[str, int | None]] = []
    for item in parsed:
        if isinstance(item, SigmawatchError) or (item[0], item[1]) in found:
            continue
        key = (item[0], item[1])
        try:
            model = resolver.cached(*key)
        except SigmawatchError as exc:
            found[key] = exc
            continue
        if model is None:
            found[key] = _PENDING
            misses.append(key)
        else:
            resolver.metrics.cache_hit()
            found[key] = model

    async def load(key: tuple[str, int | None]) -> LoadedModel | SigmawatchError:
        # Whatever one model's load hits becomes that item's error only.
        try:
            return await resolver.resolve(*key)
        except SigmawatchError as exc:
            return exc
        except (psycopg.OperationalError, PoolTimeout):
            return SigmawatchError(
                ErrorCode.STORAGE_UNAVAILABLE, "model registry unavailable; retry", series_id=key[0]
            )
        except Exception:
            log.exception("loading a model failed", extra={"series_id": key[0]})
            return SigmawatchError(
                ErrorCode.INTERNAL_ERROR, "loading this model failed", series_id=key[0]
            )

    for key, result in zip(misses, await asyncio.gather(*map(load, misses)), strict=True):
        found[key] = result
    return [None if isinstance(p, SigmawatchError) else found[(p[0], p[1])] for p in parsed]


def _error_result(error: SigmawatchError, series_id: str | None) -> dict[str, Any]:
    return {"series_id": series_id, "error": error.to_dict()}
