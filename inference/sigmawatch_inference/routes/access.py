"""API keys and the audit log through REST (SEC-3, SEC-4); admin only (security/routes.py)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Query, Request

from sigmawatch.access import new_api_key
from sigmawatch.audit import AuditQuery, current_actor
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.validation import validate_series_id
from sigmawatch_inference.parsing import only_fields, read_json_object, require_field
from sigmawatch_inference.responses import OrjsonResponse
from sigmawatch_inference.routes import ERRORS, body_doc
from sigmawatch_inference.schemas import IsoDatetime
from sigmawatch_inference.security.schemas import (
    ApiKeyCreated,
    ApiKeyList,
    ApiKeyModel,
    ApiKeyRequest,
    AuditPageModel,
)
from sigmawatch_inference.services import Services

KEY_FIELDS = frozenset(ApiKeyRequest.model_fields)
MAX_PAGE = 1000

AUDIT_CURSOR = re.compile(r"[0-9]{1,18}")  # an entry id: what next_cursor gives out


def build(services: Services) -> APIRouter:
    router = APIRouter(tags=["access"])

    @router.post(
        "/v1/apikeys",
        status_code=201,
        response_model=ApiKeyCreated,
        responses=ERRORS,
        openapi_extra=body_doc(ApiKeyRequest),
        summary="Create an API key; the answer shows the key this once",
    )
    async def create_key(request: Request) -> Any:
        body = await read_json_object(request)
        only_fields(body, KEY_FIELDS)
        key, new = new_api_key(
            require_field(body, "name"),
            require_field(body, "role"),
            body.get("expires_in"),
            current_actor().name,
        )
        registry, _, _ = services.require()
        record = await to_thread.run_sync(registry.create_api_key, new)
        return OrjsonResponse(record.to_dict() | {"key": key}, status_code=201)

    @router.get("/v1/apikeys", response_model=ApiKeyList, responses=ERRORS, summary="The API keys")
    async def list_keys(include_revoked: bool = False) -> Any:
        registry, _, _ = services.require()
        records = await to_thread.run_sync(
            lambda: registry.list_api_keys(include_revoked=include_revoked)
        )
        return OrjsonResponse({"items": [r.to_dict() for r in records]})

    @router.post(
        "/v1/apikeys/{name}/revoke",
        response_model=ApiKeyModel,
        responses=ERRORS,
        summary="Revoke a key: every process refuses it within seconds",
    )
    async def revoke_key(name: str) -> Any:
        registry, _, _ = services.require()
        record = await to_thread.run_sync(registry.revoke_api_key, name)
        services.keys.clear()  # this process at once; the others on the notification
        return OrjsonResponse(record.to_dict())

    @router.get(
        "/v1/audit",
        response_model=AuditPageModel,
        responses=ERRORS,
        summary="The audit log, newest first",
    )
    async def audit(
        actor: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
        action: Annotated[
            str | None,
            Query(
                description="e.g. train, or a prefix ending in '.': rollout.",
                min_length=1,
                max_length=64,
            ),
        ] = None,
        series_id: str | None = None,
        correlation_id: Annotated[
            str | None, Query(description="one retrain's or rollout's entries", max_length=128)
        ] = None,
        since: IsoDatetime | None = None,
        until: IsoDatetime | None = None,
        cursor: Annotated[str | None, Query(description="next_cursor of the page before")] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100,
    ) -> Any:
        if cursor is not None and not AUDIT_CURSOR.fullmatch(cursor):
            raise SigmawatchError(ErrorCode.INVALID_CURSOR, "the cursor is not one we gave out")
        if series_id is not None:
            validate_series_id(series_id)
        query = AuditQuery(
            actor=actor,
            action=action,
            series_id=series_id,
            correlation_id=correlation_id,
            since=since,
            until=until,
            before=int(cursor) if cursor else None,
            limit=limit,
        )
        registry, _, _ = services.require()
        page = await to_thread.run_sync(registry.audit, query)
        return OrjsonResponse(
            {
                "items": [e.to_dict() for e in page.entries],
                "next_cursor": str(page.next_before) if page.next_before else None,
            }
        )

    return router
