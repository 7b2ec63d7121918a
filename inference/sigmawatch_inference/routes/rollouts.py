"""Rollouts through REST (REL-1..5): start, read, pause, resume, abort.

The service's own loop (rollout_loop.py) drives what is started here;
rollouts a ModelRollout started are the operator's, and changing them here
answers ROLLOUT_DRIVER_MISMATCH.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from anyio import to_thread
from fastapi import APIRouter, Request

from sigmawatch.detectors import DetectorSpec
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import Registry
from sigmawatch.registry.errors import model_not_found
from sigmawatch.registry.rollout_records import Driver, RolloutMember, RolloutRecord
from sigmawatch.rollouts import driver
from sigmawatch.rollouts.spec import invalid, parse_rollout_spec
from sigmawatch.validation import parse_rollout_name, parse_version, validate_series_id
from sigmawatch_inference.parsing import only_fields, read_json_object, require_field
from sigmawatch_inference.responses import OrjsonResponse
from sigmawatch_inference.rollout_schemas import (
    FleetRolloutRequest,
    RolloutList,
    RolloutModel,
    RolloutRequest,
)
from sigmawatch_inference.routes import ERRORS, body_doc
from sigmawatch_inference.services import Services

SPEC_FIELDS = frozenset({"strategy", "steps", "analysis"})
ACTIONS = ("pause", "resume", "abort")


def view(registry: Registry, record: RolloutRecord) -> dict[str, Any]:
    return record.to_dict() | {
        "transitions": [t.to_dict() for t in registry.transitions(record.rollout_id)]
    }


def act(registry: Registry, record: RolloutRecord, action: str) -> RolloutRecord:
    if action == "pause":
        return driver.pause(registry, record, Driver.API)
    if action == "resume":
        return driver.resume(registry, record, Driver.API, datetime.now(UTC))
    if action == "abort":
        return driver.abort(registry, record, Driver.API)
    raise SigmawatchError(
        ErrorCode.NOT_FOUND, f"no rollout action {action!r}", action=action[:40], allowed=ACTIONS
    )


def _series_members(
    registry: Registry, series_id: str, body: dict[str, Any]
) -> list[RolloutMember]:
    candidate = parse_version(require_field(body, "candidate"))
    series = registry.get_series(series_id)
    if series is None or series.production_version is None:
        raise model_not_found(series_id)
    if candidate == series.production_version:
        raise invalid(f"v{candidate} is production already: nothing to roll out", field="candidate")
    registry.get_version(series_id, candidate)  # INVALID_VERSION when there is none
    return [RolloutMember(series_id, series.production_version, candidate)]


def _fleet_members(registry: Registry, body: dict[str, Any]) -> list[RolloutMember]:
    series = body.get("series")
    candidate = body.get("candidate")
    if not isinstance(series, dict) or sum(k in series for k in ("prefix", "ids")) != 1:
        raise invalid("series must be {prefix: ...} or {ids: [...]}", field="series")
    if not isinstance(candidate, dict) or len(candidate) != 1:
        raise invalid(
            "candidate must be one of {version}, {trainingRun}, {detector}", field="candidate"
        )
    ids = [validate_series_id(s) for s in series.get("ids") or []] or None
    prefix = series.get("prefix")
    if prefix is not None and not isinstance(prefix, str):
        raise invalid("series.prefix must be a string", field="series.prefix")
    ((kind, value),) = candidate.items()
    if kind == "version":
        return registry.resolve_members(
            series_ids=ids, prefix=prefix, candidate=parse_version(value)
        )
    if kind == "trainingRun" and isinstance(value, str):
        return registry.resolve_members(series_ids=ids, prefix=prefix, run_id=value)
    if kind == "detector":
        spec_hash = DetectorSpec.parse(value).spec_hash
        return registry.resolve_members(series_ids=ids, prefix=prefix, spec_hash=spec_hash)
    raise invalid(
        "candidate must be one of {version}, {trainingRun}, {detector}", field="candidate"
    )


def build(services: Services) -> APIRouter:
    router = APIRouter(tags=["rollouts"])

    def routed(registry: Registry, record: RolloutRecord) -> dict[str, Any]:
        """The rollout's view, this pod routing by it at once (others on its notification)."""
        services.routing.reload(registry, record.rollout_id)
        return view(registry, record)

    @router.post(
        "/v1/series/{series_id}/rollouts",
        status_code=201,
        response_model=RolloutModel,
        responses=ERRORS,
        openapi_extra=body_doc(RolloutRequest),
        summary="Start a shadow or canary rollout of a candidate version",
    )
    async def start_series(series_id: str, request: Request) -> Any:
        validate_series_id(series_id)
        body = await read_json_object(request)
        only_fields(body, SPEC_FIELDS | {"candidate"}, ErrorCode.INVALID_ROLLOUT)
        spec = parse_rollout_spec(body)
        registry, _, _ = services.require()

        def run() -> dict[str, Any]:
            members = _series_members(registry, series_id, body)
            record = driver.start(registry, spec, members, driver=Driver.API, now=datetime.now(UTC))
            return routed(registry, record)

        return OrjsonResponse(await to_thread.run_sync(run), status_code=201)

    @router.post(
        "/v1/rollouts",
        status_code=201,
        response_model=RolloutModel,
        responses=ERRORS,
        openapi_extra=body_doc(FleetRolloutRequest),
        summary="Start one rollout over many series (a prefix or a list)",
    )
    async def start_fleet(request: Request) -> Any:
        body = await read_json_object(request)
        only_fields(body, SPEC_FIELDS | {"candidate", "series"}, ErrorCode.INVALID_ROLLOUT)
        spec = parse_rollout_spec(body)
        registry, _, _ = services.require()

        def run() -> dict[str, Any]:
            members = _fleet_members(registry, body)
            record = driver.start(
                registry, spec, members, driver=Driver.API, now=datetime.now(UTC), fleet=True
            )
            return routed(registry, record)

        return OrjsonResponse(await to_thread.run_sync(run), status_code=201)

    @router.get(
        "/v1/series/{series_id}/rollout",
        response_model=RolloutModel,
        responses=ERRORS,
        summary="The series' active rollout, else its last one",
    )
    async def get_series_rollout(series_id: str) -> Any:
        validate_series_id(series_id)
        registry, _, _ = services.require()

        def run() -> dict[str, Any]:
            record = registry.series_rollout(series_id)
            if record is None:
                raise SigmawatchError(
                    ErrorCode.ROLLOUT_NOT_FOUND,
                    f"series {series_id!r} has never had a rollout",
                    series_id=series_id,
                    hint=f"POST /v1/series/{series_id}/rollouts",
                )
            return view(registry, record)

        return OrjsonResponse(await to_thread.run_sync(run))

    @router.post(
        "/v1/series/{series_id}/rollout/{action}",
        response_model=RolloutModel,
        responses=ERRORS,
        summary="Pause, resume or abort the series' active rollout",
    )
    async def change_series_rollout(series_id: str, action: str) -> Any:
        validate_series_id(series_id)
        registry, _, _ = services.require()

        def run() -> dict[str, Any]:
            record = registry.series_rollout(series_id)
            if record is None or not record.active:
                raise SigmawatchError(
                    ErrorCode.ROLLOUT_NOT_ACTIVE,
                    f"series {series_id!r} has no active rollout",
                    series_id=series_id,
                )
            return routed(registry, act(registry, record, action))

        return OrjsonResponse(await to_thread.run_sync(run))

    @router.get(
        "/v1/rollouts",
        response_model=RolloutList,
        responses=ERRORS,
        summary="Every active rollout",
    )
    async def list_rollouts() -> Any:
        registry, _, _ = services.require()
        records = await to_thread.run_sync(registry.active_rollouts)
        return OrjsonResponse({"items": [r.to_dict() for r in records]})

    @router.get(
        "/v1/rollouts/{rollout}",
        response_model=RolloutModel,
        responses=ERRORS,
        summary="One rollout",
    )
    async def get_rollout(rollout: str) -> Any:
        number = parse_rollout_name(rollout)
        registry, _, _ = services.require()
        return OrjsonResponse(
            await to_thread.run_sync(lambda: view(registry, registry.get_rollout(number)))
        )

    @router.post(
        "/v1/rollouts/{rollout}/{action}",
        response_model=RolloutModel,
        responses=ERRORS,
        summary="Pause, resume or abort a rollout",
    )
    async def change_rollout(rollout: str, action: str) -> Any:
        number = parse_rollout_name(rollout)
        registry, _, _ = services.require()
        return OrjsonResponse(
            await to_thread.run_sync(
                lambda: routed(registry, act(registry, registry.get_rollout(number), action))
            )
        )

    return router
