"""The bodies of `POST /v1/predict` (PRED-5), published in OpenAPI: the items form and
the columns form (issue 10), and their answers. The route parses raw bodies
(parsing.py); these models are the documented contract.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, RootModel

from sigmawatch_inference.schemas import (
    DetectorSpecModel,
    ErrorBody,
    PredictionWarning,
    Timestamp,
)


class BatchItem(BaseModel):
    series_id: str = Field(pattern=r"^[A-Za-z0-9_]{1,128}$")
    timestamps: list[Timestamp]
    values: list[float]
    version: str | None = Field(None, description="e.g. v3; production when absent.")


class BatchItems(BaseModel):
    # Any item is taken: one that is no BatchItem gets its own error result (PRED-5).
    items: list[BatchItem | Any] = Field(
        description="BatchItems; an item that is not one fails alone, in its result."
    )


class BatchColumns(BaseModel):
    """The fleet's shape in columns: row i is one point of series_ids[i], production."""

    model_config = ConfigDict(extra="forbid")
    series_ids: list[str] = Field(description="A series may appear on several rows.")
    timestamps: list[Timestamp] = Field(description="As many as series_ids.")
    values: list[float] = Field(description="As many as series_ids.")


class BatchRequest(RootModel[BatchItems | BatchColumns]):
    """Either `items` (any versions, many points an item) or the three columns."""


class BatchResult(BaseModel):
    series_id: str | None
    version: str | None = None
    anomalies: list[bool] | None = None
    scores: list[float] | None = None
    n_anomalies: int | None = None
    threshold: float | None = None
    detector: DetectorSpecModel | None = None
    fallback: bool | None = None
    warnings: list[PredictionWarning] | None = None
    error: ErrorBody | None = Field(None, description="Set instead of the result fields.")


class BatchResults(BaseModel):
    results: list[BatchResult] = Field(description="One per item, in request order.")


class RowError(BaseModel):
    row: int
    series_id: str
    error: ErrorBody


class RowWarning(PredictionWarning):
    row: int


class BatchColumnsResult(BaseModel):
    """One entry per row, in request order; a row that failed is null in `versions` and
    `scores`, false in `anomalies`, and listed in `errors`."""

    versions: list[str | None]
    anomalies: list[bool]
    scores: list[float | None]
    errors: list[RowError] = Field(description="Only the rows that failed.")
    warnings: list[RowWarning] = Field(description="Only the rows that earned one (VAL-7).")
    fallback_rows: list[int] = Field(description="Rows answered by the z-score fallback.")


class BatchResponse(RootModel[BatchResults | BatchColumnsResult]):
    """The items form answers `results`; the columns form answers in columns."""
