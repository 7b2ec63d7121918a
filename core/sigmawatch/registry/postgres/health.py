"""Hourly and daily statistics and drift per (series, version) in PostgreSQL (OBS-2).

`record` runs in the statistics flush's transaction: a pod's rows are summed
per period in Python first, so a flush writes one row per (series, version,
hour) and per day, not one per 10 s bucket. The KL divergence is computed in
SQL with the same smoothing as sigmawatch.drift, so the fleet lists filter and
paginate in the database.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from sigmawatch.drift import ALPHA, N_BINS
from sigmawatch.registry.health_records import (
    DAY,
    HOUR,
    DriftRow,
    HealthPage,
    HealthQuery,
    PeriodCounts,
    RateRow,
    VersionHealth,
    period_start,
    sum_bins,
)
from sigmawatch.registry.postgres.connection import Conn
from sigmawatch.registry.rollout_records import StatsRow

_TABLES = {HOUR: "version_stats_hourly", DAY: "version_stats_daily"}
_BINS = [f"bin{i}" for i in range(N_BINS)]
_BIN_COLUMNS = ", ".join(_BINS)

# One statement a table per flush: the periods as arrays, unnested (keys are unique:
# summed in Python first), added to what other pods wrote.
_UPSERT = f"""
    INSERT INTO {{table}} AS s (series_id, version, period, predictions, anomalies, errors,
                               {_BIN_COLUMNS})
    SELECT * FROM unnest(%s::text[], %s::int[], %s::timestamptz[], %s::bigint[], %s::bigint[],
                         %s::bigint[], {", ".join(["%s::bigint[]"] * N_BINS)})
    ON CONFLICT (series_id, version, period) DO UPDATE SET
        predictions = s.predictions + excluded.predictions,
        anomalies = s.anomalies + excluded.anomalies,
        errors = s.errors + excluded.errors,
        {", ".join(f"{b} = s.{b} + excluded.{b}" for b in _BINS)}
"""
_REFERENCE = """
    INSERT INTO version_drift_reference (series_id, version, training_shares)
    SELECT s, v, ARRAY(SELECT json_array_elements_text(t)::float8)
    FROM unnest(%s::text[], %s::int[], %s::json[]) AS r(s, v, t)
    ON CONFLICT (series_id, version) DO NOTHING
"""
_PERIODS = f"""
    SELECT period, predictions, anomalies, errors, {_BIN_COLUMNS} FROM {{table}}
    WHERE series_id = %s AND version = %s AND period >= %s AND period < %s ORDER BY period
"""
_SHARES = (
    "SELECT training_shares FROM version_drift_reference WHERE series_id = %s AND version = %s"
)
_RATES = """
    SELECT series_id, version, sum(predictions)::bigint AS predictions,
           sum(anomalies)::bigint AS anomalies, sum(errors)::bigint AS errors
    FROM {table}
    WHERE period >= %(first)s AND period < %(until)s
      AND (series_id, version) > (%(after_series)s, %(after_version)s)
    GROUP BY series_id, version
    HAVING sum(predictions) >= greatest(%(min_points)s, 1)
       AND sum(anomalies)::float8 / sum(predictions) >= %(threshold)s
    ORDER BY series_id, version
    LIMIT %(limit)s
