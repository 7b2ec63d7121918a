"""Per-series outcomes of training runs, and the summary the operator reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sigmawatch.errors import SigmawatchError
from sigmawatch.registry.store import Registry


def record_result(
    registry: Registry,
    run_id: str,
    series_id: str,
    outcome: str,
    *,
    version: int | None = None,
    error: SigmawatchError | None = None,
) -> None:
    """Upsert: a retried pod overwrites its earlier attempt's rows."""
    with registry.pool.connection() as conn:
        conn.execute(
            "INSERT INTO training_results"
            " (run_id, series_id, outcome, version, error_code, error_message)"
            " VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (run_id, series_id) DO UPDATE SET outcome = excluded.outcome,"
            " version = excluded.version, error_code = excluded.error_code,"
            " error_message = excluded.error_message, finished_at = now()",
            (
                run_id,
                series_id,
                outcome,
                version,
                error.code.value if error else None,
                error.message[:1000] if error else None,
            ),
        )


@dataclass(frozen=True, slots=True)
class RunSummary:
    """Counts of one run; `top_error` is the most frequent failure with an example."""

    total: int = 0
    created: int = 0
    existing: int = 0
    failed: int = 0
    errors: dict[str, int] = field(default_factory=dict)
    top_error: dict[str, Any] | None = None

    @property
    def trained(self) -> int:
        return self.created + self.existing


def run_summary(registry: Registry, run_id: str) -> RunSummary:
    with registry.pool.connection() as conn:
        counts = conn.execute(
            "SELECT outcome, coalesce(error_code, '') AS code, count(*) AS n"
            " FROM training_results WHERE run_id = %s GROUP BY outcome, error_code",
            (run_id,),
        ).fetchall()
        example = conn.execute(
            "SELECT series_id, error_code, error_message FROM training_results"
            " WHERE run_id = %s AND outcome = 'failed' ORDER BY series_id LIMIT 1",
            (run_id,),
        ).fetchone()
    by_outcome: dict[str, int] = {}
    errors: dict[str, int] = {}
    for row in counts:
        by_outcome[row["outcome"]] = by_outcome.get(row["outcome"], 0) + row["n"]
        if row["code"]:
            errors[row["code"]] = row["n"]
    top = None
    if errors and example:
        code = max(errors, key=lambda c: errors[c])
        top = {"code": code, "series_id": example["series_id"], "message": example["error_message"]}
    return RunSummary(
        total=sum(by_outcome.values()),
        created=by_outcome.get("created", 0),
        existing=by_outcome.get("existing", 0),
        failed=by_outcome.get("failed", 0),
        errors=errors,
        top_error=top,
    )


def prune_results(registry: Registry, older_than_days: int) -> int:
    """Drop outcomes of runs finished that many days ago; returns rows removed."""
    with registry.pool.connection() as conn:
        return conn.execute(
            "DELETE FROM training_results WHERE finished_at < now() - make_interval(days => %s)",
            (older_than_days,),
        ).rowcount
