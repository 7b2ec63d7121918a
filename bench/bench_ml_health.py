"""ML health (OBS-2) at fleet scale: the gauges' query, the fleet lists, the flush.

    .venv/bin/python bench/bench_ml_health.py [--series N] [--hours H] [--repeats R]

An embedded PostgreSQL holds hourly and daily periods for N series (default
100,000; run_all.py uses 10,000 to stay short) over the last H hours
(default 24), filled in SQL, 2% of them over
the anomaly-rate threshold and 1% drifting. Timed R times each: what every
pod's housekeeper runs for the two gauges (`count_over`), the first page of
`GET /v1/anomaly-rates?window=1h` and of `GET /v1/drift?window=1d`, one
version's periods for `/stats`. The periods case writes what one pod adds to
the hourly and daily periods for 10,000 series (`record_periods`, once a
minute); its baseline is one statistics flush of the same rows into the 10 s
buckets (`record_stats`, every 5 s).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from report import Row, median, ms, ratio, summary, table
from sigmawatch.drift import expected_shares
from sigmawatch.registry.health_records import HealthQuery
from sigmawatch.registry.rollout_records import StatsRow
from workspace import Workspace

NAME = "ml health"
SHARES = list(expected_shares([-2.33, -1.64, -0.67, 0.0, 0.67, 1.64, 2.33]))
FILL = """
INSERT INTO version_drift_reference (series_id, version, training_shares)
SELECT format('fleet_%%s', lpad(i::text, 6, '0')), 1, %(shares)s::float8[]
FROM generate_series(0, %(series)s - 1) i;
INSERT INTO version_stats_hourly (series_id, version, period, predictions, anomalies, errors,
                                  bin0, bin1, bin2, bin3, bin4, bin5, bin6, bin7)
SELECT format('fleet_%%s', lpad(i::text, 6, '0')), 1,
       date_trunc('hour', now()) - make_interval(hours => h), 120,
       CASE WHEN i %% 50 = 0 THEN 40 ELSE 2 END, 0,
       d, 5 * d, 24 * d, 30 * d, 30 * d, 24 * d, 5 * d, CASE WHEN d = 0 THEN 120 ELSE 1 END
FROM generate_series(0, %(series)s - 1) i, generate_series(0, %(hours)s - 1) h,
     LATERAL (SELECT CASE WHEN i %% 100 = 0 THEN 0 ELSE 1 END AS d) steady;
INSERT INTO version_stats_daily (series_id, version, period, predictions, anomalies, errors,
                                 bin0, bin1, bin2, bin3, bin4, bin5, bin6, bin7)
SELECT series_id, version, date_trunc('day', period), sum(predictions), sum(anomalies),
       sum(errors), sum(bin0), sum(bin1), sum(bin2), sum(bin3), sum(bin4), sum(bin5),
       sum(bin6), sum(bin7)
FROM version_stats_hourly GROUP BY 1, 2, 3;
ANALYZE version_stats_hourly;
ANALYZE version_stats_daily;
ANALYZE version_drift_reference
"""


def timed(run: Callable[[], object], repeats: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = run()
        times.append((time.perf_counter() - started) * 1000)
    return median(times), result


def flush_rows(n: int) -> list[StatsRow]:
    at = datetime.now(UTC).replace(microsecond=0)
    return [
        StatsRow(
            f"fleet_{i:06d}",
            1,
            at,
            predictions=10,
            anomalies=1,
            bucket_end=at + timedelta(seconds=10),
            drift_bins=(0, 1, 2, 3, 2, 1, 1, 0),
        )
        for i in range(n)
    ]


def run(series: int = 10_000, hours: int = 24, repeats: int = 3) -> list[Row]:
    rows: list[Row] = []
    with Workspace() as ws:
        registry = ws.registry
        with registry._pool.connection() as conn:  # bench: the fill goes around the API
            for statement in FILL.split(";"):
                params = {"series": series, "hours": hours, "shares": SHARES}
                conn.execute(statement.encode(), params if "%(" in statement else None)
        now = datetime.now(UTC)
        hour = HealthQuery(now - timedelta(hours=1), now, 0.2, 100)
        day = HealthQuery(now - timedelta(days=1), now, 0.5, 100)
        cases: dict[str, Callable[[], object]] = {
            "gauges (count_over: 1h rates + 1d drift)": lambda: registry.count_over(hour, day),
            "GET /v1/anomaly-rates?window=1h, page 1": lambda: registry.anomaly_rates(hour),
            "GET /v1/drift?window=1d, page 1": lambda: registry.drifting(day),
            "one version's /stats periods (1d)": lambda: registry.version_health(
                "fleet_000050", 1, now - timedelta(days=1)
            ),
        }
        measured = {}
        for case, call in cases.items():
            measured[case], result = timed(call, repeats)
            print(f"{case}: {ms(measured[case])} -> {str(result)[:100]}", file=sys.stderr)
        gauges = measured["gauges (count_over: 1h rates + 1d drift)"]
        for case, value in measured.items():
            rows.append(Row(NAME, case, ms(value), ms(gauges), ratio(value, gauges)))

        flush = flush_rows(10_000)
        base, _ = timed(lambda: registry.record_stats(flush), repeats)
        periods, _ = timed(lambda: registry.record_periods(flush), repeats)
        case = "periods of 10,000 series (each pod, every 60 s)"
        rows.append(Row(NAME, case, ms(periods), ms(base), ratio(periods, base)))
    print(f"{series:,} series x {hours} hours, median of {repeats}")
    print(table(("case", "median"), ((r.case, r.measured) for r in rows)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=100_000)
    parser.add_argument("--hours", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    rows = run(args.series, args.hours, args.repeats)
    print()
    print(summary(rows))


if __name__ == "__main__":
    main()
