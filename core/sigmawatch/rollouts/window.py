"""What a version did over a time window, as the rollout policy reads it (OBS-2, REL-1..4).

Counts add up exactly across pods and series: every pod aggregates the same
fields with the same fixed latency buckets, so merging windows is summing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# Upper bounds (milliseconds) of the latency buckets; the last bucket is open-ended.
LATENCY_BUCKETS_MS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 1000.0)
N_LATENCY = len(LATENCY_BUCKETS_MS) + 1


def latency_bucket(ms: float) -> int:
    for index, bound in enumerate(LATENCY_BUCKETS_MS):
        if ms <= bound:
            return index
    return len(LATENCY_BUCKETS_MS)


def _ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


@dataclass(frozen=True, slots=True)
class Confusion:
    """Labeled points scored by one version: was it right about each anomaly?"""

    tp: int = 0
    fp: int = 0
    tn: int = 0
    fn: int = 0

    @property
    def labels(self) -> int:
        return self.tp + self.fp + self.tn + self.fn

    @property
    def precision(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float | None:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float | None:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def false_positive_rate(self) -> float | None:
        return _ratio(self.fp, self.fp + self.tn)

    def __add__(self, other: Confusion) -> Confusion:
        return Confusion(
            self.tp + other.tp, self.fp + other.fp, self.tn + other.tn, self.fn + other.fn
        )

    def to_dict(self) -> dict[str, float | int | None]:
        return {
            "labels": self.labels,
            "tp": self.tp,
            "fp": self.fp,
            "tn": self.tn,
            "fn": self.fn,
            "precision": self.precision,
            "recall": self.recall,
            "f1": self.f1,
            "false_positive_rate": self.false_positive_rate,
        }


@dataclass(frozen=True, slots=True)
class VersionWindow:
    """Counts of one version (or one side of a fleet rollout) over a window."""

    predictions: int = 0  # points this version answered or, in a shadow, scored
    anomalies: int = 0
    errors: int = 0  # points it could not answer itself (load or scoring failed)
    fallbacks: int = 0  # points the z-score fallback answered for it
    latency: tuple[int, ...] = field(default=(0,) * N_LATENCY)  # counts per bucket
    shadow_compared: int = 0  # shadow points scored beside the stable answer
    shadow_agreed: int = 0  # ... with the same anomaly flag
    labeled: Confusion = field(default_factory=Confusion)

    @property
    def error_rate(self) -> float | None:
        return _ratio(self.errors + self.fallbacks, self.predictions + self.errors)

    @property
    def anomaly_rate(self) -> float | None:
        return _ratio(self.anomalies, self.predictions)

    @property
    def agreement(self) -> float | None:
        return _ratio(self.shadow_agreed, self.shadow_compared)

    def latency_quantile_ms(self, q: float) -> float | None:
        """The bucket bound the q-quantile falls under (the open bucket: its lower bound)."""
        total = sum(self.latency)
        if not total:
            return None
        seen = 0
        for index, n in enumerate(self.latency):
            seen += n
            if seen >= q * total:
                return LATENCY_BUCKETS_MS[min(index, len(LATENCY_BUCKETS_MS) - 1)]
        return LATENCY_BUCKETS_MS[-1]

    def __add__(self, other: VersionWindow) -> VersionWindow:
        return VersionWindow(
            predictions=self.predictions + other.predictions,
            anomalies=self.anomalies + other.anomalies,
            errors=self.errors + other.errors,
            fallbacks=self.fallbacks + other.fallbacks,
            latency=tuple(a + b for a, b in zip(self.latency, other.latency, strict=True)),
            shadow_compared=self.shadow_compared + other.shadow_compared,
            shadow_agreed=self.shadow_agreed + other.shadow_agreed,
            labeled=self.labeled + other.labeled,
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "predictions": self.predictions,
            "anomalies": self.anomalies,
            "errors": self.errors,
            "fallbacks": self.fallbacks,
            "anomaly_rate": self.anomaly_rate,
            "error_rate": self.error_rate,
            "latency_ms": {
                "p50": self.latency_quantile_ms(0.5),
                "p95": self.latency_quantile_ms(0.95),
                "p99": self.latency_quantile_ms(0.99),
                "buckets": list(LATENCY_BUCKETS_MS),
                "counts": list(self.latency),
            },
            "shadow": {
                "compared": self.shadow_compared,
                "agreed": self.shadow_agreed,
                "agreement": self.agreement,
            },
            "labels": self.labeled.to_dict(),
        }


def total(windows: Iterable[VersionWindow]) -> VersionWindow:
    out = VersionWindow()
    for window in windows:
        out = out + window
    return out
