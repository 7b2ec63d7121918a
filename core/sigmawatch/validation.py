"""Input rules for training and prediction (VAL-1..7, SEC-1).

Checks run on numpy arrays in a handful of vectorised passes; an error names
the first offending index so a user can find the bad row in a 100k-point
upload.
"""

from __future__ import annotations

import re
from array import array as number_array
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from sigmawatch.arrays import FloatArray, IntArray
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.settings import TrainingSettings

SERIES_ID_RE = re.compile(r"[A-Za-z0-9_]{1,128}")
VERSION_RE = re.compile(r"v([1-9][0-9]{0,8})")
ROLLOUT_RE = re.compile(r"r([1-9][0-9]{0,17})")


class ValueRange(Protocol):
    """VAL-4's plausible range (training settings carry it; predictions use it too)."""

    @property
    def value_min(self) -> float: ...

    @property
    def value_max(self) -> float: ...


def validate_series_id(series_id: object) -> str:
    if not isinstance(series_id, str) or not SERIES_ID_RE.fullmatch(series_id):
        shown = series_id[:140] if isinstance(series_id, str) else series_id
        raise SigmawatchError(
            ErrorCode.INVALID_SERIES_ID,
            "series_id must be 1-128 characters of A-Z, a-z, 0-9 and _",
            series_id=shown,
        )
    return series_id


def parse_version(version: object) -> int:
    """'v3' → 3; anything else is INVALID_VERSION."""
    match = VERSION_RE.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise SigmawatchError(
            ErrorCode.INVALID_VERSION,
            "version must look like v1, v2, v3 ...",
            version=version,
        )
    return int(match.group(1))


def parse_rollout_name(name: object) -> int:
    """'r7' → 7; anything else is ROLLOUT_NOT_FOUND, never a query (SEC-1).

    ASCII digits only (str.isdigit also takes '²' and '٣'), and few enough of
    them for the registry's bigint.
    """
    match = ROLLOUT_RE.fullmatch(name) if isinstance(name, str) else None
    if match is None:
        shown = name[:40] if isinstance(name, str) else name
        raise SigmawatchError(
            ErrorCode.ROLLOUT_NOT_FOUND, "rollouts are named r1, r2, ...", rollout=shown
        )
    return int(match.group(1))


def format_version(number: int) -> str:
    return f"v{number}"


def _first(mask: npt.NDArray[np.bool_]) -> int:
    return int(np.flatnonzero(mask)[0])


_TYPE_MESSAGES = {
    ErrorCode.INVALID_TIMESTAMP: "timestamps must be integer Unix seconds",
    ErrorCode.INVALID_VALUE: "values must be numbers",
}


# array.array's type codes: it packs a list of Python numbers ~2x faster than
# numpy converts one, and refuses strings, nulls and lists (not booleans).
_PACKED: dict[type[np.generic], str] = {np.int64: "q", np.float64: "d"}


def _flat_array(
    raw: Sequence[Any] | npt.NDArray[Any],
    field: str,
    accept: tuple[type, ...],
    code: ErrorCode,
    dtype: type[np.generic],
    booleans: bool,
) -> npt.NDArray[Any]:
    """`raw` as a 1-D array of `dtype`, refusing elements whose JSON type is wrong.

    numpy would silently turn `true` into 1 and "7" into a string array, so
    lists are type-checked first: `set(map(type, ...))` runs at C speed, and
    only a list with a stray type is walked to name the offending index. When
    the caller knows no boolean can be in it (`booleans` False: its JSON text
    has no `true` or `false`), packing it is the check, and only a refused list
    takes that walk (a float among ints is refused as it should be).
    """
    if isinstance(raw, list) and not booleans:
        try:
            return np.frombuffer(number_array(_PACKED[dtype], raw), dtype)
        except (TypeError, OverflowError):
            pass  # the walk below names what is wrong
    if isinstance(raw, list):
        if not set(map(type, raw)) <= set(accept):
            for index, item in enumerate(raw):
                if type(item) not in accept:
                    if isinstance(item, list):
                        break
                    shown = item if isinstance(item, int | float | str | None) else str(item)
                    raise SigmawatchError(code, _TYPE_MESSAGES[code], index=index, value=shown)
            raise SigmawatchError(ErrorCode.INVALID_REQUEST, f"{field} must be a flat list")
        try:
            return np.asarray(raw, dtype=dtype)
        except OverflowError:
            index = next(i for i, item in enumerate(raw) if _overflows(item, dtype))
            raise SigmawatchError(
                code, f"{field} must fit in {np.dtype(dtype).name}", index=index
            ) from None
    array = np.asarray(raw)
    if array.ndim != 1:
        raise SigmawatchError(ErrorCode.INVALID_REQUEST, f"{field} must be a flat list")
    kinds = "iu" if np.issubdtype(dtype, np.integer) else "iuf"
    if array.size and array.dtype.kind not in kinds:
        raise SigmawatchError(code, _TYPE_MESSAGES[code], dtype=str(array.dtype))
    return array.astype(dtype, copy=False)