"""


def _drift_sql(*, whole_fleet: bool) -> str:
    """D(live ‖ training) over the bins training can populate, live counts smoothed by
    ALPHA (sigmawatch.drift.kl_divergence), in plain aggregates per pair. A page streams
    pairs in key order until it has `limit`; the whole fleet (the gauges' count) is
    summed first, so the long expressions run once per pair."""
    materialized = "MATERIALIZED" if whole_fleet else ""
    usable = [f"q[{i + 1}] > 0" for i in range(N_BINS)]
    points = " + ".join(
        f"CASE WHEN {u} THEN {b} ELSE 0 END" for u, b in zip(usable, _BINS, strict=True)
    )
    k = " + ".join(f"CASE WHEN {u} THEN 1 ELSE 0 END" for u in usable)
    shares = [f"(({b} + %(alpha)s) / (points + %(alpha)s * k))" for b in _BINS]
    kl = " + ".join(
        f"CASE WHEN {u} THEN {p} * ln({p} / q[{i + 1}]) ELSE 0 END"
        for i, (u, p) in enumerate(zip(usable, shares, strict=True))
    )
    sums = ", ".join(f"sum(h.{b})::float8 AS {b}" for b in _BINS)
    return f"""
    WITH summed AS {materialized} (
        SELECT h.series_id, h.version, {sums}
        FROM {{table}} h
        WHERE h.period >= %(first)s AND h.period < %(until)s
          AND (h.series_id, h.version) > (%(after_series)s, %(after_version)s)
        GROUP BY h.series_id, h.version
    ), referenced AS (
        SELECT summed.*, r.training_shares AS q
        FROM summed JOIN version_drift_reference r USING (series_id, version)
    ), totals AS {materialized} (
        SELECT referenced.*, {points} AS points, {k} AS k FROM referenced
    ), scored AS {materialized} (
        SELECT series_id, version, points, {kl} AS kl
        FROM totals WHERE points >= greatest(%(min_points)s, 1)
    )
    SELECT series_id, version, points, kl FROM scored
    WHERE kl >= %(threshold)s
    ORDER BY series_id, version
    LIMIT %(limit)s
    """


_DRIFT = _drift_sql(whole_fleet=False)
_DRIFT_ALL = _drift_sql(whole_fleet=True)
_COUNT = "SELECT count(*) AS n FROM ({query}) listed"
_PRUNE = "DELETE FROM {table} WHERE period < now() - make_interval(days => %s)"


type _Sums = dict[tuple[str, int, datetime], list[int]]


def _summed(rows: Sequence[StatsRow], width: timedelta) -> _Sums:
    periods: _Sums = {}
    for r in rows:
        key = (r.series_id, r.version, period_start(r.bucket, width))
        summed = periods.setdefault(key, [0] * (3 + N_BINS))
        for i, n in enumerate((r.predictions, r.anomalies, r.errors, *r.drift_bins)):
            summed[i] += n
    return periods


def record(conn: Conn, rows: Sequence[StatsRow]) -> None:
    for width, table in _TABLES.items():
        periods = sorted(_summed(rows, width).items())  # one lock order for every pod
        if not periods:
            continue
        keys = list(zip(*(key for key, _ in periods), strict=True))
        counts = list(zip(*(c for _, c in periods), strict=True))
        conn.execute(_UPSERT.format(table=table), [list(column) for column in (*keys, *counts)])
    references = sorted(
        {(r.series_id, r.version): r.training_shares for r in rows if r.training_shares}.items()
    )
    if references:
        conn.execute(
            _REFERENCE,
            (
                [s for (s, _), _ in references],
                [v for (_, v), _ in references],
                [json.dumps(list(shares)) for _, shares in references],
            ),
        )


def _periods(
    conn: Conn, table: str, series_id: str, version: int, first: datetime, until: datetime
) -> list[PeriodCounts]:
    rows = conn.execute(_PERIODS.format(table=table), (series_id, version, first, until))
    return [
        PeriodCounts(
            r["period"],
            r["predictions"],
            r["anomalies"],
            r["errors"],
            tuple(r[b] for b in _BINS),
        )
        for r in rows
    ]


def version_health(
    conn: Conn, series_id: str, version: int, since: datetime, until: datetime, width: timedelta
) -> VersionHealth:
    hourly = _periods(conn, _TABLES[HOUR], series_id, version, period_start(since, HOUR), until)
    daily = _periods(conn, _TABLES[DAY], series_id, version, period_start(since, DAY), until)
    row = conn.execute(_SHARES, (series_id, version)).fetchone()
    return VersionHealth(
        hourly=hourly,
        daily=daily,
        drift_bins=sum_bins(daily if width == DAY else hourly),
        training_shares=tuple(row["training_shares"]) if row else None,
    )


def _params(query: HealthQuery, *, limit: int | None) -> dict[str, object]:
    after_series, after_version = query.cursor or ("", 0)
    return {
        "first": query.first_period,
        "until": query.until,
        "after_series": after_series,
        "after_version": after_version,
        "min_points": query.min_points,
        "threshold": query.threshold,
        "limit": limit,
        "alpha": ALPHA,
    }


def _page[T](items: list[T], query: HealthQuery, key: tuple[str, int] | None) -> HealthPage[T]:
    if len(items) <= query.limit:
        return HealthPage(items, None)
    return HealthPage(items[: query.limit], key)


def anomaly_rates(conn: Conn, query: HealthQuery) -> HealthPage[RateRow]:
    sql = _RATES.format(table=_TABLES[query.width])
    rows = conn.execute(sql, _params(query, limit=query.limit + 1)).fetchall()
    items = [
        RateRow(r["series_id"], r["version"], r["predictions"], r["anomalies"], r["errors"])
        for r in rows
    ]
    last = items[query.limit - 1] if len(items) > query.limit else None
    return _page(items, query, (last.series_id, last.version) if last else None)


def drifting(conn: Conn, query: HealthQuery) -> HealthPage[DriftRow]:
    sql = _DRIFT.format(table=_TABLES[query.width])
    rows = conn.execute(sql, _params(query, limit=query.limit + 1)).fetchall()
    items = [DriftRow(r["series_id"], r["version"], int(r["points"]), r["kl"]) for r in rows]
    last = items[query.limit - 1] if len(items) > query.limit else None
    return _page(items, query, (last.series_id, last.version) if last else None)


def count_over(conn: Conn, rates: HealthQuery, drift: HealthQuery) -> tuple[int, int]:
    """How many pairs `anomaly_rates` and `drifting` would list in all (for the gauges)."""
    counts = []
    for template, query in ((_RATES, rates), (_DRIFT_ALL, drift)):
        sql = _COUNT.format(query=template.format(table=_TABLES[query.width]))
        row = conn.execute(sql, _params(query, limit=None)).fetchone()
        counts.append(int(row["n"]) if row else 0)
    return counts[0], counts[1]


def prune(conn: Conn, hourly_days: int, daily_days: int) -> int:
    pruned = conn.execute(_PRUNE.format(table=_TABLES[HOUR]), (hourly_days,)).rowcount
    return pruned + conn.execute(_PRUNE.format(table=_TABLES[DAY]), (daily_days,)).rowcount
