"""Fixtures for every tier: real PostgreSQL, real S3, the real service."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from sigmawatch.artifacts import FileStore, S3Store
from sigmawatch.registry.embedded import start_embedded
from sigmawatch.registry.memory import MemoryRegistry
from sigmawatch.registry.postgres import PostgresRegistry
from sigmawatch.settings import TrainingSettings
from support import postgres
from support.s3 import S3Server, start_s3
from support.service import Service, ServiceFactory
from support.tiers import SKIPPED_TIERS

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs a command in process (cli.main) configures the JSON logs onto
    the stderr pytest captured for it; later tests must not write to that closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if SKIPPED_TIERS:
        terminalreporter.section("SKIPPED TIERS", sep="!", red=True, bold=True)
        for line in SKIPPED_TIERS:
            terminalreporter.write_line(line, red=True, bold=True)


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where tests leave files for humans (screenshots, logs)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    return start_embedded(tmp_path_factory.mktemp("pg"))


@pytest.fixture
def database_url(pg_admin_url: str) -> Iterator[str]:
    url = postgres.create_database(pg_admin_url)
    yield url
    postgres.drop_database(pg_admin_url, url)


@pytest.fixture
def registry(database_url: str) -> Iterator[PostgresRegistry]:
    """The PostgreSQL registry on a fresh database."""
    registry = PostgresRegistry(database_url, max_size=16)
    registry.open()
    registry.migrate()
    yield registry
    registry.close()


@pytest.fixture
def memory_registry() -> MemoryRegistry:
    return MemoryRegistry()


@pytest.fixture
def settings(tmp_path: Path) -> TrainingSettings:
    """Training settings for in-process tests (the registry is passed separately)."""
    return TrainingSettings(data_dir=tmp_path)


@pytest.fixture
def file_store(tmp_path: Path) -> FileStore:
    return FileStore(tmp_path / "artifacts")


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory, artifacts_dir: Path) -> Iterator[S3Server]:
    server = start_s3(tmp_path_factory.mktemp("s3"), artifacts_dir / "logs")
    yield server
    server.process.stop()


@pytest.fixture
def s3_store(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> S3Store:
    for name, value in s3_server.env.items():
        monkeypatch.setenv(name, value)
    return S3Store(
        s3_server.new_bucket(), "models-root", endpoint_url=s3_server.endpoint, region="us-east-1"
    )


@pytest.fixture(scope="module")
def make_service(
    tmp_path_factory: pytest.TempPathFactory, pg_admin_url: str, artifacts_dir: Path
) -> Iterator[ServiceFactory]:
    """Start services; each gets its own database unless told to share one: services
    made with the same `shares` name get one database and one artifact store."""
    started: list[Service] = []
    databases: list[str] = []
    storage: dict[str, dict[str, str]] = {}

    def make(
        name: str = "api",
        *,
        env: dict[str, str] | None = None,
        start: bool = True,
        shares: str | None = None,
    ) -> Service:
        env = dict(env or {})
        if shares is not None:
            if shares not in storage:
                url = postgres.create_database(pg_admin_url)
                databases.append(url)
                artifacts = tmp_path_factory.mktemp(f"{shares}-artifacts").as_uri()
                storage[shares] = {
                    "SIGMAWATCH_DATABASE_URL": url,
                    "SIGMAWATCH_ARTIFACTS_URL": artifacts,
                }
            env = storage[shares] | env
        if "SIGMAWATCH_DATABASE_URL" not in env and "SIGMAWATCH_DATA_DIR" not in env:
            url = postgres.create_database(pg_admin_url)
            databases.append(url)
            env["SIGMAWATCH_DATABASE_URL"] = url
        env.setdefault("SIGMAWATCH_DATA_DIR", str(tmp_path_factory.mktemp(name)))
        service = Service(name, env, artifacts_dir / "logs")
        started.append(service)
        return service.start() if start else service

    yield make
    for service in started:
        service.stop()
    for url in databases:
        postgres.drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def service(make_service: ServiceFactory) -> Service:
    return make_service("api")


@pytest.fixture(scope="module")
def client(service: Service) -> Iterator[httpx.Client]:
    with service.client() as client:
        yield client
