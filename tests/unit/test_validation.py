"""Input rules (VAL-1..7, SEC-1): stable codes and the first offending index."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sigmawatch.datasets import read_training_bytes
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.settings import TrainingSettings
from sigmawatch.time_warnings import timestamp_warnings
from sigmawatch.validation import (
    parse_version,
    to_timestamps,
    to_values,
    validate_series_id,
    validate_training,
)
from sigmawatch_inference.settings import ServiceSettings
from support.data import series_data

SETTINGS = TrainingSettings(value_min=-1000.0, value_max=1000.0)
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"


def code_of(call: object) -> tuple[ErrorCode, dict[str, Any]]:
    assert callable(call)
    with pytest.raises(SigmawatchError) as caught:
        call()
    return caught.value.code, caught.value.details


@settings(max_examples=100)
@given(st.text(alphabet=ALPHABET, min_size=1, max_size=128))
def test_series_ids_of_the_allowed_alphabet_pass(series_id: str) -> None:
    assert validate_series_id(series_id) == series_id


@settings(max_examples=100)
@given(
    st.text(alphabet=ALPHABET, max_size=60),
    st.characters(blacklist_characters=ALPHABET),
    st.text(alphabet=ALPHABET, max_size=60),
)
def test_any_other_character_is_rejected(head: str, bad: str, tail: str) -> None:
    code, _ = code_of(lambda: validate_series_id(head + bad + tail))
    assert code is ErrorCode.INVALID_SERIES_ID


@pytest.mark.parametrize(
    "series_id", ["", "a" * 129, "x'; DROP TABLE series;--", "a/b", "ü", None, 7]
)
def test_series_id_edge_cases(series_id: object) -> None:
    code, _ = code_of(lambda: validate_series_id(series_id))
    assert code is ErrorCode.INVALID_SERIES_ID


@pytest.mark.parametrize(("text", "number"), [("v1", 1), ("v10", 10), ("v999999999", 999_999_999)])
def test_versions_parse(text: str, number: int) -> None:
    assert parse_version(text) == number


@pytest.mark.parametrize("text", ["1", "v0", "v01", "V2", "v-1", "latest", "v1.0", "", None])
def test_bad_versions_are_invalid_version(text: object) -> None:
    code, _ = code_of(lambda: parse_version(text))
    assert code is ErrorCode.INVALID_VERSION


@pytest.mark.parametrize(
    ("raw", "index"),
    [([1, 2, 3.5], 2), ([1, True, 3], 1), ([1, None], 1), (["1", 2], 0), ([1, 2**64], 1)],
)
def test_non_integer_timestamps_name_their_index(raw: list[object], index: int) -> None:
    code, details = code_of(lambda: to_timestamps(raw))
    assert code is ErrorCode.INVALID_TIMESTAMP
    assert details["index"] == index


@pytest.mark.parametrize(("raw", "index"), [([1.0, "x"], 1), ([None], 0), ([1, 2, False], 2)])
def test_non_numeric_values_name_their_index(raw: list[object], index: int) -> None:
    code, details = code_of(lambda: to_values(raw))
    assert code is ErrorCode.INVALID_VALUE
    assert details["index"] == index


def test_nested_lists_are_invalid_requests() -> None:
    code, _ = code_of(lambda: to_values([[1.0], [2.0]]))
    assert code is ErrorCode.INVALID_REQUEST


def corrupt(kind: str, at: int) -> tuple[np.ndarray, np.ndarray]:
    timestamps, values = series_data(12_000)
    if kind == "duplicate":
        timestamps[at] = timestamps[at - 1]
    elif kind == "decreasing":
        timestamps[at] = timestamps[at - 1] - 1
    elif kind == "not_positive":
        timestamps[: at + 1] = np.arange(-at, 1)
    elif kind == "nan":
        values[at] = np.nan
    elif kind == "inf":
        values[at] = -np.inf
    elif kind == "implausible":
        values[at] = 5000.0
    return timestamps, values


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("duplicate", ErrorCode.INVALID_TIMESTAMP),
        ("decreasing", ErrorCode.INVALID_TIMESTAMP),
        ("not_positive", ErrorCode.INVALID_TIMESTAMP),
        ("nan", ErrorCode.INVALID_VALUE),
        ("inf", ErrorCode.INVALID_VALUE),
        ("implausible", ErrorCode.INVALID_VALUE),
    ],
)
@settings(max_examples=15, deadline=None)
@given(at=st.integers(1, 11_999))
def test_training_errors_name_the_first_offending_index(
    kind: str, code: ErrorCode, at: int
) -> None:
    timestamps, values = corrupt(kind, at)
    got, details = code_of(lambda: validate_training(timestamps, values, SETTINGS))
    assert got is code
    expected = 0 if kind == "not_positive" else at
    assert details["index"] == expected


def test_duplicate_and_decreasing_say_which() -> None:
    _, dup = code_of(lambda: validate_training(*corrupt("duplicate", 50), SETTINGS))
    assert dup["value"] == dup["previous"]
    _, dec = code_of(lambda: validate_training(*corrupt("decreasing", 50), SETTINGS))
    assert dec["value"] < dec["previous"]


@pytest.mark.parametrize(
    ("n", "code"),
    [(9_999, ErrorCode.INSUFFICIENT_DATA), (100_001, ErrorCode.TOO_MUCH_DATA)],
)
def test_size_limits(n: int, code: ErrorCode) -> None:
    timestamps, values = series_data(n)
    got, details = code_of(lambda: validate_training(timestamps, values, SETTINGS))
    assert got is code
    assert details["n_points"] == n


def test_size_limits_are_inclusive() -> None:
    for n in (10_000, 100_000):
        data = validate_training(*series_data(n), SETTINGS)
        assert data.values.size == n


def test_constant_and_near_constant_series_are_rejected() -> None:
    timestamps, _ = series_data(10_000)
    for values in (np.full(10_000, 7.0), 7.0 + np.random.default_rng(0).normal(0, 1e-8, 10_000)):
        code, details = code_of(lambda v=values: validate_training(timestamps, v, SETTINGS))
        assert code is ErrorCode.CONSTANT_SERIES
        assert details["std"] < 1e-6


def test_mismatched_lengths_are_invalid_requests() -> None:
    timestamps, values = series_data(10_000)
    code, _ = code_of(lambda: validate_training(timestamps, values[:-1], SETTINGS))
    assert code is ErrorCode.INVALID_REQUEST


def test_far_timestamps_warn_without_failing() -> None:
    tolerances = ServiceSettings()
    now = 2_000_000_000
    ts = np.array([now - 10], dtype=np.int64)
    assert (
        timestamp_warnings(ts, now=now, training_range=(now - 1000, now), settings=tolerances) == []
    )
    future = timestamp_warnings(
        np.array([now + 86_400], dtype=np.int64), now=now, training_range=None, settings=tolerances
    )
    assert [w["code"] for w in future] == ["TIMESTAMP_IN_FUTURE"]
    old = timestamp_warnings(
        np.array([1_000], dtype=np.int64),
        now=now,
        training_range=(now - 100, now),
        settings=tolerances,
    )
    assert {w["code"] for w in old} == {"TIMESTAMP_FAR_IN_PAST", "TIMESTAMP_OUTSIDE_TRAINING_RANGE"}


def test_numbers_too_big_for_their_type_name_their_index() -> None:
    code, details = code_of(lambda: to_values([1.0, 10**400]))
    assert code is ErrorCode.INVALID_VALUE
    assert details["index"] == 1


@pytest.mark.parametrize(("name", "cut"), [("x.npz", 0.5), ("x.npy", 0.0), ("x.npy", 0.5)])
def test_truncated_training_files_are_bad_data_not_crashes(name: str, cut: float) -> None:
    buffer = io.BytesIO()
    timestamps, values = series_data(100)
    if name.endswith(".npz"):
        np.savez(buffer, timestamps=timestamps, values=values)
    else:
        rows = np.empty(100, dtype=[("timestamp", "<i8"), ("value", "<f8")])
        rows["timestamp"], rows["value"] = timestamps, values
        np.save(buffer, rows)
    data = buffer.getvalue()
    code, _ = code_of(lambda: read_training_bytes(data[: int(len(data) * cut)], name))
    assert code is ErrorCode.INVALID_REQUEST
