"""ML-health metrics (OBS-2) that must stay cheap and bounded.

- `ScoreHistogram`: the detector score of every answered point, counted with
  one numpy pass per request (or per resident batch); a prometheus_client
  Histogram costs a Python call per point.
- `MlGauges`: fleet summaries of the per-series detail kept in PostgreSQL
  (series over the anomaly-rate threshold, versions drifting), computed off
  the request path by ml_summary.py. They carry no series label: which series
  they are is what `GET /v1/anomaly-rates` and `GET /v1/drift` answer.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator

import numpy as np
from prometheus_client import CollectorRegistry, Gauge
from prometheus_client.core import HistogramMetricFamily
from prometheus_client.registry import Collector

from sigmawatch.arrays import FloatArray

# Scores are in units of the detector's scale (σ for z-score): 3 is the usual threshold.
SCORE_BUCKETS = (0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 8.0, 10.0, 20.0)


class ScoreHistogram(Collector):
    name = "sigmawatch_prediction_score"

    def __init__(self) -> None:
        self._bounds = np.asarray(SCORE_BUCKETS, dtype=np.float64)
        self._counts = np.zeros(len(SCORE_BUCKETS) + 1, dtype=np.int64)  # last: +Inf
        self._sum = 0.0
        # Single points count in a list: a numpy element update costs 5× a list's.
        self._one = [0] * (len(SCORE_BUCKETS) + 1)
        self._lock = threading.Lock()

    def observe(self, scores: FloatArray) -> None:
        """Count every score (a finite float each) of one answer or pass."""
        if scores.size == 0:
            return
        index = np.searchsorted(self._bounds, scores, side="left")
        counts = np.bincount(index, minlength=self._counts.size)
        total = float(scores.sum())
        with self._lock:
            self._counts += counts
            self._sum += total

    def observe_one(self, score: float) -> None:
        index = bisect.bisect_left(SCORE_BUCKETS, score)
        with self._lock:
            self._one[index] += 1
            self._sum += score

    def collect(self) -> Iterator[HistogramMetricFamily]:
        with self._lock:
            counts, total = self._counts + np.asarray(self._one), self._sum
        cumulative = np.cumsum(counts).tolist()
        buckets = [(str(b), float(n)) for b, n in zip(SCORE_BUCKETS, cumulative, strict=False)]
        buckets.append(("+Inf", float(cumulative[-1])))
        yield HistogramMetricFamily(
            self.name,
            "Detector score of each answered point (z-score: distance in σ), fleet-wide.",
            buckets=buckets,
            sum_value=total,
        )


class MlGauges:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.series_anomalous = Gauge(
            "sigmawatch_series_anomaly_rate_high",
            "Series whose anomaly rate over the last hour is above "
            "SIGMAWATCH_ANOMALY_RATE_THRESHOLD (with enough points).",
            registry=registry,
        )
        self.versions_drifting = Gauge(
            "sigmawatch_series_drifting",
            "(series, version) pairs whose live values of today and yesterday (UTC) diverge from "
            "their training distribution by more than SIGMAWATCH_DRIFT_KL_THRESHOLD.",
            registry=registry,
        )
        self.summary_time = Gauge(
            "sigmawatch_ml_summary_timestamp_seconds",
            "When the two gauges above were last computed (Unix time).",
            registry=registry,
        )