def _overflows(item: int | float, dtype: type[np.generic]) -> bool:
    try:
        np.asarray(item, dtype=dtype)
    except OverflowError:
        return True
    return False


def to_timestamps(raw: Sequence[Any] | npt.NDArray[Any], *, booleans: bool = True) -> IntArray:
    """A JSON list (or array) of timestamps as int64, or INVALID_TIMESTAMP.

    Only integers are Unix timestamps here: floats, strings, booleans and
    nulls are rejected rather than guessed at. `booleans` False: the caller
    knows none can be in `raw` (`_flat_array`).
    """
    return _flat_array(raw, "timestamps", (int,), ErrorCode.INVALID_TIMESTAMP, np.int64, booleans)


def to_values(raw: Sequence[Any] | npt.NDArray[Any], *, booleans: bool = True) -> FloatArray:
    """A JSON list (or array) of numbers as float64, or INVALID_VALUE."""
    return _flat_array(raw, "values", (int, float), ErrorCode.INVALID_VALUE, np.float64, booleans)


def check_timestamps(timestamps: IntArray, *, strictly_increasing: bool) -> None:
    """VAL-3: positive, and (for training) strictly increasing with no duplicates."""
    not_positive = timestamps <= 0
    if not_positive.any():
        index = _first(not_positive)
        raise SigmawatchError(
            ErrorCode.INVALID_TIMESTAMP,
            "timestamps must be positive Unix seconds",
            index=index,
            value=int(timestamps[index]),
        )
    if strictly_increasing and timestamps.size > 1:
        steps = np.diff(timestamps)
        bad = steps <= 0
        if bad.any():
            index = _first(bad) + 1
            duplicate = bool(steps[index - 1] == 0)
            raise SigmawatchError(
                ErrorCode.INVALID_TIMESTAMP,
                "duplicate timestamp" if duplicate else "timestamps must be strictly increasing",
                index=index,
                value=int(timestamps[index]),
                previous=int(timestamps[index - 1]),
            )


def check_values(values: FloatArray, settings: ValueRange) -> None:
    """VAL-4: finite and inside the configured plausible range."""
    not_finite = ~np.isfinite(values)
    if not_finite.any():
        index = _first(not_finite)
        raise SigmawatchError(
            ErrorCode.INVALID_VALUE,
            "values must be finite (no NaN or infinity)",
            index=index,
            value=str(values[index]),
        )
    implausible = (values < settings.value_min) | (values > settings.value_max)
    if implausible.any():
        index = _first(implausible)
        raise SigmawatchError(
            ErrorCode.INVALID_VALUE,
            "value outside the plausible range",
            index=index,
            value=float(values[index]),
            min=settings.value_min,
            max=settings.value_max,
        )


@dataclass(frozen=True, slots=True)
class TrainingData:
    timestamps: IntArray
    values: FloatArray


def validate_training(
    timestamps: IntArray, values: FloatArray, settings: TrainingSettings
) -> TrainingData:
    """VAL-1..5 in the order a user would fix them: size, timestamps, values, variance."""
    if timestamps.ndim != 1 or values.ndim != 1 or timestamps.shape != values.shape:
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST,
            "timestamps and values must be flat lists of the same length",
            timestamps=int(timestamps.size),
            values=int(values.size),
        )
    n = int(values.size)
    if n < settings.min_training_points:
        raise SigmawatchError(
            ErrorCode.INSUFFICIENT_DATA,
            f"training needs at least {settings.min_training_points} points, got {n}",
            n_points=n,
            min_points=settings.min_training_points,
        )
    if n > settings.max_training_points:
        raise SigmawatchError(
            ErrorCode.TOO_MUCH_DATA,
            f"training accepts at most {settings.max_training_points} points, got {n}; "
            "send the most recent window",
            n_points=n,
            max_points=settings.max_training_points,
        )
    check_timestamps(timestamps, strictly_increasing=True)
    check_values(values, settings)
    std = float(values.std())
    if std < settings.min_std:
        raise SigmawatchError(
            ErrorCode.CONSTANT_SERIES,
            f"series is constant (std {std:.3g} < {settings.min_std:g}); nothing to learn",
            std=std,
            min_std=settings.min_std,
        )
    return TrainingData(timestamps, values)
