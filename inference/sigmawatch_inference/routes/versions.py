"""Versions, rollback, restore and the catalogue (REG-1..6)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from anyio import to_thread
from fastapi import APIRouter, Query, Request

from sigmawatch.lifecycle import restore_version
from sigmawatch.registry import API, CatalogueQuery
from sigmawatch.validation import format_version, parse_version, validate_series_id
from sigmawatch_inference.parsing import read_json_object, require_field
from sigmawatch_inference.responses import OrjsonResponse
from sigmawatch_inference.routes import ERRORS, body_doc
from sigmawatch_inference.schemas import (
    CatalogueResponse,
    DetectorKindName,
    IsoDatetime,
    RollbackRequest,
    RollbackResponse,
    VersionList,
    VersionModel,
)
from sigmawatch_inference.services import Services


def build(services: Services) -> APIRouter:
    router = APIRouter(tags=["versions"])

    @router.get(
        "/v1/series/{series_id}/versions",
        response_model=VersionList,
        responses=ERRORS,
        summary="Every version of a series, oldest first",
    )
    async def list_versions(series_id: str) -> Any:
        validate_series_id(series_id)
        registry, _, _ = services.require()

        def read() -> dict[str, Any]:
            records = registry.list_versions(series_id)
            series = registry.get_series(series_id)
            route = services.routing.route(series_id)
            return {
                "series_id": series_id,
                "production_version": next((r.name for r in records if r.is_production), None),
                "production_holder": series.holder if series else None,
                "latest_version": records[-1].name,
                "rollout": route.summary() if route else None,
                "versions": [
                    r.to_dict() | {"role": route.role(r.version) if route else None}
                    for r in records
                ],
            }

        return OrjsonResponse(await to_thread.run_sync(read))

    @router.get(
        "/v1/series/{series_id}/versions/{version}",
        response_model=VersionModel,
        responses=ERRORS,
        summary="One version: detector, statistics, status",
    )
    async def get_version(series_id: str, version: str) -> Any:
        validate_series_id(series_id)
        number = parse_version(version)
        registry, _, _ = services.require()
        record = await to_thread.run_sync(registry.get_version, series_id, number)
        return OrjsonResponse(record.to_dict())

    @router.post(
        "/v1/series/{series_id}/rollback",
        response_model=RollbackResponse,
        responses=ERRORS,
        openapi_extra=body_doc(RollbackRequest),
        summary="Serve another (usually earlier) version in production (REG-4)",
    )
    async def rollback(series_id: str, request: Request) -> Any:
        validate_series_id(series_id)
        body = await read_json_object(request)
        number = parse_version(require_field(body, "version"))
        registry, _, _ = services.require()
        move = await to_thread.run_sync(lambda: registry.set_production(series_id, number, by=API))
        return OrjsonResponse(
            {
                "series_id": series_id,
                "production_version": move.record.name,
                "previous_version": format_version(move.previous) if move.previous else None,
            }
        )

    @router.post(
        "/v1/series/{series_id}/versions/{version}/restore",
        response_model=VersionModel,
        responses=ERRORS,
        summary="Bring an archived version back to active",
    )
    async def restore(series_id: str, version: str) -> Any:
        validate_series_id(series_id)
        number = parse_version(version)
        registry, store, _ = services.require()
        record = await to_thread.run_sync(restore_version, registry, store, series_id, number)
        return OrjsonResponse(record.to_dict())

    @router.get(
        "/v1/models",
        response_model=CatalogueResponse,
        responses=ERRORS,
        summary="Search the catalogue of all versions (REG-5)",
    )
    async def catalogue(
        series_prefix: Annotated[str | None, Query(min_length=1, max_length=128)] = None,
        detector: Annotated[DetectorKindName | None, Query(description="Detector kind")] = None,
        status: Annotated[
            Literal["active", "archived"] | None, Query(description="active or archived")
        ] = None,
        production: Annotated[bool, Query(description="Only production versions")] = False,
        created_after: IsoDatetime | None = None,
        created_before: IsoDatetime | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        cursor: Annotated[str | None, Query(min_length=1, max_length=400)] = None,
    ) -> Any:
        registry, _, _ = services.require()
        query = CatalogueQuery(
            series_prefix=series_prefix,
            detector_kind=detector,
            status=status,
            production_only=production,
            created_after=created_after,
            created_before=created_before,
            limit=limit,
            cursor=cursor,
        )
        page = await to_thread.run_sync(registry.search, query)
        return OrjsonResponse(
            {"items": [r.to_dict() for r in page.items], "next_cursor": page.next_cursor}
        )

    return router
