"""Backups and the restore drill (DUR-2, DUR-3), on the real PostgreSQL and both stores.

The drill is the runbook of docs/operations.md ("Restore from backup"), run
with the real CLI: train 50 series with several versions, back up, drop the
database, restore into a new one, and every version answers as before, bit
for bit, with the same production pointers and the same audit log.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from sigmawatch.artifacts import ArtifactStore, S3Store
from sigmawatch.artifacts.versioning import Versioning, check_versioning
from sigmawatch.audit import Actor, acting_as
from sigmawatch.backups import layout
from sigmawatch.registry import Registry
from sigmawatch.registry.pointer import Writer, WriterKind
from sigmawatch.registry.postgres import PostgresRegistry
from sigmawatch.settings import TrainingSettings
from support import postgres
from support.data import series_data
from support.procs import ManagedProcess, clean_env, free_port
from support.s3 import ACCESS_KEY, SECRET_KEY, S3Server
from support.service import SOURCE_ROOTS, ServiceFactory
from support.testbin import binary
from support.training import train

SERIES = 50
PROBE_TS, PROBE_VALUES = series_data(20, seed=99, start=1_780_000_000)
PROBE_VALUES[::5] += 9.0  # a few anomalous points among the probes


@dataclass
class Setup:
    """One registry database and one artifact store, as the CLI and the service see them."""

    admin_url: str
    database_url: str
    store: ArtifactStore
    env: dict[str, str]

    def cli(self, *args: str, database_url: str | None = None) -> subprocess.CompletedProcess[str]:
        env = clean_env(
            {
                "PYTHONPATH": SOURCE_ROOTS,
                **self.env,
                "SIGMAWATCH_DATABASE_URL": database_url or self.database_url,
            }
        )
        return subprocess.run(
            [sys.executable, "-m", "sigmawatch_inference.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def cli_json(self, *args: str, database_url: str | None = None) -> Any:
        result = self.cli(*args, database_url=database_url)
        assert result.returncode == 0, result.stderr
        return orjson.loads(result.stdout)


def _error(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    document: dict[str, Any] = orjson.loads(result.stderr.strip().splitlines()[-1])["error"]
    return document


@pytest.fixture(params=["file", "s3"])
def setup(request: pytest.FixtureRequest, pg_admin_url: str, tmp_path: Path) -> Iterator[Setup]:
    env = {"SIGMAWATCH_DATA_DIR": str(tmp_path / "data")}
    store: ArtifactStore
    if request.param == "s3":
        store = request.getfixturevalue("s3_store")
        server: S3Server = request.getfixturevalue("s3_server")
        assert isinstance(store, S3Store)
        env |= server.env | {"SIGMAWATCH_ARTIFACTS_URL": store.url}
    else:
        store = request.getfixturevalue("file_store")
        env["SIGMAWATCH_ARTIFACTS_URL"] = store.url
    url = postgres.create_database(pg_admin_url)
    yield Setup(pg_admin_url, url, store, env)
    postgres.drop_database(pg_admin_url, url)


def _open(url: str) -> PostgresRegistry:
    registry = PostgresRegistry(url, max_size=4)
    registry.open()
    registry.migrate()
    return registry


def _train_fleet(registry: Registry, store: ArtifactStore, settings: TrainingSettings) -> None:
    """50 series, 2 to 4 versions each, two detector kinds, moved production pointers."""
    with acting_as(Actor("test/backup-drill")):
        for i in range(SERIES):
            series = f"drill_{i:02d}"
            detector = {"kind": "mad"} if i % 3 == 0 else None
            for v in range(2 + i % 3):
                train(registry, store, settings, series, 1000 * i + v, detector=detector)
            if i % 4 == 0:
                registry.set_production(series, 1, by=Writer(WriterKind.API))


def _answers(client: Any, versions: dict[str, list[str]]) -> list[dict[str, Any]]:
    items = [
        {
            "series_id": series,
            "version": version,
            "timestamps": PROBE_TS.tolist(),
            "values": PROBE_VALUES.tolist(),
        }
        for series, names in sorted(versions.items())
        for version in names
    ]
    # Production too (no version): the pointer decides who answers.
    items += [
        {"series_id": s, "timestamps": PROBE_TS.tolist(), "values": PROBE_VALUES.tolist()}
        for s in sorted(versions)
    ]
    response = client.post("/v1/predict", json={"items": items})
    assert response.status_code == 200, response.text
    results: list[dict[str, Any]] = response.json()["results"]
    assert all(r.get("error") is None for r in results), results
    return results


def _what_the_service_says(make_service: ServiceFactory, env: dict[str, str]) -> dict[str, Any]:
    service = make_service("drill", env=env)
    try:
        with service.client() as client:
            versions = {}
            production = {}
            for i in range(SERIES):
                body = client.get(f"/v1/series/drill_{i:02d}/versions").json()
                versions[f"drill_{i:02d}"] = [v["version"] for v in body["versions"]]
                production[f"drill_{i:02d}"] = body.get("production_version")
            return {"production": production, "answers": _answers(client, versions)}
    finally:
        service.stop()


def _counts(url: str) -> dict[str, int]:
    """Rows of the tables a user would miss first (0 for a table not created yet)."""
    counts = {}
    with psycopg.connect(url) as conn:
        for table in ("series", "model_versions", "audit_log", "api_keys"):
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
            found = exists is not None and exists[0]
            row = conn.execute(f"SELECT count(*) FROM {table}").fetchone() if found else (0,)
            counts[table] = int(row[0]) if row else 0
    return counts


def test_restore_drill_every_version_answers_as_before(
    setup: Setup, settings: TrainingSettings, make_service: ServiceFactory
) -> None:
    registry = _open(setup.database_url)
    try:
        _train_fleet(registry, setup.store, settings)
    finally:
        registry.close()
    service_env = setup.env | {"SIGMAWATCH_DATABASE_URL": setup.database_url}
    before = _what_the_service_says(make_service, service_env)
    counts = _counts(setup.database_url)
    assert counts["model_versions"] == sum(2 + i % 3 for i in range(SERIES))
    assert counts["audit_log"] >= counts["model_versions"]

    taken = setup.cli_json("backup")
    assert taken["artifacts_missing"] == []
    assert taken["artifacts_corrupt"] == []
    assert taken["rows"]["model_versions"] == counts["model_versions"]
    listed = setup.cli_json("backup", "--list")["backups"]
    assert [b["backup_id"] for b in listed] == [taken["backup_id"]]
    assert listed[0]["finished"]
    assert listed[0]["versions"] == counts["model_versions"]

    # Disaster: the database is gone. A new, empty one takes its place.
    postgres.drop_database(setup.admin_url, setup.database_url)
    fresh = postgres.create_database(setup.admin_url)
    try:
        restored = setup.cli_json("restore", taken["backup_id"], database_url=fresh)
        assert restored["rows"] == taken["rows"]
        assert restored["artifacts_checked"] == taken["artifacts"]
        assert _counts(fresh) == counts
        after = _what_the_service_says(
            make_service, service_env | {"SIGMAWATCH_DATABASE_URL": fresh}
        )
        assert after["production"] == before["production"]
        assert after["answers"] == before["answers"]  # floats from JSON: equal bit for bit
        assert set(before["production"].values()) >= {"v1", "v3"}

        # The restored registry is the registry: training goes on from where it was.
        registry = _open(fresh)
        try:
            result = train(registry, setup.store, settings, "drill_01", 424242)
            assert result.record.version == 4
        finally:
            registry.close()

        # A second restore into it is refused: it holds rows now.
        again = setup.cli("restore", taken["backup_id"], database_url=fresh)
        assert again.returncode == 2
        error = _error(again)
        assert error["code"] == "RESTORE_TARGET_NOT_EMPTY"
        assert "model_versions" in error["details"]["tables"]
        forced = setup.cli_json("restore", "latest", "--force", database_url=fresh)
        assert forced["dropped_existing"] is True
        assert _counts(fresh) == counts
    finally:
        postgres.drop_database(setup.admin_url, fresh)


def _small_registry(setup: Setup, settings: TrainingSettings) -> None:
    registry = _open(setup.database_url)
    try:
        for i in range(3):
            train(registry, setup.store, settings, f"small_{i}", i)
            train(registry, setup.store, settings, f"small_{i}", 10 + i)
    finally:
        registry.close()


def test_a_damaged_backup_is_refused_and_the_database_stays_empty(
    setup: Setup, settings: TrainingSettings
) -> None:
    _small_registry(setup, settings)
    backup_id = setup.cli_json("backup")["backup_id"]
    base = layout.folder(backup_id)
    part = next(k for k in setup.store.list(base) if "/tables/model_versions." in k)
    good = setup.store.get(part)
    setup.store.put(part, good[:-9] + bytes(b ^ 0xFF for b in good[-9:]))
    fresh = postgres.create_database(setup.admin_url)
    try:
        refused = setup.cli("restore", backup_id, database_url=fresh)
        assert refused.returncode == 2, refused.stderr
        error = _error(refused)
        assert error["code"] == "BACKUP_CORRUPT"
        assert error["details"]["file"].startswith("tables/model_versions.")
        # Nothing half-loaded: the load is one transaction.
        assert _counts(fresh)["series"] == 0
        assert _counts(fresh)["model_versions"] == 0

        setup.store.put(part, good)
        manifest = setup.store.get(base + layout.MANIFEST)
        setup.store.put(base + layout.MANIFEST, manifest.replace(b'"rows": 6', b'"rows": 5'))
        tampered = setup.cli("restore", backup_id, database_url=fresh)
        assert _error(tampered)["code"] == "BACKUP_CORRUPT"
        listed = setup.cli_json("backup", "--list")["backups"]
        assert listed == [listed[0]]
        assert listed[0]["damaged"] is True

        setup.store.put(base + layout.MANIFEST, manifest)
        assert setup.cli_json("restore", backup_id, database_url=fresh)["rows"]["series"] == 3
    finally:
        postgres.drop_database(setup.admin_url, fresh)


def test_missing_artifacts_are_named_by_the_backup_and_stop_a_checked_restore(
    setup: Setup, settings: TrainingSettings
) -> None:
    _small_registry(setup, settings)
    registry = _open(setup.database_url)
    try:
        lost = registry.list_versions("small_1")[0].artifact_prefix + "values.npy"
    finally:
        registry.close()
    setup.store.delete(lost)
    backup = setup.cli("backup")
    assert backup.returncode == 3, backup.stderr  # written, but incomplete
    report = orjson.loads(backup.stdout)
    assert report["artifacts_missing"] == [lost]
    fresh = postgres.create_database(setup.admin_url)
    try:
        refused = setup.cli("restore", report["backup_id"], database_url=fresh)
        error = _error(refused)
        assert error["code"] == "ARTIFACT_MISSING"
        assert error["details"]["missing"] == [lost]
        assert _counts(fresh)["series"] == 0
        restored = setup.cli_json(
            "restore", report["backup_id"], "--artifacts", "skip", database_url=fresh
        )
        assert restored["rows"]["model_versions"] == 6
    finally:
        postgres.drop_database(setup.admin_url, fresh)


def test_prune_keeps_30_days_and_always_the_newest(setup: Setup) -> None:
    from sigmawatch.backups import prune, take_backup

    _open(setup.database_url).close()
    day = 86_400.0
    now = time.time()
    ids = []
    for age in (45, 31, 29, 1):
        taken = take_backup(setup.database_url, setup.store, setup.store, now=now - age * day)
        ids.append(taken.backup_id)
    unfinished = layout.new_backup_id(now - 40 * day)  # a backup that died midway
    setup.store.put(layout.folder(unfinished) + "tables/series.0000.copy.gz", b"-")
    removed = prune(setup.store, 30 * day, now=now)
    assert sorted(removed) == sorted([ids[0], unfinished, ids[1]])
    assert setup.store.list(layout.folder(unfinished)) == []
    left = setup.cli_json("backup", "--list")["backups"]
    assert [b["backup_id"] for b in left] == ids[2:]
    # Only old ones left: the newest stays whatever the retention says.
    assert prune(setup.store, 0.5 * day, now=now + 10 * day) == [ids[2]]
    assert [b["backup_id"] for b in setup.cli_json("backup", "--list")["backups"]] == [ids[3]]
    # What the CronJob runs: a backup, then the retention (ids[3] is older than a day).
    assert setup.cli_json("backup", "--prune-older-than", "30d")["pruned"] == []
    assert setup.cli_json("backup", "--prune-older-than", "1d")["pruned"] == [ids[3]]
    assert len(setup.cli_json("backup", "--list")["backups"]) == 2
    assert _error(setup.cli("backup", "--prune-older-than", "30 days"))["code"] == "INVALID_REQUEST"


# -- object store versioning, checked at start-up (DUR-2) ----------------------------------


def _versioning_lines(log_path: Path) -> list[dict[str, Any]]:
    lines = []
    for line in log_path.read_text().splitlines():
        if line.startswith("{") and '"versioning"' in line:
            lines.append(orjson.loads(line))
    return lines


@pytest.fixture
def versioned_s3(
    tmp_path: Path, artifacts_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[S3Server]:
    """A second S3 server, this one able to keep object versions."""
    port = free_port()
    process = ManagedProcess(
        "versitygw-versioned",
        [
            str(binary("s3", "versitygw", "S3")),
            "--port",
            f"127.0.0.1:{port}",
            "posix",
            "--versioning-dir",
            str(tmp_path / "versions"),
            str(tmp_path / "objects"),
        ],
        clean_env({"ROOT_ACCESS_KEY": ACCESS_KEY, "ROOT_SECRET_KEY": SECRET_KEY}),
        artifacts_dir / "logs",
    )
    (tmp_path / "versions").mkdir()
    (tmp_path / "objects").mkdir()
    server = S3Server(f"http://127.0.0.1:{port}", process.start())
    process.wait_until(lambda: server.client().list_buckets() is not None, timeout=30, what="s3")
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    yield server
    process.stop()


def test_versioning_is_reported_for_each_kind_of_store(
    file_store: ArtifactStore, s3_store: S3Store, versioned_s3: S3Server
) -> None:
    assert check_versioning(file_store).state is Versioning.NOT_APPLICABLE
    assert check_versioning(s3_store).state is Versioning.OFF
    bucket = versioned_s3.new_bucket()
    store = S3Store(bucket, "m", endpoint_url=versioned_s3.endpoint, region="us-east-1")
    assert check_versioning(store).state is Versioning.OFF
    versioned_s3.client().put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    assert check_versioning(store).state is Versioning.ENABLED
    versioned_s3.client().put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Suspended"}
    )
    assert check_versioning(store).state is Versioning.SUSPENDED


def test_the_service_says_at_start_up_when_versioning_is_off(
    make_service: ServiceFactory, s3_server: S3Server, s3_store: S3Store
) -> None:
    service = make_service(
        "versioning-off", env=s3_server.env | {"SIGMAWATCH_ARTIFACTS_URL": s3_store.url}
    )
    service.stop()
    [line] = [x for x in _versioning_lines(service.process.log_path) if x["store"] == s3_store.url]
    assert line["level"] == "warning"
    assert line["versioning"] == "off"
    assert "cannot be recovered" in line["message"]


def test_unknown_or_newer_backups_are_refused_with_their_codes(
    setup: Setup, settings: TrainingSettings
) -> None:
    nothing = setup.cli("backup")  # a database no service ever migrated
    assert _error(nothing)["code"] == "BACKUP_INCOMPATIBLE"
    _small_registry(setup, settings)
    assert _error(setup.cli("restore", "20250101T000000Z-abcdef"))["code"] == "BACKUP_NOT_FOUND"
    backup_id = setup.cli_json("backup")["backup_id"]
    # A backup taken by a newer sigmawatch, with a migration this code does not have.
    manifest = orjson.loads(setup.store.get(layout.folder(backup_id) + layout.MANIFEST))
    manifest["schema"].append({"number": len(manifest["schema"]) + 1, "name": "from_the_future"})
    layout.write_manifest(setup.store, backup_id, manifest)
    fresh = postgres.create_database(setup.admin_url)
    try:
        refused = setup.cli("restore", backup_id, database_url=fresh)
        error = _error(refused)
        assert error["code"] == "BACKUP_INCOMPATIBLE"
        assert error["details"]["backup_schema"] == len(manifest["schema"])
        assert _counts(fresh)["series"] == 0
    finally:
        postgres.drop_database(setup.admin_url, fresh)


def test_backups_can_go_to_another_store(
    setup: Setup, settings: TrainingSettings, tmp_path: Path
) -> None:
    """`--store`: e.g. a bucket in another region; the artifacts stay where they are."""
    _small_registry(setup, settings)
    elsewhere = (tmp_path / "elsewhere").as_uri()
    taken = setup.cli_json("backup", "--store", elsewhere)
    assert taken["location"].startswith(elsewhere)
    assert setup.store.list(layout.ROOT) == []
    assert setup.cli_json("backup", "--list")["backups"] == []
    listed = setup.cli_json("backup", "--list", "--store", elsewhere)["backups"]
    assert [b["backup_id"] for b in listed] == [taken["backup_id"]]
    fresh = postgres.create_database(setup.admin_url)
    try:
        restored = setup.cli_json("restore", "latest", "--store", elsewhere, database_url=fresh)
        assert restored["backup_id"] == taken["backup_id"]
        assert _counts(fresh)["model_versions"] == 6
    finally:
        postgres.drop_database(setup.admin_url, fresh)
