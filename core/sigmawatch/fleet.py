"""Training many series in one run: what a training Job executes (MOD-1, MOD-4).

A run trains its share of a model's series (a deterministic hash shard, so
an Indexed Job needs no series list per pod), one series at a time through
`train_series`, and records each outcome in the registry. One bad series
never stops the others; the caller decides the exit status from the summary.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from sigmawatch.artifacts import ArtifactNotFoundError, ArtifactStore, StorageUnavailableError
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import Registry
from sigmawatch.registry.runs import record_result
from sigmawatch.settings import Settings
from sigmawatch.sources import Source, apply_window
from sigmawatch.training import train_series

log = logging.getLogger(__name__)


def shard_of(series_id: str, shards: int) -> int:
    """Stable shard of a series: the same on every pod and every run."""
    digest = hashlib.sha256(series_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") % shards


def select_shard(series_ids: Iterable[str], index: int, shards: int) -> list[str]:
    return [s for s in series_ids if shard_of(s, shards) == index]


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
        return self.outcomes["failed"]

    def to_dict(self) -> dict[str, Any]:
        return {"outcomes": dict(self.outcomes), "errors": dict(self.errors)}


def train_run(
    run_id: str,
    series_ids: Iterable[str],
    source: Source,
    *,
    registry: Registry,
    store: ArtifactStore,
    settings: Settings,
    detector: Mapping[str, Any] | None,
    promote: bool,
    window: Window = Window(),
) -> ShardResult:
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
            )
        except ArtifactNotFoundError as exc:
            failure = SigmawatchError(ErrorCode.DATA_NOT_FOUND, "no training data", key=exc.key)
        except StorageUnavailableError:
            raise  # infrastructure, not data: the Job retries the pod
        except SigmawatchError as exc:
            failure = exc
        except (psycopg.OperationalError, PoolTimeout):
            raise  # the registry, not the series: the Job retries the pod
        except Exception as exc:  # one series' surprise must not stop the shard
            log.exception("series failed unexpectedly", extra={"series_id": series_id})
            failure = SigmawatchError(ErrorCode.INTERNAL_ERROR, f"{type(exc).__name__}: {exc}")
        else:
            outcome = "created" if result.created else "existing"
            record_result(registry, run_id, series_id, outcome, version=result.record.version)
            summary.outcomes[outcome] += 1
            continue
        record_result(registry, run_id, series_id, "failed", error=failure)
        summary.outcomes["failed"] += 1
        summary.errors[failure.code.value] += 1
        log.warning("series failed", extra={"series_id": series_id, "code": failure.code.value})
    return summary
