"""Request and response shapes, published in OpenAPI at /docs (USE-2).

Hot endpoints parse bodies with orjson (see `responses.py`); these models
are the documented contract, and tests check real answers against them.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

# What the service takes as a timestamp: positive Unix seconds that fit in int64.
Timestamp = Annotated[int, Field(ge=1, le=2**63 - 1)]
# A duration as written in specs and settings (sigmawatch.durations).
DURATION = r"^([0-9]{1,6}[smhd]){1,4}$"


def _iso_only(value: object) -> object:
    if isinstance(value, str) and _NUMBER.fullmatch(value.strip()):
        raise ValueError("expected an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z")
    return value


def _utc_if_naive(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


_NUMBER = re.compile(r"[-+]?[0-9.eE+-]+")
# A query date-time: ISO 8601 only (pydantic alone would take Unix seconds too), and
# UTC when it names no offset, so every filter compares times the same way.
IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only), AfterValidator(_utc_if_naive)]
# The detector kinds of sigmawatch.detectors.KINDS (tests/unit/test_openapi_contract.py).
DetectorKindName = Literal["zscore", "mad"]


class DetectorSpecModel(BaseModel):
    kind: DetectorKindName = Field(
        "zscore", description="zscore: |x − μ| / σ; mad: |x − median| / (1.4826 · MAD)."
    )
    params: dict[str, float] = Field(
        default_factory=dict, description='e.g. {"threshold": 3.0}; unknown names are rejected.'
    )


class PointModel(BaseModel):
    timestamp: Timestamp = Field(description="Unix seconds, positive.")
    value: float


class TrainRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {
                "timestamps": [1767225600, 1767225900, "..."],
                "values": [50.1, 49.7, "..."],
                "detector": {"kind": "zscore", "params": {"threshold": 3.0}},
                "promote": True,
            }
        }
    )
    timestamps: list[Timestamp] | None = Field(
        None, description="Strictly increasing Unix seconds (10,000 to 100,000 of them)."
    )
    values: list[float] | None = Field(None, description="One value per timestamp.")
    points: list[PointModel] | None = Field(
        None, description="Alternative to timestamps/values: a list of {timestamp, value}."
    )
    detector: DetectorSpecModel | None = None
    promote: bool = Field(True, description="Make the new version production at once.")


class DatasetRequest(BaseModel):
    timestamps: list[Timestamp] | None = None
    values: list[float] | None = None
    points: list[PointModel] | None = None


class DatasetResponse(BaseModel):
    series_id: str
    n_points: int
    data_hash: str


class Stats(BaseModel):
    n_points: int
    mean: float
    std: float
    min: float
    max: float
    p1: float
    p5: float
    p25: float
    p50: float
    p75: float
    p95: float
    p99: float


class TrainingWarning(BaseModel):
    code: Literal["POINTER_HELD", "ROLLOUT_IN_PROGRESS"]
    message: str
    holder: str


class TrainResponse(BaseModel):
    series_id: str
    version: str
    created: bool = Field(description="False when the same data and detector had a version.")
    status: Literal["active", "archived"]
    production: bool
    n_points: int
    data_hash: str
    detector: DetectorSpecModel
    stats: Stats
    training_ms: float
    archived_versions: list[str] = Field(description="Versions retention archived just now.")
    warnings: list[TrainingWarning] = Field(
        description="POINTER_HELD (a pin) or ROLLOUT_IN_PROGRESS: promotion was asked for, "
        "but a holder kept production."
    )


class PredictionWarning(BaseModel):
    code: Literal[
        "TIMESTAMP_IN_FUTURE", "TIMESTAMP_FAR_IN_PAST", "TIMESTAMP_OUTSIDE_TRAINING_RANGE"
    ]
    message: str


class PredictRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"example": {"timestamp": 1767225900, "value": 73.2}}
    )
    timestamp: Timestamp
    value: float


class PredictResponse(BaseModel):
    series_id: str
    version: str
    anomaly: bool
    score: float = Field(description="Distance from the centre in units of the spread.")
    threshold: float
    detector: DetectorSpecModel
    fallback: bool = Field(description="True when the z-score fallback answered (PRED-6).")
    warnings: list[PredictionWarning]


class ErrorBody(BaseModel):
    code: str
    message: str
    details: dict[str, Any]


class ErrorResponse(BaseModel):
    error: ErrorBody


class VersionModel(BaseModel):
    series_id: str
    version: str
    status: Literal["active", "archived"]
    production: bool
    detector: DetectorSpecModel
    n_points: int
    data_hash: str
    stats: Stats
    training_range: dict[str, int]
    training_ms: float
    source: str
    created_at: str
    archived_at: str | None


class RolloutSummary(BaseModel):
    rollout: str
    strategy: Literal["shadow", "canary"]
    weight: int
    stable: str
    candidate: str


class ListedVersion(VersionModel):
    role: Literal["stable", "candidate"] | None = Field(
        None, description="Its part in the series' active rollout, if any."
    )


class VersionList(BaseModel):
    series_id: str
    production_version: str | None
    production_holder: str | None = Field(
        description="Who holds the production pointer (e.g. pin:<namespace>/<model>); "
        "null when any writer may move it."
    )
    latest_version: str
    rollout: RolloutSummary | None = Field(
        None, description="The active rollout as this pod routes it."
    )
    versions: list[ListedVersion]


class RollbackRequest(BaseModel):
    version: str = Field(description="The version production should use, e.g. v2.")


class RollbackResponse(BaseModel):
    series_id: str
    production_version: str
    previous_version: str | None


class CatalogueResponse(BaseModel):
    items: list[VersionModel]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class LatencySummary(BaseModel):
    mean: float | None
    p95: float | None
    count: int


class HealthResponse(BaseModel):
    status: Literal["ok", "starting", "degraded"]
    version: str
    uptime_s: float
    series_trained: int | None
    models_cached: int
    models_resident: int
    cache_hit_rate: float | None
    inference_latency_ms: LatencySummary
    training_latency_ms: LatencySummary
    storage: dict[str, Any]
