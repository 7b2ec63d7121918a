"""The catalogue and version statistics read from a real streaming replica (SCALE-2).

A replica of the session's PostgreSQL (pg_basebackup, streaming) serves
`SIGMAWATCH_DATABASE_READ_URL`: catalogue searches run there (its
pg_stat_activity shows the registry's replica pool), writes go to the
primary and show on the replica within seconds, and with the replica
stopped the primary answers instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from sigmawatch.artifacts import FileStore
from sigmawatch.registry import CatalogueQuery
from sigmawatch.registry.postgres import PostgresRegistry
from sigmawatch.registry.postgres.pooled import REPLICA
from sigmawatch.settings import TrainingSettings
from support import postgres
from support.procs import wait_for
from support.replica import Replica, start_replica
from support.training import train


@pytest.fixture
def replicated(
    pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Replica]]:
    url = postgres.create_database(pg_admin_url)  # before the base backup: the replica has it
    replica = start_replica(pg_admin_url, tmp_path_factory.mktemp("replica"))
    yield url, replica
    replica.stop()
    postgres.drop_database(pg_admin_url, url)


def database(url: str) -> str:
    return str(conninfo_to_dict(url)["dbname"])


def test_catalogue_reads_go_to_the_replica_and_fall_back_to_the_primary(
    replicated: tuple[str, Replica], file_store: FileStore, tmp_path: Path
) -> None:
    url, replica = replicated
    read_url = replica.url(database(url))
    registry = PostgresRegistry(url, max_size=4, read_url=read_url)
    registry.open()
    registry.migrate()
    try:
        settings = TrainingSettings(data_dir=tmp_path, min_training_points=200)
        train(registry, file_store, settings, "replicated_s", 0)

        def listed() -> bool:
            page = registry.search(CatalogueQuery(series_prefix="replicated_"))
            return [r.series_id for r in page.items] == ["replicated_s"]

        wait_for(listed, timeout=10, what="the new version on the replica")
        with psycopg.connect(read_url) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (REPLICA,)
            ).fetchone()
        assert row is not None
        assert row[0] >= 1  # the search ran on the replica's connections

        replica.stop()
        started = time.monotonic()
        assert listed()  # the primary answers
        assert time.monotonic() - started < 10
        assert listed()  # and keeps answering without waiting for the replica again
    finally:
        registry.close()
