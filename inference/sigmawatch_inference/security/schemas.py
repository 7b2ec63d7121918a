"""OpenAPI models of the API key and audit routes (the routes render records directly)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sigmawatch_inference.schemas import DURATION

RoleName = Literal["viewer", "trainer", "admin"]


class ApiKeyRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",  # the route refuses fields it does not know
        json_schema_extra={"example": {"name": "grafana", "role": "viewer", "expires_in": "90d"}},
    )
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    role: RoleName
    expires_in: str | None = Field(
        None, description="e.g. 90d or 12h; unset: never expires.", pattern=DURATION
    )


class ApiKeyModel(BaseModel):
    name: str
    role: RoleName
    hint: str = Field(description="The key's first characters, to recognise it.")
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyModel):
    key: str = Field(description="The key itself. Shown this once; only its hash is stored.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyModel]


class AuditEntryModel(BaseModel):
    id: int
    at: datetime
    actor: str = Field(description="key/<name>, token/<subject>, operator/…, job/…, cli/…")
    action: str
    outcome: str
    series_id: str | None
    version: str | None
    details: dict[str, Any]
    request_id: str | None
    trace_id: str | None
    client: str | None
    correlation_id: str | None = Field(
        description="The retrain, rollout or caller's operation it belongs to (OBS-3)"
    )


class AuditPageModel(BaseModel):
    items: list[AuditEntryModel]
    next_cursor: str | None = Field(description="Pass as `cursor` for older entries.")
