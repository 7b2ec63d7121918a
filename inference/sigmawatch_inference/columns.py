"""The batch's columns form (issue 10): one point per row, answered in columns.

The resident table answers the rows it can in one pass (resident_path.py);
every other row is sent through the per-item path as a one-point item, so
it gets the same answer, error or warning it would get in the items form.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sigmawatch.arrays import BoolArray, FloatArray
from sigmawatch.errors import SigmawatchError
from sigmawatch.validation import validate_series_id
from sigmawatch_inference.points import ColumnsRequest, PointsRequest, Prediction
from sigmawatch_inference.predictor import BATCH, Predictor
from sigmawatch_inference.resident_canary import column_sides
from sigmawatch_inference.resident_columns import Int32Array, among

# Version names for the common small numbers, so a column of them is a list lookup.
_NAMES: list[str | None] = [None, *(f"v{n}" for n in range(1, 4096))]


@dataclass(slots=True)
class ColumnsAnswer:
    versions: Int32Array  # 0 where the row failed
    anomalies: BoolArray
    scores: FloatArray  # NaN where the row failed (JSON null)
    errors: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    fallback_rows: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        names, known = _NAMES, len(_NAMES)
        return {
            "versions": [names[v] if v < known else f"v{v}" for v in self.versions.tolist()],
            "anomalies": self.anomalies,
            "scores": self.scores,
            "errors": self.errors,
            "warnings": self.warnings,
            "fallback_rows": self.fallback_rows,
        }


async def predict_columns(
    predictor: Predictor,
    request: ColumnsRequest,
    refused: Mapping[str, SigmawatchError] | None = None,
) -> ColumnsAnswer:
    """Every row's answer; the rows of `refused` series fail with that error (SEC-2)."""
    n = len(request.series_ids)
    answer = ColumnsAnswer(np.zeros(n, np.int32), np.zeros(n, bool), np.full(n, np.nan))
    done = np.zeros(n, bool)
    if refused:
        for row, series_id in enumerate(request.series_ids):
            if series_id in refused:
                _fill(answer, row, series_id, refused[series_id])
                done[row] = True
    path = predictor.resident
    if path is not None and path.table.size and n:
        side = column_sides(request.series_ids, request.timestamps, request.route_key)
        rows, shadows, canaries = path.rows(request.series_ids, side)
        rows[done] = -1
        mine = np.flatnonzero(rows >= 0)
        if mine.size:
            if shadows or canaries:  # those of rows still kept, by position among them
                left, kept = rows.tolist(), mine.tolist()
                shadows = among({p: m for p, m in shadows.items() if left[p] >= 0}, kept)
                canaries = among({p: m for p, m in canaries.items() if left[p] >= 0}, kept)
            scored = path.score(
                rows[mine],
                np.ones(mine.size, np.int64),
                request.timestamps[mine],
                request.values[mine],
                shadows,
                canaries,
            )
            if mine.size == n and scored.ok.all():  # the fleet's usual request: all here
                answer.versions, answer.anomalies = scored.version, scored.anomalies
                answer.scores, ok = scored.scores, mine
                done[:] = True
            else:
                ok = mine[scored.ok]
                answer.versions[ok] = scored.version[scored.ok]
                answer.anomalies[ok] = scored.anomalies[scored.ok]
                answer.scores[ok] = scored.scores[scored.ok]
                done[ok] = True
            predictor.count(BATCH, int(ok.size), int(np.count_nonzero(answer.anomalies[ok])))
            for k in np.flatnonzero(scored.warned & scored.ok).tolist():
                row = int(mine[k])
                found = path.warnings(scored, k, request.timestamps[row : row + 1])
                answer.warnings.extend({"row": row, **w} for w in found)
    rest = np.flatnonzero(~done).tolist()
    if rest:
        items = [_item(request, row) for row in rest]
        for row, item in zip(rest, await predictor.per_item(items), strict=True):
            _fill(answer, row, request.series_ids[row], item)
    answer.warnings.sort(key=lambda w: int(w["row"]))
    answer.errors.sort(key=lambda e: int(e["row"]))
    return answer


def _item(request: ColumnsRequest, row: int) -> PointsRequest | SigmawatchError:
    try:
        series_id = validate_series_id(request.series_ids[row])
    except SigmawatchError as exc:
        return exc.with_traceback(None)
    return PointsRequest(
        series_id,
        None,
        request.timestamps[row : row + 1],
        request.values[row : row + 1],
        request.route_key,
    )


def _fill(answer: ColumnsAnswer, row: int, series_id: str, item: object) -> None:
    if isinstance(item, SigmawatchError):
        shown = series_id[:140]  # as INVALID_SERIES_ID shows it
        answer.errors.append({"row": row, "series_id": shown, "error": item.to_dict()})
        return
    assert isinstance(item, Prediction)
    answer.versions[row] = item.version
    answer.anomalies[row] = bool(item.anomalies[0])
    answer.scores[row] = item.scores[0]
    answer.warnings.extend({"row": row, **w} for w in item.warnings)
    if item.fallback:
        answer.fallback_rows.append(row)
