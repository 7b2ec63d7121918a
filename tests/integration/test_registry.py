"""What only the PostgreSQL registry can show: processes, migrations, NOTIFY, lock order,
bounded waits and the driver's errors as domain errors. The behaviour every registry
shares is the contract suite in tests/contract/."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest

from sigmawatch.artifacts import FileStore
from sigmawatch.datasets import write_training_file
from sigmawatch.errors import ErrorCode, SigmawatchError
from sigmawatch.registry import API, CatalogueQuery
from sigmawatch.registry.postgres import CHANNEL, PostgresRegistry
from sigmawatch.registry.postgres.schema import available, migrate
from sigmawatch.settings import TrainingSettings
from support.data import series_data
from support.service import SOURCE_ROOTS
from support.training import train


def test_concurrent_trainings_from_separate_processes(database_url: str, tmp_path: Path) -> None:
    files = []
    for seed in range(4):
        path = tmp_path / f"data{seed}.npy"
        write_training_file(path, *series_data(10_000, seed=seed))
        files.append(path)
    env = {
        "PYTHONPATH": SOURCE_ROOTS,
        "SIGMAWATCH_DATABASE_URL": database_url,
        "SIGMAWATCH_ARTIFACTS_URL": (tmp_path / "artifacts").as_uri(),
        "SIGMAWATCH_DATA_DIR": str(tmp_path),
        "PATH": "/usr/bin:/bin",
    }
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sigmawatch_inference.cli",
                "train",
                "--series",
                "proc",
                "--file",
                str(f),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for f in files + files  # every file twice: 4 new versions, 4 repeats
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    lines = sorted(out.strip() for out, _ in outputs)
    assert sum("created" in line for line in lines) == 4
    assert sum("already existed" in line for line in lines) == 4
    registry = PostgresRegistry(database_url)
    registry.open()
    try:
        assert [r.version for r in registry.list_versions("proc")] == [1, 2, 3, 4]
    finally:
        registry.close()


def test_migrations_run_once_even_when_started_together(database_url: str) -> None:
    barrier = threading.Barrier(4)

    def go(_: int) -> list[int]:
        with psycopg.connect(database_url, autocommit=True) as conn:
            barrier.wait()
            return migrate(conn)

    with ThreadPoolExecutor(4) as pool:
        applied = list(pool.map(go, range(4)))
    # One starter applies every migration; the others find nothing left to do.
    assert sorted(len(a) for a in applied) == [0, 0, 0, len(available())]


def test_new_versions_and_rollbacks_are_notified(
    registry: PostgresRegistry, file_store: FileStore, settings: TrainingSettings
) -> None:
    with psycopg.connect(registry.url, autocommit=True) as listener:
        listener.execute(f"LISTEN {CHANNEL}")
        train(registry, file_store, settings, "heard", 0)
        train(registry, file_store, settings, "heard", 1)
        registry.set_production("heard", 1, by=API)
        events = [n.payload for n in listener.notifies(timeout=2.0, stop_after=3)]
    assert events == [
        '{"series_id":"heard","event":"version"}',
        '{"series_id":"heard","event":"version"}',
        '{"series_id":"heard","event":"production"}',
    ]


def test_old_run_outcomes_are_pruned(registry: PostgresRegistry) -> None:
    registry.record_result("old-run", "a", "created", version=1)
    registry.record_result("new-run", "a", "existing", version=1)
    with psycopg.connect(registry.url, autocommit=True) as conn:
        conn.execute(
            "UPDATE training_results SET finished_at = now() - interval '40 days'"
            " WHERE run_id = 'old-run'"
        )
    assert registry.prune_results(30) == 1
    assert registry.run_summary("old-run").total == 0
    assert registry.run_summary("new-run").existing == 1


def test_a_rollback_racing_retention_takes_the_locks_in_the_same_order(
    registry: PostgresRegistry, file_store: FileStore, settings: TrainingSettings
) -> None:
    """Archiving locks the series row, then the version row. A pointer move that
    locked the version row first would deadlock against it (PostgreSQL aborts one
    with 40P01, a 503 to its caller); it locks the series row first and waits."""
    for seed in range(3):
        train(registry, file_store, settings, "order", seed)
    with psycopg.connect(registry.url) as retention:  # one transaction, as mark_archived's
        retention.execute("SELECT 1 FROM series WHERE series_id = 'order' FOR UPDATE")
        outcome: list[object] = []
        mover = threading.Thread(
            target=lambda: outcome.append(_attempt(registry, "order", 1)), daemon=True
        )
        mover.start()
        time.sleep(0.5)  # the move is now waiting on whichever lock it takes first
        retention.execute(
            "UPDATE model_versions SET status = 'archived', artifact_prefix = 'archive/x'"
            " WHERE series_id = 'order' AND version = 1"
        )
        retention.commit()
    mover.join(15)
    assert outcome == [ErrorCode.VERSION_ARCHIVED]  # it saw the archive, and no deadlock


def _attempt(registry: PostgresRegistry, series_id: str, version: int) -> object:
    try:
        return registry.set_production(series_id, version, by=API).record.name
    except SigmawatchError as exc:
        return exc.code


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A loopback port that accepts connections and never answers (a hung database)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    port = listener.getsockname()[1]
    yield f"postgresql://nobody@127.0.0.1:{port}/none"
    listener.close()


def test_a_database_that_never_answers_is_storage_unavailable_within_bounds(
    silent_server: str,
) -> None:
    registry = PostgresRegistry(silent_server)
    started = time.monotonic()
    calls: tuple[Callable[[], object], ...] = (
        lambda: registry.open(timeout=2),
        registry.ping,
        lambda: registry.series_lock("s").__enter__(),
    )
    for call in calls:
        with pytest.raises(SigmawatchError) as caught:
            call()
        assert caught.value.code is ErrorCode.STORAGE_UNAVAILABLE
        assert "nobody" not in caught.value.message  # no connection details leak
    assert time.monotonic() - started < 20
    registry.close()


def test_values_the_database_cannot_hold_are_request_errors(registry: PostgresRegistry) -> None:
    with pytest.raises(SigmawatchError) as caught:
        registry.get_series("nul\x00byte")
    assert caught.value.code is ErrorCode.INVALID_REQUEST
    assert registry.search(CatalogueQuery(series_prefix="nothing_here")).items == []


def test_the_audit_log_refuses_every_change_but_the_purge(registry: PostgresRegistry) -> None:
    """SEC-4: entries are append-only, even for someone with the service's credentials."""
    from sigmawatch.audit import AuditEntry

    registry.record_audit([AuditEntry("dataset.upload", "stored", "kept")])
    for statement in (
        "UPDATE audit_log SET actor = 'someone else'",
        "DELETE FROM audit_log",
        "TRUNCATE audit_log",
    ):
        with psycopg.connect(registry.url) as conn, pytest.raises(psycopg.errors.RaiseException):
            conn.execute(statement)
    assert registry.prune_audit(0) == 1  # the retention purge may
