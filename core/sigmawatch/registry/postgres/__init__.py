"""The registry on PostgreSQL: the one package that imports the database driver.

`open_registry(settings)` is what the apps call: it starts the embedded
server when no URL is configured, opens the pool and applies migrations.
"""

from __future__ import annotations

from sigmawatch.breaker import Breaker
from sigmawatch.registry.embedded import start_embedded
from sigmawatch.registry.postgres._sql import CHANNEL
from sigmawatch.registry.postgres.registry import PostgresRegistry
from sigmawatch.settings import StorageSettings


def database_url(settings: StorageSettings) -> str:
    """The configured URL, or the embedded server's (started or joined)."""
    return settings.database_url or start_embedded(settings.data_dir)


def open_registry(
    settings: StorageSettings,
    *,
    min_size: int | None = None,
    max_size: int | None = None,
    breaker: Breaker | None = None,
) -> PostgresRegistry:
    """A migrated registry with an open pool (sized by the settings unless given).

    Every call has the settings' deadline and goes through `breaker` (AV-2);
    without one, the registry gets a breaker of its own."""
    registry = PostgresRegistry(
        database_url(settings),
        min_size=min_size or settings.db_pool_min,
        max_size=max_size or settings.db_pool_max,
        read_url=settings.database_read_url,
        breaker=breaker or Breaker("registry", settings.breaker_policy()),
        call_timeout_s=settings.storage_timeout_s,
    )
    try:
        registry.open()
        registry.migrate()
    except BaseException:
        registry.close()
        raise
    return registry


__all__ = ["CHANNEL", "PostgresRegistry", "database_url", "open_registry"]
