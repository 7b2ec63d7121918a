"""The published OpenAPI document says what the routes enforce (SEC-1)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, get_args

import pytest
from pydantic import TypeAdapter, ValidationError

from sigmawatch.detectors import KINDS
from sigmawatch.errors import SigmawatchError
from sigmawatch.validation import parse_version, validate_series_id
from sigmawatch_inference.app import create_app
from sigmawatch_inference.guards import PROBE_PATHS
from sigmawatch_inference.schemas import DetectorKindName, IsoDatetime
from sigmawatch_inference.settings import ServiceSettings


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    settings = ServiceSettings(
        data_dir=tmp_path_factory.mktemp("oa"), min_training_points=50, max_training_points=500
    )
    return create_app(settings).openapi()


def parameters(document: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [
        p["schema"]
        for methods in document["paths"].values()
        for operation in methods.values()
        for p in operation.get("parameters", [])
        if p["name"] == name
    ]


def accepted(check: Any, value: str) -> bool:
    try:
        check(value)
    except SigmawatchError:
        return False
    return True


@pytest.mark.parametrize(
    ("name", "check"), [("series_id", validate_series_id), ("version", parse_version)]
)
def test_parameter_patterns_are_the_checks_of_the_routes(
    document: dict[str, Any], name: str, check: Any
) -> None:
    schemas = parameters(document, name)
    assert len(schemas) >= 5
    samples = ["pump_7", "v3", "v0", "a" * 128, "a" * 129, "", "é", "pump-7", "v12", "x\n"]
    for schema in schemas:
        # JSON Schema's `$` is the end of the string; Python's also matches before a final \n.
        pattern = re.compile(schema["pattern"].removesuffix("$") + r"\Z")
        for sample in samples:
            assert bool(pattern.search(sample)) == accepted(check, sample), (name, sample)


def test_every_error_is_the_json_envelope_and_limits_are_declared(
    document: dict[str, Any],
) -> None:
    for path, methods in document["paths"].items():
        if path in PROBE_PATHS:  # probes and metrics answer in their own shapes
            continue
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                if status[0] in "45":
                    assert set(response["content"]) == {"application/json"}, (path, status)
            if method == "post":
                assert "415" in operation["responses"], path
    for path in ("/v1/predict", "/v1/series/{series_id}/predict", "/v1/series/{series_id}/train"):
        assert "429" in document["paths"][path]["post"]["responses"], path
    # /plot is a page, but its errors are JSON too.
    assert "text/html" in document["paths"]["/plot"]["get"]["responses"]["200"]["content"]


def test_training_bodies_carry_this_services_bounds(document: dict[str, Any]) -> None:
    train = document["components"]["schemas"]["TrainRequest"]
    for name in ("timestamps", "values", "points"):
        assert (train["properties"][name]["minItems"], train["properties"][name]["maxItems"]) == (
            50,
            500,
        )
    assert train["properties"]["timestamps"]["items"]["minimum"] == 1
    assert len(train["oneOf"]) == 2  # columns, or points


def test_the_documented_detector_kinds_are_the_detectors() -> None:
    assert set(get_args(DetectorKindName)) == set(KINDS)


def test_query_times_without_an_offset_are_utc() -> None:
    parsed = TypeAdapter(IsoDatetime).validate_python("2026-01-31T12:00:00")
    assert parsed == datetime(2026, 1, 31, 12, tzinfo=UTC)
    with pytest.raises(ValidationError):
        TypeAdapter(IsoDatetime).validate_python("1767225600")
