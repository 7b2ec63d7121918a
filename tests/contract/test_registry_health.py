"""OBS-2 contract: hourly and daily periods per (series, version), drift, fleet lists."""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from sigmawatch.drift import expected_shares, kl_divergence
from sigmawatch.registry import Registry
from sigmawatch.registry.health_records import HOUR, HealthQuery, period_start
from sigmawatch.registry.postgres import PostgresRegistry, summary
from sigmawatch.registry.rollout_records import StatsRow

# Quantiles of a standard normal: the shares are the textbook 1/4/20/25/25/20/4/1 %.
SHARES = expected_shares([-2.33, -1.64, -0.67, 0.0, 0.67, 1.64, 2.33])
LIKE_TRAINING = (10, 40, 200, 250, 250, 200, 40, 10)
ALL_HIGH = (0, 0, 0, 0, 0, 0, 0, 1000)


def this_hour() -> datetime:
    return period_start(datetime.now(UTC), HOUR)


def row(
    series_id: str,
    at: datetime,
    predictions: int,
    anomalies: int,
    *,
    version: int = 1,
    errors: int = 0,
    bins: tuple[int, ...] = (0,) * 8,
    shares: tuple[float, ...] | None = SHARES,
) -> StatsRow:
    return StatsRow(
        series_id,
        version,
        at,
        predictions=predictions,
        anomalies=anomalies,
        errors=errors,
        bucket_end=at + timedelta(seconds=10),
        drift_bins=bins,
        training_shares=shares,
    )


def query(
    threshold: float,
    *,
    min_points: int = 1,
    limit: int = 100,
    cursor: tuple[str, int] | None = None,
) -> HealthQuery:
    now = datetime.now(UTC)
    return HealthQuery(now - timedelta(hours=1), now, threshold, min_points, limit, cursor)


def test_two_pods_add_up_per_hour_and_per_day(any_registry: Registry) -> None:
    hour = this_hour()
    earlier = hour - HOUR
    any_registry.record_periods(
        [
            row("pump_1", earlier + timedelta(minutes=5), 100, 10, bins=LIKE_TRAINING),
            row("pump_1", hour + timedelta(seconds=20), 50, 5, errors=2),
        ]
    )
    # A second pod, same hour, sending the reference again: counted once.
    any_registry.record_periods([row("pump_1", hour + timedelta(minutes=1), 30, 9, bins=ALL_HIGH)])

    health = any_registry.version_health("pump_1", 1, earlier, datetime.now(UTC))
    assert [(p.period, p.predictions, p.anomalies, p.errors) for p in health.hourly] == [
        (earlier, 100, 10, 0),
        (hour, 80, 14, 2),
    ]
    days = {p.period for p in health.daily}
    assert days == {period_start(earlier, timedelta(days=1)), period_start(hour, timedelta(days=1))}
    assert sum(p.predictions for p in health.daily) == 180
    live = tuple(a + b for a, b in zip(LIKE_TRAINING, ALL_HIGH, strict=True))
    assert health.drift_bins == live
    assert health.training_shares == pytest.approx(SHARES)
    rendered = health.to_dict()
    assert rendered["hourly"][1]["anomaly_rate"] == pytest.approx(14 / 80)
    assert rendered["drift"]["kl_divergence"] == pytest.approx(kl_divergence(live, SHARES), 1e-6)

    # An unknown pair has no periods and no drift, rather than an error.
    empty = any_registry.version_health("pump_1", 7, earlier).to_dict()
    assert empty["hourly"] == []
    assert empty["drift"]["kl_divergence"] is None


def test_anomaly_rates_list_the_series_over_the_threshold_page_by_page(
    any_registry: Registry,
) -> None:
    at = this_hour() + timedelta(seconds=1)
    any_registry.record_periods(
        [
            row("a_high", at, 100, 50),
            row("b_low", at, 100, 10),
            row("c_high", at, 200, 60),
            row("c_high", at, 100, 90, version=2),
            row("d_few", at, 3, 3),  # 100%, but too few points to mean anything
        ]
    )
    page = any_registry.anomaly_rates(query(0.2, min_points=10))
    assert [(r.series_id, r.version, r.anomaly_rate) for r in page.items] == [
        ("a_high", 1, 0.5),
        ("c_high", 1, 0.3),
        ("c_high", 2, 0.9),
    ]
    assert page.next_cursor is None
    assert [r.series_id for r in any_registry.anomaly_rates(query(0.2)).items] == [
        "a_high",
        "c_high",
        "c_high",
        "d_few",
    ]

    seen, cursor = [], None
    while True:
        page = any_registry.anomaly_rates(query(0.2, min_points=10, limit=1, cursor=cursor))
        seen += [(r.series_id, r.version) for r in page.items]
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == [("a_high", 1), ("c_high", 1), ("c_high", 2)]


