"""VAL-7: timestamps far from now or from a version's training range earn warnings.

A prediction is never refused for its timestamps' distance; it answers with
warnings that say how far they are.
"""

from __future__ import annotations

from typing import Any, Protocol

from sigmawatch.arrays import IntArray


class Tolerances(Protocol):
    """VAL-7's warning distances (the service's settings carry them)."""

    @property
    def future_tolerance_s(self) -> int: ...

    @property
    def past_tolerance_s(self) -> int: ...

    @property
    def training_gap_tolerance_s(self) -> int: ...


def timestamp_warnings(
    timestamps: IntArray,
    *,
    now: float,
    training_range: tuple[int, int] | None,
    settings: Tolerances,
) -> list[dict[str, Any]]:
    """VAL-7: timestamps far from now or from the training range warn, never fail."""
    if timestamps.size == 0:
        return []
    lo, hi = int(timestamps.min()), int(timestamps.max())
    return range_warnings(lo, hi, now=now, training_range=training_range, settings=settings)


def range_warnings(
    lo: int,
    hi: int,
    *,
    now: float,
    training_range: tuple[int, int] | None,
    settings: Tolerances,
) -> list[dict[str, Any]]:
    """`timestamp_warnings` of timestamps from `lo` to `hi` (a single point: both)."""
    warnings: list[dict[str, Any]] = []
    if hi > now + settings.future_tolerance_s:
        warnings.append(
            {
                "code": "TIMESTAMP_IN_FUTURE",
                "message": "timestamp is ahead of the server clock",
                "timestamp": hi,
                "seconds_ahead": int(hi - now),
            }
        )
    if lo < now - settings.past_tolerance_s:
        warnings.append(
            {
                "code": "TIMESTAMP_FAR_IN_PAST",
                "message": "timestamp is far behind the server clock",
                "timestamp": lo,
                "seconds_behind": int(now - lo),
            }
        )
    if training_range is not None:
        start, end = training_range
        gap = settings.training_gap_tolerance_s
        if lo < start - gap or hi > end + gap:
            warnings.append(
                {
                    "code": "TIMESTAMP_OUTSIDE_TRAINING_RANGE",
                    "message": "timestamp is far from the data this version was trained on",
                    "training_start": start,
                    "training_end": end,
                }
            )
    return warnings
