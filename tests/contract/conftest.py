"""The registry contract runs on every implementation: in memory and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sigmawatch.registry import Registry
from sigmawatch.registry.memory import MemoryRegistry
from sigmawatch.registry.postgres import PostgresRegistry

# Short, so the test of a busy series' lock finishes fast on both.
LOCK_WAIT_S = 0.5


@pytest.fixture(params=["memory", "postgres"])
def any_registry(request: pytest.FixtureRequest) -> Iterator[Registry]:
    if request.param == "memory":
        yield MemoryRegistry(series_lock_wait_s=LOCK_WAIT_S)
        return
    url: str = request.getfixturevalue("database_url")
    registry = PostgresRegistry(url, max_size=16, series_lock_wait_ms=int(LOCK_WAIT_S * 1000))
    registry.open()
    registry.migrate()
    yield registry
    registry.close()