def test_drift_lists_versions_whose_live_values_left_their_training(
    any_registry: Registry,
) -> None:
    at = this_hour() + timedelta(seconds=1)
    any_registry.record_periods(
        [
            row("steady", at, 1000, 0, bins=LIKE_TRAINING),
            row("shifted", at, 1000, 0, bins=ALL_HIGH),
            row("no_reference", at, 1000, 0, bins=ALL_HIGH, shares=None),
            row("few", at, 5, 0, bins=(0, 0, 0, 0, 0, 0, 0, 5)),
        ]
    )
    page = any_registry.drifting(query(0.5, min_points=100))
    assert [(r.series_id, r.points) for r in page.items] == [("shifted", 1000)]
    # The database computes the same divergence as sigmawatch.drift.
    assert page.items[0].kl_divergence == pytest.approx(kl_divergence(ALL_HIGH, SHARES), 1e-9)
    assert page.items[0].kl_divergence > math.log(50)  # ~ln(1 / 1%) with smoothing

    everything = any_registry.drifting(query(0.0))
    assert [r.series_id for r in everything.items] == ["few", "shifted", "steady"]
    steady = everything.items[2].kl_divergence
    assert steady == pytest.approx(kl_divergence(LIKE_TRAINING, SHARES), 1e-9)
    assert steady < 0.01

    # What the gauges report: the same pairs the lists would page through.
    assert any_registry.count_over(query(0.01), query(0.5, min_points=100)) == (0, 1)
    assert any_registry.count_over(query(0.0, min_points=100), query(0.0)) == (3, 3)


def test_old_periods_are_pruned(any_registry: Registry) -> None:
    old = this_hour() - timedelta(days=40)
    any_registry.record_periods([row("pump_9", old, 10, 1), row("pump_9", this_hour(), 10, 1)])
    assert any_registry.prune_health(30, 400) == 1  # the old hour; its day stays
    health = any_registry.version_health("pump_9", 1, old - timedelta(days=1))
    assert [p.period for p in health.hourly] == [this_hour()]
    assert len(health.daily) == 2


def test_shared_counts_are_computed_once_an_interval_for_every_process(
    any_registry: Registry,
) -> None:
    """OBS-2 gauges: counts younger than max_age are answered as stored, not recomputed."""
    at = this_hour() + timedelta(seconds=1)
    assert any_registry.shared_counts(query(0.2), query(0.5), 60.0) is not None
    any_registry.record_periods([row("hot", at, 100, 50, bins=ALL_HIGH)])
    first = any_registry.shared_counts(query(0.2), query(0.5), 0.0)
    assert first is not None
    assert (first.anomalous, first.drifting) == (1, 1)
    any_registry.record_periods([row("hot_too", at, 100, 60)])
    again = any_registry.shared_counts(query(0.2), query(0.5), 60.0)
    assert again == first  # the stored counts, however the rows moved since
    later = any_registry.shared_counts(query(0.2), query(0.5), 0.0)
    assert later is not None
    assert (later.anomalous, later.drifting) == (2, 1)
    assert later.computed_at >= first.computed_at


def test_while_one_process_computes_the_others_answer_the_stored_counts(
    database_url: str,
) -> None:
    """PostgreSQL: a process that finds the computing lock taken does not wait for it."""
    registry = PostgresRegistry(database_url, max_size=2)
    registry.open()
    registry.migrate()
    try:
        at = this_hour() + timedelta(seconds=1)
        registry.record_periods([row("hot", at, 100, 50)])
        stored = registry.shared_counts(query(0.2), query(0.5), 0.0)
        registry.record_periods([row("hot_too", at, 100, 60)])
        with psycopg.connect(database_url) as other, other.transaction():
            other.execute(summary.TRY_LOCK, (summary.NAME,))  # "computing" in another pod
            started = time.monotonic()
            answered = registry.shared_counts(query(0.2), query(0.5), 0.0)
            assert time.monotonic() - started < 1.0
        assert answered == stored
        after = registry.shared_counts(query(0.2), query(0.5), 0.0)
        assert after is not None
        assert after.anomalous == 2
    finally:
        registry.close()
