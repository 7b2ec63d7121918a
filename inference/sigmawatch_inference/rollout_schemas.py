"""Rollout, statistics and feedback bodies, published in OpenAPI at /docs (USE-2).

The routes parse raw bodies (`sigmawatch.rollouts.spec.parse_rollout_spec`,
`parsing.py`); these models are the documented contract.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sigmawatch_inference.health_schemas import DriftModel, PeriodModel
from sigmawatch_inference.schemas import Timestamp

# Rollout specs refuse fields they do not know (sigmawatch.rollouts.spec).
STRICT = ConfigDict(extra="forbid")


class LimitModel(BaseModel):
    model_config = STRICT
    max: float | None = None
    min: float | None = None
    maxIncrease: float | None = Field(None, description="candidate ≤ stable + this")  # noqa: N815
    maxDecrease: float | None = Field(None, description="candidate ≥ stable − this")  # noqa: N815
    maxRatio: float | None = Field(None, description="candidate ≤ stable × this")  # noqa: N815
    floor: float | None = Field(None, description="below this the candidate is never worse")


class ChecksModel(BaseModel):
    model_config = STRICT
    errorRate: LimitModel | None = Field(None, description="default maxIncrease 0.01")  # noqa: N815
    latencyP99Ms: LimitModel | None = Field(  # noqa: N815
        None, description="default maxRatio 2, floor 1 ms"
    )
    anomalyRate: LimitModel | None = Field(  # noqa: N815
        None, description="the explosion guard; default maxRatio 3, floor 0.01"
    )
    falsePositiveRate: LimitModel | None = Field(  # noqa: N815
        None, description="on labels (POST .../feedback); off unless given"
    )
    f1: LimitModel | None = Field(None, description="on labels; off unless given")


class AnalysisModel(BaseModel):
    model_config = STRICT
    intervalSeconds: float = Field(30, description="how often the policy runs")  # noqa: N815
    minSamples: int = Field(500, description="candidate points a step needs first")  # noqa: N815
    minStepSeconds: float = Field(60, description="time a step needs first")  # noqa: N815
    maxDurationSeconds: float = Field(  # noqa: N815
        86400, description="not promoted by then: fail back to stable"
    )
    failureLimit: int = Field(3, description="consecutive failing intervals before rollback")  # noqa: N815
    agreementThreshold: float = Field(0.95, description="shadow: promote at this agreement")  # noqa: N815
    minLabels: int = Field(100, description="labels a label check needs per version")  # noqa: N815
    primaryMetric: Literal["f1", "precision", "recall", "falsePositiveRate"] | None = Field(  # noqa: N815
        None, description="promote only when the candidate beats stable on it (labels)"
    )
    checks: ChecksModel | None = None


class RolloutRequest(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "example": {
                "candidate": "v2",
                "strategy": "canary",
                "steps": [5, 25, 50, 100],
                "analysis": {"intervalSeconds": 30, "minSamples": 500},
            }
        },
    )
    candidate: str = Field(
        description="The version to roll out, e.g. v2.", pattern=r"^v[1-9][0-9]{0,8}$"
    )
    strategy: Literal["shadow", "canary"]
    steps: list[Annotated[int, Field(ge=1, le=100)]] | None = Field(
        None, description="Canary weights in percent, increasing, ending at 100."
    )
    analysis: AnalysisModel | None = None


class FleetCandidate(BaseModel):
    model_config = STRICT
    version: str | None = None
    trainingRun: str | None = Field(  # noqa: N815
        None, description="Per series, the version this training run produced."
    )
    detector: dict[str, Any] | None = Field(
        None, description="Per series, the newest version with this detector spec."
    )


class FleetRolloutRequest(BaseModel):
    model_config = STRICT
    series: dict[str, Any] = Field(description='{"prefix": "pump_"} or {"ids": [...]}')
    candidate: FleetCandidate
    strategy: Literal["shadow", "canary"]
    steps: list[int] | None = None
    analysis: AnalysisModel | None = None


class TransitionModel(BaseModel):
    at: str
    phase: str
    step: int
    weight: int
    reason: str


class RolloutModel(BaseModel):
    rollout: str = Field(description="The rollout's name, e.g. r17.")
    strategy: Literal["shadow", "canary"]
    phase: Literal[
        "Pending",
        "Shadowing",
        "Progressing",
        "Paused",
        "Promoted",
        "RolledBack",
        "Aborted",
        "Failed",
    ]
    step: int
    weight: int = Field(description="Percent of traffic (or of a fleet's series) on the candidate.")
    steps: list[int]
    fleet: bool
    members: int
    series_id: str | None
    stable: str | None
    candidate: str | None
    driver: Literal["api", "operator"]
    driver_ref: str | None
    reason: str | None
    failures: int
    analysis: dict[str, Any]
    last_analysis: dict[str, Any] | None
    started_at: str
    step_started_at: str
    updated_at: str
    finished_at: str | None
    revision: int
    correlation_id: str | None = Field(
        description="The operation that started it: its audit entries and logs carry it"
    )
    transitions: list[TransitionModel] | None = None


class RolloutList(BaseModel):
    items: list[RolloutModel]


class FeedbackRequest(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "example": {"timestamps": [1767225900], "values": [93.5], "labels": [True]}
        }
    )
    timestamps: list[Timestamp]
    values: list[float]
    labels: list[bool] = Field(description="Was each point truly anomalous?")


class FeedbackResponse(BaseModel):
    series_id: str
    accepted: int
    replaced: int = Field(description="Labels sent before for the same timestamps, now replaced.")


class VersionStats(BaseModel):
    series_id: str
    version: str
    since: str
    until: str
    predictions: int
    anomalies: int
    errors: int
    fallbacks: int
    anomaly_rate: float | None
    error_rate: float | None
    latency_ms: dict[str, Any]
    shadow: dict[str, Any]
    labels: dict[str, Any]
    hourly: list[PeriodModel] = Field(description="Hours overlapping the window (OBS-2).")
    daily: list[PeriodModel] = Field(description="UTC days overlapping the window.")
    drift: DriftModel = Field(
        description="Live values against the training distribution over the hourly periods "
        "(the daily ones for windows of a day or more)."
    )
