"""Training many series in one run: what a training Job executes (MOD-1, MOD-4).

A run trains its share of a model's series (a deterministic hash shard: the
operator writes each index's list to the store, or, for explicit series,
each pod picks its own), one series at a time through `train_series`, and
records each outcome in the registry. One bad series
never stops the others; the caller decides the exit status from the summary.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import orjson

from sigmawatch import tracing, training_job
from sigmawatch.artifacts import ArtifactNotFoundError, ArtifactStore
from sigmawatch.durations import parse_duration
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import Registry
from sigmawatch.registry.records import CREATED, EXISTING, FAILED
from sigmawatch.settings import TrainingSettings
from sigmawatch.sources import Source, apply_window, dataset_source, uri_source
from sigmawatch.training import train_series
from sigmawatch.training_job import FleetRun

log = logging.getLogger(__name__)

SHARD_LIST_WRITERS = 16


def shard_of(series_id: str, shards: int) -> int:
    """Stable shard of a series: the same on every pod and every run."""
    digest = hashlib.sha256(series_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def select_shard(series_ids: Iterable[str], index: int, shards: int) -> list[str]:
    return [s for s in series_ids if shard_of(s, shards) == index]


def shard_list_key(prefix: str, index: int) -> str:
    return f"{prefix}shard-{index:05d}.json"


def write_shard_lists(
    store: ArtifactStore, prefix: str, series_ids: Iterable[str], shards: int
) -> None:
    """Each index's series, one object an index, written before its Job exists: with
    ⌈N/500⌉ pods each listing the fleet, listing work grew with N² (issue 10)."""
    lists: list[list[str]] = [[] for _ in range(shards)]
    for series_id in series_ids:
        lists[shard_of(series_id, shards)].append(series_id)
    with ThreadPoolExecutor(SHARD_LIST_WRITERS) as pool:  # an S3 PUT is a round trip
        list(
            pool.map(
                lambda i: store.put(shard_list_key(prefix, i), orjson.dumps(lists[i])),
                range(shards),
            )
        )


def read_shard_list(store: ArtifactStore, prefix: str, index: int) -> list[str]:
    series = orjson.loads(store.get(shard_list_key(prefix, index)))
    if not isinstance(series, list) or not all(isinstance(s, str) for s in series):
        raise SigmawatchError(
            ErrorCode.INVALID_REQUEST, "the shard list is not a list of series ids", index=index
        )
    return series


@dataclass(frozen=True, slots=True)
class Window:
    points: int | None = None
    seconds: int | None = None


@dataclass
class ShardResult:
    """What this pod did; the run's total lives in the registry (`run_summary`)."""

    outcomes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def failed(self) -> int:
        return self.outcomes[FAILED]

    def to_dict(self) -> dict[str, Any]:
        return {"outcomes": dict(self.outcomes), "errors": dict(self.errors)}


@dataclass(frozen=True, slots=True)
class ShardOutcome:
    index: int
    series: int
    result: ShardResult
    finding_s: float = 0.0  # finding this pod's share: its list read, or the fleet listed
    training_s: float = 0.0  # training and registering its series

    def to_dict(self, run_id: str) -> dict[str, Any]:
        return {
            "run_id": run_id,
            "shard": self.index,
            "series": self.series,
            **self.result.to_dict(),
            "seconds": {"finding": round(self.finding_s, 3), "training": round(self.training_s, 3)},
        }


def run_shard(
    run: FleetRun,
    *,
    registry: Registry,
    store: ArtifactStore,
    settings: TrainingSettings,
    environ: Mapping[str, str],
) -> ShardOutcome:
    """What `sigmawatch train-fleet` does in one pod of a training Job: a `training.run`
    span (OBS-5), under the operator's reconcile when the Job carries its TRACEPARENT."""
    with tracing.span("training.run", {"training.run_id": run.run_id}) as span:
        outcome = _run_shard(
            run, registry=registry, store=store, settings=settings, environ=environ
        )
        if span.is_recording():
            span.set_attributes(
                {
                    "training.shard": outcome.index,
                    "training.series": outcome.series,
                    "training.failed": outcome.result.failed,
                }
            )
        return outcome


def _run_shard(
    run: FleetRun,
    *,
    registry: Registry,
    store: ArtifactStore,
    settings: TrainingSettings,
    environ: Mapping[str, str],
) -> ShardOutcome:
    source = (
        uri_source(
            run.source_uri, s3_endpoint_url=settings.s3_endpoint_url, s3_region=settings.s3_region
        )
        if run.source_uri
        else dataset_source(store)
    )
    index = training_job.shard_index(run, environ)
    started = time.monotonic()
    if run.shard_lists:
        mine = read_shard_list(store, run.shard_lists, index)
    else:
        series = list(run.series) or source.list_series(run.prefix or "")
        mine = select_shard(series, index, run.shard_count)
    found = time.monotonic()
    result = train_run(
        run.run_id,
        mine,
        source,
        registry=registry,
        store=store,
        settings=settings,
        detector=run.detector.to_dict(),
        promote=run.promote,
        window=Window(run.window_points, parse_duration(run.window) if run.window else None),
        keep_versions=run.keep_versions,
    )
    done = time.monotonic()
    return ShardOutcome(index, len(mine), result, found - started, done - found)


def train_run(
    run_id: str,
    series_ids: Iterable[str],
    source: Source,
    *,
    registry: Registry,
    store: ArtifactStore,
    settings: TrainingSettings,
    detector: Mapping[str, Any] | None,
    promote: bool,
    window: Window = Window(),
    keep_versions: int | None = None,
) -> ShardResult:
    """Train each series; an outage of the registry or the store stops the shard
    (STORAGE_UNAVAILABLE propagates, the Job retries the pod), bad data fails that
    series only."""
    summary = ShardResult()
    for series_id in series_ids:
        try:
            timestamps, values = apply_window(
                *source.read(series_id), points=window.points, seconds=window.seconds
            )
            result = train_series(
                series_id,
                timestamps,
                values,
                registry=registry,
                store=store,
                settings=settings,
                detector=detector,
                promote=promote,
                source=f"job:{run_id}",
                keep_versions=keep_versions,
            )
        except ArtifactNotFoundError as exc:
            failure = SigmawatchError(ErrorCode.DATA_NOT_FOUND, "no training data", key=exc.key)
        except SigmawatchError as exc:
            if exc.retryable:
                raise  # infrastructure, not data: the Job retries the pod
            failure = exc
        except Exception as exc:  # one series' surprise must not stop the shard
            log.exception("series failed unexpectedly", extra={"series_id": series_id})
            failure = SigmawatchError(ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        else:
            outcome = CREATED if result.created else EXISTING
            registry.record_result(run_id, series_id, outcome, version=result.record.version)
            summary.outcomes[outcome] += 1
            continue
        registry.record_result(run_id, series_id, FAILED, error=failure)
        summary.outcomes[FAILED] += 1
        summary.errors[failure.code.value] += 1
        log.warning("series failed", extra={"series_id": series_id, "code": failure.code.value})
    return summary
