"""OBS-2: a pod sums its flushed statistics per hour before writing the periods."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sigmawatch.registry.rollout_records import StatsRow
from sigmawatch_inference.period_buffer import PeriodBuffer

HOUR = datetime(2026, 12, 3, 11, tzinfo=UTC)
SHARES = (0.01, 0.04, 0.2, 0.25, 0.25, 0.2, 0.04, 0.01)


def row(at: datetime, n: int, *, shares: tuple[float, ...] | None = None) -> StatsRow:
    return StatsRow(
        "pump_1",
        1,
        at,
        predictions=n,
        anomalies=1,
        errors=2,
        drift_bins=(n, 0, 0, 0, 0, 0, 0, 1),
        training_shares=shares,
    )


def test_buckets_of_one_hour_become_one_period_with_its_shares() -> None:
    buffer = PeriodBuffer()
    buffer.add([row(HOUR + timedelta(seconds=10), 5, shares=SHARES)])
    buffer.add([row(HOUR + timedelta(minutes=59), 7), row(HOUR + timedelta(hours=1), 1)])
    periods = sorted(buffer.take(), key=lambda r: r.bucket)
    assert [(p.bucket, p.predictions, p.anomalies, p.errors) for p in periods] == [
        (HOUR, 12, 2, 4),
        (HOUR + timedelta(hours=1), 1, 1, 2),
    ]
    assert periods[0].drift_bins == (12, 0, 0, 0, 0, 0, 0, 2)
    assert periods[0].training_shares == SHARES
    assert periods[1].training_shares is None
    assert buffer.take() == []


def test_a_failed_write_comes_back_whole() -> None:
    buffer = PeriodBuffer()
    buffer.add([row(HOUR, 5, shares=SHARES)])
    taken = buffer.take()
    buffer.give_back(taken)
    buffer.add([row(HOUR + timedelta(minutes=1), 1)])
    (period,) = buffer.take()
    assert (period.predictions, period.training_shares) == (6, SHARES)
