"""An AnomalyModel's spec as a typed value, and the key of its training inputs.

The API server's schema already rejects malformed specs; this adds the
checks a schema cannot make (e.g. that the detector params are valid for
the kind) using the same core validation the REST API uses.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from sigmawatch.detectors import DetectorSpec
from sigmawatch.durations import parse_duration
from sigmawatch.errors import SigmawatchError
from sigmawatch.sources import split_source_uri
from sigmawatch.validation import parse_version, validate_series_id

# Listed ids travel to training pods in one environment variable, and Linux
# caps a single one at 128 KiB: 1,000 ids of up to 128 characters fit.
MAX_LISTED_SERIES = 1000


class InvalidSpecError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class ModelSpec:
    series_id: str | None
    series_ids: tuple[str, ...]
    prefix: str | None
    source_uri: str | None
    detector: DetectorSpec
    window_points: int | None
    window: str | None
    retrain_interval_s: int | None
    retrain_nonce: str | None
    keep_versions: int
    pinned_version: int | None
    promote: bool
    series_per_pod: int
    parallelism: int | None  # None: derived from the fleet's size (run_size.py)
    backoff_limit_per_index: int
    active_deadline_s: int | None  # None: derived too
    resources: dict[str, Any]

    @property
    def single(self) -> bool:
        return self.series_id is not None

    @property
    def explicit_series(self) -> tuple[str, ...]:
        """Series named in the spec (empty for a selector)."""
        return (self.series_id,) if self.series_id else self.series_ids

    def describe(self) -> str:
        if self.series_id:
            return self.series_id
        if self.series_ids:
            return f"{len(self.series_ids)} series"
        return f"prefix {self.prefix}"

    def training_key(self) -> str:
        """Changes exactly when a new training run is needed (not for pin, promote, retention)."""
        inputs = {
            "series": [self.series_id, list(self.series_ids), self.prefix],
            "source": self.source_uri,
            "detector": self.detector.to_dict(),
            "window": [self.window_points, self.window],
            "nonce": self.retrain_nonce,
        }
        return hashlib.sha256(orjson.dumps(inputs, option=orjson.OPT_SORT_KEYS)).hexdigest()

    def shards(self, series_count: int) -> int:
        """Indexed Job completions: one per `series_per_pod` series."""
        return max(1, -(-series_count // self.series_per_pod))


def parse_spec(spec: Mapping[str, Any]) -> ModelSpec:
    try:
        return _parse(spec)
    except SigmawatchError as exc:
        raise InvalidSpecError(f"{exc.code.value}: {exc.message}") from None
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidSpecError(str(exc)) from None


def _parse(spec: Mapping[str, Any]) -> ModelSpec:
    series = spec.get("series") or {}
    source = spec.get("source") or {}
    window = spec.get("window") or {}
    retrain = spec.get("retrain") or {}
    production = spec.get("production") or {}
    job = spec.get("job") or {}
    series_id = validate_series_id(series["id"]) if "id" in series else None
    ids = tuple(validate_series_id(s) for s in series.get("ids") or ())
    if len(ids) > MAX_LISTED_SERIES:
        raise InvalidSpecError(f"series.ids holds at most {MAX_LISTED_SERIES}; use a selector")
    prefix = (series.get("selector") or {}).get("prefix")
    if sum(map(bool, (series_id, ids, prefix))) != 1:
        raise InvalidSpecError("set exactly one of series.id, series.ids, series.selector.prefix")
    if bool(source.get("uri")) == ("dataset" in source):
        raise InvalidSpecError("set exactly one of source.uri, source.dataset")
    if source.get("uri"):
        split_source_uri(source["uri"])
    pinned = production.get("pinnedVersion")
    if pinned and not series_id:
        raise InvalidSpecError("production.pinnedVersion needs a single-series model")
    if window.get("duration"):
        parse_duration(window["duration"])
    interval = retrain.get("interval")
    return ModelSpec(
        series_id=series_id,
        series_ids=ids,
        prefix=prefix,
        source_uri=source.get("uri"),
        detector=DetectorSpec.parse(spec.get("detector")),
        window_points=window.get("points"),
        window=window.get("duration"),
        retrain_interval_s=parse_duration(interval) if interval else None,
        retrain_nonce=retrain.get("nonce"),
        keep_versions=int((spec.get("retention") or {}).get("keepVersions", 10)),
        pinned_version=parse_version(pinned) if pinned else None,
        promote=bool(production.get("promote", True)),
        series_per_pod=int(job.get("seriesPerPod", 500)),
        parallelism=int(job["parallelism"]) if "parallelism" in job else None,
        backoff_limit_per_index=int(job.get("backoffLimitPerIndex", 2)),
        active_deadline_s=(
            int(job["activeDeadlineSeconds"]) if "activeDeadlineSeconds" in job else None
        ),
        resources=dict(job.get("resources") or {}),
    )
