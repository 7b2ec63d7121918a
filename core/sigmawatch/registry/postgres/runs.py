"""Per-series outcomes of training runs, and the summary the operator reports."""

from __future__ import annotations

from sigmawatch.audit import current_actor
from sigmawatch.errors import SigmawatchError
from sigmawatch.registry import audit_entries
from sigmawatch.registry.postgres import _sql
from sigmawatch.registry.postgres.access import write_audit
from sigmawatch.registry.postgres.connection import Conn
from sigmawatch.registry.records import RunSummary, summarize_run


def record(
    conn: Conn,
    run_id: str,
    series_id: str,
    outcome: str,
    version: int | None,
    error: SigmawatchError | None,
) -> None:
    conn.execute(
        _sql.RECORD_RESULT,
        (
            run_id,
            series_id,
            outcome,
            version,
            error.code.value if error else None,
            error.message[:1000] if error else None,
            current_actor().correlation_id,
        ),
    )
    if error is not None:  # a success wrote its entry with its version
        write_audit(conn, audit_entries.training_failed(run_id, series_id, error))


def summary(conn: Conn, run_id: str) -> RunSummary:
    counts = [(r["outcome"], r["code"], r["n"]) for r in conn.execute(_sql.RUN_COUNTS, (run_id,))]

    def example(code: str) -> tuple[str, str] | None:
        row = conn.execute(_sql.RUN_EXAMPLE, (run_id, code)).fetchone()
        return (row["series_id"], row["error_message"]) if row else None

    return summarize_run(counts, example)


def prune(conn: Conn, older_than_days: int) -> int:
    return conn.execute(_sql.PRUNE_RESULTS, (older_than_days,)).rowcount
