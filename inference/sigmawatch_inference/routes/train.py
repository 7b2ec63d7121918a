"""POST /v1/series/{series_id}/train (MOD-1, MOD-4, PRED-1)."""

from __future__ import annotations

from typing import Any

from anyio import from_thread, to_thread
from fastapi import APIRouter, Request

from sigmawatch.audit import current_actor
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.sources import store_dataset
from sigmawatch.stats import data_hash
from sigmawatch.training import TrainResult, train_series
from sigmawatch.validation import to_timestamps, to_values, validate_series_id, validate_training
from sigmawatch_inference.parsing import read_json_object
from sigmawatch_inference.responses import OrjsonResponse
from sigmawatch_inference.routes import ERRORS, body_doc
from sigmawatch_inference.schemas import (
    DatasetRequest,
    DatasetResponse,
    TrainRequest,
    TrainResponse,
)
from sigmawatch_inference.security.ratelimits import client_of
from sigmawatch_inference.services import Services


def columns(body: dict[str, Any]) -> tuple[Any, Any]:
    """timestamps and values from either body shape: columns, or a list of points."""
    if "points" in body:
        points = body["points"]
        if not isinstance(points, list) or not all(isinstance(p, dict) for p in points):
            raise SigmawatchError(
                ErrorCode.INVALID_REQUEST, "points must be a list of {timestamp, value} objects"
            )
        return [p.get("timestamp") for p in points], [p.get("value") for p in points]
    if "timestamps" not in body or "values" not in body:
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST,
            "send timestamps and values, or points",
            fields=sorted(body),
        )
    return body["timestamps"], body["values"]


def build(services: Services) -> APIRouter:
    router = APIRouter(tags=["train"])
    metrics = services.metrics

    @router.post(
        "/v1/series/{series_id}/train",
        status_code=201,
        response_model=TrainResponse,
        responses={**ERRORS, 200: {"model": TrainResponse, "description": "Already existed"}},
        openapi_extra=body_doc(TrainRequest),
        summary="Train a new version of a series' model",
    )
    async def train(series_id: str, request: Request) -> Any:
        validate_series_id(series_id)
        body = await read_json_object(request)
        timestamps, values = columns(body)
        promote = body.get("promote", True)
        if not isinstance(promote, bool):
            raise SigmawatchError(ErrorCode.INVALID_REQUEST, "promote must be true or false")
        registry, store, _ = services.require()
        limits = services.limits
        client = client_of(current_actor())

        def admit() -> None:  # SEC-2: checked before a new version's work, counted after it
            if limits is not None:
                from_thread.run(limits.check_training, client, series_id)

        def run() -> TrainResult:
            return train_series(
                series_id,
                timestamps,
                values,
                registry=registry,
                store=store,
                settings=services.settings,
                detector=body.get("detector"),
                promote=promote,
                source="api",
                admit=admit,
            )

        try:
            result = await to_thread.run_sync(run)
        except SigmawatchError:
            metrics.trainings.labels("rejected").inc()
            raise
        metrics.trainings.labels("created" if result.created else "existing").inc()
        if result.created and result.record.version > 1:
            metrics.retrains.inc()
        if limits is not None and result.created:
            await limits.count_training(client, series_id)
        if result.created:
            metrics.training_duration.observe(result.training_ms / 1000.0)
            metrics.training_ms.add(result.training_ms)
        return OrjsonResponse(result.to_dict(), status_code=201 if result.created else 200)

    @router.put(
        "/v1/series/{series_id}/dataset",
        response_model=DatasetResponse,
        responses=ERRORS,
        openapi_extra=body_doc(DatasetRequest),
        summary="Store training data for the operator to train from (AnomalyModel source.dataset)",
    )
    async def put_dataset(series_id: str, request: Request) -> Any:
        validate_series_id(series_id)
        body = await read_json_object(request)
        timestamps, values = columns(body)
        _, store, _ = services.require()

        def run() -> dict[str, Any]:
            # Validation, hashing and the write stay off the event loop, as in training.
            data = validate_training(
                to_timestamps(timestamps), to_values(values), services.settings
            )
            store_dataset(store, series_id, data.timestamps, data.values)
            return {
                "series_id": series_id,
                "n_points": int(data.values.size),
                "data_hash": data_hash(data.timestamps, data.values),
            }

        return OrjsonResponse(await to_thread.run_sync(run))

    return router
